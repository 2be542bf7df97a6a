"""Frames in, streaming: video files, frame folders and arrays as re-readable frame sources, and a
compact on-disk spill of the model-sized frames.

Decoder: OpenCV (``cv2.VideoCapture``, FFmpeg inside the ``opencv-python-headless`` wheel that
is already a dependency). It reads mp4/avi/mov/webm/mkv (H.264, HEVC, VP8/9, AV1, MJPEG, ...),
is maintained, and adds no package; decord is unmaintained since 2021 and PyAV would be a second
FFmpeg build for no feature we need (we decode sequentially and never seek: frame-accurate
seeking is the one thing PyAV does better).

Flat memory: a source is decoded sequentially, one frame at a time. The model needs frames in
its own order (MDP: M+ chunks first, then M- chunks from the nearest memories; the TAM scores the
whole video first), so :class:`FrameSpill` decodes once, resizes/pads each frame to the model's
``S x S`` uint8 and appends it to a temporary file; chunks are read back with ``os.pread`` (not
a memory map, so read pages do not count against the process). Nothing of size O(T) is held.
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from tgl_mm.datasets.transforms.geometric import keep_ratio_shape, resize_pad

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.webm', '.mkv')
DEFAULT_FPS = 25.0


class VideoInputError(ValueError):
    """A video or frame folder that cannot be used (the message names the file)."""


def check_frame(frame: np.ndarray, shape: tuple[int, ...] | None, where: str) -> np.ndarray:
    """``frame`` as uint8 (H, W, 3); a different size from ``shape`` (the first frame's) raises
    :class:`VideoInputError` naming ``where``."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise VideoInputError(f'{where}: frames must be (H, W, 3) RGB, got shape {frame.shape}')
    if shape is not None and frame.shape != shape:
        raise VideoInputError(f'{where}: frame size {frame.shape[:2]} differs from the first '
                              f'frame\'s {shape[:2]}; frames must all be (H, W, 3) RGB of one '
                              'size')
    return frame.astype(np.uint8, copy=False)


class FrameSource:
    """A sequence of RGB frames that can be read several times, each time from the start.

    Attributes:
        name: what to call it in messages (the path, or ``'arrays'``).
        fps: frames per second (the video's, else :data:`DEFAULT_FPS`).
        fps_known: whether ``fps`` is the video's own (a container's rate, or one given for
            a folder or arrays) rather than the :data:`DEFAULT_FPS` stand-in; converting
            seconds to frames needs it.
    """

    name: str = 'frames'
    fps: float = DEFAULT_FPS
    fps_known: bool = False
    #: frame count and (H, W) known before decoding (0: unknown); hints, not promises
    frame_count_hint: int = 0
    shape_hint: tuple[int, int] = (0, 0)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield uint8 (H, W, 3) RGB frames of one size, in order (a new pass each call)."""
        shape = None
        count = 0
        for i, frame in enumerate(self._read()):
            frame = check_frame(frame, shape, f'{self.name} (frame {self.frame_name(i)})')
            shape = frame.shape
            count += 1
            yield frame
        if count == 0:
            raise self._empty_error()

    def frame_name(self, i: int) -> str:
        """Name of frame ``i`` (file stem, or ``00000``...)."""
        return f'{i:05d}'

    def _read(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def _empty_error(self) -> Exception:
        return VideoInputError(f'{self.name}: no frame')


class VideoFileSource(FrameSource):
    """A video file decoded with OpenCV (see the module docstring)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.is_file():
            raise FileNotFoundError(f'video file not found: {self.path}')
        capture = self._open()
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.frame_count_hint = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        #: (H, W) the container declares (0 when unknown); the decoded frames decide
        self.shape_hint = (int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
                           int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0))
        capture.release()
        self.fps_known = bool(fps and np.isfinite(fps) and fps > 0)
        self.fps = float(fps) if self.fps_known else DEFAULT_FPS

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise VideoInputError(f'{self.path}: cannot open the video (not a video, corrupt, or '
                                  'a container/codec the OpenCV FFmpeg build does not read)')
        return capture

    def _read(self) -> Iterator[np.ndarray]:
        capture = self._open()
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()

    def _empty_error(self) -> Exception:
        return VideoInputError(f'{self.path}: no decodable frame (empty video, corrupt file or '
                               'unsupported codec)')


