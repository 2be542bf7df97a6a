"""SAM2ImageEncoder: stage-by-stage API == sam2's ImageEncoder.forward, frozen, settings."""
from __future__ import annotations

import pytest
import torch

from tgl_mm.models.backbones.sam2_image_encoder import SAM2ImageEncoder
from tgl_mm.models.utils.sam2_settings import (
    OFFICIAL_ARCHS,
    SAM2_ARCHS,
    build_sam2_model,
    get_sam2_settings,
    stage_channels,
)
from tgl_mm.registry import MODELS


def run_stages(enc: SAM2ImageEncoder, images: torch.Tensor) -> dict:
    x = enc.patch_embed(images)
    outs = []
    for i in range(enc.num_stages):
        x = enc.forward_stage(x, i)
        outs.append(x.permute(0, 3, 1, 2))
    return enc.neck(outs)


def assert_same_output(a: dict, b: dict) -> None:
    assert set(a) == set(b) == {'vision_features', 'vision_pos_enc', 'backbone_fpn'}
    assert torch.equal(a['vision_features'], b['vision_features'])
    for key in ('vision_pos_enc', 'backbone_fpn'):
        assert len(a[key]) == len(b[key]) == 3
        for x, y in zip(a[key], b[key]):
            assert torch.equal(x, y)


