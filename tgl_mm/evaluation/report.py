"""Per-expression records, dataset summaries and the report files (JSON + CSV).

A *record* describes one referring expression (video, expression id) after scoring::

    {"video_id": str, "exp_id": str, "text": str, "num_frames": int,
     "J": float, "F": float, "J&F": float,        # percent, means over the expression's frames
     "J_frames": [float], "F_frames": [float],    # per frame, in [0, 1] (DAVIS J and F)
     # optional grounding fields (frame flags as inclusive spans [[start, end], ...]):
     "gt_spans", "pred_spans", "gt_coverage", "pred_coverage" (fractions of the video),
     "mplus_iou" (frame-level IoU of predicted vs GT M+), "frame_scores", "keyframe_hit",
     # offline evaluation only:
     "missing_frames": [str], "status": "ok" | "missing_video" | "missing_expression" | ...}

The summary follows the MeViS protocol: J, F = mean over expressions of the per-expression means
(every frame of an expression weighted equally, empty-GT frames included), J&F = (J + F) / 2,
all in percent.
"""
from __future__ import annotations

import csv
import io
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from tgl_mm.utils.fileio import atomic_dump_json, atomic_write_text

__all__ = ['expression_key', 'deduplicate', 'summarize', 'per_video', 'records_to_csv',
           'write_report', 'report_paths', 'load_report', 'attach_moments', 'CSV_FIELDS',
           'predicted_windows']

CSV_FIELDS = ('video_id', 'exp_id', 'text', 'num_frames', 'J', 'F', 'J&F', 'gt_coverage',
              'pred_coverage', 'mplus_iou', 'keyframe_hit', 'status', 'num_missing_frames')


def expression_key(record: dict) -> tuple[str, str]:
    """``(video_id, exp_id)``: the identity of an expression (never its text, which repeats)."""
    return str(record['video_id']), str(record['exp_id'])


def deduplicate(records: Iterable[dict]) -> list[dict]:
    """One record per ``(video_id, exp_id)``, sorted by it.

    Identical duplicates (the padding a distributed sampler adds) are dropped; duplicates that
    disagree mean the data lists an expression twice, which raises naming it.
    """
    out: dict[tuple[str, str], dict] = {}
    for rec in records:
        key = expression_key(rec)
        if key in out:
            if _comparable(out[key]) != _comparable(rec):
                raise ValueError(f'expression {key[0]}/{key[1]} was scored twice with different '
                                 'results: the dataset lists it more than once')
            continue
        out[key] = rec
    return [out[k] for k in sorted(out)]


def _comparable(rec: dict) -> dict:
    return {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v)
            for k, v in rec.items()}


