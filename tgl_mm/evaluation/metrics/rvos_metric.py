"""The RVOS metric of the Runner: J, F, J&F with the MeViS protocol, plus grounding figures."""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement

from tgl_mm.formats import load_families, mask_to_spans, write_expression_masks
from tgl_mm.registry import METRICS

from ..families import (
    attach_families,
    flat_family_metrics,
    format_family_table,
    summarize_by_family,
)
from ..functional.davis_jf import j_and_f
from ..report import deduplicate, summarize, write_report

__all__ = ['RVOSMetric', 'expression_record']


def _get(sample, key: str):
    """A data field or meta field of a sample given as a dict (what the Evaluator passes) or as a
    data element."""
    if isinstance(sample, BaseDataElement):
        if key in sample:
            return sample.get(key)
        return sample.metainfo.get(key)
    return sample.get(key)


def _numpy(x) -> np.ndarray | None:
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _flags(x, name: str, num_frames: int, where: str) -> np.ndarray | None:
    a = _numpy(x)
    if a is None:
        return None
    a = a.reshape(-1)
    if a.size != num_frames:
        raise ValueError(f'{where}: {name} has {a.size} entries for {num_frames} frames')
    return a


def expression_record(video_id: str, exp_id: str, pred_masks, gt_masks=None, *,
                      text: str = '', bound_th: float = 0.008, gt_mplus=None, pred_mplus=None,
                      frame_scores=None) -> dict:
    """Score one expression: the per-expression record of :mod:`tgl_mm.evaluation.report`.

    Args:
        video_id, exp_id, text: identity and sentence.
        pred_masks: bool ``(T, H, W)``.
        gt_masks: bool ``(T, H, W)`` at the same size, or None (no scores, e.g. MeViS ``valid``).
        bound_th: DAVIS boundary tolerance.
        gt_mplus, pred_mplus: bool ``(T,)`` M+ flags (optional grounding figures).
        frame_scores: float ``(T,)`` per-frame relevance (optional keyframe top-1).
    """
    where = f'expression {video_id}/{exp_id}'
    pred = _numpy(pred_masks)
    if pred is None or pred.ndim != 3:
        raise ValueError(f'{where}: pred_masks must be (T, H, W), got '
                         f'{None if pred is None else pred.shape}')
    num = pred.shape[0]
    rec: dict = {'video_id': str(video_id), 'exp_id': str(exp_id), 'text': str(text or ''),
                 'num_frames': int(num)}
    if gt_masks is not None:
        gt = _numpy(gt_masks)
        if gt.shape != pred.shape:
            raise ValueError(f'{where}: pred_masks {tuple(pred.shape)} and gt_masks '
                             f'{tuple(gt.shape)} differ in shape (both must be at the original '
                             'frame size)')
        j, f = j_and_f(pred, gt, bound_th)
        rec.update({'J': 100 * float(j.mean()) if num else 0.0,
                    'F': 100 * float(f.mean()) if num else 0.0,
                    'J_frames': j.tolist(), 'F_frames': f.tolist()})
        rec['J&F'] = (rec['J'] + rec['F']) / 2
    g = _flags(gt_mplus, 'gt_mplus', num, where)
    p = _flags(pred_mplus, 'pred_mplus', num, where)
    s = _flags(frame_scores, 'pred_frame_scores', num, where)
    if g is not None:
        g = g.astype(bool)
        rec['gt_spans'] = mask_to_spans(g)
        rec['gt_coverage'] = float(g.mean()) if num else 0.0
    if p is not None:
        p = p.astype(bool)
        rec['pred_spans'] = mask_to_spans(p)
        rec['pred_coverage'] = float(p.mean()) if num else 0.0
    if g is not None and p is not None:
        union = int((g | p).sum())
        rec['mplus_iou'] = 1.0 if union == 0 else int((g & p).sum()) / union
    if s is not None and num:
        s = s.astype(np.float64)
        rec['frame_scores'] = s.tolist()
        if g is not None and not np.isnan(s).any():
            rec['keyframe_hit'] = bool(g[int(np.argmax(s))])
    return rec


def _default_breakdown_dir() -> Path | None:
    """The current run's log folder (``work_dir/<timestamp>``), if a Runner set one up."""
    log_file = getattr(MMLogger.get_current_instance(), 'log_file', None)
    return Path(log_file).parent if log_file else None


