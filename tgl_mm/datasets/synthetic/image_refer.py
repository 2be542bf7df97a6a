"""A moment-free referring-image split from synthetic scenes: the RefCOCO stand-in.

The paper pretrains on RefCOCO/+/g before MeViS-M (A.3): still images with sentences about what
each image shows, which know nothing of MeViS-M moments. This module makes the synthetic
counterpart from rendered scene frames: for a few frames of each video it describes the objects
*as that frame shows them* -- shape, colour (a colour event's colour while it lasts), size (an
object that is grown in that frame is ``big``), position among objects of the same look or
shape (left / right / top / bottom) and count ("the two red circles") -- and keeps a
description only when it picks exactly the described objects among the frame's visible
objects. Sentences are built from
the scene's objects and their rendered masks alone: never from the video expressions, their
moments or families.

Frames in which an object flashes or shows a ring are not used (their colours have no plain
name). The split is written in the refer-toolkit layout that
:class:`~tgl_mm.datasets.RefCOCODataset` reads (``data_root=<out>``, ``dataset='refcoco'``,
``ann_dir='image_refer/refcoco'``, ``img_prefix='image_refer/images'``; or
``data_root=<out>/image_refer`` with ``img_prefix='images'``)::

    image_refer/refcoco/instances.json     COCO images + one annotation per referred object set
                                           (the union of its objects' masks, compressed RLE)
    image_refer/refcoco/refs(unc).p        refs: split (train / val), image_id, ann_id, sentences
                                           (plain data only)
    image_refer/images/<video>_<frame>.jpg

:func:`frame_objects` and :func:`describe_frame` are pure; :func:`image_refs_for_video` picks
the frames of one rendered video; :func:`write_image_refer` writes the files.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from tgl_mm.utils.fileio import atomic_dump_json

from .scene import Scene, appearance_at, shape_mask

__all__ = ['FrameObject', 'FrameRef', 'ImageRefs', 'frame_objects', 'describe_frame',
           'eligible_frames', 'image_refs_for_video', 'write_image_refer', 'IMAGE_REFER_DIR',
           'REFER_DATASET', 'IMAGE_PREFIX', 'MIN_VISIBLE']

IMAGE_REFER_DIR = 'image_refer'
REFER_DATASET = 'refcoco'     # the folder RefCOCODataset reads in the refs layout
IMAGE_PREFIX = 'images'
#: share of an object's own shape that must be visible (not hidden, inside the frame) for it to
#: be described; any visible pixel makes an object count when a description is checked
MIN_VISIBLE = 0.5
_NUMBERS = {2: 'two', 3: 'three', 4: 'four', 5: 'five'}


@dataclass(frozen=True)
class FrameObject:
    """One visible object of a frame, as the frame shows it.

    ``color`` is the fill colour drawn (a colour event's colour while it is active), ``big``
    whether it is drawn larger than its normal size, ``cx``/``cy`` the centroid of its visible
    mask, ``radius`` its drawn size, ``describable`` whether at least :data:`MIN_VISIBLE` of it
    can be seen.
    """

    obj_id: int
    shape: str
    color: str
    big: bool
    cx: float
    cy: float
    radius: float
    describable: bool


@dataclass
class FrameRef:
    """A set of objects of a frame and the sentences that pick exactly them."""

    obj_ids: tuple[int, ...]
    sentences: list[str] = field(default_factory=list)


@dataclass
class ImageRefs:
    """One frame of a video chosen for the image split: its index, its RGB image uint8
    ``(H, W, 3)``, the objects' visible masks bool ``(N, H, W)`` and its refs."""

    video_id: str
    frame: int
    image: np.ndarray
    masks: np.ndarray
    refs: list[FrameRef]


def eligible_frames(scene: Scene) -> list[int]:
    """Frames in which no object flashes or shows a ring (their colours have no plain name)."""
    return [k for k in range(scene.num_frames)
            if not any(o.event is not None and o.event.kind in ('flash', 'ring')
                       and o.event.active(k) for o in scene.objects)]


def frame_objects(scene: Scene, masks: np.ndarray, k: int) -> list[FrameObject]:
    """The objects visible in frame ``k`` (``masks``: bool ``(N, T, H, W)`` from
    :func:`~tgl_mm.datasets.synthetic.scene.render`), as the frame shows them."""
    out = []
    for obj in scene.objects:
        seen = masks[obj.obj_id, k]
        if not seen.any():
            continue
        if obj.event is not None and obj.event.active(k) and obj.event.kind in ('flash', 'ring'):
            raise ValueError(f'object {obj.obj_id} shows a {obj.event.kind} in frame {k}: '
                             'use eligible_frames')
        color = obj.event.color if (obj.event is not None and obj.event.kind == 'color'
                                    and obj.event.active(k)) else obj.color
        radius = appearance_at(obj, k)[1]
        ys, xs = np.nonzero(seen)
        # hidden by another object or outside the frame: seen is smaller than the whole shape
        whole = _unclipped_area(obj.shape, radius)
        out.append(FrameObject(obj.obj_id, obj.shape, str(color), radius > obj.radius + 1e-6,
                               float(xs.mean() + 0.5), float(ys.mean() + 0.5), float(radius),
                               bool(seen.sum() >= MIN_VISIBLE * whole)))
    return out


def _unclipped_area(shape: str, radius: float) -> float:
    """Pixel area of a shape of ``radius`` drawn whole (on a grid large enough for it)."""
    n = int(np.ceil(2 * radius * 1.2)) + 4
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64) + 0.5
    return float(shape_mask(shape, n / 2, n / 2, radius, yy, xx).sum())


