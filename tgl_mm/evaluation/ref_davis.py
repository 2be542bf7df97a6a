"""Ref-DAVIS17 evaluation: the DAVIS 2017 unsupervised protocol, once per expression set.

Ref-DAVIS17 (in the YTVOS-style converted layout) has four expressions per object: annotator 1
first-frame / full-video, annotator 2 first-frame / full-video, stored object by object, so
expression ``exp_id`` belongs to set ``int(exp_id) % 4`` and to object ``int(exp_id) // 4``
(:data:`tgl_mm.formats.ref_davis.EXPRESSION_SETS`). For each set:

1. per video, the per-expression masks of that set are merged into one label map per frame:
   per pixel, the argmax over ``[background 0.1, s_1, ..., s_K]`` where ``s_k`` is object k's
   score (probability, or 1/0 for binary masks) with scores below 0.5 set to 0 (label ``k`` for the
   k-th object in expression order; ties go to the earlier object);
2. the DAVIS unsupervised protocol scores the label maps against the palette ground truth: GT
   objects are ``1..max label of the first frame`` (255 = void, excluded from both masks),
   predicted objects ``1..max label over the video`` (at most 20; fewer than the GT objects are
   padded with empty ones), per-frame J and F of every (prediction, GT object) pair, Hungarian
   matching maximising the mean over frames of (J + F) / 2, each GT object scored by its match;
3. J and F of the set are the means over all GT objects of all videos of their per-frame means;
   J&F = (J + F) / 2.

The reported Ref-DAVIS17 score is the mean of the four sets (percent).
"""
from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from tgl_mm import formats
from tgl_mm.formats import EXPRESSION_SETS, read_mask_png
from tgl_mm.utils.fileio import atomic_path

from .functional.assignment import linear_sum_assignment
from .functional.davis_jf import j_and_f

__all__ = ['davis_palette', 'merge_object_masks', 'read_label_png', 'write_label_png',
           'unsupervised_video_scores', 'expression_sets', 'evaluate_ref_davis17']

VOID = 255
MAX_PROPOSALS = 20


def davis_palette() -> np.ndarray:
    """The DAVIS / PASCAL VOC colour palette: uint8 ``(256, 3)``."""
    pal = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        pal[i] = (r, g, b)
    return pal


def merge_object_masks(masks: Sequence, bg_score: float = 0.1,
                       threshold: float = 0.5) -> np.ndarray:
    """Per-object masks or probabilities ``K x (T, H, W)`` -> labels uint8 ``(T, H, W)`` in 0..K
    (see the module doc: background 0.1, scores below ``threshold`` zeroed, argmax)."""
    if not len(masks):
        raise ValueError('no object masks to merge')
    if len(masks) > 254:
        raise ValueError(f'{len(masks)} objects do not fit in a palette label map')
    scores = np.stack([np.asarray(m, dtype=np.float32) for m in masks])
    scores[scores < threshold] = 0
    bg = np.full((1, *scores.shape[1:]), bg_score, np.float32)
    return np.argmax(np.concatenate([bg, scores]), axis=0).astype(np.uint8)


def read_label_png(path: str | os.PathLike) -> np.ndarray:
    """A palette (or grey) label PNG as its indices ``(H, W)`` uint8; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'annotation not found: {path}')
    try:
        with Image.open(path) as img:
            if img.mode not in ('P', 'L'):
                raise ValueError(f'expected a palette or grey label image, got mode {img.mode}')
            return np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError) as e:
        raise ValueError(f'cannot read label image {path}: {e}') from e


def write_label_png(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Write a label map as a DAVIS-palette PNG, atomically."""
    img = Image.fromarray(np.asarray(labels, np.uint8), mode='P')
    img.putpalette(davis_palette().reshape(-1).tolist())
    with atomic_path(path) as tmp:
        img.save(tmp, format='PNG')


