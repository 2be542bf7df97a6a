"""Offline evaluation of a prediction folder against a MeViS-layout split (``tools/eval_rvos.py``).

Ground truth: ``<gt_root>/meta_expressions.json`` and ``<gt_root>/mask_dict.json`` (read with
:mod:`tgl_mm.formats.mevis`, the one MeViS parser of tgl_mm). Predictions: the MeViS submission
layout ``<pred_dir>/<video>/<exp_id>/<frame>.png``; any non-zero pixel is foreground.

Scoring is the MeViS protocol (:mod:`tgl_mm.evaluation.report`), with these rules for incomplete
predictions, so that nothing is silently skipped:

* a missing frame PNG scores J = F = 0 for that frame (even where the GT is empty);
* a missing expression folder scores 0 on all its frames; a missing video folder, 0 on all frames
  of all its expressions;
* all of them are listed by name in the report's ``failures`` and counted there;
* predictions for videos, expressions or frames the GT does not have are listed under
  ``unexpected`` and ignored;
* a prediction whose size differs from the GT frame size, or a file that is not a readable image,
  is an error naming the file (the evaluation stops).

Expressions are scored in parallel worker processes (``nproc``).
"""
from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from tgl_mm import formats
from tgl_mm.formats import read_mask_png

from .metrics.rvos_metric import expression_record
from .report import summarize

__all__ = ['ExpressionTask', 'PredictionError', 'load_gt_tasks', 'score_expression',
           'evaluate_predictions']


class PredictionError(ValueError):
    """A prediction file that cannot be scored (wrong size, unreadable); the message names it."""


@dataclass(frozen=True)
class ExpressionTask:
    """What a worker needs to score one expression."""

    video_id: str
    exp_id: str
    text: str
    frames: tuple[str, ...]
    anno_ids: tuple[str, ...]
    size: tuple[int, int] | None  # (H, W); None: take it from the predictions


_MASK_DICT: dict | None = None  # set in the parent before forking, or by the worker initialiser
_MASK_DICT_PATH: str | None = None


def _init_worker(mask_dict_path: str | None) -> None:
    global _MASK_DICT, _MASK_DICT_PATH
    if _MASK_DICT is None and mask_dict_path is not None:  # spawn start method: load again
        _MASK_DICT = formats.load_mask_dict(mask_dict_path)
        _MASK_DICT_PATH = mask_dict_path


def _video_size(split_dir: Path, video: formats.VideoMeta,
                mask_dict: dict) -> tuple[int, int] | None:
    anno_ids = [a for e in video.expressions.values() for a in e.anno_ids]
    size = formats.video_frame_size(mask_dict, anno_ids)
    if size is not None:
        return size
    jpg = formats.frame_path(split_dir, video.video_id, video.frames[0])
    if jpg.is_file():
        with Image.open(jpg) as img:
            return img.height, img.width
    return None


def load_gt_tasks(gt_root: str | os.PathLike) -> tuple[list[ExpressionTask], dict, Path]:
    """Parse and check the split's annotations.

    Returns:
        ``(tasks, mask_dict, mask_dict_path)``: one task per expression, in video then
        expression order.

    Raises:
        tgl_mm.datasets.formats.DataFormatError: naming the file, video, expression and field.
    """
    root = Path(gt_root)
    meta_path = root / 'meta_expressions.json'
    mask_path = root / 'mask_dict.json'
    videos = formats.load_meta_expressions(meta_path, require_ids=True, normalize_text=False)
    mask_dict = formats.load_mask_dict(mask_path)
    tasks = []
    for vid in sorted(videos):
        video = videos[vid]
        formats.check_expression_annotations(video, mask_dict, source=str(mask_path))
        size = _video_size(root, video, mask_dict)
        for exp_id in sorted(video.expressions, key=_natural):
            e = video.expressions[exp_id]
            tasks.append(ExpressionTask(vid, exp_id, e.text, video.frames, e.anno_ids, size))
    return tasks, mask_dict, mask_path


def _natural(s: str):
    return (0, int(s), '') if s.isdigit() else (1, 0, s)


def _read_prediction(path: Path, size: tuple[int, int] | None) -> np.ndarray:
    try:
        mask = read_mask_png(path)
    except ValueError as e:
        raise PredictionError(str(e)) from e
    if size is not None and mask.shape != tuple(size):
        raise PredictionError(f'{path}: prediction is {mask.shape[1]}x{mask.shape[0]} (W x H) '
                              f'but the ground truth is {size[1]}x{size[0]}')
    return mask


def score_expression(task: ExpressionTask, pred_dir: str | os.PathLike,
                     mask_dict: dict | None = None, bound_th: float = 0.008) -> dict:
    """Score one expression from its PNG folder (missing frames count 0; see module doc)."""
    mask_dict = _MASK_DICT if mask_dict is None else mask_dict
    exp_dir = Path(pred_dir) / task.video_id / task.exp_id
    num = len(task.frames)
    status = 'ok'
    if not (Path(pred_dir) / task.video_id).is_dir():
        status = 'missing_video'
    elif not exp_dir.is_dir():
        status = 'missing_expression'
    size = task.size
    preds: list[np.ndarray | None] = [None] * num
    if status == 'ok':
        for t, frame in enumerate(task.frames):
            path = exp_dir / f'{frame}.png'
            if path.is_file():
                preds[t] = _read_prediction(path, size)
                size = size or preds[t].shape
    missing = [task.frames[t] for t in range(num) if preds[t] is None]
    if status == 'ok' and missing:
        status = 'missing_frames'
    if size is None:  # no annotation size and not one prediction frame: nothing to compare
        size = (1, 1)
    gt = formats.expression_target(mask_dict, task.anno_ids, range(num), size,
                                    video=task.video_id, expression=task.exp_id,
                                    frame_names=task.frames)
    pred = np.zeros_like(gt)
    for t, p in enumerate(preds):
        if p is not None:
            pred[t] = p
    rec = expression_record(task.video_id, task.exp_id, pred, gt, text=task.text,
                            bound_th=bound_th)
    if missing:
        miss = [t for t in range(num) if preds[t] is None]
        j = np.asarray(rec['J_frames'])
        f = np.asarray(rec['F_frames'])
        j[miss] = 0.0
        f[miss] = 0.0
        rec.update({'J_frames': j.tolist(), 'F_frames': f.tolist(),
                    'J': 100 * float(j.mean()), 'F': 100 * float(f.mean())})
        rec['J&F'] = (rec['J'] + rec['F']) / 2
    rec['status'] = status
    rec['missing_frames'] = missing if status == 'missing_frames' else (
        list(task.frames) if missing else [])
    return rec