def _plural(shape: str) -> str:
    return shape + 'es' if shape.endswith('s') else shape + 's'


def _count_phrase(n: int, noun: str, rng: np.random.Generator) -> str:
    """"the red circle" / "the two red circles" / "the red circles" (``noun`` singular)."""
    if n == 1:
        return f'the {noun}'
    head, _, last = noun.rpartition(' ')
    plural = f'{head} {_plural(last)}'.strip()
    return f'the {_NUMBERS[n]} {plural}' if rng.random() < 0.6 else f'the {plural}'


def _extreme(group: list[FrameObject], axis: str, lowest: bool) -> FrameObject | None:
    """The member of ``group`` clearly furthest to one side: its coordinate is the smallest
    (``lowest``) or largest on ``axis`` by at least one object size, else None."""
    key = (lambda o: o.cx) if axis == 'x' else (lambda o: o.cy)
    ordered = sorted(group, key=key, reverse=not lowest)
    a, b = ordered[0], ordered[1]
    return a if abs(key(a) - key(b)) >= max(a.radius, b.radius) else None


_SIDE_WORDS = {  # (axis, lowest) -> (word for a pair, word for 3+)
    ('x', True): ('on the left', 'leftmost'), ('x', False): ('on the right', 'rightmost'),
    ('y', True): ('at the top', 'topmost'), ('y', False): ('at the bottom', 'lowest'),
}


#: the kinds of description :func:`describe_frame` can write; the split's default is
#: :data:`DEFAULT_SENTENCE_KINDS`
SENTENCE_KINDS = ('look', 'shape', 'colour', 'position')
#: what the video expressions name objects by (colour and shape, with count and size): the
#: stage-1 probes of docs/tiny_recipe.md found that the tiny model learns to read colour from
#: these alone, and that adding shape-only, colour-only and position sentences (58 % of all
#: sentences) leaves it reading colour poorly on videos
DEFAULT_SENTENCE_KINDS = ('look',)


def describe_frame(objects: list[FrameObject], rng: np.random.Generator,
                   kinds: Sequence[str] = DEFAULT_SENTENCE_KINDS) -> list[FrameRef]:
    """Every description of the frame's objects that picks exactly its objects among
    ``objects`` (all visible ones), grouped by the objects they pick; only sets of describable
    objects are kept. Descriptions of the ``kinds`` (of :data:`SENTENCE_KINDS`): ``look``,
    colour and shape ("the red circle", "the two red circles") and size within a look ("the big
    red circle", "the small red circles"); ``shape`` ("the three squares"); ``colour`` ("the
    blue shape"); ``position`` within a look or a shape ("the red circle on the left", "the
    topmost square"). ``rng`` only chooses among wordings."""
    unknown = set(kinds) - set(SENTENCE_KINDS)
    if unknown or not kinds:
        raise ValueError(f'sentence kinds must be a non-empty subset of {SENTENCE_KINDS}, '
                         f'got {tuple(kinds)}')
    by_set: dict[tuple[int, ...], list[str]] = {}

    def add(members: list[FrameObject], text: str) -> None:
        if members and all(o.describable for o in members):
            key = tuple(sorted(o.obj_id for o in members))
            if text not in by_set.setdefault(key, []):
                by_set[key].append(text)

    def groups(items: list[FrameObject], key) -> dict:
        out: dict = {}
        for o in items:
            out.setdefault(key(o), []).append(o)
        return out

    looks = groups(objects, lambda o: (o.color, o.shape))
    shapes = groups(objects, lambda o: o.shape)
    if 'look' in kinds:
        for (color, shape), members in looks.items():
            noun = f'{color} {shape}'
            add(members, _count_phrase(len(members), noun, rng))
            sizes = groups(members, lambda o: o.big)
            if len(sizes) == 2:    # some are drawn bigger than the others of their look
                for big, part in sizes.items():
                    word = 'big' if big else 'small'
                    add(part, _count_phrase(len(part), f'{word} {noun}', rng))
    if 'shape' in kinds:
        for shape, members in shapes.items():
            add(members, _count_phrase(len(members), shape, rng))
    if 'colour' in kinds:
        for color, members in groups(objects, lambda o: o.color).items():
            add(members, _count_phrase(len(members), f'{color} shape', rng))
    if 'position' in kinds:
        for (color, shape), members in looks.items():
            _add_sides(members, f'{color} {shape}', add)
        for shape, members in shapes.items():
            _add_sides(members, shape, add)
    return [FrameRef(key, texts) for key, texts in sorted(by_set.items())]