@METRICS.register_module()
class RVOSMetric(BaseMetric):
    """Region similarity J, boundary accuracy F and J&F for referring video object segmentation.

    MeViS protocol: per expression (keyed by ``(video_id, exp_id)``, never by its text), J and F
    are the means over all its frames (empty-GT frames included: J = 1 when both masks are
    empty); the dataset J and F are the means over expressions; J&F = (J + F) / 2; all in
    percent. J and F per frame are exactly DAVIS 2017's (:func:`tgl_mm.evaluation.functional
    .j_and_f`). Scoring happens in :meth:`process`, so full-video masks are not kept.

    Distributed testing: each rank scores its own samples; the gathered records are
    de-duplicated by ``(video_id, exp_id)`` (padding repeats count once).

    Samples need ``pred_masks`` bool (T, H, W) and, unless ``format_only``, ``gt_masks`` bool
    (T, H, W) at the same (original) size, plus metainfo ``video_id``, ``exp_id`` and
    ``frame_names`` (for writing). When present, ``gt_mplus`` / ``pred_mplus`` (T,) and
    ``pred_frame_scores`` (T,) add grounding figures: mean M+ coverage, frame-level M+ IoU and
    keyframe top-1 accuracy (percent).

    Args:
        output_dir: also write the predicted masks in the MeViS submission layout
            ``<output_dir>/<video>/<exp_id>/<frame>.png`` (0/255), one folder per expression
            published atomically (``tools/test.py --out DIR`` sets this).
        format_only: only write predictions (needs ``output_dir``), do not score: for splits
            without masks (MeViS ``valid``, Ref-YouTube-VOS ``valid``).
        bound_th: DAVIS boundary tolerance (fraction of the diagonal, or pixels if >= 1).
        breakdown_dir: where ``rvos_report.json``, ``rvos_report_per_expression.csv`` and
            ``rvos_report_per_video.csv`` go; default the run's log folder
            (``work_dir/<timestamp>``).
        save_breakdown: write those files at all.
        families_file: an ``expression_families.json`` (``{"videos": {video: {exp_id:
            family}}}``); J, F, J&F and the count per family are then added to the results
            (``<family>/J&F``, ...), the log and ``rvos_report.json`` (``per_family``). Default:
            the dataset's (``dataset_meta['families_file']``, which :class:`MeViSDataset` sets
            when ``<data_root>/<split>/expression_families.json`` exists); no file, no families.
        collect_device, prefix, collect_dir: see mmengine's ``BaseMetric``.
    """

    default_prefix = 'rvos'

    def __init__(self, output_dir: str | None = None, format_only: bool = False,
                 bound_th: float = 0.008, breakdown_dir: str | None = None,
                 save_breakdown: bool = True, families_file: str | None = None,
                 collect_device: str = 'cpu', prefix: str | None = None,
                 collect_dir: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if format_only and output_dir is None:
            raise ValueError('RVOSMetric(format_only=True) writes predictions only: set '
                             'output_dir (tools/test.py --out DIR)')
        self.output_dir = output_dir
        self.format_only = format_only
        self.bound_th = bound_th
        self.breakdown_dir = breakdown_dir
        self.save_breakdown = save_breakdown
        self.families_file = families_file

    def _families_path(self) -> str | None:
        """The families file to use: the argument, else the dataset's (if any)."""
        if self.families_file is not None:
            return self.families_file
        return (self.dataset_meta or {}).get('families_file')

    def _report_extra(self, per_family: dict[str, dict]) -> dict:
        """Report fields beyond the summary: per-family figures and the dataset's sentence-swap
        counts (when present)."""
        extra = {}
        if per_family:
            extra['per_family'] = per_family
        swap = (self.dataset_meta or {}).get('sentence_swap')
        if swap:
            extra['sentence_swap'] = swap
        return extra

    def _per_family(self, records: list[dict]) -> dict[str, dict]:
        """Attach each record's family and summarise per family (empty without a file)."""
        path = self._families_path()
        if path is None or self.format_only:
            return {}
        attach_families(records, load_families(path), source=path)
        per_family = summarize_by_family(records)
        print_log(f'RVOSMetric: per family ({path}):\n' + format_family_table(per_family),
                  logger='current')
        return per_family

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Score (and optionally write) each sample; keep only its small record."""
        for sample in data_samples:
            video_id, exp_id = _get(sample, 'video_id'), _get(sample, 'exp_id')
            if video_id is None or exp_id is None:
                raise ValueError('RVOSMetric needs metainfo video_id and exp_id in every sample')
            where = f'expression {video_id}/{exp_id}'
            pred = _get(sample, 'pred_masks')
            if pred is None:
                raise ValueError(f'{where}: the sample has no pred_masks')
            pred = _numpy(pred)
            if pred.dtype != np.bool_:
                raise TypeError(f'{where}: pred_masks must be bool, got {pred.dtype}')
            if self.output_dir is not None:
                names = _get(sample, 'frame_names')
                if names is None:
                    raise ValueError(f'{where}: metainfo frame_names is needed to write '
                                     'predictions')
                write_expression_masks(self.output_dir, str(video_id), str(exp_id), names, pred)
            gt = None
            if not self.format_only:
                gt = _get(sample, 'gt_masks')
                if gt is None:
                    raise ValueError(f'{where}: no gt_masks to score against; for a split '
                                     'without masks (e.g. MeViS valid) use '
                                     'RVOSMetric(format_only=True, output_dir=...)')
            self.results.append(expression_record(
                video_id, exp_id, pred, gt, text=_get(sample, 'text') or '',
                bound_th=self.bound_th, gt_mplus=_get(sample, 'gt_mplus'),
                pred_mplus=_get(sample, 'pred_mplus'),
                frame_scores=_get(sample, 'pred_frame_scores')))

    def compute_metrics(self, results: list) -> dict:
        """Means over expressions (percent); writes the breakdown files."""
        records = deduplicate(results)
        summary = summarize(records)
        per_family = self._per_family(records)
        if self.output_dir is not None:
            print_log(f'RVOSMetric: predictions of {len(records)} expressions written to '
                      f'{os.path.abspath(self.output_dir)}', logger='current')
        if self.save_breakdown:
            out_dir = Path(self.breakdown_dir) if self.breakdown_dir else _default_breakdown_dir()
            if out_dir is None:
                print_log('RVOSMetric: no breakdown_dir and no run log folder; per-expression '
                          'breakdown not written', logger='current', level=logging.WARNING)
            else:
                paths = write_report(out_dir / 'rvos_report.json', records, summary,
                                     extra=self._report_extra(per_family))
                print_log(f'RVOSMetric: per-expression breakdown in {paths["json"]}, '
                          f'{paths["expressions_csv"]}, {paths["videos_csv"]}', logger='current')
        if self.format_only:
            return {k: v for k, v in summary.items() if k not in ('J', 'F', 'J&F')}
        return {**summary, **flat_family_metrics(per_family)}
