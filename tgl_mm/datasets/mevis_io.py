"""Read and validate the public MeViS layout: pure functions, no torch.

This module is the one parser of MeViS-format annotations in tgl_mm: the datasets and the offline
evaluator (``tools/eval_rvos.py``) both use it. Layout of a split directory::

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

import json
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

__all__ = [
    'DataFormatError', 'ExpressionMeta', 'VideoMeta', 'load_json', 'normalize_expression',
    'load_meta_expressions', 'parse_meta_expressions', 'load_mask_dict', 'parse_mask_dict',
    'rle_size', 'decode_counts', 'decode_rle', 'check_expression_annotations', 'video_frame_size',
    'expression_target', 'frame_path',
]


class DataFormatError(ValueError):
    """Bad dataset input. The message names where the problem is.

    Attributes ``file``, ``video``, ``expression``, ``frame``, ``field`` and ``anno_id`` hold the
    context (``None`` when not applicable) for programs that want it.
    """

    def __init__(self, message: str, *, file: str | os.PathLike | None = None,
                 video: str | None = None, expression: str | None = None,
                 frame: str | int | None = None, field: str | None = None,
                 anno_id: str | None = None) -> None:
        self.file = None if file is None else str(file)
        self.video, self.expression, self.frame = video, expression, frame
        self.field, self.anno_id = field, anno_id
        self.reason = message
        where = []
        if self.file is not None:
            where.append(f'file {self.file}')
        if video is not None:
            where.append(f'video {video!r}')
        if expression is not None:
            where.append(f'expression {expression!r}')
        if anno_id is not None:
            where.append(f'anno_id {anno_id!r}')
        if frame is not None:
            where.append(f'frame {frame!r}')
        if field is not None:
            where.append(f'field {field!r}')
        super().__init__(f'{", ".join(where)}: {message}' if where else message)


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


def _no_duplicate_keys(source: str):
    def hook(pairs: list[tuple[str, Any]]) -> dict:
        out: dict = {}
        for key, value in pairs:
            if key in out:
                raise DataFormatError(f'duplicate key {key!r} (duplicate ids are not allowed)',
                                      file=source)
            out[key] = value
        return out
    return hook


def load_json(path: str | os.PathLike, *, what: str = 'JSON file') -> Any:
    """Load a JSON file; a missing/unreadable file, invalid JSON or a duplicate key (e.g. a video
    or expression id given twice) raises :class:`DataFormatError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f'{what} not found', file=path)
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f, object_pairs_hook=_no_duplicate_keys(str(path)))
    except DataFormatError:
        raise
    except (OSError, UnicodeDecodeError) as e:
        raise DataFormatError(f'cannot read {what}: {e}', file=path) from e
    except json.JSONDecodeError as e:
        raise DataFormatError(f'invalid JSON at line {e.lineno} column {e.colno}: {e.msg}',
                              file=path) from e


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


def _check_rle(rle: Any, ctx: dict) -> None:
    if not isinstance(rle, dict):
        raise DataFormatError(f'expected a COCO RLE object or null, got {type(rle).__name__}',
                              **ctx)
    size = rle.get('size')
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)):
        raise DataFormatError(f'RLE "size" must be [H, W] positive ints, got {size!r}',
                              field='size', **ctx)
    if not isinstance(rle.get('counts'), (str, bytes)):
        raise DataFormatError('RLE "counts" must be a compressed string', field='counts', **ctx)


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
                _check_rle(rle, dict(file=source, anno_id=anno_id, frame=t))
    return raw


def load_mask_dict(path: str | os.PathLike) -> dict[str, list[dict | None]]:
    """Load and validate ``mask_dict.json``; see :func:`parse_mask_dict`."""
    raw = load_json(path, what='mask_dict.json')
    return parse_mask_dict(raw, source=str(path))


def rle_run_lengths(counts: bytes | str) -> np.ndarray:
    """The run lengths (int64) of COCO compressed RLE ``counts`` (pycocotools' ``rleFrString``,
    vectorised: each run is a little-endian group of 5-bit digits, sign-extended, and runs after
    the second are stored as differences to the run two before).

    Raises:
        ValueError: a character outside the alphabet, or the string ends inside a number.
    """
    data = np.frombuffer(counts.encode() if isinstance(counts, str) else bytes(counts),
                         dtype=np.uint8).astype(np.int64) - 48
    if data.size == 0:
        return np.zeros(0, dtype=np.int64)
    bad = np.flatnonzero((data < 0) | (data >= 64))
    if bad.size:
        raise ValueError(f'invalid character {chr(int(data[bad[0]]) + 48)!r} at position '
                         f'{int(bad[0])}')
    ends = np.flatnonzero((data & 0x20) == 0)  # the last digit of each run
    if ends.size == 0 or ends[-1] != data.size - 1:
        raise ValueError('counts end in the middle of a run length')
    starts = np.concatenate([[0], ends[:-1] + 1])
    digit = np.arange(data.size) - np.repeat(starts, ends - starts + 1)  # position in its run
    if digit.max() > 11:
        raise ValueError('a run length has too many digits')
    values = np.add.reduceat((data & 0x1f) << (5 * digit), starts)
    negative = (data[ends] & 0x10) != 0
    values[negative] -= np.int64(1) << (5 * (digit[ends[negative]] + 1))
    runs = values.copy()
    for parity in (1, 0):  # runs[m] += runs[m - 2] for m > 2, along each parity
        first = 3 if parity else 4
        if runs.size > first:
            runs[first - 2::2] = np.cumsum(values[first - 2::2])
            runs[first - 2] = values[first - 2]
    return runs


def check_counts(size: Sequence[int], counts: bytes | str) -> None:
    """Raise ``ValueError`` unless ``counts`` decode to non-negative runs summing to H x W
    (pycocotools would otherwise fill the rest of the mask with uninitialised memory)."""
    runs = rle_run_lengths(counts)
    h, w = int(size[0]), int(size[1])
    if (runs < 0).any():
        raise ValueError('negative run length')
    if int(runs.sum()) != h * w:
        raise ValueError(f'run lengths sum to {int(runs.sum())}, not H x W = {h} x {w} = '
                         f'{h * w} (truncated or damaged counts)')


def decode_counts(size: Sequence[int], counts: bytes) -> np.ndarray:
    """pycocotools decode of compressed ``counts`` to uint8 ``(H, W)`` (Fortran order), after
    :func:`check_counts`.

    pycocotools 2.0.x under numpy 2 emits a DeprecationWarning on every decode (its RLE
    ``__array__`` lacks ``copy``); it is harmless and would flood logs, so it is silenced here.
    """
    check_counts(size, counts)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        return mask_utils.decode({'size': [int(size[0]), int(size[1])], 'counts': counts})


def rle_size(rle: dict) -> tuple[int, int]:
    """``(H, W)`` of a COCO RLE."""
    return int(rle['size'][0]), int(rle['size'][1])


def decode_rle(rle: dict, *, expected_size: Sequence[int] | None = None,
               anno_id: str | None = None, frame: str | int | None = None,
               video: str | None = None, source: str | None = None) -> np.ndarray:
    """Decode a COCO RLE (``counts`` str or bytes) to a bool array ``(H, W)``.

    Args:
        rle: ``{"size": [H, W], "counts": str | bytes}``.
        expected_size: ``(H, W)`` of the frame; a different RLE size raises.
        anno_id, frame, video, source: context for error messages.

    Raises:
        DataFormatError: malformed RLE, undecodable counts, or a size that differs from the frame.
    """
    ctx = dict(file=source, video=video, anno_id=anno_id, frame=frame)
    _check_rle(rle, ctx)
    size = rle_size(rle)
    if expected_size is not None and tuple(expected_size) != size:
        raise DataFormatError(f'RLE size {list(size)} differs from the frame size '
                              f'{list(expected_size)}', field='size', **ctx)
    counts = rle['counts']
    try:
        m = decode_counts(size, counts.encode() if isinstance(counts, str) else counts)
    except Exception as e:  # pycocotools raises assorted errors on corrupt counts
        raise DataFormatError(f'cannot decode RLE counts: {e}', field='counts', **ctx) from e
    if m.shape[:2] != size:
        raise DataFormatError(f'decoded RLE has shape {m.shape[:2]}, expected {size}',
                              field='counts', **ctx)
    return m.astype(bool)


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
