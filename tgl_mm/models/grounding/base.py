"""Temporal grounding at inference: decide which frames of a test video are in M+."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from dataclasses import dataclass

import torch

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
    """

    needs_frame_scores: bool = False

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
        return result

    @abstractmethod
    def ground(self, sample: VideoDataSample,
               frame_scores: torch.Tensor | None) -> GroundingResult:
        """Return the M+ flags for ``sample`` (a whole test video)."""
