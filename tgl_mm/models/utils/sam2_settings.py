"""SAM2 architecture settings without hydra, and builders of sam2's own modules from them.

The official settings mirror ``sam2/configs/sam2/*.yaml`` and ``sam2/configs/sam2.1/*.yaml`` of
the installed ``sam2`` 1.1.0 package (their ``model`` section only, without the post-processing
overrides that ``build_sam2_video_predictor`` adds). Names are ``'<version>_<backbone>'``:

==================  ==========  ======================  ===============================
name                Hiera       stages (blocks)         stage channels
==================  ==========  ======================  ===============================
``*_hiera_t``       embed 96    (1, 2, 7, 2)            (96, 192, 384, 768)
``*_hiera_s``       embed 96    (1, 2, 11, 2)           (96, 192, 384, 768)
``*_hiera_b+``      embed 112   (2, 3, 16, 3)           (112, 224, 448, 896)
``*_hiera_l``       embed 144   (2, 6, 36, 4)           (144, 288, 576, 1152)
``tiny``            embed 24    (1, 1, 2, 1)            (24, 48, 96, 192)
==================  ==========  ======================  ===============================

with ``<version>`` one of ``sam2`` and ``sam2.1`` (SAM2.1 adds the spatial no-object embedding
and projected, signed temporal encodings of the object pointers). ``tiny`` is a random-init
SAM2.1-style model (hidden 64, memory 32, 128 px) for tests and CPU training; it cannot load
official weights.

A settings dict has the keys ``version``, ``image_size``, ``hidden_dim``, ``mem_dim``,
``trunk`` (``Hiera`` kwargs), ``neck`` (``FpnNeck`` extras), ``memory_attention``,
``memory_encoder`` and ``model`` (``SAM2Base`` keyword arguments). Use
:func:`get_sam2_settings` to resolve a name (plus overrides) into a checked dict, and the
``build_*`` functions to build sam2's modules from it.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch.nn as nn
from sam2.modeling.backbones.hieradet import Hiera
from sam2.modeling.backbones.image_encoder import FpnNeck, ImageEncoder
from sam2.modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
from sam2.modeling.memory_encoder import CXBlock, Fuser, MaskDownSampler, MemoryEncoder
from sam2.modeling.position_encoding import PositionEmbeddingSine
from sam2.modeling.sam.transformer import RoPEAttention
from sam2.modeling.sam2_base import SAM2Base

#: stride of the lowest-resolution feature map used by the SAM heads and the memory
BACKBONE_STRIDE = 16

_HIERA = {
    'hiera_t': dict(embed_dim=96, num_heads=1, stages=(1, 2, 7, 2), global_att_blocks=(5, 7, 9),
                    window_spec=(8, 4, 14, 7), window_pos_embed_bkg_spatial_size=(7, 7)),
    'hiera_s': dict(embed_dim=96, num_heads=1, stages=(1, 2, 11, 2),
                    global_att_blocks=(7, 10, 13), window_spec=(8, 4, 14, 7),
                    window_pos_embed_bkg_spatial_size=(7, 7)),
    'hiera_b+': dict(embed_dim=112, num_heads=2, stages=(2, 3, 16, 3),
                     global_att_blocks=(12, 16, 20), window_spec=(8, 4, 14, 7),
                     window_pos_embed_bkg_spatial_size=(14, 14)),
    'hiera_l': dict(embed_dim=144, num_heads=2, stages=(2, 6, 36, 4),
                    global_att_blocks=(23, 33, 43), window_spec=(8, 4, 16, 8),
                    window_pos_embed_bkg_spatial_size=(7, 7)),
}

# SAM2Base arguments shared by every official yaml (sam2 and sam2.1).
_COMMON_MODEL = dict(
    num_maskmem=7,
    sigmoid_scale_for_mem_enc=20.0,
    sigmoid_bias_for_mem_enc=-10.0,
    use_mask_input_as_output_without_sam=True,
    directly_add_no_mem_embed=True,
    use_high_res_features_in_sam=True,
    multimask_output_in_sam=True,
    iou_prediction_use_sigmoid=True,
    use_obj_ptrs_in_encoder=True,
    only_obj_ptrs_in_the_past_for_eval=True,
    pred_obj_scores=True,
    pred_obj_scores_mlp=True,
    fixed_no_obj_ptr=True,
    multimask_output_for_tracking=True,
    use_multimask_token_for_obj_ptr=True,
    multimask_min_pt_num=0,
    multimask_max_pt_num=1,
    use_mlp_for_obj_ptr_proj=True,
)
_VERSION_MODEL = {
    'sam2': dict(no_obj_embed_spatial=False, add_tpos_enc_to_obj_ptrs=False,
                 proj_tpos_enc_in_obj_ptrs=False, use_signed_tpos_enc_to_obj_ptrs=False),
    'sam2.1': dict(no_obj_embed_spatial=True, add_tpos_enc_to_obj_ptrs=True,
                   proj_tpos_enc_in_obj_ptrs=True, use_signed_tpos_enc_to_obj_ptrs=True),
}
_OFFICIAL_MEMORY_ATTENTION = dict(num_layers=4, dim_feedforward=2048, dropout=0.1, num_heads=1,
                                  rope_theta=10000.0)
_OFFICIAL_MEMORY_ENCODER = dict(num_fuser_layers=2, fuser_kernel_size=7)
_NECK = dict(fpn_top_down_levels=(2, 3), fpn_interp_model='nearest', scalp=1)


def _official(version: str, backbone: str) -> dict[str, Any]:
    return dict(
        version=version,
        image_size=1024,
        hidden_dim=256,
        mem_dim=64,
        trunk=dict(_HIERA[backbone]),
        neck=dict(_NECK),
        memory_attention=dict(_OFFICIAL_MEMORY_ATTENTION),
        memory_encoder=dict(_OFFICIAL_MEMORY_ENCODER),
        model=dict(_COMMON_MODEL, **_VERSION_MODEL[version]),
    )


SAM2_ARCHS: dict[str, dict[str, Any]] = {
    f'{version}_{backbone}': _official(version, backbone)
    for version in ('sam2', 'sam2.1') for backbone in _HIERA
}
# A random-init SAM2.1-style model small enough to train on a 2-core CPU at 128 px.
SAM2_ARCHS['tiny'] = dict(
    version='sam2.1',
    image_size=128,
    hidden_dim=64,
    mem_dim=32,
    trunk=dict(embed_dim=24, num_heads=1, stages=(1, 1, 2, 1), global_att_blocks=(3,),
               window_spec=(8, 4, 8, 4), window_pos_embed_bkg_spatial_size=(8, 8)),
    neck=dict(_NECK),
    memory_attention=dict(num_layers=2, dim_feedforward=256, dropout=0.1, num_heads=1,
                          rope_theta=10000.0),
    memory_encoder=dict(num_fuser_layers=1, fuser_kernel_size=7),
    model=dict(_COMMON_MODEL, **_VERSION_MODEL['sam2.1']),
)

#: names of the presets that match an official SAM2 / SAM2.1 checkpoint
OFFICIAL_ARCHS = tuple(name for name in SAM2_ARCHS if name != 'tiny')


def _deep_update(base: dict, overrides: Mapping) -> dict:
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def get_sam2_settings(arch: str | Mapping = 'sam2.1_hiera_b+', image_size: int | None = None,
                      overrides: Mapping | None = None) -> dict[str, Any]:
    """Resolve SAM2 architecture settings and check SAM2's shape rules.

    Args:
        arch: a preset name from :data:`SAM2_ARCHS` (e.g. ``'sam2.1_hiera_b+'``, ``'tiny'``) or a
            full settings dict (as returned by this function).
        image_size: square input size (a multiple of 32); ``None`` keeps the preset's.
            No SAM2 parameter depends on it, so official weights load at any size.
        overrides: nested dict merged into the settings, e.g.
            ``dict(memory_attention=dict(num_layers=2))``.

    Returns:
        A new settings dict (see the module docstring).

    Raises:
        KeyError: unknown preset name.
        ValueError: the settings break a SAM2 shape rule.
    """
    if isinstance(arch, str):
        if arch not in SAM2_ARCHS:
            raise KeyError(f'Unknown SAM2 arch {arch!r}; choose one of {sorted(SAM2_ARCHS)} '
                           'or pass a settings dict.')
        settings = copy.deepcopy(SAM2_ARCHS[arch])
    else:
        settings = copy.deepcopy(dict(arch))
    if overrides:
        _deep_update(settings, overrides)
    if image_size is not None:
        settings['image_size'] = int(image_size)
    check_sam2_settings(settings)
    return settings


def check_sam2_settings(settings: Mapping) -> None:
    """Raise ``ValueError`` naming the field when ``settings`` break a SAM2 shape rule."""
    missing = {'image_size', 'hidden_dim', 'mem_dim', 'trunk', 'neck', 'memory_attention',
               'memory_encoder', 'model'} - set(settings)
    if missing:
        raise ValueError(f'SAM2 settings lack the keys {sorted(missing)}')
    size, hidden, mem = settings['image_size'], settings['hidden_dim'], settings['mem_dim']
    if size <= 0 or size % 32:
        raise ValueError(f'SAM2 image_size must be a positive multiple of 32, got {size}')
    if hidden % 16:
        # the mask decoder's two-way transformer has 8 heads on hidden_dim / 2 channels
        raise ValueError(f'SAM2 hidden_dim must be a multiple of 16, got {hidden}')
    if hidden % mem:
        raise ValueError(f'SAM2 hidden_dim ({hidden}) must be divisible by mem_dim ({mem})')
    model = settings['model']
    if not model.get('directly_add_no_mem_embed', False):
        raise ValueError('SAM2 settings need model.directly_add_no_mem_embed=True (the MDP head '
                         'and official weights rely on it)')
    if model.get('num_maskmem', 7) < 2:
        raise ValueError('SAM2 model.num_maskmem must be >= 2 (1 conditioning + N memories)')
    trunk = settings['trunk']
    if len(trunk['stages']) != 4 or len(trunk['window_spec']) != 4:
        raise ValueError('SAM2 trunk.stages and trunk.window_spec need 4 entries (4 stages)')
    pooling_blocks = {sum(trunk['stages'][:i]) for i in (1, 2, 3)}
    if pooling_blocks & set(trunk['global_att_blocks']):
        # sam2's Hiera cannot pool a globally attending block (zero window size)
        raise ValueError(f'SAM2 trunk.global_att_blocks {tuple(trunk["global_att_blocks"])} must '
                         f'avoid the first blocks of stages 2-4 {sorted(pooling_blocks)}')
    first_window = trunk['window_spec'][0]
    if (size // 4) % first_window:
        raise ValueError(f'SAM2 image_size / 4 ({size // 4}) must be a multiple of '
                         f'trunk.window_spec[0] ({first_window})')


def stage_channels(settings: Mapping) -> tuple[int, ...]:
    """Channels of the four Hiera stage outputs, highest resolution first."""
    embed = settings['trunk']['embed_dim']
    return tuple(embed * 2 ** i for i in range(4))


def build_image_encoder(settings: Mapping) -> ImageEncoder:
    """sam2's ``ImageEncoder`` (``Hiera`` trunk + ``FpnNeck``) for ``settings``."""
    trunk = Hiera(**{k: tuple(v) if isinstance(v, list) else v
                     for k, v in settings['trunk'].items()})
    neck_cfg = settings['neck']
    neck = FpnNeck(
        position_encoding=PositionEmbeddingSine(num_pos_feats=settings['hidden_dim'],
                                                normalize=True, scale=None, temperature=10000),
        d_model=settings['hidden_dim'],
        backbone_channel_list=list(stage_channels(settings))[::-1],
        fpn_top_down_levels=list(neck_cfg['fpn_top_down_levels']),
        fpn_interp_model=neck_cfg['fpn_interp_model'],
    )
    return ImageEncoder(trunk=trunk, neck=neck, scalp=neck_cfg['scalp'])


