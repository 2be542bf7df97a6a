"""A stand-in moment retriever of chosen quality: annotated moments degraded the way retrieval
models err (the grounding-quality curve of ``benchmarks/synthetic_ablation.py``,
``tools/analysis/degrade_moments.py``).

A query's truth is its M+: the union of its objects' moment spans, as disjoint half-open
windows (:class:`RetrievalQuery`; one expression may have several). For a quality level ``q``
(the target mean IoU of the top-1 windows) each query gets :data:`NUM_WINDOWS` scored windows,
best first:

- **misses**: the top-1 window is, with probability :func:`miss_rate` ``0.6 (1 - q)``, an
  outright miss, a window elsewhere in the video that overlaps no frame of M+ (its length about
  the moment's); windows 2-5 are misses with probability :func:`distractor_rate`. A moment
  that fills the whole video cannot be missed;
- **hits**: every other window is a degraded copy of one of the query's spans (the top-1 a span
  drawn in proportion to length, the others in turn): shifted past the span's edges, too narrow
  or too wide (:func:`~tgl_mm.models.grounding.span_ops.degrade_window`; only the video's own
  ends clip; ``widen`` is not drawn for a span that fills the video), with a target IoU
  ``sigmoid(a + IOU_SPREAD * n - RANK_PENALTY * rank)``, ``n ~ N(0, 1)``;
- **scores** descend: ``0.5 + 0.5 u`` for the top-1, then each ``0.55 + 0.4 u`` times the one
  before (``u ~ U(0, 1)``).

The hit location ``a`` is calibrated by bisection so that the mean top-1 IoU over the queries
is ``q`` (as far as misses, whole frames and the video's ends allow; the achieved value is
reported, :func:`retrieval_quality`). The random numbers of a query depend only on the seed and
its qid, not on the level, so a lower level's windows are the same draws with larger errors
and its misses include the higher levels' ones.
"""
from __future__ import annotations

import math
import os
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .span_ops import DEGRADE_MODES, degrade_window, window_iou, windows_to_mask

__all__ = ['QUALITY_LEVELS', 'NUM_WINDOWS', 'IOU_SPREAD', 'RANK_PENALTY', 'miss_rate',
           'distractor_rate', 'RetrievalQuery', 'queries_from_moments', 'degrade_query',
           'calibrate_hit_logit', 'degraded_predictions', 'retrieval_quality', 'DegradedLevel',
           'degradation_sweep']

#: the default sweep: target mean top-1 IoU of each level
QUALITY_LEVELS: tuple[float, ...] = (0.9, 0.7, 0.5, 0.3, 0.1)
#: windows written per query
NUM_WINDOWS = 5
#: spread of a hit window's target IoU (standard deviation in logit space)
IOU_SPREAD = 1.0
#: a hit window's target IoU drops by this much (logit) per rank below the top-1
RANK_PENALTY = 0.5
_LOGIT_RANGE = (-12.0, 12.0)


def miss_rate(quality: float) -> float:
    """Probability that a query's top-1 window misses its moment: ``0.6 * (1 - quality)``."""
    return 0.6 * (1.0 - quality)


def distractor_rate(quality: float) -> float:
    """Probability that a window below the top-1 misses the moment: ``0.25 + 0.5 (1 - q)``."""
    return 0.25 + 0.5 * (1.0 - quality)


@dataclass(frozen=True)
class RetrievalQuery:
    """One query: ``qid`` (``video_id/exp_id``), the video's frame count and its truth, the M+
    spans as disjoint, sorted half-open windows ``[start, end)``."""

    qid: str
    num_frames: int
    truth: tuple[tuple[int, int], ...]

    def truth_mask(self) -> torch.Tensor:
        """bool (num_frames,): the M+ frames."""
        return windows_to_mask(self.truth, self.num_frames)

    def gaps(self) -> list[tuple[int, int]]:
        """The runs of frames outside M+, half-open ``[start, end)``."""
        out, t = [], 0
        for s, e in self.truth:
            if s > t:
                out.append((t, s))
            t = e
        if t < self.num_frames:
            out.append((t, self.num_frames))
        return out

    def relevant_windows(self) -> list[list[float]]:
        """The truth in the QVHighlights ground-truth shape ``[[start, end], ...]``."""
        return [[float(s), float(e)] for s, e in self.truth]


def _exp_order(key: str) -> tuple:
    return (0, int(key), '') if str(key).isdigit() else (1, 0, str(key))