def natural_key(name: str) -> tuple:
    """Sort key that orders the digit runs of ``name`` by value: ``frame_2`` before
    ``frame_10`` (plain string order puts ``frame_10`` first). Ties (``f01``/``f1``) fall back
    to the plain name, so the order is total."""
    parts = re.split(r'(\d+)', name)
    return tuple((0, int(p), '') if p.isdigit() else (1, 0, p.lower()) for p in parts), name


def is_frame_file(path: Path) -> bool:
    """An image file that is a frame: an image suffix, and not hidden (``.name``), which
    also skips macOS's ``._name.jpg`` AppleDouble metadata files."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith('.') \
        and path.is_file()


def frame_files(folder: Path) -> list[Path]:
    """The frame images of ``folder`` (:func:`is_frame_file`) in natural order
    (:func:`natural_key`)."""
    return sorted((p for p in folder.iterdir() if is_frame_file(p)),
                  key=lambda p: natural_key(p.name))


class FolderSource(FrameSource):
    """A folder of frame images in natural name order (``frame_2`` before ``frame_10``);
    hidden files (``.*``, e.g. macOS's ``._frame_0.jpg``) are skipped."""

    def __init__(self, folder: str | os.PathLike, fps: float | None = None) -> None:
        self.folder = Path(folder)
        self.name = str(self.folder)
        self.fps, self.fps_known = checked_fps(fps, self.name)
        if not self.folder.is_dir():
            raise FileNotFoundError(f'frame folder not found: {self.folder}')
        self.files = frame_files(self.folder)
        if not self.files:
            raise FileNotFoundError(f'no image files ({", ".join(IMAGE_EXTENSIONS)}) in '
                                    f'{self.folder}')
        self.frame_count_hint = len(self.files)

    def frame_name(self, i: int) -> str:
        return self.files[i].stem

    def _read(self) -> Iterator[np.ndarray]:
        from tgl_mm.formats import read_rgb

        for path in self.files:     # checked reader: truncated or empty images are errors
            yield read_rgb(str(path), dict(frame=path.stem))


def check_frame_array(frame: object, index: int) -> np.ndarray:
    """A caller's frame as uint8 ``(H, W, 3)``; anything else is a ``TypeError``/``ValueError``
    naming the frame (no silent conversion: float frames in [0, 1] would become black, wider
    integers would wrap)."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f'frame {index}: expected a numpy array, got {type(frame).__name__}')
    if frame.dtype != np.uint8:
        hint = (' (floats in [0, 1]: (frame * 255).round().astype(np.uint8))'
                if frame.dtype.kind == 'f' else '')
        raise TypeError(f'frame {index}: frames must be uint8 RGB in [0, 255], got dtype '
                        f'{frame.dtype}{hint}')
    if frame.ndim != 3 or frame.shape[2] != 3 or 0 in frame.shape:
        raise ValueError(f'frame {index}: expected a non-empty (H, W, 3) RGB array, got shape '
                         f'{frame.shape}')
    return frame


class ArraySource(FrameSource):
    """In-memory RGB frames (a sequence of (H, W, 3) arrays)."""

    def __init__(self, frames: Sequence[np.ndarray], fps: float | None = None) -> None:
        for i, frame in enumerate(frames):     # dtype/shape only: fails before any model work
            check_frame_array(frame, i)
        self.frames = frames
        self.name = 'arrays'
        self.fps, self.fps_known = checked_fps(fps, self.name)
        self.frame_count_hint = len(frames)

    def _read(self) -> Iterator[np.ndarray]:
        return iter(self.frames)

    def _empty_error(self) -> Exception:
        return ValueError('segment_video needs at least one frame')


def checked_fps(fps: float | None, where: str) -> tuple[float, bool]:
    """``(fps, known)``: a given frame rate (a positive finite number, else ``ValueError``
    naming ``where``), or :data:`DEFAULT_FPS` marked unknown for None."""
    if fps is None:
        return DEFAULT_FPS, False
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not np.isfinite(fps) \
            or fps <= 0:
        raise ValueError(f'{where}: fps must be a positive number of frames per second, got '
                         f'{fps!r}')
    return float(fps), True


def open_frames(source: str | os.PathLike | Sequence[np.ndarray] | FrameSource,
                fps: float | None = None) -> FrameSource:
    """A :class:`FrameSource` for a video file (by extension: :data:`VIDEO_EXTENSIONS`), a
    folder of frames, or a sequence of RGB arrays (``fps`` for the latter two; None: unknown,
    :data:`DEFAULT_FPS` stands in for the overlay)."""
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            return FolderSource(path, fps)
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            return VideoFileSource(path)
        if not path.exists():
            raise FileNotFoundError(f'input not found: {path} (a video file or a frame folder)')
        raise VideoInputError(f'{path}: not a frame folder nor a video file '
                              f'({", ".join(VIDEO_EXTENSIONS)})')
    return ArraySource(source, fps)


class FrameSpill:
    """A video's frames resized/padded to ``size x size`` uint8, on disk, read back by index.

    Decodes ``source`` once (one frame in memory at a time), resizing like the test pipeline's
    ``VideoResizePad`` (longer side ``size``, bilinear, zero padding bottom/right), and appends
    each frame to a temporary file in ``tmp_dir``. Use as a context manager (or call
    :meth:`close`) to delete the file.

    Attributes:
        num_frames: T.
        ori_shape: (H, W) of the source frames.
        img_shape: (h, w) of the resized frames inside the padded square.
        frame_names: names of the T frames.
        fps: the source's frame rate.
    """

    def __init__(self, source: FrameSource, size: int, tmp_dir: str | os.PathLike | None = None,
                 on_frame: Callable[[int], None] | None = None) -> None:
        self.size = size
        self.fps = source.fps
        self.frame_bytes = size * size * 3
        fd, name = tempfile.mkstemp(prefix='.frames-', suffix='.u8', dir=tmp_dir)
        self.path = Path(name)
        self._fd = fd
        self.frame_names: list[str] = []
        try:
            for i, frame in enumerate(source):
                if i == 0:
                    self.ori_shape = tuple(frame.shape[:2])
                    self.img_shape = keep_ratio_shape(*self.ori_shape, size)
                padded = resize_pad(frame[None], self.img_shape, size, cv2.INTER_LINEAR)[0]
                os.write(fd, padded.tobytes())
                self.frame_names.append(source.frame_name(i))
                if on_frame is not None:
                    on_frame(i)
        except BaseException:
            self.close()
            raise
        self.num_frames = len(self.frame_names)

    def load(self, frames: Sequence[int]) -> torch.Tensor:
        """uint8 (n, 3, S, S) RGB frames ``frames``."""
        out = np.empty((len(frames), self.size, self.size, 3), np.uint8)
        for i, t in enumerate(frames):
            if not 0 <= t < self.num_frames:
                raise IndexError(f'frame {t} out of range for {self.num_frames} frames')
            data = os.pread(self._fd, self.frame_bytes, int(t) * self.frame_bytes)
            out[i] = np.frombuffer(data, np.uint8).reshape(self.size, self.size, 3)
        return torch.from_numpy(out).permute(0, 3, 1, 2)

    def close(self) -> None:
        """Delete the spill file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> FrameSpill:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ['IMAGE_EXTENSIONS', 'VIDEO_EXTENSIONS', 'VideoInputError', 'FrameSource',
           'natural_key', 'is_frame_file', 'frame_files',
           'VideoFileSource', 'FolderSource', 'ArraySource', 'open_frames', 'FrameSpill',
           'check_frame']
