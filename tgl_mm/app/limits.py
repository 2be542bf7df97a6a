"""What one demo request may cost, and which files the page may serve.

One model slot serves every visitor, so a request is bounded before and while it runs
(:class:`AppLimits`, set by ``tools/app.py``'s ``--max-*`` options):

- sentences per request (:func:`check_sentence_count`);
- the upload's size on disk (:func:`check_upload_size`; Gradio also refuses larger uploads);
- pixels: of one frame and of the whole video (frames x height x width), checked on what the
  container declares before decoding (:func:`check_declared_size`) and again on every decoded
  frame (:class:`BudgetedSource`: a container may lie);
- the request's time (:class:`Deadline`, checked on every decoded frame, mask and overlay frame).

Every refusal is an :class:`~tgl_mm.app.inputs.AppInputError` whose message names the field and
the limit (and the option that sets it).

Serving: the page may hand out only the app's own folders under ``--work-dir``
(:func:`served_folders`: ``requests/`` and ``examples/``), never the work dir itself; a folder
there holding anything the app did not make is refused at start-up
(:func:`check_own_folders`), so a broad ``--work-dir`` (``~``, ``.``) exposes nothing else.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tgl_mm.apis.video_io import FrameSource
from tgl_mm.app.inputs import AppInputError

MEGA = 1_000_000


@dataclass(frozen=True)
class AppLimits:
    """The bounds of one request (see the module docstring).

    Attributes:
        max_sentences: sentences per request.
        max_upload_mb: size of an uploaded video in MB (10^6 bytes).
        max_frame_megapixels: height x width of one frame, in millions of pixels.
        max_video_megapixels: frames x height x width of the whole video, in millions.
        max_seconds: wall time of one request (decoding, segmenting, overlay), in seconds.
    """

    max_sentences: int = 8
    max_upload_mb: float = 200.0
    max_frame_megapixels: float = 8.3          # 3840 x 2160
    max_video_megapixels: float = 600.0        # e.g. 650 frames at 1280 x 720
    max_seconds: float = 600.0

    def __post_init__(self) -> None:
        for name in ('max_sentences', 'max_upload_mb', 'max_frame_megapixels',
                     'max_video_megapixels', 'max_seconds'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not np.isfinite(value) or value <= 0:
                raise ValueError(f'AppLimits.{name} must be a positive number, got {value!r}')


def check_sentence_count(texts: list[str], limits: AppLimits) -> None:
    """Refuse more than ``limits.max_sentences`` sentences."""
    if len(texts) > limits.max_sentences:
        raise AppInputError(f'Sentences: {len(texts)} sentences; a request takes at most '
                            f'{limits.max_sentences} (tools/app.py --max-sentences)')


def check_upload_size(path: str | os.PathLike, limits: AppLimits, name: str) -> None:
    """Refuse a file larger than ``limits.max_upload_mb`` (``name``: what the user calls it)."""
    size = Path(path).stat().st_size
    if size > limits.max_upload_mb * MEGA:
        raise AppInputError(f'Video: {name} is {size / MEGA:.1f} MB; uploads may be at most '
                            f'{limits.max_upload_mb:g} MB (tools/app.py --max-upload-mb)')


def _frame_error(name: str, height: int, width: int, limits: AppLimits) -> AppInputError:
    return AppInputError(f'Video: {name} has {width} x {height} frames ({height * width / MEGA:.1f}'
                         f' megapixels); frames may have at most '
                         f'{limits.max_frame_megapixels:g} megapixels '
                         '(tools/app.py --max-frame-megapixels)')


def _video_error(name: str, pixels: float, frames: str, limits: AppLimits) -> AppInputError:
    return AppInputError(f'Video: {name}: {frames} make {pixels / MEGA:.0f} megapixels (frames '
                         f'x height x width); a request may have at most '
                         f'{limits.max_video_megapixels:g} (tools/app.py --max-video-megapixels);'
                         ' use a shorter or smaller video')


def check_declared_size(source: FrameSource, limits: AppLimits, name: str) -> None:
    """Refuse, before decoding, a video whose container declares frames or a frame count over
    the limits (unknown values pass; :class:`BudgetedSource` checks the decoded frames)."""
    height, width = getattr(source, 'shape_hint', (0, 0))
    if height * width > limits.max_frame_megapixels * MEGA:
        raise _frame_error(name, height, width, limits)
    count = getattr(source, 'frame_count_hint', 0) or 0
    if count * height * width > limits.max_video_megapixels * MEGA:
        raise _video_error(name, count * height * width, f'{count} frames (declared)', limits)


class BudgetedSource(FrameSource):
    """``source``'s frames, refusing (:class:`AppInputError`) a frame over
    ``max_frame_megapixels`` or a running total over ``max_video_megapixels`` as soon as it is
    decoded."""

    def __init__(self, source: FrameSource, limits: AppLimits, name: str) -> None:
        self.source = source
        self.limits = limits
        self.name = name
        self.fps = source.fps
        self.fps_known = source.fps_known
        self.frame_count_hint = getattr(source, 'frame_count_hint', 0)
        self.shape_hint = getattr(source, 'shape_hint', (0, 0))

    def frame_name(self, i: int) -> str:
        return self.source.frame_name(i)

    def __iter__(self) -> Iterator[np.ndarray]:
        total = 0
        for i, frame in enumerate(self.source):   # the source checks each frame's shape
            height, width = frame.shape[:2]
            if height * width > self.limits.max_frame_megapixels * MEGA:
                raise _frame_error(self.name, height, width, self.limits)
            total += height * width
            if total > self.limits.max_video_megapixels * MEGA:
                raise _video_error(self.name, total, f'the first {i + 1} frames',
                                   self.limits)
            yield frame


class RequestTimeout(AppInputError):
    """A request ran past its time limit."""


class Deadline:
    """``check()`` raises :class:`RequestTimeout` once ``seconds`` have passed since creation.

    Args:
        seconds: the budget.
        clock: a monotonic clock (seconds); tests pass their own.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.start = clock()

    def check(self) -> None:
        if self.clock() - self.start > self.seconds:
            raise RequestTimeout(f'the request ran longer than {self.seconds:g} s and was '
                                 'stopped (tools/app.py --max-seconds); try a shorter video or '
                                 'fewer sentences')