def build_memory_attention(settings: Mapping) -> MemoryAttention:
    """sam2's ``MemoryAttention`` (RoPE self- and cross-attention layers) for ``settings``."""
    cfg, hidden = settings['memory_attention'], settings['hidden_dim']
    feat = settings['image_size'] // BACKBONE_STRIDE
    common = dict(rope_theta=cfg['rope_theta'], feat_sizes=(feat, feat), embedding_dim=hidden,
                  num_heads=cfg['num_heads'], downsample_rate=1, dropout=cfg['dropout'])
    layer = MemoryAttentionLayer(
        activation='relu',
        cross_attention=RoPEAttention(rope_k_repeat=True, kv_in_dim=settings['mem_dim'],
                                      **common),
        d_model=hidden,
        dim_feedforward=cfg['dim_feedforward'],
        dropout=cfg['dropout'],
        pos_enc_at_attn=False,
        pos_enc_at_cross_attn_keys=True,
        pos_enc_at_cross_attn_queries=False,
        self_attention=RoPEAttention(**common),
    )
    return MemoryAttention(d_model=hidden, pos_enc_at_input=True, layer=layer,
                           num_layers=cfg['num_layers'])


def build_memory_encoder(settings: Mapping) -> MemoryEncoder:
    """sam2's ``MemoryEncoder`` (mask down-sampler + ConvNeXt fuser) for ``settings``."""
    cfg, hidden = settings['memory_encoder'], settings['hidden_dim']
    kernel = cfg['fuser_kernel_size']
    return MemoryEncoder(
        out_dim=settings['mem_dim'],
        mask_downsampler=MaskDownSampler(embed_dim=hidden, kernel_size=3, stride=2, padding=1,
                                         total_stride=BACKBONE_STRIDE),
        fuser=Fuser(CXBlock(dim=hidden, kernel_size=kernel, padding=kernel // 2,
                            layer_scale_init_value=1e-6, use_dwconv=True),
                    num_layers=cfg['num_fuser_layers']),
        position_encoding=PositionEmbeddingSine(num_pos_feats=settings['mem_dim'],
                                                normalize=True, scale=None, temperature=10000),
        in_dim=hidden,
    )


def sam2_base_kwargs(settings: Mapping) -> dict[str, Any]:
    """Keyword arguments of ``SAM2Base`` (besides the three modules) for ``settings``."""
    return dict(settings['model'], image_size=settings['image_size'],
                backbone_stride=BACKBONE_STRIDE)


def build_sam2_model(settings: Mapping, cls: type[SAM2Base] = SAM2Base,
                     image_encoder: nn.Module | None = None, **kwargs: Any) -> SAM2Base:
    """A whole sam2 model (``SAM2Base`` or a subclass such as ``SAM2VideoPredictor``).

    Its state dict has the official checkpoint layout (``image_encoder.trunk.*``,
    ``memory_attention.*``, ...). ``kwargs`` go to ``cls`` (e.g. ``fill_hole_area=0``).
    """
    if image_encoder is None:
        image_encoder = build_image_encoder(settings)
    return cls(image_encoder=image_encoder, memory_attention=build_memory_attention(settings),
               memory_encoder=build_memory_encoder(settings),
               **sam2_base_kwargs(settings), **kwargs)
