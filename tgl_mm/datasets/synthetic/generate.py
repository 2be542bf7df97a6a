"""Write a synthetic MeViS-M dataset in the public MeViS layout (plus moment files).

Output (``out_dir``)::

    train/JPEGImages/<video>/<frame>.jpg, train/meta_expressions.json, train/mask_dict.json
    train/expression_families.json       ({"videos": {video: {exp_id: family}}}, family one of
                                         appearance / event / motion)
    train/objects.json                   (synthetic-only: per video per obj_id its shape,
                                         colour, event kind and anno_id, see
                                         :func:`object_attributes`)
    valid_u/...                          (same as train)
    valid/JPEGImages/..., valid/meta_expressions.json   (expression text only; no masks)
    valid_gt/meta_expressions.json, valid_gt/mask_dict.json, valid_gt/moments.json,
    valid_gt/expression_families.json, valid_gt/objects.json
                                         (valid's ground truth, for a local "server-like" score)
    moments/train.json, moments/valid_u.json   (object-level moments)
    moments/valid.json                          (video-level moments, as MeViS-M valid)
    image_refer/refcoco/{instances.json, refs(unc).p}, image_refer/images/*.jpg
                                                (the moment-free referring-image split, refs
                                                split train from train videos, val from
                                                valid_u videos; see :mod:`.image_refer`)
    info.json                                   (generator settings and statistics, among
                                                them the multi-object shares and the share of
                                                training clips whose target OSS changes)

The whole tree is built in a temporary sibling directory and renamed into place at the end, so
an interrupted run leaves nothing half-written.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils
from tqdm import tqdm

from tgl_mm.formats import ExpressionMoments, mask_to_spans, moments_to_json, spans_to_mask
from tgl_mm.utils.fileio import atomic_dump_json

from ..oss_effect import oss_changed_share
from .image_refer import (
    DEFAULT_SENTENCE_KINDS,
    IMAGE_REFER_DIR,
    SENTENCE_KINDS,
    ImageRefs,
    image_refs_for_video,
    write_image_refer,
)
from .scene import EVENT_POSITIONS, EXITS, FAMILIES, Scene, SceneObject, make_scene, render

GENERATOR_VERSION = 4   # 4: the image split's sentences name objects by their look only
#: the recipe's training clips, as :func:`oss_changed_share` samples them for ``info.json``
OSS_CLIPS = dict(clips_per_expression=8, clip_frames=4, mplus_ratio=0.5, seed=0)
SPLIT_CODES = {'train': 0, 'valid_u': 1, 'valid': 2}
#: refs split of the image split made from each video split's frames
IMAGE_SPLITS = {'train': 'train', 'valid_u': 'val'}


def _rle(mask: np.ndarray) -> dict | None:
    if not mask.any():
        return None
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(x) for x in rle['size']], 'counts': rle['counts'].decode('ascii')}


def object_attributes(obj: SceneObject) -> dict:
    """The ``objects.json`` entry of an object: ``shape``, ``color`` (what it looks like outside
    any event), ``event`` (kind or ``None``) and ``event_color`` (a colour event's colour)."""
    return {'shape': obj.shape, 'color': obj.color,
            'event': obj.event.kind if obj.event else None,
            'event_color': obj.event.color if obj.event else None}


def _event_position(start: int, end: int, t: int) -> str:
    """The :data:`EVENT_POSITIONS` bucket nearest to a span's centre."""
    centre = (start + end + 1) / 2 / t
    return min(EVENT_POSITIONS, key=lambda k: abs(sum(EVENT_POSITIONS[k]) / 2 - centre))


def scene_kind(index: int) -> str:
    """Scene kind of the ``index``-th video of a split: two event scenes, then a motion scene
    (event scenes hold fewer expressions; this keeps the three families roughly balanced)."""
    return 'motion' if index % 3 == 2 else 'event'


def _scene_for(seed: int, split: str, index: int, width: int, height: int,
               min_frames: int, max_frames: int) -> tuple[Scene, np.random.Generator]:
    """Deterministic per (seed, split, index): adding videos never changes earlier ones."""
    for attempt in range(100):
        rng = np.random.default_rng([seed, SPLIT_CODES[split], index, attempt])
        t = int(rng.integers(min_frames, max_frames + 1))
        scene = make_scene(rng, width, height, t, kind=scene_kind(index))
        if scene.expressions:
            return scene, rng
    raise RuntimeError(f'could not make a scene with expressions for {split} video {index}')


def _jpeg(frame: np.ndarray, quality: int, where: str) -> bytes:
    """JPEG bytes of an RGB frame uint8 ``(H, W, 3)``."""
    ok, buf = cv2.imencode('.jpg', cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f'JPEG encoding failed for {where}')
    return buf.tobytes()


def _write_split(root: Path, split: str, n_videos: int, seed: int, width: int, height: int,
                 min_frames: int, max_frames: int, quality: int, progress: bool,
                 image_frames: int = 0,
                 image_kinds: Sequence[str] = DEFAULT_SENTENCE_KINDS) -> dict:
    meta, mask_dict, families, objects = {}, {}, {}, {}
    moments: dict[str, dict[str, ExpressionMoments]] = {}
    num_frames: dict[str, int] = {}
    stats = dict(videos=0, frames=[], expressions=0, objects_per_expression=[], coverage=[],
                 objects_leaving=0, objects_differing_moments=0,
                 families={f: 0 for f in FAMILIES}, event_kinds={},
                 event_positions={k: 0 for k in EVENT_POSITIONS}, event_length=[],
                 scene_kinds={})
    anno_counter = 0
    img_root = root / split / 'JPEGImages'
    image_refs: list[ImageRefs] = []
    for idx in tqdm(range(n_videos), desc=f'synthetic {split}', disable=not progress,
                    leave=False):
        scene, rng = _scene_for(seed, split, idx, width, height, min_frames, max_frames)
        frames, masks = render(scene, rng)
        vid = f'{split}_{idx:04d}'
        names = [f'{k:05d}' for k in range(scene.num_frames)]
        for name, frame in zip(names, frames):
            # a plain write is enough here: the files live in the private staging directory,
            # which only becomes visible (renamed to out_dir) once complete; one fsync per
            # frame would make the build I/O-bound on busy machines
            path = img_root / vid / f'{name}.jpg'
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_jpeg(frame, quality, f'{vid}/{name}'))
        if image_frames:
            # the image split reads the rendered frames and the objects only (own generator)
            image_rng = np.random.default_rng([seed, SPLIT_CODES[split], idx, 1_000_003])
            image_refs += image_refs_for_video(vid, scene, frames, masks, image_rng,
                                               image_frames, image_kinds)
        anno_of = {}
        for obj in scene.objects:
            anno_of[obj.obj_id] = str(anno_counter)
            mask_dict[str(anno_counter)] = [_rle(m) for m in masks[obj.obj_id]]
            anno_counter += 1
            stats['objects_leaving'] += any(s.action in EXITS for s in obj.segments)
        exps, exp_moments, fams = {}, {}, {}
        for e_idx, exp in enumerate(scene.expressions):
            exps[str(e_idx)] = {'exp': exp.text, 'obj_id': list(exp.obj_ids),
                                'anno_id': [anno_of[o] for o in exp.obj_ids]}
            fams[str(e_idx)] = exp.family
            stats['families'][exp.family] += 1
            if exp.family == 'event':
                kind = exp.action.removeprefix('event_')
                stats['event_kinds'][kind] = stats['event_kinds'].get(kind, 0) + 1
                for o in exp.obj_ids:
                    (start, end), = exp.moments[o]
                    stats['event_positions'][_event_position(start, end, scene.num_frames)] += 1
                    stats['event_length'].append((end - start + 1) / scene.num_frames)
            exp_moments[str(e_idx)] = ExpressionMoments(objects={
                o: tuple(tuple(s) for s in exp.moments[o]) for o in exp.obj_ids})
            union = np.zeros(scene.num_frames, dtype=bool)
            for o in exp.obj_ids:
                union |= spans_to_mask(exp.moments[o], scene.num_frames)
            stats['coverage'].append(float(union.mean()))
            stats['objects_per_expression'].append(len(exp.obj_ids))
            if len({tuple(map(tuple, exp.moments[o])) for o in exp.obj_ids}) > 1:
                stats['objects_differing_moments'] += 1
        meta[vid] = {'frames': names, 'expressions': exps}
        families[vid] = fams
        objects[vid] = {str(o.obj_id): dict(object_attributes(o), anno_id=anno_of[o.obj_id])
                        for o in scene.objects}
        stats['scene_kinds'][scene.kind] = stats['scene_kinds'].get(scene.kind, 0) + 1
        moments[vid] = exp_moments
        num_frames[vid] = scene.num_frames
        stats['videos'] += 1
        stats['frames'].append(scene.num_frames)
        stats['expressions'] += len(exps)
    return dict(meta=meta, mask_dict=mask_dict, moments=moments, num_frames=num_frames,
                families=families, objects=objects, stats=stats, image_refs=image_refs)


