"""Stage 1 of the tiny recipe (configs/tgl/tgl_tiny_synthetic_image_pretrain.py) trains and
validates on the generated referring-image split alone: with the video splits' moment, family,
expression and mask files deleted, its datasets build from the config and one training
iteration (then its validation) runs."""
from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
STAGE1 = REPO / 'configs' / 'tgl' / 'tgl_tiny_synthetic_image_pretrain.py'


def test_stage1_runs_without_moments_or_families(tmp_path):
    from mmengine.registry import init_default_scope

    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
    from tgl_mm.engine import build_runner, load_config
    from tgl_mm.models.backbones.text_encoder import save_tiny_text_encoder
    from tgl_mm.registry import DATASETS

    data = tmp_path / 'syn'
    make_synthetic_mevis_m(data, seed=2, num_videos=5, num_valid_u=1, num_valid=1, size=64,
                           min_frames=8, max_frames=10, progress=False, log=None)
    removed = [*data.glob('moments/*.json'), *data.glob('*/expression_families.json'),
               *data.glob('*/meta_expressions.json'), *data.glob('*/mask_dict.json'),
               data / 'valid_gt' / 'moments.json']
    assert len([p for p in removed if 'moments' in p.as_posix()]) >= 3
    for path in removed:
        path.unlink(missing_ok=True)
    assert not list(data.rglob('*moments*.json')) and not list(data.rglob('*families*'))

    text_dir = save_tiny_text_encoder(tmp_path / 'bert', 'bert', hidden_size=32, num_layers=2)
    root = str(data)     # the generated tree's root, as the demo passes it
    cfg = load_config(STAGE1, {
        'model.text_backbone.model_dir': str(text_dir), 'model.neck.text_dim': 32,
        'model.prompt.text_dim': 32, 'train_cfg.max_iters': 1, 'train_cfg.val_interval': 1,
        'train_dataloader.batch_size': 4, 'train_dataloader.dataset.data_root': root,
        'val_dataloader.dataset.data_root': root, 'test_dataloader.dataset.data_root': root})
    for part in ('image_backbone', 'head'):
        cfg.model[part]['checkpoint'] = str(REPO / cfg.model[part]['checkpoint'])
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'stage1-{uuid.uuid4().hex[:8]}'
    cfg.visualizer.name = cfg.experiment_name
    cfg.log_level = 'WARNING'

    # the stage-1 datasets are the image split's refs: single frames, every frame in M+
    init_default_scope(cfg.default_scope)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    assert type(train).__name__ == 'RefCOCODataset' and len(train) > 10
    sample = train[0]['data_samples']
    assert sample.gt_mplus.tolist() == [True] and sample.gt_masks.shape == (1, 128, 128)
    assert sample.gt_masks.any()

    runner = build_runner(cfg)
    model = runner.model
    before = {k: v.detach().clone() for k, v in model.state_dict().items()
              if k.startswith('neck.')}
    runner.train()
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss) and loss > 0
    after = model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)   # a step was taken
    assert any(k.startswith('val/') for k in runner.message_hub.log_scalars)  # validated
