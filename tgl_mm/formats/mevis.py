"""Read and validate the public MeViS layout: pure functions, no torch.

This module is the one parser of MeViS-format annotations in tgl_mm: the datasets and the offline
evaluator (``tools/eval_rvos.py``) both use it (masks: :mod:`tgl_mm.formats.masks`). Layout of a
split directory::

    <split>/JPEGImages/<video>/<frame>.jpg
    <split>/meta_expressions.json   {"videos": {vid: {"frames": [...],
                                      "expressions": {exp_id: {"exp", "obj_id": [...],
                                                               "anno_id": [...]}}}}}
    <split>/mask_dict.json          {anno_id: [COCO RLE {"size": [H, W], "counts": str} | null,
                                               ... one per frame of the video]}

Every error is a :class:`DataFormatError` naming the file, video, expression, frame and field
involved, never a bare ``KeyError``.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .common import DataFormatError, load_json
from .masks import check_rle, decode_rle, rle_size

__all__ = [
    'ExpressionMeta', 'VideoMeta', 'normalize_expression', 'load_meta_expressions',
    'parse_meta_expressions', 'load_mask_dict', 'parse_mask_dict', 'check_expression_annotations',
    'video_frame_size', 'expression_target', 'frame_path',
]


@dataclass(frozen=True)
class ExpressionMeta:
    """One referring expression of a video.

    ``obj_ids`` and ``anno_ids`` are aligned (object ``obj_ids[i]`` has masks ``anno_ids[i]``);
    both are empty when the split has no annotation (MeViS ``valid``).
    """

    exp_id: str
    text: str
    obj_ids: tuple[int, ...]
    anno_ids: tuple[str, ...]


@dataclass(frozen=True)
class VideoMeta:
    """A video: its frame names (temporal order) and expressions (by ``exp_id``)."""

    video_id: str
    frames: tuple[str, ...]
    expressions: dict[str, ExpressionMeta]


_SPACES = re.compile(r'\s+')


def normalize_expression(text: str) -> str:
    """Lower-case and collapse whitespace, as the official MeViS loaders do."""
    return _SPACES.sub(' ', text).strip().lower()


def _id_list(value: Any, *, cast: type, ctx: dict, field: str) -> tuple:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise DataFormatError(f'expected a list of ids, got {type(value).__name__}',
                              field=field, **ctx)
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise DataFormatError(f'ids must be int or str, got {v!r}', field=field, **ctx)
        try:
            out.append(cast(v))
        except ValueError as e:
            raise DataFormatError(f'id {v!r} is not a valid {cast.__name__}', field=field,
                                  **ctx) from e
    if len(set(out)) != len(out):
        dup = sorted({x for x in out if out.count(x) > 1}, key=str)
        raise DataFormatError(f'duplicate ids {dup}', field=field, **ctx)
    return tuple(out)


def _parse_expression(exp_id: str, einfo: Any, ctx: dict, *, require_ids: bool,
                      normalize_text: bool) -> ExpressionMeta:
    """One expression entry of ``meta_expressions.json`` (see :func:`parse_meta_expressions`)."""
    if not isinstance(einfo, dict):
        raise DataFormatError('expression entry must be an object', **ctx)
    text = einfo.get('exp')
    if not isinstance(text, str):
        raise DataFormatError('missing expression text', field='exp', **ctx)
    if normalize_text:
        text = normalize_expression(text)
    if not text.strip():
        raise DataFormatError('empty expression text', field='exp', **ctx)
    has_obj, has_anno = 'obj_id' in einfo, 'anno_id' in einfo
    if require_ids and not (has_obj and has_anno):
        missing = 'obj_id' if not has_obj else 'anno_id'
        raise DataFormatError('missing (the split is expected to have masks)',
                              field=missing, **ctx)
    obj_ids = _id_list(einfo['obj_id'], cast=int, ctx=ctx, field='obj_id') if has_obj else ()
    anno_ids = _id_list(einfo['anno_id'], cast=str, ctx=ctx, field='anno_id') \
        if has_anno else ()
    if has_obj and has_anno and len(obj_ids) != len(anno_ids):
        raise DataFormatError(
            f'{len(obj_ids)} obj_id but {len(anno_ids)} anno_id (must be aligned)',
            field='anno_id', **ctx)
    if require_ids and not anno_ids:
        raise DataFormatError('the expression refers to no object', field='anno_id', **ctx)
    return ExpressionMeta(exp_id, text, obj_ids, anno_ids)


def parse_meta_expressions(raw: Any, *, source: str = 'meta_expressions.json',
                           require_ids: bool = True, normalize_text: bool = True,
                           on_invalid: Callable[[DataFormatError], None] | None = None
                           ) -> dict[str, VideoMeta]:
    """Validate a loaded ``meta_expressions.json`` and return ``{video_id: VideoMeta}``.

    Args:
        raw: the decoded JSON.
        source: file name used in error messages.
        require_ids: every expression must carry ``obj_id`` and ``anno_id`` (False for splits
            without masks, e.g. MeViS ``valid``; ids present there are still validated).
        normalize_text: lower-case and whitespace-normalise the expression text.
        on_invalid: called with the error of an invalid *expression* (empty text, no object,
            bad ids, ...), which is then left out; ``None`` raises it. Video-level problems
            always raise.

    Raises:
        DataFormatError: naming file, video, expression and field for: missing keys, wrong types,
            empty or duplicate frame names, empty expressions, duplicate ids within an expression,
            ``obj_id``/``anno_id`` of different lengths.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get('videos'), dict):
        raise DataFormatError('expected {"videos": {video_id: ...}}', file=source, field='videos')
    videos: dict[str, VideoMeta] = {}
    for vid, vinfo in raw['videos'].items():
        ctx_v = dict(file=source, video=vid)
        if not isinstance(vinfo, dict):
            raise DataFormatError('video entry must be an object', **ctx_v)
        frames = vinfo.get('frames')
        if not isinstance(frames, list) or not frames:
            raise DataFormatError('missing or empty frame list', field='frames', **ctx_v)
        if not all(isinstance(f, str) and f for f in frames):
            raise DataFormatError('frame names must be non-empty strings', field='frames', **ctx_v)
        if len(set(frames)) != len(frames):
            dup = sorted({f for f in frames if frames.count(f) > 1})
            raise DataFormatError(f'duplicate frame names {dup[:5]}', field='frames', **ctx_v)
        exps = vinfo.get('expressions')
        if not isinstance(exps, dict):
            raise DataFormatError('missing expressions object', field='expressions', **ctx_v)
        expressions: dict[str, ExpressionMeta] = {}
        for exp_id, einfo in exps.items():
            try:
                expressions[exp_id] = _parse_expression(
                    exp_id, einfo, dict(file=source, video=vid, expression=exp_id),
                    require_ids=require_ids, normalize_text=normalize_text)
            except DataFormatError as e:
                if on_invalid is None:
                    raise
                on_invalid(e)
        videos[vid] = VideoMeta(vid, tuple(frames), expressions)
    return videos