def _add_sides(members: list[FrameObject], noun: str, add) -> None:
    """"the red circle on the left" (of two), "the leftmost red circle" (of three or more)."""
    if len(members) < 2:
        return
    for (axis, lowest), (pair, many) in _SIDE_WORDS.items():
        hit = _extreme(members, axis, lowest)
        if hit is not None:
            add([hit], f'the {noun} {pair}' if len(members) == 2 else f'the {many} {noun}')


def image_refs_for_video(video_id: str, scene: Scene, frames: np.ndarray, masks: np.ndarray,
                         rng: np.random.Generator, per_video: int,
                         kinds: Sequence[str] = DEFAULT_SENTENCE_KINDS) -> list[ImageRefs]:
    """Up to ``per_video`` distinct frames of a rendered video (``frames`` uint8
    ``(T, H, W, 3)``, ``masks`` bool ``(N, T, H, W)``), drawn from :func:`eligible_frames` by
    ``rng``, each with its descriptions of the ``kinds`` (:func:`describe_frame`; frames
    without any are left out)."""
    pool = eligible_frames(scene)
    if per_video <= 0 or not pool:
        return []
    chosen = sorted(int(k) for k in rng.choice(pool, min(per_video, len(pool)), replace=False))
    out = []
    for k in chosen:
        refs = describe_frame(frame_objects(scene, masks, k), rng, kinds)
        if refs:
            out.append(ImageRefs(video_id, k, frames[k], masks[:, k], refs))
    return out


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(x) for x in rle['size']], 'counts': rle['counts'].decode('ascii')}


def write_image_refer(root: str | os.PathLike, splits: dict[str, list[ImageRefs]],
                      encode_jpeg) -> dict:
    """Write the image split under ``root`` (the ``image_refer`` folder) in the refer-toolkit
    layout; ``splits`` maps a refs split name (``train``, ``val``) to its frames;
    ``encode_jpeg(image) -> bytes`` encodes an RGB frame. Returns counts per split."""
    root = Path(root)
    images, annotations, refs = [], [], []
    counts = {}
    for split, entries in splits.items():
        n_refs = n_sent = 0
        objects_per_ref: dict[str, int] = {}
        for entry in entries:
            image_id = len(images) + 1
            h, w = entry.image.shape[:2]
            name = f'{entry.video_id}_{entry.frame:05d}.jpg'
            path = root / IMAGE_PREFIX / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_jpeg(entry.image))
            images.append(dict(id=image_id, file_name=name, height=int(h), width=int(w),
                               video_id=entry.video_id, frame=entry.frame))
            for ref in entry.refs:
                mask = entry.masks[list(ref.obj_ids)].any(axis=0)
                ys, xs = np.nonzero(mask)
                ann_id = len(annotations) + 1
                annotations.append(dict(
                    id=ann_id, image_id=image_id, category_id=1, iscrowd=0,
                    segmentation=_rle(mask), area=int(mask.sum()),
                    bbox=[int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                          int(ys.max() - ys.min() + 1)],
                    obj_ids=[int(o) for o in ref.obj_ids]))
                ref_id = len(refs) + 1
                sentences = [dict(sent_id=ref_id * 100 + i, sent=s, raw=s, tokens=s.split())
                             for i, s in enumerate(ref.sentences)]
                refs.append(dict(ref_id=ref_id, ann_id=ann_id, image_id=image_id, split=split,
                                 category_id=1, file_name=name, sentences=sentences,
                                 sent_ids=[s['sent_id'] for s in sentences]))
                n_refs += 1
                n_sent += len(sentences)
                key = str(len(ref.obj_ids))
                objects_per_ref[key] = objects_per_ref.get(key, 0) + 1
        counts[split] = dict(images=len(entries), refs=n_refs, sentences=n_sent,
                             objects_per_ref=dict(sorted(objects_per_ref.items())))
    ann_dir = root / REFER_DATASET
    atomic_dump_json(dict(images=images, annotations=annotations,
                          categories=[dict(id=1, name='shape')]), ann_dir / 'instances.json')
    ann_dir.mkdir(parents=True, exist_ok=True)
    (ann_dir / 'refs(unc).p').write_bytes(pickle.dumps(refs, protocol=2))
    return counts