def _summary(stats: dict) -> dict:
    cov = np.asarray(stats['coverage'])
    ope = np.asarray(stats['objects_per_expression'])
    multi = int((ope > 1).sum())
    return {
        'videos': stats['videos'],
        'frames_total': int(sum(stats['frames'])),
        'frames_per_video': [int(min(stats['frames'])), int(max(stats['frames']))],
        'expressions': stats['expressions'],
        'objects_per_expression_mean': round(float(ope.mean()), 3),
        'objects_per_expression_hist': {str(k): int((ope == k).sum()) for k in
                                        sorted(set(ope.tolist()))},
        'multi_object_expressions': multi,
        'multi_object_expressions_with_different_moments': stats['objects_differing_moments'],
        # shares: of all expressions; of the multi-object ones
        'multi_object_share': round(multi / len(ope), 4) if len(ope) else 0.0,
        'different_moments_share_of_multi': (
            round(stats['objects_differing_moments'] / multi, 4) if multi else 0.0),
        'moment_coverage_mean': round(float(cov.mean()), 3),
        'moment_coverage_20_50pct': int(((cov >= 0.2) & (cov <= 0.5)).sum()),
        'moment_coverage_full': int((cov >= 1.0).sum()),
        'objects_leaving_frame': stats['objects_leaving'],
        'families': dict(stats['families']),
        'scene_kinds': dict(sorted(stats['scene_kinds'].items())),
        'event_kinds': dict(sorted(stats['event_kinds'].items())),
        'event_positions': dict(stats['event_positions']),
        'event_length_range': ([round(float(min(stats['event_length'])), 3),
                                round(float(max(stats['event_length'])), 3)]
                               if stats['event_length'] else None),
    }


