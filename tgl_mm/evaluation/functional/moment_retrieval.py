"""Temporal-grounding metrics: moment retrieval (QVHighlights protocol) and keyframe top-1 accuracy.

Written from the published definition of the QVHighlights standalone evaluation (``R1@t`` and
``mAP``), not from its code:

* Windows are half-open ``[start, end)`` (seconds or frames). An inclusive frame span
  ``[s, e]`` becomes the window ``[s, e + 1)`` (:func:`spans_to_windows`).
* ``R1@t``: per query, the *first listed* predicted window against the GT window it overlaps most;
  the query counts when that IoU ``>= t``; ``100 * mean``.
* ``mAP@t``: per query, the first 10 predicted windows, stably sorted by score (descending), are
  greedily matched: each takes the not-yet-taken GT window of highest IoU if that IoU ``>= t``
  (true positive), else it is a false positive; AP is the VOC-style interpolated area under the
  precision/recall curve with ``#GT windows`` positives; mean over queries. ``mAP`` is the mean
  over ``t = 0.50, 0.55, ..., 0.95``. Values are percentages rounded to two decimals.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch

__all__ = ['MR_IOU_THRESHOLDS', 'temporal_iou', 'spans_to_windows',
           'moment_retrieval_metrics', 'average_precision_at', 'keyframe_top1_hits',
           'keyframe_top1_accuracy']

#: IoU thresholds of ``mAP``: 0.50, 0.55, ..., 0.95 (as exact two-decimal floats).
MR_IOU_THRESHOLDS: tuple[float, ...] = tuple(float(f'{t:.2f}') for t in np.linspace(0.5, 0.95, 10))
_MAX_PRED_WINDOWS = 10


def _round2(value: float) -> float:
    return float(f'{value:.2f}')


def temporal_iou(windows_a: np.ndarray, windows_b: np.ndarray) -> np.ndarray:
    """IoU of every window of ``a`` (N, 2) with every window of ``b`` (M, 2): ``(N, M)``.

    ``inter = max(0, min(ends) - max(starts))``, ``union = len_a + len_b - inter``; an empty union
    (two zero-length windows) gives IoU 0.
    """
    a = np.asarray(windows_a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(windows_b, dtype=np.float64).reshape(-1, 2)
    inter = np.clip(np.minimum(a[:, None, 1], b[None, :, 1])
                    - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    union = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _hull_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Paired IoU with the union taken as the hull ``max(ends) - min(starts)`` (equal to the union
    whenever the windows overlap; R1 is computed this way)."""
    inter = np.clip(np.minimum(a[:, 1], b[:, 1]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    hull = np.maximum(a[:, 1], b[:, 1]) - np.minimum(a[:, 0], b[:, 0])
    return np.divide(inter, hull, out=np.zeros_like(inter), where=hull != 0)


def spans_to_windows(spans: Iterable[Sequence[int]], fps: float | None = None) -> list[list[float]]:
    """Inclusive frame spans ``[[s, e], ...]`` -> half-open windows ``[[s, e + 1], ...]``, in
    seconds when ``fps`` is given (``[s / fps, (e + 1) / fps]``)."""
    out = []
    for span in spans:
        if len(span) != 2:
            raise ValueError(f'a frame span is [start, end], got {list(span)!r}')
        s, e = int(span[0]), int(span[1])
        if e < s:
            raise ValueError(f'frame span [{s}, {e}] ends before it starts')
        out.append([s / fps, (e + 1) / fps] if fps else [float(s), float(e + 1)])
    return out


def _check_windows(windows, qid, field: str, with_score: bool) -> np.ndarray:
    width = 3 if with_score else 2
    try:
        arr = np.asarray(windows, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f'query {qid!r}: {field} must be a list of numeric windows') from e
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < width:
        raise ValueError(f'query {qid!r}: {field} must be a non-empty list of '
                         f'[start, end{", score" if with_score else ""}] windows, got {windows!r}')
    if not np.isfinite(arr[:, :width]).all():
        raise ValueError(f'query {qid!r}: {field} holds non-finite values')
    if (arr[:, 1] < arr[:, 0]).any():
        raise ValueError(f'query {qid!r}: {field} has a window that ends before it starts')
    return arr[:, :width]


def _index_by_qid(records: Iterable[Mapping], field: str, what: str) -> dict:
    out = {}
    for rec in records:
        if 'qid' not in rec or field not in rec:
            raise ValueError(f'{what} entries need "qid" and "{field}", got keys {sorted(rec)}')
        qid = rec['qid']
        if qid in out:
            raise ValueError(f'{what}: query {qid!r} appears twice')
        out[qid] = rec[field]
    return out


def average_precision_at(pred: np.ndarray, gt: np.ndarray,
                         thresholds: Sequence[float] = MR_IOU_THRESHOLDS) -> np.ndarray:
    """AP of one query at each IoU threshold.

    Args:
        pred: ``(N, 3)`` windows ``[start, end, score]`` (already cut to the first 10).
        gt: ``(M, 2)`` GT windows.
        thresholds: IoU thresholds.

    Returns:
        ``(len(thresholds),)`` APs in [0, 1].
    """
    order = np.argsort(-pred[:, 2], kind='stable')  # stable: equal scores keep the listed order
    pred = pred[order]
    iou = temporal_iou(pred[:, :2], gt)  # (N, M)
    # GT windows by decreasing IoU; among equal IoUs the later-listed first
    gt_order = np.argsort(iou, axis=1, kind='stable')[:, ::-1]
    aps = np.zeros(len(thresholds))
    for k, thr in enumerate(thresholds):
        taken = np.zeros(gt.shape[0], bool)
        tp = np.zeros(pred.shape[0])
        for i in range(pred.shape[0]):
            for j in gt_order[i]:
                if iou[i, j] < thr:
                    break
                if not taken[j]:
                    taken[j] = True
                    tp[i] = 1
                    break
        tp_cum = np.cumsum(tp)
        fp_cum = np.cumsum(1 - tp)
        recall = tp_cum / float(gt.shape[0])
        precision = tp_cum / (tp_cum + fp_cum)
        # VOC interpolation: precision made non-increasing, summed where recall steps
        m_prec = np.concatenate([[0.0], precision, [0.0]])
        m_rec = np.concatenate([[0.0], recall, [1.0]])
        m_prec = np.maximum.accumulate(m_prec[::-1])[::-1]
        steps = np.flatnonzero(m_rec[1:] != m_rec[:-1]) + 1
        aps[k] = np.sum((m_rec[steps] - m_rec[steps - 1]) * m_prec[steps])
    return aps


def moment_retrieval_metrics(predictions: Iterable[Mapping], ground_truths: Iterable[Mapping],
                             match_number: bool = True,
                             return_per_query: bool = False) -> dict:
    """Moment retrieval scores as the QVHighlights standalone evaluation computes them.

    Args:
        predictions: ``{"qid", "pred_relevant_windows": [[start, end, score], ...]}`` per query
            (the JSONL records of a submission); the first listed window is the top-1.
        ground_truths: ``{"qid", "relevant_windows": [[start, end], ...]}`` per query.
        match_number: both must hold the same queries (else the shared ones are scored).
        return_per_query: also return ``per_query``: ``{qid: {"R1_iou": ..., "AP": [...]}}``.

    Returns:
        ``{"R1@0.5", "R1@0.7", "mAP", "mAP@0.5", "mAP@0.75"}`` in percent (2 decimals), plus
        ``num_queries`` (and ``per_query``).

    Raises:
        ValueError: naming the query for missing/extra/duplicate queries, empty or malformed
            windows.
    """
    preds = _index_by_qid(predictions, 'pred_relevant_windows', 'predictions')
    gts = _index_by_qid(ground_truths, 'relevant_windows', 'ground truths')
    if match_number and set(preds) != set(gts):
        missing = sorted(set(gts) - set(preds), key=str)
        extra = sorted(set(preds) - set(gts), key=str)
        raise ValueError(f'predictions and ground truths differ in queries: missing predictions '
                         f'for {missing[:10]}{"..." if len(missing) > 10 else ""}, predictions '
                         f'for unknown queries {extra[:10]}{"..." if len(extra) > 10 else ""}')
    qids = [q for q in gts if q in preds]
    if not qids:
        raise ValueError('no query to score')

    top1 = np.zeros((len(qids), 2))
    best_gt = np.zeros((len(qids), 2))
    aps = np.zeros((len(qids), len(MR_IOU_THRESHOLDS)))
    for n, qid in enumerate(qids):
        pred = _check_windows(preds[qid], qid, 'pred_relevant_windows', with_score=True)
        gt = _check_windows(gts[qid], qid, 'relevant_windows', with_score=False)
        top1[n] = pred[0, :2]
        best_gt[n] = gt[int(np.argmax(temporal_iou(pred[:1, :2], gt)[0]))]
        aps[n] = average_precision_at(pred[:_MAX_PRED_WINDOWS], gt)
    r1_iou = _hull_iou(top1, best_gt)
    ap_means = aps.mean(axis=0)
    by_thr = dict(zip(MR_IOU_THRESHOLDS, ap_means))
    out = {
        'R1@0.5': _round2(100 * np.mean(r1_iou >= 0.5)),
        'R1@0.7': _round2(100 * np.mean(r1_iou >= 0.7)),
        'mAP': _round2(100 * float(np.mean(ap_means))),
        'mAP@0.5': _round2(100 * by_thr[0.5]),
        'mAP@0.75': _round2(100 * by_thr[0.75]),
        'num_queries': len(qids),
    }
    if return_per_query:
        out['per_query'] = {qid: {'R1_iou': float(r1_iou[n]), 'AP': aps[n].tolist()}
                            for n, qid in enumerate(qids)}
    return out


def _as_1d(x, name: str) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f'{name} must be a non-empty 1-D per-frame array, got shape {a.shape}')
    return a


def keyframe_top1_hits(frame_scores: Sequence | Mapping, gt_mplus: Sequence | Mapping) -> dict:
    """Per query: does the top-scored frame lie inside the GT moment (M+)?

    Args:
        frame_scores: per query, float scores ``(T,)`` (e.g. VLM similarity or TAM logits); a
            mapping ``{qid: scores}`` or a sequence aligned with ``gt_mplus``.
        gt_mplus: per query, bool ``(T,)`` GT M+ flags, same keys/order.

    Returns:
        ``{qid (or index): bool}``. The top frame is the first maximum (``argmax``).
    """
    if isinstance(frame_scores, Mapping) != isinstance(gt_mplus, Mapping):
        raise TypeError('frame_scores and gt_mplus must both be mappings or both sequences')
    if isinstance(frame_scores, Mapping):
        if set(frame_scores) != set(gt_mplus):
            missing = sorted(set(gt_mplus) - set(frame_scores), key=str)
            extra = sorted(set(frame_scores) - set(gt_mplus), key=str)
            raise ValueError(f'queries differ: no scores for {missing[:10]}, scores for unknown '
                             f'{extra[:10]}')
        keys = list(gt_mplus)
        pairs = [(k, frame_scores[k], gt_mplus[k]) for k in keys]
    else:
        if len(frame_scores) != len(gt_mplus):
            raise ValueError(f'{len(frame_scores)} score arrays for {len(gt_mplus)} queries')
        pairs = [(i, s, g) for i, (s, g) in enumerate(zip(frame_scores, gt_mplus))]
    hits = {}
    for key, scores, mplus in pairs:
        s = _as_1d(scores, f'frame_scores[{key!r}]').astype(np.float64)
        g = _as_1d(mplus, f'gt_mplus[{key!r}]').astype(bool)
        if s.shape != g.shape:
            raise ValueError(f'query {key!r}: {s.size} frame scores for {g.size} frames')
        if np.isnan(s).any():
            raise ValueError(f'query {key!r}: frame scores contain NaN')
        hits[key] = bool(g[int(np.argmax(s))])
    return hits


def keyframe_top1_accuracy(frame_scores: Sequence | Mapping, gt_mplus: Sequence | Mapping) -> float:
    """Keyframe top-1 accuracy in percent (paper Tab. 4): share of queries whose top-scored frame
    lies inside the GT moment. See :func:`keyframe_top1_hits` for the arguments."""
    hits = keyframe_top1_hits(frame_scores, gt_mplus)
    if not hits:
        raise ValueError('no query to score')
    return 100.0 * float(np.mean(list(hits.values())))
