"""Grounding with the model's own Temporal Alignment Module (paper A.2.2)."""
from __future__ import annotations

import torch

from tgl_mm.registry import GROUNDINGS
from tgl_mm.structures import VideoDataSample

from .base import BaseGrounding, GroundingResult
from .span_ops import largest_span, topk_mask

TAM_MODES = ('threshold', 'span', 'topk')


def tam_mplus(scores: torch.Tensor, mode: str = 'threshold', threshold: float = 0.5,
              top_k: int = 4) -> torch.Tensor:
    """M+ (bool (T,)) from TAM logits (T,): see :class:`TAMGrounding` for the modes."""
    if mode == 'topk':
        return topk_mask(scores, top_k)
    mplus = scores.sigmoid() > threshold
    if not bool(mplus.any()):
        mplus = topk_mask(scores, 1)
    return largest_span(mplus) if mode == 'span' else mplus


@GROUNDINGS.register_module(name='tam')
@GROUNDINGS.register_module()
class TAMGrounding(BaseGrounding):
    """M+ from the TAM's per-frame relevance logits, centred on its calibrated threshold
    (:meth:`TemporalAlignmentModule.relevance`: ``s_t / tau - logit(threshold)``).

    Args:
        mode: ``'threshold'`` (frames with ``sigmoid(score) > threshold``; the top-1 frame if
            none), ``'span'`` (the longest run of such frames) or ``'topk'`` (the ``top_k`` best
            frames).
        threshold: probability threshold for ``'threshold'`` and ``'span'`` on the centred
            scores: the default 0.5 is the threshold the TAM was calibrated to on training data
            (``tools/train_tam.py``); other values move away from it.
        top_k: frames kept by ``'topk'``.
    """

    needs_frame_scores = True
    summary = "the model's Temporal Alignment Module picks M+ (needs a model trained with a TAM)"

    def __init__(self, mode: str = 'threshold', threshold: float = 0.5, top_k: int = 4) -> None:
        if mode not in TAM_MODES:
            raise ValueError(
                f"TAMGrounding.mode must be 'threshold', 'span' or 'topk', got {mode!r}")
        self.mode = mode
        self.threshold = threshold
        self.top_k = top_k

    def ground(self, sample: VideoDataSample,
               frame_scores: torch.Tensor | None) -> GroundingResult:
        assert frame_scores is not None  # checked by BaseGrounding.__call__
        scores = frame_scores.detach().float().cpu()
        return GroundingResult(tam_mplus(scores, self.mode, self.threshold, self.top_k), scores)