def queries_from_moments(moments) -> list[RetrievalQuery]:
    """Every expression of a moment file (a path or a parsed
    :class:`~tgl_mm.formats.moments.MomentFile`) as a :class:`RetrievalQuery`, by video then
    expression id; M+ spans of its objects are merged.

    Raises:
        ValueError: a video without ``num_frames``, or a span outside its video (naming the file,
            video and expression).
    """
    from tgl_mm.formats import MomentFile, load_moments, mask_to_spans, spans_to_mask

    if not isinstance(moments, MomentFile):
        moments = load_moments(os.fspath(moments))
    queries = []
    for video, exps in sorted(moments.moments.items()):
        if video not in moments.num_frames:
            raise ValueError(f'{moments.source}: video {video!r} has no num_frames')
        num = moments.num_frames[video]
        for exp_id, m in sorted(exps.items(), key=lambda kv: _exp_order(kv[0])):
            spans = m.mplus_spans()
            if not spans or any(not 0 <= s <= e < num for s, e in spans):
                raise ValueError(f'{moments.source}: video {video!r}, expression {exp_id!r}: '
                                 f'M+ spans {list(spans)} are empty or not inside its {num} '
                                 'frames')
            merged = mask_to_spans(spans_to_mask(spans, num))
            queries.append(RetrievalQuery(f'{video}/{exp_id}', num,
                                          tuple((s, e + 1) for s, e in merged)))
    return queries


@dataclass(frozen=True)
class _Draws:
    """The random numbers of one query (independent of the level), ``K`` windows:
    ``miss`` U(0,1) per window, ``mode``/``side``/``position``/``score`` U(0,1) per window,
    ``iou``/``length`` N(0,1) per window, ``span_keys`` U(0,1) per truth span."""

    miss: np.ndarray
    mode: np.ndarray
    side: np.ndarray
    position: np.ndarray
    score: np.ndarray
    iou: np.ndarray
    length: np.ndarray
    span_keys: np.ndarray


def _draws(query: RetrievalQuery, seed: int, num_windows: int) -> _Draws:
    rng = np.random.default_rng([seed, zlib.crc32(query.qid.encode('utf-8'))])
    u = rng.random((5, num_windows))
    n = rng.standard_normal((2, num_windows))
    return _Draws(*u, *n, span_keys=rng.random(len(query.truth)))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _span_order(query: RetrievalQuery, keys: np.ndarray) -> list[int]:
    """Spans in a random order, a span's chance to come first in proportion to its length
    (weighted sampling without replacement: sort by ``key ** (1 / length)``)."""
    lengths = [e - s for s, e in query.truth]
    weights = [k ** (1.0 / n) for k, n in zip(keys, lengths)]
    return sorted(range(len(lengths)), key=lambda i: -weights[i])


def _miss_window(query: RetrievalQuery, gaps: list[tuple[int, int]], ref_length: int,
                 length_draw: float, position_draw: float) -> tuple[int, int]:
    """A window in the frames outside M+: about ``ref_length`` frames (times
    ``exp(0.5 * length_draw)``, at most the longest gap), at a uniformly drawn position."""
    longest = max(e - s for s, e in gaps)
    length = int(min(longest, max(1, round(ref_length * math.exp(0.5 * length_draw)))))
    starts = [(s, e - s - length + 1) for s, e in gaps if e - s >= length]
    total = sum(count for _, count in starts)
    pick = min(int(position_draw * total), total - 1)
    for s, count in starts:
        if pick < count:
            return s + pick, s + pick + length
        pick -= count
    raise AssertionError('unreachable: the longest gap holds the window')


def degrade_query(query: RetrievalQuery, quality: float, hit_logit: float, seed: int = 0,
                  num_windows: int = NUM_WINDOWS,
                  draws: _Draws | None = None) -> list[list[float]]:
    """The query's degraded windows ``[[start, end, score], ...]`` (scores descending) at a
    quality level, hit IoUs located at ``hit_logit`` (see the module doc)."""
    if not 0.0 < quality <= 1.0:
        raise ValueError(f'quality (target mean IoU) must be in (0, 1], got {quality}')
    if num_windows < 1:
        raise ValueError(f'num_windows must be >= 1, got {num_windows}')
    d = draws if draws is not None else _draws(query, seed, num_windows)
    gaps = query.gaps()
    order = _span_order(query, d.span_keys)
    windows: list[list[float]] = []
    hits = 0
    score = 0.5 + 0.5 * float(d.score[0])
    for j in range(num_windows):
        rate = miss_rate(quality) if j == 0 else distractor_rate(quality)
        if gaps and d.miss[j] < rate:
            first = query.truth[order[0]]
            s, e = _miss_window(query, gaps, first[1] - first[0], float(d.length[j]),
                                float(d.position[j]))
        else:
            span = query.truth[order[hits % len(order)]]
            hits += 1
            modes = DEGRADE_MODES if span[1] - span[0] < query.num_frames else \
                tuple(m for m in DEGRADE_MODES if m != 'widen')
            mode = modes[min(int(d.mode[j] * len(modes)), len(modes) - 1)]
            iou = _sigmoid(hit_logit + IOU_SPREAD * float(d.iou[j]) - RANK_PENALTY * j)
            s, e = degrade_window(span, query.num_frames, max(iou, 1e-6), mode,
                                  float(d.side[j]))
        if j > 0:
            score *= 0.55 + 0.4 * float(d.score[j])
        windows.append([s, e, round(score, 4)])
    return windows


def _top1_iou(window: Sequence[float], truth: Sequence[tuple[int, int]]) -> float:
    return max(window_iou((int(window[0]), int(window[1])), t) for t in truth)


