"""Hierarchical Selective Attention (HSA): the temporal half of SAMWISE's adapter.

Per adapted stage, the adapter's down-projected visual tokens ``x`` (N adapted frames, h x w,
C channels) are cut into ``p x p`` spatial patches; the tokens of one patch in every frame of a
clip attend to each other, so each token sees its own neighbourhood across the clip's frames::

    z   = x + time(frame index) + pos(position in the patch)       (N, h, w, C)
    out = Linear(MHA(LN(z_patch), LN(z_patch), LN(z_patch)))        per clip and patch:
                                                                    (n * p_h * p_w, C)

and ``x + out`` is the query of the adapter's vision->text cross-attention. ``time`` is a
sinusoidal embedding of each frame's *true index in the video* (:func:`sinusoidal_time_embedding`;
SAMWISE uses the clip-relative position normalised to ``2 pi``, which cannot express the gaps
between the M+ frames that MDP adapts), ``pos`` a learned ``p x p x C`` table. The hierarchy comes
from the per-stage patch sizes (SAMWISE: 8, 4, 2 after Hiera stages 2-4, each patch covering
the same image area).

Rules here:

- A clip is the set of adapted frames of one expression (``video_index``): clips never attend to
  each other, so expressions processed side by side do not mix.
- A patch side is capped at the map side (``p_h = min(p, h)``, ``p_w = min(p, w)``); a map that is
  not a multiple of it is padded at the bottom/right to whole patches. Padded tokens are never
  attended (key padding mask) and are dropped from the output; a patch's in-patch positions use
  the top-left ``p_h x p_w`` of the learned table.
- Identity start: the output linear map is zero (weight and bias), so ``out`` is exactly 0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['HierarchicalSelectiveAttention', 'sinusoidal_time_embedding', 'patch_layout',
           'to_patches', 'from_patches']


def sinusoidal_time_embedding(frame_index: Tensor, dim: int, temperature: float = 10000.0
                              ) -> Tensor:
    """Transformer sinusoids of frame indices (not normalised: the true index in the video).

    Args:
        frame_index: (n,) frame indices (any numeric dtype).
        dim: embedding size (even).
        temperature: the longest wavelength's base (10000, as SAMWISE).

    Returns:
        (n, dim) float: channels ``2k, 2k + 1`` are ``sin, cos(t / temperature ** (2k / dim))``.
    """
    if dim % 2:
        raise ValueError(f'sinusoidal_time_embedding: dim must be even, got {dim}')
    freqs = temperature ** (-torch.arange(0, dim, 2, dtype=torch.float32,
                                          device=frame_index.device) / dim)   # (dim/2,)
    angles = frame_index.to(torch.float32)[:, None] * freqs                   # (n, dim/2)
    return torch.stack([angles.sin(), angles.cos()], dim=2).flatten(1)       # (n, dim)


def patch_layout(height: int, width: int, patch_size: int) -> tuple[int, int, int, int]:
    """``(p_h, p_w, n_h, n_w)``: the patch side capped at the map side and the number of patch
    rows/columns covering the map (the last ones padded when the map is not a multiple)."""
    p_h, p_w = min(patch_size, height), min(patch_size, width)
    return p_h, p_w, -(-height // p_h), -(-width // p_w)


def to_patches(x: Tensor, p_h: int, p_w: int) -> Tensor:
    """(n, n_h * p_h, n_w * p_w, C) -> (n_h * n_w, n * p_h * p_w, C): one sequence per patch,
    frame-major (frame, row in the patch, column in the patch)."""
    n, hp, wp, c = x.shape
    n_h, n_w = hp // p_h, wp // p_w
    x = x.reshape(n, n_h, p_h, n_w, p_w, c).permute(1, 3, 0, 2, 4, 5)
    return x.reshape(n_h * n_w, n * p_h * p_w, c)


def from_patches(x: Tensor, n: int, n_h: int, n_w: int, p_h: int, p_w: int) -> Tensor:
    """Inverse of :func:`to_patches`: (n_h * n_w, n * p_h * p_w, C) -> (n, n_h * p_h,
    n_w * p_w, C)."""
    c = x.shape[-1]
    x = x.reshape(n_h, n_w, n, p_h, p_w, c).permute(2, 0, 3, 1, 4, 5)
    return x.reshape(n, n_h * p_h, n_w * p_w, c)


class HierarchicalSelectiveAttention(nn.Module):
    """HSA of one adapted stage (see the module docstring).

    Args:
        dim: adapter width C.
        num_heads: attention heads.
        patch_size: patch side ``p`` at this stage.
        dropout: attention dropout (SAMWISE: 0.1).
        identity_init: zero output map, so the module starts as exact identity (adds 0).
    """

    def __init__(self, dim: int, num_heads: int, patch_size: int, dropout: float = 0.1,
                 identity_init: bool = True) -> None:
        super().__init__()
        if patch_size < 1:
            raise ValueError(f'HSA patch_size must be >= 1, got {patch_size}')
        self.dim = int(dim)
        self.patch_size = int(patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(patch_size, patch_size, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.proj = nn.Linear(dim, dim)
        self.identity_init = identity_init
        self.reset_identity()

    def reset_identity(self) -> None:
        """Zero the output map (if ``identity_init``)."""
        if self.identity_init:
            with torch.no_grad():
                self.proj.weight.zero_()
                self.proj.bias.zero_()

    def forward(self, x: Tensor, video_index: Tensor, frame_index: Tensor) -> Tensor:
        """The HSA term to add to the tokens.

        Args:
            x: (N, h, w, C) channels-last down-projected tokens of N adapted frames.
            video_index: long (N,), the clip (expression) of each frame: frames attend only
                within their clip.
            frame_index: (N,) each frame's index in its video (time embedding).

        Returns:
            (N, h, w, C).
        """
        num, h, w, c = x.shape
        if video_index.shape != (num,) or frame_index.shape != (num,):
            raise ValueError(f'HSA: {num} frames need video_index and frame_index of shape '
                             f'({num},), got {tuple(video_index.shape)} and '
                             f'{tuple(frame_index.shape)}')
        p_h, p_w, n_h, n_w = patch_layout(h, w, self.patch_size)
        pad_h, pad_w = n_h * p_h - h, n_w * p_w - w
        time = sinusoidal_time_embedding(frame_index, c).to(x.dtype)             # (N, C)
        pos = self.pos_embed[:p_h, :p_w].repeat(n_h, n_w, 1)                     # (Hp, Wp, C)
        z = F.pad(x, (0, 0, 0, pad_w, 0, pad_h)) + time[:, None, None] + pos    # (N, Hp, Wp, C)
        pad_mask = None
        if pad_h or pad_w:
            valid = torch.zeros(n_h * p_h, n_w * p_w, dtype=torch.bool, device=x.device)
            valid[:h, :w] = True
            pad_mask = ~valid                                                    # (Hp, Wp)
        out = None   # in the attention's dtype (bfloat16 under autocast)
        for video in torch.unique(video_index).tolist():
            rows = torch.nonzero(video_index == video).squeeze(1)
            clip = self._attend_clip(z[rows], pad_mask, p_h, p_w)
            if out is None:
                out = z.new_empty(z.shape, dtype=clip.dtype)
            out[rows] = clip
        return out[:, :h, :w]

    def _attend_clip(self, z: Tensor, pad_mask: Tensor | None, p_h: int, p_w: int) -> Tensor:
        """One clip: (n, Hp, Wp, C) embedded tokens -> (n, Hp, Wp, C) HSA output (padded
        positions are garbage, dropped by the caller)."""
        n, hp, wp, _ = z.shape
        seq = self.norm(to_patches(z, p_h, p_w))                      # (P, n * p_h * p_w, C)
        key_mask = None
        if pad_mask is not None:  # every patch keeps its top-left token: no row fully masked
            key_mask = to_patches(pad_mask.expand(n, hp, wp)[..., None], p_h, p_w)[..., 0]
        att = self.attn(seq, seq, seq, key_padding_mask=key_mask, need_weights=False)[0]
        return from_patches(self.proj(att), n, hp // p_h, wp // p_w, p_h, p_w)
