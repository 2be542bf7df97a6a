"""Temporal grounding at inference: decide which frames of a test video are in M+."""
from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass

import torch
from mmengine.logging import print_log

from tgl_mm.registry import GROUNDINGS, registered_groundings  # noqa: F401  (re-exported)
from tgl_mm.structures import VideoDataSample


@dataclass
class GroundingResult:
    """What a grounding strategy decided for one (video, expression).

    Attributes:
        mplus: bool (T,): frames treated as M+ (adapter features, text prompt, memory writes).
        frame_scores: float (T,) relevance per frame when the strategy has one, else None.
    """

    mplus: torch.Tensor
    frame_scores: torch.Tensor | None = None


def sample_qid(sample: VideoDataSample) -> str:
    """The query id of a sample in prediction files: ``"<video_id>/<exp_id>"``."""
    return f'{sample.metainfo["video_id"]}/{sample.metainfo["exp_id"]}'


def num_frames(sample: VideoDataSample) -> int:
    """Frames carried by a test sample (the whole video)."""
    return len(sample.metainfo['frame_names'])


class BaseGrounding(metaclass=ABCMeta):
    """A grounding strategy, registered in ``tgl_mm.registry.GROUNDINGS``.

    Subclasses implement :meth:`ground`. Strategies that rank frames with the model's own
    relevance head (TAM) set ``needs_frame_scores = True``; the model then computes the scores
    over the whole video and passes them in.

    No silent text-free output: an M+ without any frame would make the model segment the whole
    video without ever reading the sentence, so :meth:`__call__` replaces it by the top-scoring
    frame when per-frame scores exist, else by the whole video (``none``), and warns naming the
    video and expression (the first time; :attr:`num_fallbacks` counts them all).
    """

    needs_frame_scores: bool = False
    #: whether M+ comes from the caller's spans (``gt_mplus``): inference refuses spans given to
    #: a grounding that does not read them (a config whose sub-grounding reads them, as a
    #: ``hybrid`` span, reads them too)
    reads_spans: bool = False
    #: whether the grounding reads time windows (``fps`` converts windows in seconds)
    reads_windows: bool = False
    #: one line for help texts and the demo page: how M+ is chosen and what that needs
    summary: str = ''
    #: how many expressions got the empty-M+ fallback (per strategy instance)
    num_fallbacks: int = 0

    def __call__(self, sample: VideoDataSample,
                 frame_scores: torch.Tensor | None = None) -> GroundingResult:
        if self.needs_frame_scores and frame_scores is None:
            raise ValueError(f'{type(self).__name__} needs per-frame scores from the model '
                             f'(video {sample.metainfo.get("video_id")}): configure a TAM')
        result = self.ground(sample, frame_scores)
        t = num_frames(sample)
        if result.mplus.shape != (t,) or result.mplus.dtype != torch.bool:
            raise RuntimeError(f'{type(self).__name__} returned M+ of shape '
                               f'{tuple(result.mplus.shape)} / {result.mplus.dtype}; expected '
                               f'bool ({t},) for {sample_qid(sample)}')
        if t and not bool(result.mplus.any()):
            result = self._fallback(sample, result)
        return result

    def _fallback(self, sample: VideoDataSample, result: GroundingResult) -> GroundingResult:
        """An empty M+ becomes the top-scoring frame (scores known) or the whole video."""
        scores = result.frame_scores
        mplus = torch.zeros_like(result.mplus)
        if scores is not None and scores.numel() == mplus.numel() and \
                not bool(torch.isnan(scores.float()).any()):
            mplus[int(torch.argmax(scores.float().cpu()))] = True
            what = 'its top-scoring frame'
        else:
            mplus[:] = True
            what = 'the whole video (as --grounding none)'
        self.num_fallbacks += 1
        message = (f'{type(self).__name__} put no frame of video '
                   f'{sample.metainfo.get("video_id")!r}, expression '
                   f'{sample.metainfo.get("exp_id")!r} in M+; using {what} so the sentence is '
                   'read')
        if self.num_fallbacks == 1:
            print_log(message + ' (later cases are logged at debug level and counted in '
                      'num_fallbacks)', logger='current', level=logging.WARNING)
        else:
            print_log(message, logger='current', level=logging.DEBUG)
        return GroundingResult(mplus, scores)

    @abstractmethod
    def ground(self, sample: VideoDataSample,
               frame_scores: torch.Tensor | None) -> GroundingResult:
        """Return the M+ flags for ``sample`` (a whole test video)."""

    @classmethod
    def describe(cls) -> str:
        """:attr:`summary`, else the first line of the class docstring."""
        return cls.summary or (cls.__doc__ or cls.__name__).strip().splitlines()[0]
