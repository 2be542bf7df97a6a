"""Temporal Alignment Module (TAM, A.2.2): per-frame relevance of a clip to the expression."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from tgl_mm.registry import MODELS


class DepthwiseTemporalBlock(nn.Module):
    """``x + Linear(GELU(LN(DWConv1d(x))))`` over time on (B, T, E) (AdaTAD-style)."""

    def __init__(self, dim: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f'TAM kernel_size must be odd, got {kernel_size}')
        self.conv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x.transpose(1, 2)).transpose(1, 2)
        return x + self.proj(F.gelu(self.norm(y)))


class TextConditionedBlock(nn.Module):
    """Pre-norm transformer block: self-attention over time, cross-attention to text, FFN."""

    def __init__(self, dim: int, num_heads: int, ffn_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.self_attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.cross_attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout,
                                                batch_first=True)
        self.norm3 = nn.LayerNorm(dim)
        hidden = int(dim * ffn_ratio)
        self.ffn = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim))

    def forward(self, x: Tensor, text: Tensor, frame_pad: Tensor | None,
                text_pad: Tensor | None) -> Tensor:
        y = self.norm1(x)
        x = x + self.self_attn(y, y, y, key_padding_mask=frame_pad, need_weights=False)[0]
        y = self.norm2(x)
        x = x + self.cross_attn(y, text, text, key_padding_mask=text_pad, need_weights=False)[0]
        return x + self.ffn(self.norm3(x))


@MODELS.register_module()
class TemporalAlignmentModule(BaseModule):
    """TAM: frame features F_Adp + text features E_Adp -> per-frame relevance ``s_t``.

    Temporal encoder (input projection, ``num_conv_layers`` depth-wise temporal convolution
    blocks) -> frame queries -> one transformer block (self-attention over time,
    cross-attention to the projected text tokens, FFN) -> ``Linear(E, 1)`` divided by a learnable
    temperature ``tau`` (kept positive as ``exp(log_tau)``): ``s_t = Linear(.) / tau``, a logit
    (``s_t > 0``: relevant).

    Training from per-frame relevance labels (``gt_mplus``): :meth:`loss` is binary
    cross-entropy with logits, averaged over the valid frames of each window, then over
    windows. BCE treats every frame as an independent relevant/irrelevant decision, which is
    what the grounding strategies threshold at inference; the moment annotations give no ranking
    target. The TAM trains after TGL, on the frozen model's features of whole training videos
    computed as at inference (:mod:`tgl_mm.engine.tam_training`, ``tools/train_tam.py``), not
    inside the segmentation loss: there its clips would be at least half M+ and never
    contiguous, unlike any video it scores.

    Decision threshold: :meth:`relevance` returns ``s_t - logit(threshold)``, so ``> 0`` (a
    probability above 0.5 for :class:`~tgl_mm.models.grounding.TAMGrounding`) means "relevant"
    at the threshold chosen on training data by :meth:`calibrate` (``tools/train_tam.py``). The
    threshold is the ``decision_logit`` buffer: it travels with the checkpoint (0, i.e. 0.5,
    until calibrated; a checkpoint saved before it existed loads as 0).

    Feed it features computed the same way for every frame, every frame on the adapter path
    (it runs before M+ is known; F_SAM on M- frames would reveal the label):
    :meth:`TGLSAM2.tam_inputs <tgl_mm.models.segmentors.TGLSAM2.tam_inputs>`.

    Args:
        in_channels: C of the per-frame features (B, T, C): twice the SAM2 hidden dim for the
            mean- and max-pooled ``vision_features`` (512; 128 for ``tiny``).
        text_dim: D of the text features (768 RoBERTa-base, 384 MiniLM).
        embed_dim: width E (256). num_heads: attention heads (8).
        kernel_size: temporal kernel of the depth-wise convolutions (3).
        num_conv_layers: depth-wise convolution blocks (2).
        ffn_ratio: FFN hidden width / E (4). dropout: attention / FFN dropout (0).
        init_tau: initial temperature (1.0).
        init_cfg: mmengine init config.
    """

    def __init__(self, in_channels: int = 512, text_dim: int = 768, embed_dim: int = 256,
                 num_heads: int = 8, kernel_size: int = 3, num_conv_layers: int = 2,
                 ffn_ratio: float = 4.0, dropout: float = 0.0, init_tau: float = 1.0,
                 init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if init_tau <= 0:
            raise ValueError(f'TAM init_tau must be > 0, got {init_tau}')
        self.frame_proj = nn.Sequential(nn.Linear(in_channels, embed_dim), nn.LayerNorm(embed_dim))
        self.temporal = nn.Sequential(*(DepthwiseTemporalBlock(embed_dim, kernel_size)
                                        for _ in range(num_conv_layers)))
        self.text_proj = nn.Sequential(nn.Linear(text_dim, embed_dim), nn.LayerNorm(embed_dim))
        self.block = TextConditionedBlock(embed_dim, num_heads, ffn_ratio, dropout)
        self.norm = nn.LayerNorm(embed_dim)
        self.score = nn.Linear(embed_dim, 1)
        self.log_tau = nn.Parameter(torch.tensor(math.log(init_tau)))
        self.register_buffer('decision_logit', torch.zeros(()))
        self._register_load_state_dict_pre_hook(_default_decision_logit)
        self.in_channels = in_channels
        self.text_dim = text_dim

    @property
    def tau(self) -> Tensor:
        """The temperature (a positive scalar tensor)."""
        return self.log_tau.exp()

    def forward(self, frame_feats: Tensor, text_feats: Tensor, text_mask: Tensor | None = None,
                frame_mask: Tensor | None = None) -> Tensor:
        """Relevance logits ``s_t``.

        Args:
            frame_feats: (B, T, C) per-frame features (``LockstepOutput.frame_embeds``).
            text_feats: (B, L, D) adapted text tokens E_Adp.
            text_mask: (B, L) bool/0-1, real tokens (the attention mask); default all.
            frame_mask: (B, T) bool, valid frames (False on padding); default all. Padding
                frames influence no valid frame; their scores are meaningless.

        Returns:
            (B, T) logits.
        """
        if frame_feats.shape[-1] != self.in_channels or text_feats.shape[-1] != self.text_dim:
            raise ValueError(f'TAM expects frame features (B, T, {self.in_channels}) and text '
                             f'(B, L, {self.text_dim}), got {tuple(frame_feats.shape)} and '
                             f'{tuple(text_feats.shape)}')
        x = self.frame_proj(frame_feats)
        frame_pad = None
        if frame_mask is not None:
            frame_mask = frame_mask.bool()
            x = x * frame_mask.unsqueeze(-1).to(x.dtype)
            frame_pad = ~frame_mask
        for block in self.temporal:
            x = block(x)
            if frame_mask is not None:
                x = x * frame_mask.unsqueeze(-1).to(x.dtype)
        text_pad = None if text_mask is None else ~text_mask.bool()
        x = self.block(x, self.text_proj(text_feats), frame_pad, text_pad)
        return self.score(self.norm(x)).squeeze(-1) / self.tau

    @property
    def threshold(self) -> float:
        """The calibrated probability threshold (0.5 until :meth:`calibrate`)."""
        return float(self.decision_logit.sigmoid())

    def calibrate(self, threshold: float) -> None:
        """Set the decision threshold (a probability in (0, 1)) that :meth:`relevance` centres."""
        if not 0.0 < threshold < 1.0:
            raise ValueError(f'TAM threshold must be in (0, 1), got {threshold}')
        self.decision_logit.fill_(math.log(threshold / (1.0 - threshold)))

    def relevance(self, frame_feats: Tensor, text_feats: Tensor, text_mask: Tensor | None = None,
                  frame_mask: Tensor | None = None) -> Tensor:
        """(B, T) logits centred on the calibrated threshold: :meth:`forward` minus
        ``logit(threshold)`` (``> 0``: relevant). What inference grounds M+ with."""
        return self(frame_feats, text_feats, text_mask, frame_mask) - self.decision_logit

    def loss(self, scores: Tensor, labels: Tensor, frame_mask: Tensor | None = None
             ) -> dict[str, Tensor]:
        """BCE-with-logits TAM loss.

        Args:
            scores: (B, T) logits from :meth:`forward`.
            labels: bool (B, T) per-frame relevance (``gt_mplus``).
            frame_mask: bool (B, T) frames to count (default all).

        Returns:
            ``{'loss_tam': mean over clips (with >= 1 valid frame) of the mean BCE
            over their valid frames}``.
        """
        if scores.shape != labels.shape:
            raise ValueError(f'TAM loss: scores {tuple(scores.shape)} and labels '
                             f'{tuple(labels.shape)} differ')
        valid = torch.ones_like(labels, dtype=torch.bool) if frame_mask is None \
            else frame_mask.bool()
        bce = F.binary_cross_entropy_with_logits(scores, labels.to(scores.dtype),
                                                 reduction='none')
        weights = valid.to(scores.dtype)
        per_clip = (bce * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        clips = valid.any(1).to(scores.dtype)
        loss = (per_clip * clips).sum() / clips.sum().clamp(min=1.0)
        return {'loss_tam': loss}


def _default_decision_logit(state_dict: dict, prefix: str, *args) -> None:
    """Load hook: a TAM state dict saved before the threshold buffer existed is uncalibrated."""
    state_dict.setdefault(prefix + 'decision_logit', torch.zeros(()))


__all__ = ['TemporalAlignmentModule']
