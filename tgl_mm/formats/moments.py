"""MeViS-M moments: per (video, expression, object) inclusive frame spans ``[start, end]``.

No official MeViS-M moment file has been released, so tgl_mm defines one (schema in
``docs/moments_schema.json``, described in ``docs/datasets.md``)::

    {"format": "tgl_mm.moments", "version": 1, "split": "train",
     "videos": {"<video_id>": {"num_frames": 24,
        "expressions": {"<exp_id>": {"objects": {"<obj_id>": [[start, end], ...]}},
                        "<exp_id>": {"video": [[start, end], ...]}}}}}

Frame indices are 0-based positions in the video's ``frames`` list; spans are inclusive. An
expression has either per-object spans (``objects``; MeViS-M ``train`` / ``valid_u``) or
video-level spans (``video``; MeViS-M ``valid``). ``M_i`` is the union of object ``i``'s spans;
``M+`` the union over the expression's objects.

When an official release appears, change :func:`parse_moments` only: everything else consumes its
output (:class:`ExpressionMoments` per video and expression).
"""
from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .common import DataFormatError, load_json
from .mevis import VideoMeta, load_meta_expressions
from .spans import spans_to_mask

__all__ = [
    'MOMENT_FORMAT', 'MOMENT_VERSION', 'Span', 'ExpressionMoments', 'MomentFile',
    'parse_moments', 'load_moments', 'check_moment_ids', 'validate_expression_moments',
    'validate_moments', 'check_moment_file', 'moments_to_json',
]

MOMENT_FORMAT = 'tgl_mm.moments'
MOMENT_VERSION = 1

Span = tuple[int, int]


@dataclass(frozen=True)
class ExpressionMoments:
    """Moments of one expression: ``objects`` maps obj_id -> spans (object level), or ``video``
    holds video-level spans (exactly one of the two is not ``None``)."""

    objects: dict[int, tuple[Span, ...]] | None = None
    video: tuple[Span, ...] | None = None

    @property
    def is_video_level(self) -> bool:
        return self.video is not None

    def object_spans(self, obj_ids: Sequence[int]) -> list[tuple[Span, ...]]:
        """Spans per object of ``obj_ids`` (video-level moments: the same spans for each)."""
        if self.video is not None:
            return [self.video for _ in obj_ids]
        assert self.objects is not None
        return [self.objects[o] for o in obj_ids]

    def mplus_spans(self) -> tuple[Span, ...]:
        """All spans of M+ (possibly overlapping)."""
        if self.video is not None:
            return self.video
        assert self.objects is not None
        return tuple(s for spans in self.objects.values() for s in spans)


@dataclass
class MomentFile:
    """A parsed moment file: ``moments[video_id][exp_id]`` and the declared frame counts."""

    moments: dict[str, dict[str, ExpressionMoments]]
    num_frames: dict[str, int] = field(default_factory=dict)
    split: str | None = None
    source: str = '<moments>'


def _parse_spans(raw: Any, ctx: dict, field_name: str) -> tuple[Span, ...]:
    if not isinstance(raw, list):
        raise DataFormatError('expected a list of [start, end] spans', field=field_name, **ctx)
    spans = []
    for span in raw:
        if (not isinstance(span, list) or len(span) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in span)):
            raise DataFormatError(f'a span must be [start, end] with int frame indices, got '
                                  f'{span!r}', field=field_name, **ctx)
        spans.append((span[0], span[1]))
    return tuple(spans)


