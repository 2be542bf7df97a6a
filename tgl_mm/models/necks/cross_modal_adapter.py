"""Cross-modal adapter (Eq. 1): bidirectional cross-attention between the frozen encoders.

At each adapted stage ``k`` (after a Hiera stage and its matching text layers)::

    F_Adp^k = F^k + h(F^k W_down^v, E^k W_down^t) W_up^v
    E_Adp^k = E^k + h(E^k W_down^t, mean_t(F^k W_down^v)) W_up^t

as in SAMWISE: vision down/up projections are 1x1 convolutions with BatchNorm + ReLU, text
down/up projections are bias-free linear maps ``D <-> dim``, ``h`` is an ``num_heads``-head
cross-attention block (``LayerNorm(q + MHA(q, kv, kv))``), the vision stream of every adapted
frame attends to the tokens of its own expression, and the text stream attends to the vision
tokens averaged over the adapted frames of its own video (padding tokens are never attended).

Temporal half (``hsa=dict(patch_sizes=...)``, SAMWISE's ``--HSA``): before the vision->text
cross-attention, the down-projected tokens of each adapted frame get the output of
:class:`~tgl_mm.models.necks.hsa.HierarchicalSelectiveAttention` added: the tokens of a ``p x p``
spatial patch attend to the same patch in the other adapted frames of their clip (with the
frames' true indices in a time embedding). The text stream still attends to the tokens before
HSA, as in SAMWISE.

Identity start (``identity_init=True``): ``W_up^t`` is zero, the vision branch ends with a
per-channel scale initialised at zero and HSA's output map is zero, so both streams are exactly
unchanged before training. (The up projection's own BatchNorm cannot start at zero: its ReLU
would then output exactly 0 and pass no gradient.)
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from tgl_mm.registry import MODELS

from .hsa import HierarchicalSelectiveAttention

#: SAMWISE's lockstep schedule for Hiera-B+ and RoBERTa-base (12 layers): after Hiera stage
#: ``i`` (0-based) the text encoder has run its first ``SAMWISE_TEXT_LAYER_ENDS[i]`` layers.
SAMWISE_TEXT_LAYER_ENDS = (1, 4, 8, 12)


def proportional_text_layer_ends(num_text_layers: int,
                                 reference: Sequence[int] = SAMWISE_TEXT_LAYER_ENDS,
                                 reference_layers: int = 12) -> tuple[int, ...]:
    """Scale SAMWISE's schedule to a text encoder of another depth (rounding up).

    12 layers -> (1, 4, 8, 12); MiniLM's 6 -> (1, 2, 4, 6); 4 -> (1, 2, 3, 4).
    """
    if num_text_layers < 1:
        raise ValueError(f'num_text_layers must be >= 1, got {num_text_layers}')
    return tuple(min(num_text_layers, max(1, math.ceil(e * num_text_layers / reference_layers)))
                 for e in reference)


class CrossAttention(nn.Module):
    """``h(q, kv) = LayerNorm(q + MHA(q, kv, kv))`` on (B, Nq, C) queries and (B, Nk, C) keys."""

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, query: Tensor, key: Tensor, key_padding_mask: Tensor | None = None
                ) -> Tensor:
        """``key_padding_mask``: bool (B, Nk), True on keys to ignore."""
        out = self.attn(query, key, key, key_padding_mask=key_padding_mask,
                        need_weights=False)[0]
        return self.norm(query + out)


class AdapterLayer(nn.Module):
    """One adapter of Eq. 1 (one Hiera stage / text layer pair).

    Args:
        vision_dim: channels of the Hiera stage output.
        text_dim: hidden size of the text encoder.
        dim: adapter width (256).
        num_heads: attention heads (8).
        dropout: attention dropout.
        identity_init: start as the identity (see module docstring).
        hsa_patch_size: HSA patch side at this stage, or None: no HSA.
        hsa_dropout: HSA attention dropout.
    """

    def __init__(self, vision_dim: int, text_dim: int, dim: int = 256, num_heads: int = 8,
                 dropout: float = 0.0, identity_init: bool = True,
                 hsa_patch_size: int | None = None, hsa_dropout: float = 0.1) -> None:
        super().__init__()
        self.vision_down = nn.Sequential(
            nn.Conv2d(vision_dim, dim, 1, bias=False), nn.BatchNorm2d(dim), nn.ReLU(inplace=True))
        self.vision_up = nn.Sequential(
            nn.Conv2d(dim, vision_dim, 1, bias=False), nn.BatchNorm2d(vision_dim),
            nn.ReLU(inplace=True))
        self.vision_scale = nn.Parameter(torch.ones(vision_dim))
        self.text_down = nn.Linear(text_dim, dim, bias=False)
        self.text_up = nn.Linear(dim, text_dim, bias=False)
        self.vision_to_text = CrossAttention(dim, num_heads, dropout)
        self.text_to_vision = CrossAttention(dim, num_heads, dropout)
        self.hsa = None if hsa_patch_size is None else HierarchicalSelectiveAttention(
            dim, num_heads, hsa_patch_size, hsa_dropout, identity_init)
        self.identity_init = identity_init
        self.reset_identity()

    def reset_identity(self) -> None:
        """Zero the last vision scale, the text up projection and HSA's output map (if
        ``identity_init``)."""
        if self.identity_init:
            with torch.no_grad():
                self.vision_scale.zero_()
                self.text_up.weight.zero_()
            if self.hsa is not None:
                self.hsa.reset_identity()

    def forward(self, vision: Tensor, text: Tensor, video_index: Tensor,
                text_padding_mask: Tensor | None = None, frame_index: Tensor | None = None
                ) -> tuple[Tensor, Tensor]:
        """Adapt the features of the adapted frames and the text of their videos.

        Args:
            vision: (N, h, w, Cv) channels-last stage output of the N adapted frames.
            text: (B, L, D) hidden states of the B expressions.
            video_index: long (N,), the expression/video (0 .. B-1) of each adapted frame: with
                HSA, also the clip whose frames attend to each other.
            text_padding_mask: bool (B, L), True on padding tokens.
            frame_index: (N,) each adapted frame's index in its video (HSA's time embedding);
                required with HSA, unused without.

        Returns:
            ``(F_Adp (N, h, w, Cv), E_Adp (B, L, D))``. Videos without adapted frames keep
            their text unchanged.
        """
        num, h, w, _ = vision.shape
        if num == 0:
            return vision, text
        x = self.vision_down(vision.permute(0, 3, 1, 2))              # (N, dim, h, w)
        x = x.flatten(2).transpose(1, 2)                               # (N, hw, dim)
        t = self.text_down(text)                                       # (B, L, dim)
        pad = None if text_padding_mask is None else text_padding_mask[video_index]

        query = x
        if self.hsa is not None:  # temporal half: each patch across the clip's adapted frames
            if frame_index is None:
                raise ValueError('AdapterLayer with HSA needs frame_index (the adapted frames\' '
                                 'indices in their video)')
            query = x + self.hsa(x.reshape(num, h, w, -1), video_index,
                                 frame_index).reshape(num, h * w, -1)
        # vision -> text: every frame attends to its own expression
        x_att = self.vision_to_text(query, t[video_index], pad)       # (N, hw, dim)
        x_att = x_att.transpose(1, 2).reshape(num, -1, h, w)
        delta_v = self.vision_up(x_att).permute(0, 2, 3, 1) * self.vision_scale

        # text -> vision averaged over the adapted frames of the same video
        batch = text.shape[0]
        counts = torch.bincount(video_index, minlength=batch)
        videos = torch.nonzero(counts).squeeze(1)
        sums = x.new_zeros(batch, x.shape[1], x.shape[2]).index_add(0, video_index, x)
        mean_x = sums[videos] / counts[videos].to(x.dtype)[:, None, None]
        t_att = self.text_to_vision(t[videos], mean_x)                 # (B', L, dim)
        delta_t = text.new_zeros(text.shape).index_copy(0, videos, self.text_up(t_att))
        return vision + delta_v, text + delta_t


@MODELS.register_module()
class CrossModalAdapter(BaseModule):
    """The cross-modal adapters of Eq. 1 and the lockstep schedule of the two encoders.

    Hiera stages are 0-based here: SAMWISE's "after stages 2, 3, 4" is ``adapter_stages=(1, 2,
    3)``. ``text_layer_ends[i]`` is how many text layers have run once Hiera stage ``i`` is done
    (SAMWISE: ``(1, 4, 8, 12)``: stage 1 with text layer 0, stage 2 with layers 1-3, ...), so the
    adapter after stage ``i`` meets the text after layer ``text_layer_ends[i]``.

    Args:
        vision_dims: Hiera channels of each adapted stage, e.g. ``(224, 448, 896)`` for b+
            (``SAM2ImageEncoder.stage_channels[i]`` for ``i`` in ``adapter_stages``).
        text_dim: text hidden size (768 for RoBERTa-base, 384 for MiniLM).
        adapter_stages: 0-based Hiera stages after which an adapter acts.
        text_layer_ends: schedule, one entry per Hiera stage, non-decreasing, ending at the text
            encoder's depth; ``None``: SAMWISE's scaled to the text depth
            (:func:`proportional_text_layer_ends`).
        dim: adapter width (256). num_heads: heads (8). dropout: attention dropout.
        identity_init: start as the identity (zero last vision scale, zero ``W_up^t``, zero HSA
            output map); :meth:`init_weights` re-applies it after a parent's generic
            ``init_cfg``.
        hsa: Hierarchical Selective Attention (the adapter's temporal half, SAMWISE's
            ``--HSA``): ``dict(patch_sizes=(8, 4, 2))`` gives one patch side per adapted stage
            (optional ``dropout``, default 0.1 as SAMWISE); None: no HSA.
        init_cfg: mmengine init config.
    """

    def __init__(self, vision_dims: Sequence[int] = (224, 448, 896), text_dim: int = 768,
                 adapter_stages: Sequence[int] = (1, 2, 3),
                 text_layer_ends: Sequence[int] | None = None, dim: int = 256,
                 num_heads: int = 8, dropout: float = 0.0, identity_init: bool = True,
                 hsa: dict | None = None, init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        stages = tuple(int(s) for s in adapter_stages)
        if len(vision_dims) != len(stages):
            raise ValueError(f'CrossModalAdapter: {len(vision_dims)} vision_dims for '
                             f'{len(stages)} adapter_stages {stages}')
        if list(stages) != sorted(set(stages)) or (stages and stages[0] < 0):
            raise ValueError(f'CrossModalAdapter: adapter_stages must be increasing and >= 0, '
                             f'got {stages}')
        self.adapter_stages = stages
        self.vision_dims = tuple(int(c) for c in vision_dims)
        self.text_dim = int(text_dim)
        self.text_layer_ends = None if text_layer_ends is None else tuple(
            int(e) for e in text_layer_ends)
        self.hsa_patch_sizes, hsa_dropout = hsa_settings(hsa, len(stages))
        self.layers = nn.ModuleList(
            AdapterLayer(c, text_dim, dim, num_heads, dropout, identity_init, p, hsa_dropout)
            for c, p in zip(self.vision_dims, self.hsa_patch_sizes))

    def layer_for_stage(self, stage: int) -> AdapterLayer | None:
        """The adapter acting after Hiera stage ``stage`` (0-based), if any."""
        if stage in self.adapter_stages:
            return self.layers[self.adapter_stages.index(stage)]
        return None

    def schedule(self, num_stages: int, num_text_layers: int) -> tuple[int, ...]:
        """Validated ``text_layer_ends`` for encoders of these depths."""
        ends = self.text_layer_ends
        if ends is None:
            if num_stages != len(SAMWISE_TEXT_LAYER_ENDS):
                raise ValueError(f'CrossModalAdapter: set text_layer_ends for a {num_stages}-'
                                 f'stage image encoder')
            ends = proportional_text_layer_ends(num_text_layers)
        if len(ends) != num_stages:
            raise ValueError(f'CrossModalAdapter.text_layer_ends={ends} needs one entry per '
                             f'image-encoder stage ({num_stages})')
        if any(b < a for a, b in zip(ends, ends[1:])) or ends[0] < 0 or \
                ends[-1] != num_text_layers:
            raise ValueError(f'CrossModalAdapter.text_layer_ends={ends} must be non-decreasing '
                             f'and end at the text encoder depth ({num_text_layers})')
        if self.adapter_stages and self.adapter_stages[-1] >= num_stages:
            raise ValueError(f'CrossModalAdapter.adapter_stages={self.adapter_stages} exceed '
                             f'the {num_stages} image-encoder stages')
        return tuple(ends)

    def check_encoders(self, image_encoder, text_encoder) -> tuple[int, ...]:
        """Check dims against the encoders and return the schedule (clear errors otherwise)."""
        channels = tuple(image_encoder.stage_channels)
        ends = self.schedule(len(channels), text_encoder.num_layers)
        want = tuple(channels[s] for s in self.adapter_stages)
        if want != self.vision_dims:
            raise ValueError(f'CrossModalAdapter.vision_dims={self.vision_dims} but the image '
                             f'encoder stages {self.adapter_stages} have {want} channels')
        if text_encoder.hidden_size != self.text_dim:
            raise ValueError(f'CrossModalAdapter.text_dim={self.text_dim} but the text encoder '
                             f'hidden size is {text_encoder.hidden_size}')
        return ends

    def init_weights(self) -> None:
        """mmengine initialisation (``init_cfg``), then the identity start again."""
        super().init_weights()
        for layer in self.layers:
            layer.reset_identity()

    @property
    def uses_hsa(self) -> bool:
        """Whether the adapters have their temporal half (HSA)."""
        return any(p is not None for p in self.hsa_patch_sizes)

    def forward(self, image_encoder, text_encoder, images: Tensor | None, input_ids: Tensor,
                attention_mask: Tensor, adapt: Tensor, trunk: list[Tensor] | None = None,
                frame_index: Tensor | None = None):
        """Encode a batch of clips in lockstep; see
        :func:`tgl_mm.models.necks.lockstep_encoder.lockstep_encode` (``trunk``: precomputed
        shared-stage outputs, e.g. shared by several sentences; ``frame_index``: (B, T) the
        frames' indices in their videos, for HSA's time embedding)."""
        from tgl_mm.models.necks.lockstep_encoder import lockstep_encode
        return lockstep_encode(image_encoder, text_encoder, self, images, input_ids,
                               attention_mask, adapt, trunk=trunk, frame_index=frame_index)


def hsa_settings(hsa: dict | None, num_stages: int) -> tuple[tuple[int | None, ...], float]:
    """Per-stage HSA patch sides (None everywhere without HSA) and HSA's dropout from the
    adapter's ``hsa`` config, checked."""
    if hsa is None:
        return (None,) * num_stages, 0.0
    unknown = set(hsa) - {'patch_sizes', 'dropout'}
    if unknown or 'patch_sizes' not in hsa:
        raise ValueError(f'CrossModalAdapter.hsa takes patch_sizes (one per adapted stage) and '
                         f'optionally dropout, got keys {sorted(hsa)}')
    sizes = tuple(hsa['patch_sizes'])
    if len(sizes) != num_stages or any(not isinstance(p, int) or isinstance(p, bool) or p < 1
                                         for p in sizes):
        raise ValueError(f'CrossModalAdapter.hsa.patch_sizes={sizes} needs one integer >= 1 per '
                         f'adapted stage ({num_stages})')
    return sizes, float(hsa.get('dropout', 0.1))


__all__ = ['CrossModalAdapter', 'AdapterLayer', 'CrossAttention', 'hsa_settings',
           'proportional_text_layer_ends', 'SAMWISE_TEXT_LAYER_ENDS']
