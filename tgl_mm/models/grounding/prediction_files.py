"""Grounding from an external predictor's output files.

Two JSON-lines formats, one line per query, ``qid = "<video_id>/<exp_id>"``:

- moment retrieval (QVHighlights shape): ``{"qid": ..., "pred_relevant_windows":
  [[start, end, score], ...]}``, windows half-open ``[start, end)`` in frames (or in seconds with
  ``fps`` set), ranked by score (highest first; without scores, as listed);
- keyframe scores (a VLM's frame-text relevance): ``{"qid": ..., "frame_scores": [s_0, ...]}``,
  one score per frame of the video.

Both files are validated when the grounding is built (``tools/test.py`` builds file groundings
before the model): every window a list ``[start, end]`` or ``[start, end, score]`` of finite
numbers with ``0 <= start < end``, a non-empty window list per query, scores on every window of a
query or on none; frame scores a non-empty flat list of finite numbers; ``fps`` positive. Errors
name the file, the line and the query. Windows reaching past the end of a video are clipped with a
warning that counts them.
"""
from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from mmengine.logging import print_log

from tgl_mm.registry import GROUNDINGS
from tgl_mm.structures import VideoDataSample
from tgl_mm.utils.fileio import atomic_path

from .base import BaseGrounding, GroundingResult, num_frames, sample_qid
from .span_ops import topk_mask, windows_to_mask


class PredictionFileError(ValueError):
    """A grounding prediction file is malformed (the message names file, line and query)."""


def _number(value: Any, what: str) -> float:
    """A finite real number (bools and strings are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f'{what} must be a number, got {value!r}')
    if not math.isfinite(value):
        raise ValueError(f'{what} must be finite, got {value!r}')
    return float(value)


def parse_windows(value: Any) -> list[tuple[float, float]]:
    """``pred_relevant_windows`` -> ``[(start, end), ...]`` half-open, checked (see module doc),
    highest score first (equal scores keep the listed order; windows without scores keep the
    listed order: either every window of a query has a score or none has)."""
    if not isinstance(value, list) or not value:
        raise ValueError(f'pred_relevant_windows must be a non-empty list of [start, end(, score)]'
                         f', got {value!r}')
    windows, scores = [], []
    for i, window in enumerate(value):
        if not isinstance(window, list) or len(window) not in (2, 3):
            raise ValueError(f'window {i} must be [start, end] or [start, end, score], '
                             f'got {window!r}')
        start, end = (_number(v, f'window {i} {name}') for v, name in
                      zip(window[:2], ('start', 'end')))
        if len(window) == 3:
            scores.append(_number(window[2], f'window {i} score'))
        if start < 0 or not start < end:
            raise ValueError(f'window {i} [{start:g}, {end:g}) must have 0 <= start < end')
        windows.append((start, end))
    if scores and len(scores) != len(windows):
        raise ValueError(f'{len(scores)} of {len(windows)} windows have a score: give every '
                         'window a score or none')
    if scores:
        order = sorted(range(len(windows)), key=lambda i: -scores[i])
        windows = [windows[i] for i in order]
    return windows


def write_prediction_file(records: Iterable[dict], path: str | Path) -> Path:
    """Write prediction-file records (one JSON object per line, e.g. ``{"qid": ...,
    "pred_relevant_windows": [...]}``) to ``path`` atomically; parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(''.join(json.dumps(r) + '\n' for r in records), encoding='utf-8')
    return path


def parse_scores(value: Any) -> list[float]:
    """``frame_scores`` -> a flat list of finite floats (non-empty)."""
    if not isinstance(value, list) or not value:
        raise ValueError(f'frame_scores must be a non-empty flat list of numbers, got '
                         f'{str(value)[:80]}')
    return [_number(v, f'frame score {i}') for i, v in enumerate(value)]