def load_meta_expressions(path: str | os.PathLike, *, require_ids: bool = True,
                          normalize_text: bool = True,
                          on_invalid: Callable[[DataFormatError], None] | None = None
                          ) -> dict[str, VideoMeta]:
    """Load and validate ``meta_expressions.json``; see :func:`parse_meta_expressions`."""
    raw = load_json(path, what='meta_expressions.json')
    return parse_meta_expressions(raw, source=str(path), require_ids=require_ids,
                                  normalize_text=normalize_text, on_invalid=on_invalid)


def parse_mask_dict(raw: Any, *, source: str = 'mask_dict.json') -> dict[str, list[dict | None]]:
    """Validate a loaded ``mask_dict.json``: ``{anno_id: [RLE | null, ...]}`` (structure only;
    per-video frame counts are checked by :func:`check_expression_annotations`)."""
    if not isinstance(raw, dict):
        raise DataFormatError('expected {anno_id: [RLE or null per frame]}', file=source)
    for anno_id, rles in raw.items():
        if not isinstance(rles, list):
            raise DataFormatError('expected a list with one RLE (or null) per frame',
                                  file=source, anno_id=anno_id)
        for t, rle in enumerate(rles):
            if rle is not None:
                check_rle(rle, dict(file=source, anno_id=anno_id, frame=t))
    return raw