def parse_moments(raw: Any, *, source: str = '<moments>') -> MomentFile:
    """Parse a decoded moment file (tgl_mm format, version 1) into a :class:`MomentFile`.

    This is the one function to change (or to dispatch from) when an official MeViS-M moment
    release appears: return the same :class:`MomentFile` structure from its format.

    Only the structure is checked here (types, duplicate ids, one of ``objects``/``video`` per
    expression); span values are checked per expression by :func:`validate_expression_moments`,
    so a dataset can skip one bad expression without rejecting the file.

    Raises:
        DataFormatError: wrong structure, non-integer spans, duplicate ids (caught while decoding
            the JSON), an expression with both or neither of ``objects``/``video``.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get('videos'), dict):
        raise DataFormatError('expected {"videos": {video_id: {...}}}', file=source,
                              field='videos')
    fmt, version = raw.get('format', MOMENT_FORMAT), raw.get('version', MOMENT_VERSION)
    if fmt != MOMENT_FORMAT or version != MOMENT_VERSION:
        raise DataFormatError(f'unsupported moment file format {fmt!r} version {version!r} '
                              f'(expected {MOMENT_FORMAT!r} version {MOMENT_VERSION})',
                              file=source, field='format')
    moments: dict[str, dict[str, ExpressionMoments]] = {}
    num_frames: dict[str, int] = {}
    for vid, vinfo in raw['videos'].items():
        ctx_v = dict(file=source, video=vid)
        if not isinstance(vinfo, dict) or not isinstance(vinfo.get('expressions'), dict):
            raise DataFormatError('expected {"expressions": {exp_id: ...}}',
                                  field='expressions', **ctx_v)
        if 'num_frames' in vinfo:
            n = vinfo['num_frames']
            if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
                raise DataFormatError(f'num_frames must be a positive int, got {n!r}',
                                      field='num_frames', **ctx_v)
            num_frames[vid] = n
        exps: dict[str, ExpressionMoments] = {}
        for exp_id, einfo in vinfo['expressions'].items():
            ctx = dict(file=source, video=vid, expression=exp_id)
            if not isinstance(einfo, dict) or (('objects' in einfo) == ('video' in einfo)):
                raise DataFormatError('an expression needs exactly one of "objects" '
                                      '(per-object spans) or "video" (video-level spans)', **ctx)
            if 'video' in einfo:
                exps[exp_id] = ExpressionMoments(video=_parse_spans(einfo['video'], ctx, 'video'))
                continue
            objs = einfo['objects']
            if not isinstance(objs, dict) or not objs:
                raise DataFormatError('expected a non-empty {obj_id: spans} object',
                                      field='objects', **ctx)
            parsed: dict[int, tuple[Span, ...]] = {}
            for obj_key, spans in objs.items():
                try:
                    obj_id = int(obj_key)
                except ValueError as e:
                    raise DataFormatError(f'object id {obj_key!r} is not an int',
                                          field='objects', **ctx) from e
                if obj_id in parsed:
                    raise DataFormatError(f'duplicate object id {obj_id}', field='objects', **ctx)
                parsed[obj_id] = _parse_spans(spans, ctx, f'objects.{obj_key}')
            exps[exp_id] = ExpressionMoments(objects=parsed)
        moments[vid] = exps
    split = raw.get('split')
    return MomentFile(moments, num_frames, split if isinstance(split, str) else None, source)


def load_moments(path: str | os.PathLike) -> MomentFile:
    """Load and parse a moment file; see :func:`parse_moments`."""
    return parse_moments(load_json(path, what='moment file'), source=str(path))


def validate_expression_moments(moments: ExpressionMoments, video: VideoMeta, exp_id: str,
                                *, source: str | None = None) -> None:
    """Check one expression's moments against its video and objects.

    Raises:
        DataFormatError: a reversed span (start > end), a span before frame 0 or past the last
            frame; a moment for an object the expression does not refer to; a referred object
            without a moment entry; an empty ``M+``.
    """
    ctx = dict(file=source, video=video.video_id, expression=exp_id)
    n = len(video.frames)
    exp = video.expressions[exp_id]
    if moments.objects is not None:
        extra = sorted(set(moments.objects) - set(exp.obj_ids))
        if extra:
            raise DataFormatError(f'moments given for objects {extra} that the expression does '
                                  f'not refer to (it refers to {list(exp.obj_ids)})',
                                  field='objects', **ctx)
        missing = [o for o in exp.obj_ids if o not in moments.objects]
        if missing:
            raise DataFormatError(f'no moment for referred objects {missing} (give [] for an '
                                  'object that is never relevant)', field='objects', **ctx)
        items = [(f'objects.{o}', s) for o, s in moments.objects.items()]
    else:
        items = [('video', moments.video or ())]
    for name, spans in items:
        for start, end in spans:
            if start > end:
                raise DataFormatError(f'reversed span [{start}, {end}] (start > end)', field=name,
                                      **ctx)
            if start < 0:
                raise DataFormatError(f'span [{start}, {end}] starts before frame 0', field=name,
                                      **ctx)
            if end >= n:
                raise DataFormatError(f'span [{start}, {end}] is out of range: the video has '
                                      f'{n} frames (0..{n - 1})', field=name, **ctx)
    if not moments.mplus_spans():
        raise DataFormatError('empty moment: no frame is relevant to the expression',
                              field='objects' if moments.objects is not None else 'video', **ctx)


def check_moment_ids(moment_file: MomentFile, videos: Mapping[str, VideoMeta],
                     skipped: Collection[tuple[str, str]] = ()) -> None:
    """File-level checks: every video and expression of the moment file exists in the split,
    and declared ``num_frames`` match the videos. ``skipped``: ``(video_id, exp_id)`` pairs
    left out of the split as invalid (``skip_invalid``), whose moments are not an error."""
    src = moment_file.source
    for vid, exps in moment_file.moments.items():
        if vid not in videos:
            raise DataFormatError("video not in the split's meta_expressions.json", file=src,
                                  video=vid)
        n_declared = moment_file.num_frames.get(vid)
        if n_declared is not None and n_declared != len(videos[vid].frames):
            raise DataFormatError(f'num_frames {n_declared} but the video has '
                                  f'{len(videos[vid].frames)} frames', file=src, video=vid,
                                  field='num_frames')
        for exp_id in exps:
            if exp_id not in videos[vid].expressions and (vid, exp_id) not in skipped:
                raise DataFormatError("expression not in the split's meta_expressions.json",
                                      file=src, video=vid, expression=exp_id)


def validate_moments(moment_file: MomentFile, videos: Mapping[str, VideoMeta],
                     *, require_all: bool = False) -> list[tuple[str, str]]:
    """Check a whole moment file against the split's videos: :func:`check_moment_ids`, then
    :func:`validate_expression_moments` for every expression. Returns the ``(video_id, exp_id)``
    pairs of the split that have no moment (an error instead when ``require_all``)."""
    check_moment_ids(moment_file, videos)
    for vid, exps in moment_file.moments.items():
        for exp_id, m in exps.items():
            validate_expression_moments(m, videos[vid], exp_id, source=moment_file.source)
    missing = [(vid, e) for vid, v in videos.items() for e in v.expressions
               if e not in moment_file.moments.get(vid, {})]
    if require_all and missing:
        vid, e = missing[0]
        raise DataFormatError(f'{len(missing)} expressions have no moment (first shown)',
                              file=moment_file.source, video=vid, expression=e)
    return missing


def moments_to_json(moments: Mapping[str, Mapping[str, ExpressionMoments]],
                    num_frames: Mapping[str, int], split: str | None = None) -> dict:
    """The JSON object of a moment file (inverse of :func:`parse_moments`)."""
    videos = {}
    for vid, exps in moments.items():
        entry: dict[str, Any] = {}
        if vid in num_frames:
            entry['num_frames'] = int(num_frames[vid])
        out_exps = {}
        for exp_id, m in exps.items():
            if m.video is not None:
                out_exps[exp_id] = {'video': [list(s) for s in m.video]}
            else:
                assert m.objects is not None
                out_exps[exp_id] = {'objects': {str(o): [list(s) for s in spans]
                                                for o, spans in m.objects.items()}}
        entry['expressions'] = out_exps
        videos[vid] = entry
    out: dict[str, Any] = {'format': MOMENT_FORMAT, 'version': MOMENT_VERSION}
    if split is not None:
        out['split'] = split
    out['videos'] = videos
    return out


def check_moment_file(moment_path: str | os.PathLike, meta_path: str | os.PathLike, *,
                      require_all: bool = False) -> dict:
    """Validate a moment file against a split's ``meta_expressions.json`` and summarise it.

    Returns:
        ``dict(videos, expressions, object_level, video_level, missing, coverage_mean,
        coverage_min, coverage_max)`` where coverage is ``|M+| / T_V`` per expression.

    Raises:
        DataFormatError: the first problem found, naming file, video, expression and field.
    """
    videos = load_meta_expressions(meta_path, require_ids=False)
    mf = load_moments(moment_path)
    missing = validate_moments(mf, videos, require_all=require_all)
    cov, n_obj, n_vid = [], 0, 0
    for vid, exps in mf.moments.items():
        n = len(videos[vid].frames)
        for m in exps.values():
            cov.append(float(spans_to_mask(m.mplus_spans(), n).mean()))
            n_obj += m.objects is not None
            n_vid += m.video is not None
    return dict(videos=len(mf.moments), expressions=len(cov), object_level=n_obj,
                video_level=n_vid, missing=len(missing),
                coverage_mean=float(np.mean(cov)) if cov else 0.0,
                coverage_min=float(np.min(cov)) if cov else 0.0,
                coverage_max=float(np.max(cov)) if cov else 0.0)
