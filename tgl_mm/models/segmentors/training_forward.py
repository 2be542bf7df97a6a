"""The training forward of :class:`~tgl_mm.models.segmentors.TGLSAM2` (``mode='loss'``).

On a clip of T frames with its moment flags ``gt_mplus``: lockstep encoding (F_Adp on M+ frames,
F_SAM on M- frames) → text prompt ``rho`` from E_Adp → :class:`MDPHead` over the clip (prompt on
M+ frames, memory written by M+ frames) → :class:`OSSLoss` on the OSS-filtered targets.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from tgl_mm.models.heads.mdp_head import upsample_mask_logits
from tgl_mm.structures import VideoDataSample


class ClipTrainingMixin:
    """``loss`` and the clip forward of :class:`~tgl_mm.models.segmentors.TGLSAM2` (uses its
    ``tokenize``, ``encode``, ``text_prompt``, ``head`` and ``loss_module``)."""

    def _forward_clip(self, inputs: Tensor, data_samples: list[VideoDataSample]
                      ) -> tuple[dict, Tensor]:
        """Head outputs for training clips and their M+ flags (B, T)."""
        batch, steps = inputs.shape[:2]
        if data_samples is None or len(data_samples) != batch:
            raise ValueError('TGLSAM2 needs one data sample per clip')
        mplus = torch.stack([s.gt_mplus for s in data_samples]).to(inputs.device)
        if mplus.shape != (batch, steps):
            raise ValueError(f'gt_mplus of the batch is {tuple(mplus.shape)}, clips are '
                             f'{(batch, steps)}')
        tokens = self.tokenize(data_samples)
        enc = self.encode(inputs.flatten(0, 1), tokens, self.head.adapted_frames(mplus),
                          frame_index=sampled_frame_index(data_samples, steps, inputs.device))
        prompt = self.text_prompt(enc.text_feats, tokens)
        return self.head(enc.image_feats, mplus, prompt), mplus

    def loss(self, inputs: Tensor, data_samples: list[VideoDataSample]) -> dict[str, Tensor]:
        """OSS loss on the clip. ``gt_masks`` are (T, S, S) per sample."""
        out, mplus = self._forward_clip(inputs, data_samples)
        size = inputs.shape[-1]
        batch, steps = mplus.shape
        logits = upsample_mask_logits(out['mask_logits_ungated'].flatten(0, 1), size)
        logits = logits.reshape(batch, steps, size, size)
        targets = torch.stack([s.gt_masks for s in data_samples]).to(logits.device)
        if targets.shape != logits.shape:
            raise ValueError(f'gt_masks of the batch are {tuple(targets.shape)}, predictions '
                             f'{tuple(logits.shape)}: training targets must be resized and '
                             'padded like the frames')
        scores = out['object_score_logits'].reshape(batch, steps)
        losses = self.loss_module(logits, targets, scores)
        return losses


def sampled_frame_index(samples: Sequence[VideoDataSample], steps: int,
                        device: torch.device | str | None = None) -> Tensor:
    """long (B, T): each training clip's frame indices in its video (``frame_inds`` of the
    sampler), or 0 .. T-1 for a sample without them."""
    rows = []
    for sample in samples:
        inds = sample.metainfo.get('frame_inds')
        if inds is None:
            inds = range(steps)
        elif len(inds) != steps:
            raise ValueError(f'sample {sample.metainfo.get("video_id")!r} (expression '
                             f'{sample.metainfo.get("exp_id")!r}) has {len(inds)} frame_inds '
                             f'for a clip of {steps} frames')
        rows.append([int(t) for t in inds])
    return torch.tensor(rows, dtype=torch.long, device=device).reshape(len(samples), steps)


__all__ = ['ClipTrainingMixin', 'sampled_frame_index']