def load_mask_dict(path: str | os.PathLike) -> dict[str, list[dict | None]]:
    """Load and validate ``mask_dict.json``; see :func:`parse_mask_dict`."""
    raw = load_json(path, what='mask_dict.json')
    return parse_mask_dict(raw, source=str(path))


def check_expression_annotations(video: VideoMeta, mask_dict: dict[str, list],
                                 *, source: str | None = None,
                                 expression: str | None = None) -> None:
    """Check that every anno_id of the video's expressions (or of one ``expression``) exists in
    ``mask_dict`` with exactly one entry per frame; raise :class:`DataFormatError` otherwise."""
    exps = video.expressions.values() if expression is None \
        else [video.expressions[expression]]
    for e in exps:
        for anno_id in e.anno_ids:
            ctx = dict(file=source, video=video.video_id, expression=e.exp_id, anno_id=anno_id)
            if anno_id not in mask_dict:
                raise DataFormatError('anno_id missing from mask_dict', field='anno_id', **ctx)
            n = len(mask_dict[anno_id])
            if n != len(video.frames):
                raise DataFormatError(f'{n} mask entries for {len(video.frames)} frames',
                                      field='anno_id', **ctx)


def video_frame_size(mask_dict: dict[str, list], anno_ids: Sequence[str]) -> tuple[int, int] | None:
    """``(H, W)`` from the first non-null RLE of ``anno_ids``; ``None`` if all are null (then
    read the frame size from the JPEG)."""
    for a in anno_ids:
        for rle in mask_dict.get(a, ()):
            if rle is not None:
                return rle_size(rle)
    return None


def expression_target(mask_dict: dict[str, list], anno_ids: Sequence[str],
                      frame_inds: Sequence[int], size: Sequence[int] | None = None, *,
                      video: str | None = None, expression: str | None = None,
                      frame_names: Sequence[str] | None = None,
                      source: str | None = None) -> np.ndarray:
    """The target of an expression on the given frames: bool ``(T, H, W)``, the union of its
    ``anno_ids``' masks; a ``null`` entry is an empty mask.

    Args:
        mask_dict: as returned by :func:`load_mask_dict`.
        anno_ids: the expression's anno_ids (may be empty: all-empty target).
        frame_inds: indices into the video's frame list.
        size: ``(H, W)`` of the frames; defaults to the first non-null RLE's size of ``anno_ids``
            (required if they are all null). Every RLE must have this size.
        video, expression, frame_names, source: context for error messages (``frame_names`` lets
            errors name frames rather than indices).
    """
    if size is None:
        size = video_frame_size(mask_dict, anno_ids)
        if size is None:
            raise DataFormatError('every mask is null: pass the frame size explicitly',
                                  file=source, video=video, expression=expression)
    h, w = int(size[0]), int(size[1])
    out = np.zeros((len(frame_inds), h, w), dtype=bool)
    for anno_id in anno_ids:
        if anno_id not in mask_dict:
            raise DataFormatError('anno_id missing from mask_dict', file=source, video=video,
                                  expression=expression, anno_id=anno_id, field='anno_id')
        rles = mask_dict[anno_id]
        for k, t in enumerate(frame_inds):
            frame = frame_names[t] if frame_names is not None else t
            if not 0 <= t < len(rles):
                raise DataFormatError(f'frame index {t} out of range (0..{len(rles) - 1})',
                                      file=source, video=video, expression=expression,
                                      anno_id=anno_id, frame=frame)
            if rles[t] is not None:
                out[k] |= decode_rle(rles[t], expected_size=(h, w), anno_id=anno_id,
                                     frame=frame, video=video, source=source)
    return out


def frame_path(split_dir: str | os.PathLike, video_id: str, frame: str,
               ext: str = '.jpg') -> Path:
    """``<split_dir>/JPEGImages/<video_id>/<frame><ext>``."""
    return Path(split_dir) / 'JPEGImages' / video_id / f'{frame}{ext}'
