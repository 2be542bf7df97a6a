"""Grounding with the model's own Temporal Alignment Module (paper A.2.2)."""
from __future__ import annotations

import torch

from tgl_mm.registry import GROUNDINGS
from tgl_mm.structures import VideoDataSample

from .base import BaseGrounding, GroundingResult
from .span_ops import largest_span, topk_mask


@GROUNDINGS.register_module(name='tam')
@GROUNDINGS.register_module()
class TAMGrounding(BaseGrounding):
    """M+ from the TAM's per-frame relevance logits ``s_t / tau``.

    Args:
        mode: ``'threshold'`` (frames with ``sigmoid(s_t) > threshold``; the top-1 frame if none),
            ``'span'`` (the longest run of such frames) or ``'topk'`` (the ``top_k`` best frames).
        threshold: probability threshold for ``'threshold'`` and ``'span'``.
        top_k: frames kept by ``'topk'``.
    """

    needs_frame_scores = True

    def __init__(self, mode: str = 'threshold', threshold: float = 0.5, top_k: int = 4) -> None:
        if mode not in ('threshold', 'span', 'topk'):
            raise ValueError(
                f"TAMGrounding.mode must be 'threshold', 'span' or 'topk', got {mode!r}")
        self.mode = mode
        self.threshold = threshold
        self.top_k = top_k

    def ground(self, sample: VideoDataSample,
               frame_scores: torch.Tensor | None) -> GroundingResult:
        assert frame_scores is not None  # checked by BaseGrounding.__call__
        scores = frame_scores.detach().float().cpu()
        if self.mode == 'topk':
            return GroundingResult(topk_mask(scores, self.top_k), scores)
        mplus = scores.sigmoid() > self.threshold
        if not bool(mplus.any()):
            mplus = topk_mask(scores, 1)
        if self.mode == 'span':
            mplus = largest_span(mplus)
        return GroundingResult(mplus, scores)
