"""Grounding from an external predictor's output files.

Two JSON-lines formats, one line per query, ``qid = "<video_id>/<exp_id>"``:

- moment retrieval (QVHighlights shape): ``{"qid": ..., "pred_relevant_windows":
  [[start, end, score], ...]}``, windows half-open ``[start, end)`` in frames (or in seconds with
  ``fps`` set), listed best first;
- keyframe scores (a VLM's frame-text relevance): ``{"qid": ..., "frame_scores": [s_0, ...]}``,
  one score per frame of the video.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from tgl_mm.registry import GROUNDINGS
from tgl_mm.structures import VideoDataSample

from .base import BaseGrounding, GroundingResult, num_frames, sample_qid
from .span_ops import topk_mask, windows_to_mask


def load_jsonl_by_qid(path: str | Path, field: str) -> dict[str, list]:
    """Read a JSON-lines prediction file into ``{qid: record[field]}`` with named errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'grounding prediction file not found: {path}')
    records: dict[str, list] = {}
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}:{line_no}: not valid JSON ({e.msg})') from e
            if not isinstance(record, dict) or 'qid' not in record or field not in record:
                raise ValueError(f'{path}:{line_no}: each line needs "qid" and "{field}"')
            qid = str(record['qid'])
            if qid in records:
                raise ValueError(f'{path}:{line_no}: duplicate qid {qid!r}')
            records[qid] = record[field]
    return records


class _FileGrounding(BaseGrounding):
    """Shared lazy loading and lookup of one prediction file."""

    field: str = ''

    def __init__(self, pred_file: str) -> None:
        self.pred_file = pred_file
        self._records: dict[str, list] | None = None

    def lookup(self, sample: VideoDataSample) -> list:
        if self._records is None:
            self._records = load_jsonl_by_qid(self.pred_file, self.field)
        qid = sample_qid(sample)
        if qid not in self._records:
            raise KeyError(f'{self.pred_file} has no prediction for query {qid!r}')
        return self._records[qid]


@GROUNDINGS.register_module(name='moment_retrieval')
@GROUNDINGS.register_module()
class MomentRetrievalGrounding(_FileGrounding):
    """M+ = the top ``top_k`` predicted windows of a moment-retrieval model (e.g. Chrono).

    Args:
        pred_file: JSON-lines predictions (see module doc).
        top_k: how many of the listed windows to take (the first listed ones).
        fps: if set, windows are in seconds and are converted with ``frame = second * fps``.
    """

    field = 'pred_relevant_windows'

    def __init__(self, pred_file: str, top_k: int = 1, fps: float | None = None) -> None:
        super().__init__(pred_file)
        if top_k < 1:
            raise ValueError(f'top_k must be >= 1, got {top_k}')
        self.top_k = top_k
        self.fps = fps

    def ground(self, sample: VideoDataSample,
               frame_scores: torch.Tensor | None) -> GroundingResult:
        windows = self.lookup(sample)[:self.top_k]
        scale = self.fps or 1.0
        frames = [(w[0] * scale, w[1] * scale) for w in windows]
        mplus = windows_to_mask(frames, num_frames(sample))
        if not bool(mplus.any()):
            # a window that misses every frame: keep the frame nearest to its start
            nearest = min(max(int(frames[0][0]), 0), num_frames(sample) - 1) if frames else 0
            mplus[nearest] = True
        return GroundingResult(mplus, frame_scores)


@GROUNDINGS.register_module(name='keyframes')
@GROUNDINGS.register_module()
class KeyframeGrounding(_FileGrounding):
    """M+ = the ``top_k`` frames a VLM scores as most relevant (e.g. BLIP-2 / CLIP similarity).

    Args:
        pred_file: JSON-lines per-frame scores (see module doc).
        top_k: number of keyframes (the paper's Tab. 4b uses 1-32; 4 is a good default).
    """

    field = 'frame_scores'

    def __init__(self, pred_file: str, top_k: int = 4) -> None:
        super().__init__(pred_file)
        self.top_k = top_k

    def frame_scores(self, sample: VideoDataSample) -> torch.Tensor:
        scores = torch.as_tensor(self.lookup(sample), dtype=torch.float64)
        if scores.shape != (num_frames(sample),):
            raise ValueError(f'{self.pred_file}: query {sample_qid(sample)!r} has '
                             f'{scores.numel()} frame scores, the video has '
                             f'{num_frames(sample)} frames')
        return scores

    def ground(self, sample: VideoDataSample,
               frame_scores: torch.Tensor | None) -> GroundingResult:
        scores = self.frame_scores(sample)
        return GroundingResult(topk_mask(scores, self.top_k), scores.float())


@GROUNDINGS.register_module(name='hybrid')
@GROUNDINGS.register_module()
class HybridGrounding(BaseGrounding):
    """A span first, then the top-k keyframes inside it (the paper's *Hybrid*, Tab. 4c-e).

    Args:
        span: a grounding config giving the span (a moment-retrieval file, or ``oracle``).
        keyframes: a :class:`KeyframeGrounding` config giving per-frame scores.
        top_k: keyframes to keep inside the span.
    """

    def __init__(self, span: dict, keyframes: dict, top_k: int = 4) -> None:
        self.span = GROUNDINGS.build(span)
        self.keyframes = GROUNDINGS.build(keyframes)
        if not isinstance(self.keyframes, KeyframeGrounding):
            raise TypeError('HybridGrounding.keyframes must build a KeyframeGrounding')
        self.top_k = top_k

    def ground(self, sample: VideoDataSample,
               frame_scores: torch.Tensor | None) -> GroundingResult:
        span = self.span(sample).mplus
        scores = self.keyframes.frame_scores(sample)
        return GroundingResult(topk_mask(scores, self.top_k, within=span), scores.float())