def unsupervised_video_scores(gt_labels: np.ndarray, pred_labels: np.ndarray,
                              bound_th: float = 0.008,
                              max_proposals: int = MAX_PROPOSALS) -> dict:
    """DAVIS unsupervised scores of one video.

    Args:
        gt_labels: uint8 ``(T, H, W)`` GT label maps (0 background, 255 void).
        pred_labels: ``(T, H, W)`` predicted label maps (0 background).

    Returns:
        ``{"J": (N, T), "F": (N, T), "matched": [pred label or 0 per GT object]}`` for the GT
        objects ``1..N``, ``N`` = max label of the first frame.
    """
    gt_labels = np.asarray(gt_labels)
    pred_labels = np.asarray(pred_labels)
    if gt_labels.shape != pred_labels.shape or gt_labels.ndim != 3:
        raise ValueError(f'GT and predicted label maps differ in shape: {gt_labels.shape} vs '
                         f'{pred_labels.shape}')
    void = gt_labels == VOID
    gt = np.where(void, 0, gt_labels)
    num_gt = int(gt[0].max())
    num_pred = int(pred_labels.max())
    if num_pred > max_proposals:
        raise ValueError(f'{num_pred} predicted objects, more than the {max_proposals} the DAVIS '
                         'protocol allows')
    t = gt.shape[0]
    if num_gt == 0:
        return {'J': np.zeros((0, t)), 'F': np.zeros((0, t)), 'matched': []}
    keep = ~void
    gts = [(gt == k) & keep for k in range(1, num_gt + 1)]
    preds = [(pred_labels == k) & keep for k in range(1, num_pred + 1)]
    empty = np.zeros_like(gts[0])
    while len(preds) < num_gt:
        preds.append(empty)
    j = np.zeros((len(preds), num_gt, t))
    f = np.zeros((len(preds), num_gt, t))
    for a, p in enumerate(preds):
        for b, g in enumerate(gts):
            j[a, b], f[a, b] = j_and_f(p, g, bound_th)
    score = (j.mean(axis=2) + f.mean(axis=2)) / 2
    rows, cols = linear_sum_assignment(score, maximize=True)
    pred_of_gt = dict(zip(cols.tolist(), rows.tolist()))
    order = [pred_of_gt[b] for b in range(num_gt)]
    return {'J': j[order, range(num_gt)], 'F': f[order, range(num_gt)],
            'matched': [a + 1 if a < num_pred else 0 for a in order]}