def test_stage_api_reproduces_sam2_image_encoder(tiny_image_encoder, tiny_images,
                                                 make_tiny_sam2, tiny_size):
    enc = tiny_image_encoder
    staged = run_stages(enc, tiny_images)
    # sam2's own ImageEncoder.forward, on a separately built sam2 model with the same weights
    sam = make_tiny_sam2(seed=3)
    sam.image_encoder.load_state_dict(enc.encoder.state_dict())
    assert_same_output(staged, sam.image_encoder(tiny_images))
    assert_same_output(staged, enc(tiny_images))
    d = enc.hidden_dim
    assert staged['vision_features'].shape == (6, d, tiny_size // 16, tiny_size // 16)
    assert [tuple(f.shape[-2:]) for f in staged['backbone_fpn']] == [
        (tiny_size // 4,) * 2, (tiny_size // 8,) * 2, (tiny_size // 16,) * 2]


def test_stage_shapes_and_channels(tiny_image_encoder, tiny_images, tiny_size):
    enc = tiny_image_encoder
    assert enc.num_stages == 4
    assert enc.stage_channels == (24, 48, 96, 192)
    x = enc.patch_embed(tiny_images[:2])
    assert x.shape == (2, tiny_size // 4, tiny_size // 4, 24)
    for i, c in enumerate(enc.stage_channels):
        x = enc.forward_stage(x, i)
        side = tiny_size // 4 // 2 ** i
        assert x.shape == (2, side, side, c)
    with pytest.raises(IndexError):
        enc.forward_stage(x, 4)
    with pytest.raises(ValueError, match='expects images of shape'):
        enc(torch.zeros(1, 3, tiny_size, tiny_size + 32))


def test_frozen_but_gradient_flows_through(tiny_image_encoder, tiny_images):
    enc = tiny_image_encoder
    assert all(not p.requires_grad for p in enc.parameters())
    enc.train()
    assert not enc.training and not any(m.training for m in enc.modules())
    s0 = enc.forward_stage(enc.patch_embed(tiny_images[:1]), 0)
    s1 = enc.forward_stage(s0, 1)
    delta = torch.zeros_like(s1, requires_grad=True)  # e.g. an adapter's residual update
    h = s1 + delta
    outs = [s0.permute(0, 3, 1, 2), h.permute(0, 3, 1, 2)]
    for i in (2, 3):
        h = enc.forward_stage(h, i)
        outs.append(h.permute(0, 3, 1, 2))
    enc.neck(outs)['vision_features'].sum().backward()
    assert delta.grad is not None and delta.grad.abs().sum() > 0
    assert all(p.grad is None for p in enc.parameters())


def test_registered_and_built_from_config():
    enc = MODELS.build(dict(type='SAM2ImageEncoder', arch='tiny', image_size=96))
    assert isinstance(enc, SAM2ImageEncoder) and enc.image_size == 96
    out = enc(torch.zeros(1, 3, 96, 96))
    assert out['vision_features'].shape == (1, 64, 6, 6)


def test_settings_presets_and_rules():
    assert set(OFFICIAL_ARCHS) == {f'{v}_hiera_{b}' for v in ('sam2', 'sam2.1')
                                   for b in ('t', 's', 'b+', 'l')}
    assert stage_channels(get_sam2_settings('sam2.1_hiera_b+')) == (112, 224, 448, 896)
    assert stage_channels(get_sam2_settings('sam2_hiera_l')) == (144, 288, 576, 1152)
    assert get_sam2_settings('sam2.1_hiera_t')['model']['no_obj_embed_spatial']
    assert not get_sam2_settings('sam2_hiera_t')['model']['no_obj_embed_spatial']
    s = get_sam2_settings('tiny', image_size=256, overrides=dict(memory_attention=dict(
        num_layers=1)))
    assert s['image_size'] == 256 and s['memory_attention']['num_layers'] == 1
    assert SAM2_ARCHS['tiny']['memory_attention']['num_layers'] == 2  # presets untouched
    with pytest.raises(KeyError, match='Unknown SAM2 arch'):
        get_sam2_settings('hiera_xxl')
    with pytest.raises(ValueError, match='multiple of 32'):
        get_sam2_settings('tiny', image_size=100)
    with pytest.raises(ValueError, match='divisible by mem_dim'):
        get_sam2_settings('tiny', overrides=dict(mem_dim=48))
    with pytest.raises(ValueError, match='directly_add_no_mem_embed'):
        get_sam2_settings('tiny', overrides=dict(model=dict(directly_add_no_mem_embed=False)))


def _yaml_model(arch: str):
    from sam2.build_sam import build_sam2
    version, backbone = arch.split('_hiera_')
    return build_sam2(f'configs/{version}/{version}_hiera_{backbone}.yaml', None, device='cpu',
                      apply_postprocessing=False)


def _check_matches_yaml(arch: str) -> None:
    ref = _yaml_model(arch)
    ours = build_sam2_model(get_sam2_settings(arch))
    assert {k: v.shape for k, v in ref.state_dict().items()} == {
        k: v.shape for k, v in ours.state_dict().items()}
    for name, value in vars(ref).items():
        if isinstance(value, (bool, int, float)) and name != 'training':
            assert getattr(ours, name) == value, (arch, name)
    assert ours.image_encoder.trunk.stage_ends == ref.image_encoder.trunk.stage_ends


@pytest.mark.parametrize('arch', ['sam2_hiera_t', 'sam2.1_hiera_t'])
def test_settings_match_sam2_yaml(arch):
    _check_matches_yaml(arch)


@pytest.mark.slow
@pytest.mark.parametrize('arch', OFFICIAL_ARCHS)
def test_all_settings_match_sam2_yaml(arch):
    _check_matches_yaml(arch)


def test_unfrozen_encoder_trains(tiny_settings):
    """frozen=False (random-init tiny demo): weights require grad, train mode reaches the trunk,
    and a loss gives every weight a gradient."""
    enc = SAM2ImageEncoder(arch='tiny', image_size=tiny_settings['image_size'], frozen=False)
    enc.train()
    assert enc.training and enc.encoder.trunk.training
    assert all(p.requires_grad for p in enc.parameters())
    out = enc(torch.randn(2, 3, enc.image_size, enc.image_size))
    (out['vision_features'].sum() + sum(x.sum() for x in out['backbone_fpn'])).backward()
    assert all(p.grad is not None for p in enc.encoder.trunk.parameters())
    frozen = SAM2ImageEncoder(arch='tiny', image_size=tiny_settings['image_size'])
    frozen.train()
    assert not frozen.training and not any(p.requires_grad for p in frozen.parameters())
