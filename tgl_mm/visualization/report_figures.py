"""Figures from evaluation reports (matplotlib, Agg backend): J&F against moment coverage, and
grounding timelines (GT moments vs predicted M+ and top-k frames, as the paper's Fig. 6).

Inputs are the per-expression records of :mod:`tgl_mm.evaluation.report`.
"""
from __future__ import annotations

import io
import os
from collections.abc import Sequence

import matplotlib

matplotlib.use('Agg')  # no display needed; set before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tgl_mm.utils.fileio import atomic_write_bytes  # noqa: E402

__all__ = ['plot_jf_vs_coverage', 'plot_grounding_timeline', 'coverage_bins']

_GT_COLOR = '#2a9d8f'
_PRED_COLOR = '#e63946'
_TOPK_COLOR = '#264653'


def _save(fig, out_file: str | os.PathLike, dpi: int) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=dpi, bbox_inches='tight')
    plt.close(fig)
    atomic_write_bytes(out_file, buf.getvalue())


def coverage_bins(coverage: Sequence[float], scores: Sequence[float],
                  edges: Sequence[float] = (0, 20, 40, 60, 80, 100)) -> list[dict]:
    """Mean score per coverage bin (coverage in percent; the last bin includes its upper edge)."""
    cov = np.asarray(coverage, float)
    sc = np.asarray(scores, float)
    rows = []
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        sel = (cov >= lo) & ((cov <= hi) if k == len(edges) - 2 else (cov < hi))
        rows.append({'lo': float(lo), 'hi': float(hi), 'count': int(sel.sum()),
                     'mean': float(sc[sel].mean()) if sel.any() else None})
    return rows