def calibrate_hit_logit(queries: Sequence[RetrievalQuery], quality: float, seed: int = 0,
                        num_windows: int = NUM_WINDOWS, iterations: int = 40) -> float:
    """The hit location ``a`` (logit) whose mean top-1 IoU over ``queries`` is closest to
    ``quality`` (bisection: the mean is non-decreasing in ``a``; the end of the range when the
    target is out of reach)."""
    if not queries:
        raise ValueError('no query to degrade')
    draws = [_draws(q, seed, num_windows) for q in queries]

    def mean_iou(logit: float) -> float:
        return float(np.mean([_top1_iou(degrade_query(q, quality, logit, seed, 1, d)[0],
                                        q.truth) for q, d in zip(queries, draws)]))

    lo, hi = _LOGIT_RANGE
    if mean_iou(hi) <= quality:
        return hi
    if mean_iou(lo) >= quality:
        return lo
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if mean_iou(mid) < quality:
            lo = mid
        else:
            hi = mid
    return lo if abs(mean_iou(lo) - quality) <= abs(mean_iou(hi) - quality) else hi


def degraded_predictions(queries: Sequence[RetrievalQuery], quality: float, seed: int = 0,
                         num_windows: int = NUM_WINDOWS) -> list[dict]:
    """Prediction-file records ``{"qid", "pred_relevant_windows": [[start, end, score], ...]}``
    of every query at a quality level (target mean top-1 IoU), calibrated
    (:func:`calibrate_hit_logit`)."""
    logit = calibrate_hit_logit(queries, quality, seed, num_windows)
    return [{'qid': q.qid, 'pred_relevant_windows': degrade_query(q, quality, logit, seed,
                                                                  num_windows)}
            for q in queries]


def retrieval_quality(predictions: Iterable[Mapping], queries: Sequence[RetrievalQuery]
                      ) -> dict:
    """How good a moment-retrieval prediction file is against the queries' M+.

    The top-1 window of a query is its highest-scored one (equal scores: the first listed), the
    one ``moment_retrieval`` grounding takes first.

    Returns:
        ``mean_iou`` (0-1): mean IoU of the top-1 window with the truth window it overlaps most
        (the QVHighlights R1 IoU); ``R1@0.5``, ``R1@0.7``, ``mAP`` (percent, QVHighlights
        protocol, :func:`~tgl_mm.evaluation.functional.moment_retrieval_metrics`);
        ``top1_inside`` / ``top1_overlap`` / ``top1_miss`` (percent): top-1 windows whose frames
        all lie in M+ / partly / none (a window covering no frame counts as a miss);
        ``moment_fills_video`` (percent): queries whose M+ is the whole video (every window of
        theirs is inside); ``num_queries``.

    Raises:
        ValueError: predictions missing for a query or for unknown queries (named).
    """
    from tgl_mm.evaluation.functional.moment_retrieval import moment_retrieval_metrics

    ranked = []
    for rec in predictions:
        windows = [list(w) + [0.0] * (3 - len(w)) for w in rec['pred_relevant_windows']]
        order = sorted(range(len(windows)), key=lambda i: -windows[i][2])
        ranked.append({'qid': rec['qid'], 'pred_relevant_windows': [windows[i] for i in order]})
    metrics = moment_retrieval_metrics(
        ranked, [{'qid': q.qid, 'relevant_windows': q.relevant_windows()} for q in queries],
        return_per_query=True)
    top1 = {rec['qid']: rec['pred_relevant_windows'][0] for rec in ranked}
    where = []
    for q in queries:
        covered = windows_to_mask([top1[q.qid][:2]], q.num_frames)
        inside = int((covered & q.truth_mask()).sum())
        where.append('miss' if inside == 0 else
                     'inside' if inside == int(covered.sum()) else 'overlap')
    per_query = metrics['per_query']
    return {
        'mean_iou': float(np.mean([per_query[q.qid]['R1_iou'] for q in queries])),
        'R1@0.5': metrics['R1@0.5'], 'R1@0.7': metrics['R1@0.7'], 'mAP': metrics['mAP'],
        **{f'top1_{k}': 100.0 * where.count(k) / len(where)
           for k in ('inside', 'overlap', 'miss')},
        'moment_fills_video': 100.0 * float(np.mean([not q.gaps() for q in queries])),
        'num_queries': len(queries),
    }


@dataclass
class DegradedLevel:
    """One level of :func:`degradation_sweep`: its target, the calibrated hit location, the
    prediction-file records and their :func:`retrieval_quality`."""

    quality: float
    hit_logit: float
    predictions: list[dict]
    stats: dict


def degradation_sweep(queries: Sequence[RetrievalQuery],
                      levels: Sequence[float] = QUALITY_LEVELS, seed: int = 0,
                      num_windows: int = NUM_WINDOWS) -> list[DegradedLevel]:
    """:func:`degraded_predictions` and :func:`retrieval_quality` at every level."""
    out = []
    for quality in levels:
        logit = calibrate_hit_logit(queries, quality, seed, num_windows)
        preds = [{'qid': q.qid, 'pred_relevant_windows': degrade_query(
            q, quality, logit, seed, num_windows)} for q in queries]
        out.append(DegradedLevel(float(quality), logit, preds, retrieval_quality(preds, queries)))
    return out
