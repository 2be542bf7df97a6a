"""Loading SAM2-format checkpoints (saved from sam2's own tiny modules) into our parts."""
from __future__ import annotations

import logging

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModule

from tgl_mm.models.backbones.sam2_image_encoder import SAM2ImageEncoder
from tgl_mm.models.heads.mdp_head import MDPHead
from tgl_mm.models.utils.sam2_checkpoint import HEAD_KEYS, HEAD_PREFIXES, load_sam2_state_dict


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append((record.levelno, record.getMessage()))


@pytest.fixture
def log_records():
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def tiny_ckpt(tmp_path, make_tiny_sam2, save_sam2_checkpoint):
    sam = make_tiny_sam2(seed=7)
    path = tmp_path / 'sam2.1_tiny.pt'
    save_sam2_checkpoint(sam, path)
    return sam, path


def test_image_encoder_loads_every_tensor(tiny_ckpt, tiny_settings):
    sam, path = tiny_ckpt
    enc = SAM2ImageEncoder(arch=tiny_settings, checkpoint=str(path))
    ref = sam.image_encoder.state_dict()
    ours = enc.encoder.state_dict()
    assert set(ours) == set(ref)
    for key, value in ref.items():
        assert torch.equal(ours[key], value), key


def test_image_encoder_weights_survive_init_weights(tiny_ckpt, tiny_settings):
    sam, path = tiny_ckpt
    enc = SAM2ImageEncoder(arch=tiny_settings, checkpoint=str(path),
                           init_cfg=dict(type='Constant', val=0.5, layer=['Conv2d', 'Linear']))
    enc.init_weights()
    for key, value in sam.image_encoder.state_dict().items():
        assert torch.equal(enc.encoder.state_dict()[key], value), key


def test_missing_and_unexpected_keys_are_logged(tmp_path, make_tiny_sam2, tiny_settings,
                                                log_records):
    sd = make_tiny_sam2(seed=2).state_dict()
    del sd['image_encoder.neck.convs.0.conv.weight']
    sd['image_encoder.trunk.extra_thing'] = torch.zeros(3)
    path = tmp_path / 'partial.pt'
    torch.save({'model': sd}, path)
    enc = SAM2ImageEncoder(arch=tiny_settings)
    missing, unexpected = enc.load_checkpoint(str(path))
    assert missing == ['neck.convs.0.conv.weight']
    assert unexpected == ['trunk.extra_thing']
    warnings = [msg for level, msg in log_records.messages if level == logging.WARNING]
    assert any('missing keys' in m and 'neck.convs.0.conv.weight' in m and str(path) in m
               for m in warnings)
    assert any('unexpected keys' in m and 'trunk.extra_thing' in m for m in warnings)


def test_clear_errors(tmp_path, tiny_settings, make_tiny_sam2):
    missing = tmp_path / 'nope' / 'sam2.1_hiera_base_plus.pt'
    with pytest.raises(FileNotFoundError, match='sam2.1_hiera_base_plus.pt'):
        SAM2ImageEncoder(arch=tiny_settings, checkpoint=str(missing))
    mm_style = tmp_path / 'mm.pth'
    torch.save({'state_dict': {'a': torch.zeros(1)}}, mm_style)
    with pytest.raises(ValueError, match=r'mm\.pth.*not a SAM2 checkpoint'):
        load_sam2_state_dict(mm_style)
    other = tmp_path / 'other.pt'
    torch.save({'model': {'backbone.conv.weight': torch.zeros(1)}}, other)
    with pytest.raises(ValueError, match=r'other\.pt.*none of the SAM2 keys'):
        load_sam2_state_dict(other)
    text = tmp_path / 'notes.pt'
    text.write_text('hello')
    with pytest.raises(ValueError, match=r'notes\.pt.*weights_only'):
        load_sam2_state_dict(text)
    # a checkpoint of another arch: shapes differ
    wrong = tmp_path / 'wrong_arch.pt'
    torch.save({'model': make_tiny_sam2().state_dict()}, wrong)
    with pytest.raises(ValueError, match=r'wrong_arch\.pt.*does not fit the image encoder'):
        SAM2ImageEncoder(arch='tiny', arch_overrides=dict(trunk=dict(embed_dim=32)),
                         checkpoint=str(wrong))


def test_head_loads_every_sam2_part(tiny_ckpt, tiny_settings):
    sam, path = tiny_ckpt
    head = MDPHead(arch=tiny_settings, checkpoint=str(path))
    ref = {k: v for k, v in sam.state_dict().items() if not k.startswith('image_encoder.')}
    ours = {k[len('sam2.'):]: v for k, v in head.state_dict().items()}
    assert set(ours) == set(ref)
    for key, value in ref.items():
        assert torch.equal(ours[key], value), key
    # every part named by the official layout is among them
    for part in HEAD_PREFIXES:
        assert any(k.startswith(part) for k in ours), part
    for key in HEAD_KEYS:
        assert key in ours, key


def test_head_and_encoder_weights_survive_model_init_weights(tiny_ckpt, tiny_settings):
    """A parent model with a generic initialiser (as a config could give) must not overwrite
    the SAM2 weights: our init_weights re-applies the checkpoint after it."""
    sam, path = tiny_ckpt

    class Model(BaseModule):
        def __init__(self):
            super().__init__(init_cfg=[dict(type='Constant', val=0.3, layer=['Conv2d', 'Linear']),
                                       dict(type='Normal', std=1.0, layer='LayerNorm')])
            self.backbone = SAM2ImageEncoder(arch=tiny_settings, checkpoint=str(path))
            self.head = MDPHead(arch=tiny_settings, checkpoint=str(path))

    model = Model()
    model.init_weights()
    for key, value in sam.state_dict().items():
        if key.startswith('image_encoder.'):
            ours = model.backbone.encoder.state_dict()[key[len('image_encoder.'):]]
        else:
            ours = model.head.sam2.state_dict()[key]
        assert torch.equal(ours, value), key


def test_head_missing_key_is_logged(tmp_path, make_tiny_sam2, tiny_settings, log_records):
    sd = make_tiny_sam2(seed=4).state_dict()
    del sd['maskmem_tpos_enc']
    path = tmp_path / 'no_tpos.pt'
    torch.save({'model': sd}, path)
    head = MDPHead(arch=tiny_settings)
    before = head.sam2.maskmem_tpos_enc.detach().clone()
    missing, unexpected = head.load_checkpoint(str(path))
    assert missing == ['sam2.maskmem_tpos_enc'] and unexpected == []
    assert torch.equal(head.sam2.maskmem_tpos_enc, before)
    assert any(level == logging.WARNING and 'sam2.maskmem_tpos_enc' in msg and str(path) in msg
               for level, msg in log_records.messages)
