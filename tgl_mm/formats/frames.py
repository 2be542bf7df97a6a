"""Frame image files (``JPEGImages/<video>/<frame>.jpg`` of the MeViS layout, or any image
folder): read as uint8 RGB, refusing truncated or unreadable files with an error that names them.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np

from .common import DataFormatError

__all__ = ['image_damage', 'read_rgb', 'read_rgb_frames']

_JPEG_START, _JPEG_END = b'\xff\xd8', b'\xff\xd9'
_PNG_START, _PNG_END = b'\x89PNG\r\n\x1a\n', b'IEND\xaeB`\x82'


def image_damage(data: bytes) -> str | None:
    """Why an encoded JPEG/PNG is incomplete (``None`` when it looks whole or is another format).

    libjpeg decodes a truncated JPEG with only a warning on stderr and fills the missing rows with
    grey; libpng does similar. A whole JPEG ends with the EOI marker (``FF D9``; trailing zero
    padding allowed), a whole PNG with its ``IEND`` chunk.
    """
    if data.startswith(_JPEG_START):
        if not data.rstrip(b'\x00').endswith(_JPEG_END):
            return 'JPEG data is truncated (no end-of-image marker)'
    elif data.startswith(_PNG_START) and not data.rstrip(b'\x00').endswith(_PNG_END):
        return 'PNG data is truncated (no IEND chunk)'
    return None


def read_rgb(path: str, ctx: dict) -> np.ndarray:
    """Read an image file as uint8 RGB ``(H, W, 3)``; a missing, unreadable, truncated or empty
    (0 x 0) image raises :class:`DataFormatError` naming the file (and ``ctx``: video,
    expression, frame)."""
    if not os.path.isfile(path):
        raise DataFormatError('frame file not found', file=path, **ctx)
    with open(path, 'rb') as f:
        data = f.read()
    damage = image_damage(data)
    if damage is not None:
        raise DataFormatError(f'frame file is damaged: {damage}', file=path, **ctx)
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR) if data else None
    if img is None or img.size == 0:
        raise DataFormatError('frame file is unreadable (corrupt, empty or not an image)',
                              file=path, **ctx)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_rgb_frames(paths: Sequence[str | os.PathLike], ctx: dict | None = None) -> np.ndarray:
    """Read the image files of one video as uint8 RGB ``(T, H, W, 3)`` (:func:`read_rgb` each);
    frames of different sizes raise :class:`DataFormatError`."""
    frames = [read_rgb(str(p), ctx or {}) for p in paths]
    sizes = sorted({f.shape for f in frames})
    if len(sizes) > 1:
        raise DataFormatError(f'frames of one video differ in size: {sizes}',
                              file=os.path.dirname(str(paths[0])), **(ctx or {}))
    return np.stack(frames)