def plot_jf_vs_coverage(records: Sequence[dict], out_file: str | os.PathLike,
                        title: str | None = None, dpi: int = 120) -> list[dict]:
    """Scatter of per-expression J&F against moment coverage (share of the video in the GT M+),
    with the mean J&F per 20 %-coverage bin. Returns the bins (see :func:`coverage_bins`).

    Raises:
        ValueError: no record has both ``J&F`` and ``gt_coverage`` (evaluate with moments).
    """
    pts = [(100 * r['gt_coverage'], r['J&F']) for r in records
           if r.get('gt_coverage') is not None and r.get('J&F') is not None]
    if not pts:
        raise ValueError('no expression has both a J&F score and a GT moment coverage: score '
                         'with moments (RVOSMetric with gt_mplus, or make_report.py --moments)')
    cov, jf = np.array(pts).T
    bins = coverage_bins(cov, jf)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.scatter(cov, jf, s=14, alpha=0.45, color=_PRED_COLOR, edgecolors='none',
               label=f'expressions (n={len(pts)})')
    centers = [(b['lo'] + b['hi']) / 2 for b in bins if b['mean'] is not None]
    means = [b['mean'] for b in bins if b['mean'] is not None]
    ax.plot(centers, means, '-o', color=_TOPK_COLOR, lw=2, label='mean per 20 % bin')
    for b in bins:
        if b['mean'] is not None:
            ax.annotate(f'n={b["count"]}', ((b['lo'] + b['hi']) / 2, b['mean']),
                        textcoords='offset points', xytext=(0, 8), ha='center', fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_ylim(-2, 102)
    ax.set_xlabel('moment coverage: frames in the GT moment (% of the video)')
    ax.set_ylabel('J&F (%)')
    ax.set_title(title or 'J&F against moment coverage')
    ax.grid(alpha=0.3)
    ax.legend(loc='lower right', fontsize=8)
    _save(fig, out_file, dpi)
    return bins


def _draw_spans(ax, spans, y: float, color: str, height: float = 0.6) -> None:
    for s, e in spans or []:
        ax.broken_barh([(s - 0.5, e - s + 1)], (y - height / 2, height), color=color, alpha=0.85)


def plot_grounding_timeline(record: dict, out_file: str | os.PathLike, top_k: int = 4,
                            dpi: int = 120) -> None:
    """Timeline of one expression over its frames: GT moment spans, predicted M+ spans, the
    top-``k`` frames of ``frame_scores`` (with the score curve), and per-frame J&F when scored.

    Args:
        record: a per-expression record (needs ``num_frames``; draws what it has of
            ``gt_spans``, ``pred_spans``, ``frame_scores``, ``J_frames``/``F_frames``).
        out_file: PNG path (written atomically).
        top_k: how many top-scored frames to mark.
    """
    num = int(record['num_frames'])
    if num <= 0:
        raise ValueError(f'{record.get("video_id")}/{record.get("exp_id")}: no frames')
    has_curve = record.get('frame_scores') is not None or record.get('J_frames') is not None
    fig, axes = plt.subplots(2 if has_curve else 1, 1, figsize=(9, 3.6 if has_curve else 2.2),
                             sharex=True, squeeze=False,
                             gridspec_kw={'height_ratios': [1.2, 1]} if has_curve else None)
    ax = axes[0, 0]
    ticks, labels = [], []
    for y, name, spans, color in ((2, 'GT moment', record.get('gt_spans'), _GT_COLOR),
                                  (1, 'predicted M+', record.get('pred_spans'), _PRED_COLOR)):
        _draw_spans(ax, spans, y, color)
        ticks.append(y)
        labels.append(name if spans is not None else f'{name} (n/a)')
    scores = record.get('frame_scores')
    top = []
    if scores is not None:
        s = np.asarray(scores, float)
        top = np.argsort(-s, kind='stable')[:top_k]
        gt_mask = np.zeros(num, bool)
        for a, b in record.get('gt_spans') or []:
            gt_mask[a:b + 1] = True
        inside = gt_mask[top] if record.get('gt_spans') is not None else np.ones(len(top), bool)
        ax.scatter(top[inside], np.zeros(int(inside.sum())), marker='v', s=70, color=_GT_COLOR,
                   zorder=3, label='top frame inside the GT moment')
        ax.scatter(top[~inside], np.zeros(int((~inside).sum())), marker='v', s=70,
                   color=_PRED_COLOR, zorder=3, label='top frame outside')
        if record.get('gt_spans') is not None:
            ax.legend(loc='lower right', bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=7,
                      frameon=False, borderaxespad=0.1)
    ticks.append(0)
    labels.append(f'top-{top_k} frames' if scores is not None else f'top-{top_k} frames (n/a)')
    ax.set_yticks(ticks, labels=labels)
    ax.set_ylim(-0.7, 2.7)
    ax.set_xlim(-0.5, num - 0.5)
    ax.grid(axis='x', alpha=0.3)
    text = record.get('text', '')
    score = f'  J&F {record["J&F"]:.1f}' if record.get('J&F') is not None else ''
    fig.suptitle(f'{record.get("video_id")}/{record.get("exp_id")}: "{text}"{score}',
                 fontsize=10)
    if has_curve:
        cx = axes[1, 0]
        if record.get('J_frames') is not None:
            jf = (np.asarray(record['J_frames']) + np.asarray(record['F_frames'])) / 2
            cx.plot(np.arange(num), 100 * jf, color=_PRED_COLOR, lw=1.5, label='J&F per frame')
            cx.set_ylim(-2, 102)
            cx.set_ylabel('J&F (%)')
        handles = cx.get_legend_handles_labels()
        if scores is not None:
            sx = cx.twinx()
            sx.plot(np.arange(num), np.asarray(scores, float), color=_TOPK_COLOR, lw=1,
                    ls='--', label='frame score')
            sx.set_ylabel('frame score')
            more = sx.get_legend_handles_labels()
            handles = (handles[0] + more[0], handles[1] + more[1])
        if handles[0]:
            cx.legend(*handles, loc='upper right', fontsize=7, framealpha=0.8)
        cx.set_xlabel('frame')
        cx.grid(alpha=0.3)
    else:
        ax.set_xlabel('frame')
    _save(fig, out_file, dpi)