def make_synthetic_mevis_m(out_dir: str | os.PathLike, *, seed: int = 0, num_videos: int = 150,
                           num_valid_u: int = 24, num_valid: int = 10, size: int = 160,
                           aspect: float = 4 / 3, min_frames: int = 20, max_frames: int = 28,
                           jpeg_quality: int = 92, image_frames_per_video: int = 3,
                           image_sentence_kinds: Sequence[str] = DEFAULT_SENTENCE_KINDS,
                           overwrite: bool = False,
                           progress: bool = True,
                           log: Callable[[str], None] | None = print) -> dict:
    """Generate the synthetic MeViS-M dataset into ``out_dir``; return its statistics.

    Args:
        out_dir: output directory (must not exist unless ``overwrite``).
        seed: base seed; each video is seeded by (seed, split, index).
        num_videos, num_valid_u, num_valid: videos in train / valid_u / valid.
        size: longer side of the frames in pixels; the shorter is ``size / aspect``.
        aspect: width / height (frames are landscape and non-square).
        min_frames, max_frames: frames per video (inclusive range).
        jpeg_quality: JPEG quality of the frames.
        image_frames_per_video: frames per train / valid_u video in the referring-image split
            (``image_refer/``, :mod:`.image_refer`); 0: no image split.
        image_sentence_kinds: the kinds of sentence the image split writes
            (:data:`~.image_refer.SENTENCE_KINDS`; default: the objects' look only).
        overwrite: replace an existing ``out_dir``.
        progress: tqdm progress bars.
        log: where to print the statistics (``None``: silent).
    """
    out_dir = Path(out_dir)
    if size < 32:
        raise ValueError(f'size must be >= 32 px, got {size}')
    if not 4 <= min_frames <= max_frames:
        raise ValueError(f'need 4 <= min_frames <= max_frames, got {min_frames}, {max_frames}')
    if image_frames_per_video < 0:
        raise ValueError(f'image_frames_per_video must be >= 0, got {image_frames_per_video}')
    if not image_sentence_kinds or set(image_sentence_kinds) - set(SENTENCE_KINDS):
        raise ValueError(f'image_sentence_kinds must be a non-empty subset of {SENTENCE_KINDS}, '
                         f'got {tuple(image_sentence_kinds)}')
    if min(num_videos, num_valid_u, num_valid) < 1:
        raise ValueError('every split needs at least one video')
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f'{out_dir} exists (pass overwrite=True / --overwrite)')
    width, height = size, max(16, round(size / aspect))
    t0 = time.time()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f'.{out_dir.name}.tmp-', dir=out_dir.parent))
    try:
        summary = {}
        image_splits: dict[str, list[ImageRefs]] = {}
        for split, n in (('train', num_videos), ('valid_u', num_valid_u), ('valid', num_valid)):
            res = _write_split(stage, split, n, seed, width, height, min_frames, max_frames,
                               jpeg_quality, progress,
                               image_frames_per_video if split in IMAGE_SPLITS else 0,
                               tuple(image_sentence_kinds))
            if res['image_refs']:
                image_splits[IMAGE_SPLITS[split]] = res['image_refs']
            meta = {'videos': res['meta']}
            obj_moments = moments_to_json(res['moments'], res['num_frames'], split)
            if split == 'valid':
                public = {'videos': {v: {'frames': m['frames'],
                                         'expressions': {e: {'exp': x['exp']}
                                                         for e, x in m['expressions'].items()}}
                                     for v, m in res['meta'].items()}}
                atomic_dump_json(public, stage / split / 'meta_expressions.json')
                side = stage / 'valid_gt'
                atomic_dump_json(meta, stage / 'valid_gt' / 'meta_expressions.json')
                atomic_dump_json(res['mask_dict'], stage / 'valid_gt' / 'mask_dict.json')
                atomic_dump_json(obj_moments, stage / 'valid_gt' / 'moments.json', indent=1)
                video_level = {
                    v: {e: ExpressionMoments(video=tuple(tuple(s) for s in mask_to_spans(
                        np.any([spans_to_mask(sp, res['num_frames'][v])
                                for sp in m.objects.values()], axis=0))))
                        for e, m in exps.items()}
                    for v, exps in res['moments'].items()}
                atomic_dump_json(moments_to_json(video_level, res['num_frames'], split),
                                 stage / 'moments' / 'valid.json', indent=1)
            else:
                atomic_dump_json(meta, stage / split / 'meta_expressions.json')
                atomic_dump_json(res['mask_dict'], stage / split / 'mask_dict.json')
                atomic_dump_json(obj_moments, stage / 'moments' / f'{split}.json', indent=1)
                side = stage / split
            atomic_dump_json({'videos': res['families']}, side / 'expression_families.json',
                             indent=1)
            atomic_dump_json({'videos': res['objects']}, side / 'objects.json', indent=1)
            summary[split] = _summary(res['stats'])
            if split != 'valid':     # object-level moments: what OSS acts on
                summary[split]['oss_changed_clips'] = oss_changed_share(
                    res['moments'], res['num_frames'], **OSS_CLIPS)
        info = dict(generator='tgl_mm.datasets.synthetic', version=GENERATOR_VERSION,
                    settings=dict(seed=seed, num_videos=num_videos, num_valid_u=num_valid_u,
                                  num_valid=num_valid, width=width, height=height,
                                  min_frames=min_frames, max_frames=max_frames,
                                  jpeg_quality=jpeg_quality,
                                  image_frames_per_video=image_frames_per_video,
                                  image_sentence_kinds=list(image_sentence_kinds)),
                    statistics=summary)
        if image_splits:
            counts = write_image_refer(stage / IMAGE_REFER_DIR, image_splits,
                                       lambda image: _jpeg(image, jpeg_quality, 'image split'))
            info['image_refer'] = dict(path=IMAGE_REFER_DIR, layout='refer toolkit (refcoco, unc)',
                                       splits=counts)
        atomic_dump_json(info, stage / 'info.json', indent=1)
        if out_dir.exists():
            trash = Path(tempfile.mkdtemp(prefix=f'.{out_dir.name}.old-', dir=out_dir.parent))
            os.replace(out_dir, trash / 'old')
            os.replace(stage, out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    info['seconds'] = round(time.time() - t0, 2)
    if log is not None:
        log(format_statistics(info, out_dir))
    return info


def format_statistics(info: dict, out_dir: str | os.PathLike) -> str:
    """Human-readable statistics table of a generated dataset, then the multi-object shares and
    the share of training clips whose target OSS changes."""
    s = info['settings']
    lines = [f'synthetic MeViS-M v{info.get("version", "?")} written to {out_dir} '
             f'({s["width"]}x{s["height"]} px, seed {s["seed"]}'
             + (f', {info["seconds"]} s)' if 'seconds' in info else ')')]
    header = (f'{"split":8s} {"videos":>6s} {"frames":>7s} {"exps":>5s} {"appear":>6s} '
              f'{"event":>5s} {"motion":>6s} {"obj/exp":>7s} {"multi":>5s} {"cov":>5s} '
              f'{"cov20-50%":>9s} {"cov100%":>7s} {"leaving":>7s}')
    lines.append(header)
    for split, st in info['statistics'].items():
        fam = st.get('families', {})
        lines.append(
            f'{split:8s} {st["videos"]:6d} {st["frames_total"]:7d} {st["expressions"]:5d} '
            f'{fam.get("appearance", 0):6d} {fam.get("event", 0):5d} {fam.get("motion", 0):6d} '
            f'{st["objects_per_expression_mean"]:7.2f} {st["multi_object_expressions"]:5d} '
            f'{st["moment_coverage_mean"]:5.2f} {st["moment_coverage_20_50pct"]:9d} '
            f'{st["moment_coverage_full"]:7d} {st["objects_leaving_frame"]:7d}')
    for split, st in info['statistics'].items():
        if 'multi_object_share' not in st:
            continue
        line = (f'{split}: {100 * st["multi_object_share"]:.1f} % of expressions refer to >= 2 '
                f'objects, {100 * st["different_moments_share_of_multi"]:.1f} % of those with '
                'different moments')
        oss = st.get('oss_changed_clips')
        if oss:
            line += (f'; OSS changes the target of {100 * oss["share"]:.1f} % of training clips '
                     f'({oss["changed_clips"]}/{oss["clips"]}: {oss["clip_frames"]} frames, '
                     f'M+ ratio {oss["mplus_ratio"]}, {oss["clips_per_expression"]} per '
                     'expression)')
        lines.append(line)
    image = info.get('image_refer')
    if image:
        lines.append('image split (image_refer/): ' + ', '.join(
            f'{split} {n["images"]} images, {n["refs"]} refs, {n["sentences"]} sentences'
            for split, n in image['splits'].items()))
    return '\n'.join(lines)