def expression_sets(video: formats.VideoMeta) -> list[list[str]]:
    """The expression ids of each of the four sets, in object order (``int(exp_id) // 4``)."""
    sets: list[list[tuple[int, str]]] = [[] for _ in EXPRESSION_SETS]
    for exp_id in video.expressions:
        try:
            n = int(exp_id)
        except ValueError as e:
            raise formats.DataFormatError('Ref-DAVIS17 expression ids must be integers '
                                           '(4 per object)', video=video.video_id,
                                           expression=exp_id) from e
        sets[n % 4].append((n // 4, exp_id))
    return [[e for _, e in sorted(s)] for s in sets]


def _read_prediction_shape_checked(path: Path, shape: tuple[int, int]) -> np.ndarray:
    m = read_mask_png(path)
    if m.shape != shape:
        raise ValueError(f'{path}: prediction is {m.shape[1]}x{m.shape[0]} (W x H), the '
                         f'annotation {shape[1]}x{shape[0]}')
    return m


def _video_task(args) -> dict:
    (set_idx, video_id, frames, exp_ids, gt_dir, pred_dir, bound_th, save_dir) = args
    gt = np.stack([read_label_png(Path(gt_dir) / video_id / f'{f}.png') for f in frames])
    missing = []
    masks = []
    for exp_id in exp_ids:
        m = np.zeros(gt.shape, bool)
        for t, frame in enumerate(frames):
            path = Path(pred_dir) / video_id / exp_id / f'{frame}.png'
            if not path.is_file():
                missing.append(f'{video_id}/{exp_id}/{frame}')
                continue
            m[t] = _read_prediction_shape_checked(path, gt.shape[1:])
        masks.append(m)
    labels = merge_object_masks(masks) if masks else np.zeros(gt.shape, np.uint8)
    if save_dir is not None:
        for t, frame in enumerate(frames):
            write_label_png(Path(save_dir) / EXPRESSION_SETS[set_idx] / video_id
                            / f'{frame}.png', labels[t])
    res = unsupervised_video_scores(gt, labels, bound_th)
    return {'set': set_idx, 'video_id': video_id, 'missing': missing,
            'objects': [{'object': k + 1, 'matched_label': res['matched'][k],
                         'J': 100 * float(res['J'][k].mean()),
                         'F': 100 * float(res['F'][k].mean())}
                        for k in range(len(res['matched']))]}


def evaluate_ref_davis17(meta_path: str | os.PathLike, gt_dir: str | os.PathLike,
                         pred_dir: str | os.PathLike, nproc: int | None = None,
                         bound_th: float = 0.008, save_merged_dir: str | os.PathLike | None = None,
                         progress: bool = True) -> dict:
    """Score Ref-DAVIS17 predictions (``<pred_dir>/<video>/<exp_id>/<frame>.png``).

    Args:
        meta_path: ``meta_expressions/valid/meta_expressions.json`` of the converted layout.
        gt_dir: palette annotations ``<gt_dir>/<video>/<frame>.png``.
        pred_dir: per-expression binary masks (the RVOSMetric ``output_dir`` layout).
        nproc: worker processes (default: all cores).
        save_merged_dir: also write the merged palette label maps per set
            (``<dir>/<set name>/<video>/<frame>.png``), e.g. for the official DAVIS tool.

    Returns:
        ``{"J", "F", "J&F"`` (mean of the four sets, percent), ``"sets": {name: {"J", "F", "J&F",
        "num_objects"}}``, ``"per_object"`` records, ``"missing"`` predicted frames (scored as
        empty masks)}.
    """
    videos = formats.load_meta_expressions(meta_path, require_ids=False, normalize_text=False)
    tasks = []
    for vid in sorted(videos):
        sets = expression_sets(videos[vid])
        for s, exp_ids in enumerate(sets):
            tasks.append((s, vid, videos[vid].frames, exp_ids, str(gt_dir), str(pred_dir),
                          bound_th, None if save_merged_dir is None else str(save_merged_dir)))
    if not tasks:
        raise ValueError(f'{meta_path}: no video')
    nproc = nproc or os.cpu_count() or 1
    bar = dict(total=len(tasks), desc='ref_davis17', unit='video', disable=not progress)
    if nproc > 1:
        ctx = mp.get_context('fork' if 'fork' in mp.get_all_start_methods() else 'spawn')
        with ctx.Pool(nproc) as pool:
            results = list(tqdm(pool.imap_unordered(_video_task, tasks), **bar))
    else:
        results = [_video_task(t) for t in tqdm(tasks, **bar)]
    results.sort(key=lambda r: (r['set'], r['video_id']))
    per_object, sets, missing = [], {}, []
    for s, name in enumerate(EXPRESSION_SETS):
        objs = [dict(o, set=name, video_id=r['video_id']) for r in results if r['set'] == s
                for o in r['objects']]
        per_object += objs
        missing += [m for r in results if r['set'] == s for m in r['missing']]
        if objs:
            j = float(np.mean([o['J'] for o in objs]))
            f = float(np.mean([o['F'] for o in objs]))
            sets[name] = {'J': j, 'F': f, 'J&F': (j + f) / 2, 'num_objects': len(objs)}
    if not sets:
        raise ValueError('no annotated object to score (every first frame is empty)')
    out = {k: float(np.mean([v[k] for v in sets.values()])) for k in ('J', 'F', 'J&F')}
    out.update(sets=sets, per_object=per_object, missing=sorted(set(missing)))
    return out