def _mean_pct(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def summarize(records: Sequence[dict]) -> dict:
    """Dataset figures from per-expression records (see the module doc).

    Returns ``{"J", "F", "J&F", "num_expressions"}`` (percent) when the records are scored, plus
    grounding figures when present: ``gt_mplus_coverage`` / ``pred_mplus_coverage`` (mean share
    of frames in M+, percent), ``mplus_frame_iou`` (percent), ``keyframe_top1`` (percent of
    expressions whose top-scored frame is in the GT moment) and the moment-retrieval scores of
    the predicted M+ (:func:`predicted_windows`): ``mr_R1@0.5``, ``mr_R1@0.7``, ``mr_mAP``.
    """
    out: dict = {'num_expressions': len(records)}
    scored = [r for r in records if r.get('J') is not None]
    if scored:
        j = float(np.mean([r['J'] for r in scored]))
        f = float(np.mean([r['F'] for r in scored]))
        out.update({'J': j, 'F': f, 'J&F': (j + f) / 2})
    for key, name in (('gt_coverage', 'gt_mplus_coverage'),
                      ('pred_coverage', 'pred_mplus_coverage'),
                      ('mplus_iou', 'mplus_frame_iou')):
        vals = [100 * r[key] for r in records if r.get(key) is not None]
        if vals:
            out[name] = _mean_pct(vals)
    hits = [r['keyframe_hit'] for r in records if r.get('keyframe_hit') is not None]
    if hits:
        out['keyframe_top1'] = 100 * float(np.mean(hits))
    scored_mr = [r for r in records if r.get('gt_spans') and r.get('pred_spans')]
    if scored_mr:
        # imported here: tgl_mm.datasets (imported by moment_retrieval) imports this module
        from tgl_mm.evaluation.functional.moment_retrieval import (
            moment_retrieval_metrics,
            spans_to_windows,
        )

        mr = moment_retrieval_metrics(
            [{'qid': n, 'pred_relevant_windows': predicted_windows(r)}
             for n, r in enumerate(scored_mr)],
            [{'qid': n, 'relevant_windows': spans_to_windows(r['gt_spans'])}
             for n, r in enumerate(scored_mr)])
        out.update({f'mr_{k}': mr[k] for k in ('R1@0.5', 'R1@0.7', 'mAP')})
    return out


def predicted_windows(record: dict) -> list[list[float]]:
    """The record's predicted M+ as moment-retrieval predictions ``[[start, end, score], ...]``
    (half-open frame windows): one window per span, scored by the mean ``frame_scores`` inside
    it when the record has them (a TAM), else by its share of the video, best first."""
    from tgl_mm.evaluation.functional.moment_retrieval import spans_to_windows

    scores = record.get('frame_scores')
    num = max(int(record.get('num_frames') or 0), 1)
    out = []
    for (s, e), (start, end) in zip(record['pred_spans'], spans_to_windows(record['pred_spans'])):
        score = float(np.mean(scores[s:e + 1])) if scores else (e - s + 1) / num
        out.append([start, end, score])
    return sorted(out, key=lambda w: -w[2])


def per_video(records: Sequence[dict]) -> list[dict]:
    """Per video: number of expressions and the mean J, F, J&F (percent) of its expressions."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        groups[str(r['video_id'])].append(r)
    rows = []
    for vid in sorted(groups):
        rs = [r for r in groups[vid] if r.get('J') is not None]
        row = {'video_id': vid, 'num_expressions': len(groups[vid])}
        if rs:
            j = float(np.mean([r['J'] for r in rs]))
            f = float(np.mean([r['F'] for r in rs]))
            row.update({'J': j, 'F': f, 'J&F': (j + f) / 2})
        rows.append(row)
    return rows


def _csv_value(v):
    if v is None:
        return ''
    if isinstance(v, float):
        return f'{v:.6g}'
    return v


def records_to_csv(rows: Sequence[dict], fields: Sequence[str]) -> str:
    """CSV text with the given columns (absent values empty; lists become their length)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(fields)
    for r in rows:
        vals = []
        for f in fields:
            v = r.get(f)
            if f == 'num_missing_frames' and v is None and 'missing_frames' in r:
                v = len(r['missing_frames'])
            vals.append(_csv_value(v))
        writer.writerow(vals)
    return buf.getvalue()


def report_paths(json_path: str | os.PathLike) -> dict[str, Path]:
    """The files of a report: ``<stem>.json`` and, next to it, ``<stem>_per_expression.csv`` and
    ``<stem>_per_video.csv``."""
    json_path = Path(json_path)
    stem = json_path.name[:-5] if json_path.name.endswith('.json') else json_path.name
    return {'json': json_path,
            'expressions_csv': json_path.with_name(f'{stem}_per_expression.csv'),
            'videos_csv': json_path.with_name(f'{stem}_per_video.csv')}


def write_report(json_path: str | os.PathLike, records: Sequence[dict], summary: dict,
                 extra: dict | None = None) -> dict[str, Path]:
    """Write a report atomically: the JSON (summary, ``extra``, ``per_video``,
    ``per_expression``) and the two CSV tables (see :func:`report_paths`).

    Returns the written paths by kind (``json``, ``expressions_csv``, ``videos_csv``).
    """
    paths = report_paths(json_path)
    videos = per_video(records)
    report = dict(summary)
    if extra:
        report.update(extra)
    report['per_video'] = videos
    report['per_expression'] = list(records)
    atomic_dump_json(_jsonable(report), paths['json'], indent=1, allow_nan=False)
    atomic_write_text(paths['expressions_csv'], records_to_csv(records, CSV_FIELDS))
    atomic_write_text(paths['videos_csv'], records_to_csv(
        videos, ('video_id', 'num_expressions', 'J', 'F', 'J&F')))
    return paths


def _jsonable(obj: object) -> object:
    """``obj`` with numpy values as Python ones and non-finite floats as ``None``."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # JSON has no NaN/Infinity: a missing value
    return obj


def load_report(path: str | os.PathLike) -> dict:
    """Load a report JSON written by :func:`write_report` (or ``tools/eval_rvos.py``)."""
    import json

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'report not found: {path}')
    try:
        with open(path, encoding='utf-8') as f:
            report = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: invalid JSON at line {e.lineno}: {e.msg}') from e
    if not isinstance(report, dict) or not isinstance(report.get('per_expression'), list):
        raise ValueError(f'{path}: not a tgl_mm RVOS report (no "per_expression" list)')
    return report


def attach_moments(records: Sequence[dict], moments, which: str = 'gt') -> int:
    """Add moment spans and coverage to records from a tgl_mm moment file.

    Args:
        records: per-expression records (modified in place; need ``num_frames``).
        moments: a :class:`tgl_mm.formats.moments.MomentFile` (``load_moments(path)``).
        which: ``'gt'`` fills ``gt_spans``/``gt_coverage``; ``'pred'`` fills ``pred_spans``/
            ``pred_coverage`` (e.g. a moment-retrieval model's output in the same format).
            Both present: ``mplus_iou`` is (re)computed.

    Returns:
        How many records got moments.
    """
    from tgl_mm.formats import mask_to_spans, spans_to_mask

    if which not in ('gt', 'pred'):
        raise ValueError(f"which must be 'gt' or 'pred', got {which!r}")
    n = 0
    for rec in records:
        em = moments.moments.get(str(rec['video_id']), {}).get(str(rec['exp_id']))
        if em is None:
            continue
        num = int(rec['num_frames'])
        mask = spans_to_mask(em.mplus_spans(), num)
        rec[f'{which}_spans'] = mask_to_spans(mask)
        rec[f'{which}_coverage'] = float(mask.mean()) if num else 0.0
        if rec.get('gt_spans') is not None and rec.get('pred_spans') is not None:
            g = spans_to_mask(rec['gt_spans'], num)
            p = spans_to_mask(rec['pred_spans'], num)
            union = int((g | p).sum())
            rec['mplus_iou'] = 1.0 if union == 0 else int((g & p).sum()) / union
        n += 1
    return n
