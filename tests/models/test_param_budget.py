"""The paper configuration's trainable-parameter budget (paper A.3: ~17M trainable, 8.4%)."""
import pytest
from mmengine.config import Config

from tgl_mm.models.backbones.text_encoder import save_tiny_text_encoder
from tgl_mm.registry import MODELS


@pytest.mark.slow
def test_hiera_b_roberta_base_budget(tmp_path):
    from transformers import RobertaConfig, RobertaModel

    text_dir = save_tiny_text_encoder(tmp_path / 'roberta', 'roberta')  # tokenizer files
    RobertaModel(RobertaConfig(), add_pooling_layer=False).save_pretrained(text_dir)  # base shape
    cfg = Config.fromfile('configs/tgl/tgl_hiera-b_mevis-m.py')
    cfg.model.image_backbone.checkpoint = None
    cfg.model.head.checkpoint = None
    cfg.model.text_backbone.model_dir = str(text_dir)
    counts = MODELS.build(cfg.model).parameter_counts()
    trainable, total = counts['all']
    assert counts['text_backbone'][0] == counts['image_backbone'][0] == 0  # frozen encoders
    assert 124e6 < counts['text_backbone'][1] < 126e6  # RoBERTa-base
    assert abs(trainable - 17e6) / 17e6 < 0.10, trainable  # paper: ~17M trainable
    assert abs(total - 202e6) / 202e6 < 0.10, total  # paper: 202M in total