def _score_task(args: tuple[ExpressionTask, str, float]) -> dict:
    task, pred_dir, bound_th = args
    return score_expression(task, pred_dir, bound_th=bound_th)


def _unexpected(pred_dir: Path, tasks: list[ExpressionTask]) -> dict:
    """Videos, expressions and frame files in ``pred_dir`` that the GT does not have."""
    by_video: dict[str, dict[str, set[str]]] = {}
    for t in tasks:
        by_video.setdefault(t.video_id, {})[t.exp_id] = set(t.frames)
    videos, expressions, frames = [], [], []
    for vdir in sorted(p for p in pred_dir.iterdir() if p.is_dir() and not p.name.startswith('.')):
        if vdir.name not in by_video:
            videos.append(vdir.name)
            continue
        for edir in sorted(p for p in vdir.iterdir() if p.is_dir() and not p.name.startswith('.')):
            if edir.name not in by_video[vdir.name]:
                expressions.append(f'{vdir.name}/{edir.name}')
                continue
            known = by_video[vdir.name][edir.name]
            frames += [f'{vdir.name}/{edir.name}/{p.name}' for p in sorted(edir.glob('*.png'))
                       if p.stem not in known]
    return {'videos': videos, 'expressions': expressions, 'frames': frames}


def _failures(records: list[dict]) -> dict:
    missing_videos = sorted({r['video_id'] for r in records if r['status'] == 'missing_video'})
    missing_exps = [f'{r["video_id"]}/{r["exp_id"]}' for r in records
                    if r['status'] == 'missing_expression']
    missing_frames = {f'{r["video_id"]}/{r["exp_id"]}': r['missing_frames'] for r in records
                      if r['status'] == 'missing_frames'}
    return {
        'num_failed_expressions': sum(r['status'] != 'ok' for r in records),
        'num_missing_frames': sum(len(r['missing_frames']) for r in records),
        'missing_videos': missing_videos,
        'missing_expressions': missing_exps,
        'missing_frames': missing_frames,
    }


def _run(tasks: list[ExpressionTask], pred_dir: str, bound_th: float, nproc: int,
         mask_dict_path: Path, progress: bool) -> Iterator[dict]:
    bar = dict(total=len(tasks), desc='eval_rvos', unit='exp', disable=not progress)
    args = [(t, pred_dir, bound_th) for t in tasks]
    if nproc <= 1 or len(tasks) <= 1:
        yield from tqdm((_score_task(a) for a in args), **bar)
        return
    method = 'fork' if 'fork' in mp.get_all_start_methods() else 'spawn'
    ctx = mp.get_context(method)
    # with fork the workers share the parent's parsed mask_dict; with spawn they load it again
    init_path = None if method == 'fork' else str(mask_dict_path)
    with ctx.Pool(nproc, initializer=_init_worker, initargs=(init_path,)) as pool:
        yield from tqdm(pool.imap_unordered(_score_task, args, chunksize=4), **bar)


def evaluate_predictions(gt_root: str | os.PathLike, pred_dir: str | os.PathLike,
                         nproc: int | None = None, bound_th: float = 0.008,
                         progress: bool = True) -> tuple[dict, list[dict]]:
    """Score a MeViS-layout prediction folder.

    Args:
        gt_root: split folder with ``meta_expressions.json`` and ``mask_dict.json``.
        pred_dir: ``<video>/<exp_id>/<frame>.png`` predictions.
        nproc: worker processes (default: all CPU cores).
        bound_th: DAVIS boundary tolerance.
        progress: show a tqdm bar.

    Returns:
        ``(summary, records)``: summary with ``J``, ``F``, ``J&F`` (percent), ``num_expressions``,
        ``failures`` and ``unexpected``; one record per expression (sorted by video, exp_id).

    Raises:
        PredictionError: a prediction of the wrong size or an unreadable file (named).
        tgl_mm.datasets.formats.DataFormatError: bad ground truth (named).
        FileNotFoundError: ``pred_dir`` does not exist.
    """
    global _MASK_DICT
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f'prediction folder not found: {pred_dir}')
    tasks, mask_dict, mask_path = load_gt_tasks(gt_root)
    if not tasks:
        raise ValueError(f'{gt_root}: meta_expressions.json lists no expression')
    nproc = nproc or os.cpu_count() or 1
    _MASK_DICT = mask_dict
    try:
        records = list(_run(tasks, str(pred_dir), bound_th, nproc, mask_path, progress))
    finally:
        _MASK_DICT = None
    records.sort(key=lambda r: (r['video_id'], _natural(r['exp_id'])))
    summary = summarize(records)
    summary['failures'] = _failures(records)
    summary['unexpected'] = _unexpected(pred_dir, tasks)
    summary['gt_root'] = str(Path(gt_root).resolve())
    summary['pred_dir'] = str(pred_dir.resolve())
    return summary, records