# ---------------------------------------------------------------------------- served folders
#: the app's folders under --work-dir, and the names the app itself makes in each
APP_FOLDERS: dict[str, re.Pattern] = {
    'requests': re.compile(r'request-[A-Za-z0-9_]+'),
    'examples': re.compile(r'\.?synthetic_\d+\.mp4(\..*)?'),
}


def served_folders(work_dir: str | os.PathLike) -> dict[str, Path]:
    """The folders the page may serve files from (``allowed_paths``): the app's own
    ``requests/`` and ``examples/`` under ``work_dir``, never ``work_dir`` itself."""
    return {name: Path(work_dir).resolve() / name for name in APP_FOLDERS}


def check_own_folders(work_dir: str | os.PathLike) -> dict[str, Path]:
    """:func:`served_folders`, each checked to hold only what the app makes there (created
    when missing).

    Raises:
        NotADirectoryError: ``work_dir`` or one of the folders is a file.
        ValueError: a folder holds something else (naming it): serving it would publish it.
    """
    work = Path(work_dir)
    if work.exists() and not work.is_dir():
        raise NotADirectoryError(f'--work-dir {work} is a file, not a folder')
    folders = served_folders(work)
    for name, folder in folders.items():
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(f'--work-dir {work}: {folder} is a file, not a folder')
        folder.mkdir(parents=True, exist_ok=True)
        foreign = sorted(p.name for p in folder.iterdir()
                         if not APP_FOLDERS[name].fullmatch(p.name) or p.is_symlink())
        if foreign:
            shown = ', '.join(foreign[:3]) + (' ...' if len(foreign) > 3 else '')
            raise ValueError(f'--work-dir {work}: {folder} holds files the app did not make '
                             f'({shown}); the page serves that folder, so choose a --work-dir '
                             'of its own (the default is a new temporary folder)')
    return folders


__all__ = ['AppLimits', 'check_sentence_count', 'check_upload_size', 'check_declared_size',
           'BudgetedSource', 'RequestTimeout', 'Deadline', 'served_folders',
           'check_own_folders', 'APP_FOLDERS']
