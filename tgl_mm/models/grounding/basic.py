"""Grounding without a predictor: the whole video, or the annotated (oracle) moments."""
from __future__ import annotations

import torch

from tgl_mm.registry import GROUNDINGS
from tgl_mm.structures import VideoDataSample

from .base import BaseGrounding, GroundingResult, num_frames, sample_qid


@GROUNDINGS.register_module(name='none')
@GROUNDINGS.register_module()
class NoGrounding(BaseGrounding):
    """Every frame is in M+ (``--grounding none``): the model runs without temporal grounding."""

    summary = 'every frame is in M+ (no grounding)'

    def ground(self, sample: VideoDataSample,
               frame_scores: torch.Tensor | None) -> GroundingResult:
        return GroundingResult(torch.ones(num_frames(sample), dtype=torch.bool), frame_scores)


@GROUNDINGS.register_module(name='oracle')
@GROUNDINGS.register_module()
class OracleGrounding(BaseGrounding):
    """M+ from the moment annotations (``--grounding oracle``; the paper's *Oracle* setting).

    Uses ``sample.gt_mplus``, which the dataset fills from its moment file (video-level moments for
    MeViS ``valid``). A dataset built without a moment file marks every frame as M+ and records
    ``has_moments=False`` in the metainfo; oracle grounding refuses such samples rather than
    silently becoming ``none``.
    """

    reads_spans = True
    summary = 'M+ = the moments given with the sentence (M+ spans, or the annotations)'

    def ground(self, sample: VideoDataSample,
               frame_scores: torch.Tensor | None) -> GroundingResult:
        if 'gt_mplus' not in sample or sample.metainfo.get('has_moments', True) is False:
            raise ValueError(
                f'oracle grounding needs moment annotations, but {sample_qid(sample)} has none: '
                'set moment_file on the test dataset or use --grounding none')
        return GroundingResult(sample.gt_mplus.cpu().bool(), frame_scores)