def load_jsonl_by_qid(path: str | Path, field: str,
                      parse: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """Read a JSON-lines prediction file into ``{qid: parse(record[field])}``.

    Raises:
        FileNotFoundError: no such file.
        PredictionFileError: a line is not JSON, lacks ``qid``/``field``, repeats a qid, or its
            value is rejected by ``parse`` (``path:line: query 'qid': reason``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'grounding prediction file not found: {path}')
    records: dict[str, Any] = {}
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise PredictionFileError(f'{path}:{line_no}: not valid JSON ({e.msg})') from None
            if not isinstance(record, dict) or 'qid' not in record or field not in record:
                raise PredictionFileError(f'{path}:{line_no}: each line needs "qid" and "{field}"')
            qid = str(record['qid'])
            if qid in records:
                raise PredictionFileError(f'{path}:{line_no}: duplicate qid {qid!r}')
            try:
                records[qid] = record[field] if parse is None else parse(record[field])
            except ValueError as e:
                raise PredictionFileError(f'{path}:{line_no}: query {qid!r}: {e}') from None
    if not records:
        raise PredictionFileError(f'{path}: no prediction in the file')
    return records


class _FileGrounding(BaseGrounding):
    """Shared loading (at construction, validated by :meth:`parse`) and lookup of one file."""

    field: str = ''

    def __init__(self, pred_file: str) -> None:
        self.pred_file = pred_file
        self._records = load_jsonl_by_qid(pred_file, self.field, self.parse)

    @staticmethod
    def parse(value: Any) -> Any:
        """Check and convert one query's value (raise ``ValueError`` naming the problem)."""
        return value

    def lookup(self, sample: VideoDataSample) -> Any:
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
        top_k: how many windows to take: the ``top_k`` highest-scored ones (equal scores, or
            windows without scores: the first listed).
        fps: if set, windows are in seconds and are converted with ``frame = second * fps``.
    """

    field = 'pred_relevant_windows'
    parse = staticmethod(parse_windows)
    reads_windows = True
    summary = ('M+ = the best window(s) of each sentence in a moment-retrieval prediction file '
               '(frames, or seconds when its lines say "unit": "seconds")')

    def __init__(self, pred_file: str, top_k: int = 1, fps: float | None = None) -> None:
        if top_k < 1:
            raise ValueError(f'top_k must be >= 1, got {top_k}')
        if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float))
                                or not math.isfinite(fps) or fps <= 0):
            raise ValueError(f'fps must be a positive number of frames per second, got {fps!r}')
        super().__init__(pred_file)
        self.top_k = top_k
        self.fps = fps
        self.num_clipped = 0

    def frame_windows(self, sample: VideoDataSample) -> list[tuple[float, float]]:
        """The query's top-k windows in frames, clipped to the video (with a warning)."""
        n = num_frames(sample)
        scale = self.fps or 1.0
        windows = [(s * scale, e * scale) for s, e in self.lookup(sample)[:self.top_k]]
        if all(s >= n for s, _ in windows):
            raise PredictionFileError(
                f'{self.pred_file}: query {sample_qid(sample)!r}: every window starts after the '
                f'video\'s {n} frames ({windows})')
        clipped = sum(e > n for _, e in windows)
        if clipped:
            self.num_clipped += clipped
            print_log(f'{self.pred_file}: query {sample_qid(sample)!r}: {clipped} window(s) end '
                      f'after the video\'s {n} frames and were clipped ({self.num_clipped} '
                      'clipped in this file so far)', logger='current', level=logging.WARNING)
        return [(s, min(e, n)) for s, e in windows if s < n]

    def ground(self, sample: VideoDataSample,
               frame_scores: torch.Tensor | None) -> GroundingResult:
        windows = self.frame_windows(sample)
        mplus = windows_to_mask(windows, num_frames(sample))
        if not bool(mplus.any()):
            # windows between two frames (e.g. [2.2, 2.8)): keep the frame nearest the first
            mplus[min(round(windows[0][0]), num_frames(sample) - 1)] = True
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
    parse = staticmethod(parse_scores)
    summary = 'M+ = the top-k frames by the per-frame scores of a prediction file (e.g. a VLM)'

    def __init__(self, pred_file: str, top_k: int = 4) -> None:
        if top_k < 1:
            raise ValueError(f'top_k must be >= 1, got {top_k}')
        super().__init__(pred_file)
        self.top_k = top_k

    def frame_scores(self, sample: VideoDataSample) -> torch.Tensor:
        scores = torch.as_tensor(self.lookup(sample), dtype=torch.float64)
        if scores.shape != (num_frames(sample),):
            raise PredictionFileError(f'{self.pred_file}: query {sample_qid(sample)!r} has '
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
        keyframes: a :class:`KeyframeGrounding` config giving per-frame scores (a VLM's), or
            None for the model's own TAM scores (the model then needs a TAM).
        top_k: keyframes to keep inside the span.
    """

    summary = ('M+ = the top-k keyframes (the TAM\'s, or a prediction file\'s) inside a span '
               '(a moment-retrieval file, or oracle)')

    def __init__(self, span: dict, keyframes: dict | None, top_k: int = 4) -> None:
        self.span = GROUNDINGS.build(span)
        self.keyframes = None if keyframes is None else GROUNDINGS.build(keyframes)
        if self.keyframes is not None and not isinstance(self.keyframes, KeyframeGrounding):
            raise TypeError('HybridGrounding.keyframes must build a KeyframeGrounding (or be '
                            'None for the TAM)')
        self.needs_frame_scores = self.keyframes is None
        self.top_k = top_k

    def ground(self, sample: VideoDataSample,
               frame_scores: torch.Tensor | None) -> GroundingResult:
        span = self.span(sample).mplus
        scores = frame_scores.detach().float().cpu() if self.keyframes is None \
            else self.keyframes.frame_scores(sample)
        return GroundingResult(topk_mask(scores, self.top_k, within=span), scores.float())
