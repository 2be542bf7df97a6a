"""Mask overlays and frame grids: small pure functions on ``uint8`` RGB arrays (no matplotlib).

Shapes: a frame is ``(H, W, 3)`` uint8 RGB, a mask ``(H, W)`` bool; a video ``(T, H, W, 3)`` and
its masks ``(T, H, W)``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

__all__ = ['PALETTE', 'overlay_mask', 'put_title', 'select_frames', 'render_frame_grid',
           'encode_png']

#: Distinct RGB colours: prediction, ground truth, then more objects.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 57, 70), (42, 157, 143), (69, 123, 157), (244, 162, 97), (131, 56, 236),
    (255, 190, 11), (58, 134, 255), (251, 86, 7), (6, 214, 160), (17, 138, 178),
)


def _check_frame(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'expected a uint8 RGB frame (H, W, 3), got {image.dtype} {image.shape}')
    return image


def overlay_mask(image: np.ndarray, mask: np.ndarray, color: Sequence[int] = PALETTE[0],
                 alpha: float = 0.5, contour_thickness: int = 2) -> np.ndarray:
    """Blend ``mask`` over ``image`` in ``color`` and outline it.

    Args:
        image: uint8 RGB ``(H, W, 3)``.
        mask: bool ``(H, W)``, same size as ``image``.
        color: RGB colour of the mask.
        alpha: opacity of the fill (0 = outline only).
        contour_thickness: outline width in pixels (0 = no outline).

    Returns:
        A new uint8 RGB ``(H, W, 3)`` image.
    """
    image = _check_frame(image)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != image.shape[:2]:
        raise ValueError(f'mask shape {mask.shape} differs from the frame size {image.shape[:2]}')
    out = image.copy()
    if mask.any():
        col = np.asarray(color, dtype=np.float32)
        out[mask] = (out[mask].astype(np.float32) * (1 - alpha) + col * alpha).round().astype(
            np.uint8)
        if contour_thickness > 0:
            contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(out, contours, -1, tuple(int(c) for c in color), contour_thickness)
    return out


def put_title(image: np.ndarray, text: str, height: int = 22) -> np.ndarray:
    """Return ``image`` with a black title bar of ``height`` pixels holding ``text`` on top."""
    image = _check_frame(image)
    bar = np.zeros((height, image.shape[1], 3), np.uint8)
    scale = height / 40
    cv2.putText(bar, text, (4, int(height * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([bar, image], axis=0)


def select_frames(num_frames: int, max_frames: int) -> list[int]:
    """Up to ``max_frames`` evenly spaced frame indices of ``range(num_frames)`` (first and last
    included)."""
    if num_frames <= 0:
        return []
    if num_frames <= max_frames:
        return list(range(num_frames))
    return sorted({int(round(i)) for i in np.linspace(0, num_frames - 1, max_frames)})


def render_frame_grid(frames: np.ndarray, rows: Mapping[str, np.ndarray | None],
                      frame_inds: Sequence[int] | None = None, max_frames: int = 8,
                      tile_width: int = 320, frame_names: Sequence[str] | None = None,
                      colors: Sequence[Sequence[int]] | None = None,
                      alpha: float = 0.5) -> np.ndarray:
    """One row of overlays per entry of ``rows`` (e.g. ``{'pred': ..., 'gt': ...}``), one column per
    selected frame; each tile is titled ``<row> <frame name>``.

    Args:
        frames: uint8 RGB video ``(T, H, W, 3)``.
        rows: label -> bool masks ``(T, H, W)``; ``None`` entries are skipped.
        frame_inds: which frames to show (default: ``select_frames(T, max_frames)``).
        max_frames: columns when ``frame_inds`` is not given.
        tile_width: width of each tile in pixels (height keeps the aspect ratio).
        frame_names: names used in titles (default: the indices).
        colors: one RGB colour per row (default: :data:`PALETTE`).
        alpha: mask opacity.

    Returns:
        uint8 RGB image of the grid.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise ValueError(f'expected uint8 RGB frames (T, H, W, 3), got {frames.dtype} '
                         f'{frames.shape}')
    t_v, h, w = frames.shape[:3]
    rows = {k: np.asarray(v, dtype=bool) for k, v in rows.items() if v is not None}
    for name, masks in rows.items():
        if masks.shape != (t_v, h, w):
            raise ValueError(f'{name} masks have shape {masks.shape}, frames {(t_v, h, w)}')
    inds = list(frame_inds) if frame_inds is not None else select_frames(t_v, max_frames)
    if not inds:
        raise ValueError('no frame to render')
    colors = colors or PALETTE
    tile_h = max(1, int(round(h * tile_width / w)))
    thickness = max(2, int(round(2 * w / tile_width)))  # about 2 px once the tile is resized
    grid_rows = []
    for r, (name, masks) in enumerate(rows.items() or {'frames': None}.items()):
        tiles = []
        for t in inds:
            tile = frames[t] if masks is None else overlay_mask(
                frames[t], masks[t], colors[r % len(colors)], alpha, thickness)
            tile = cv2.resize(tile, (tile_width, tile_h), interpolation=cv2.INTER_AREA)
            label = frame_names[t] if frame_names is not None else str(t)
            tiles.append(put_title(tile, f'{name} {label}'))
        grid_rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(grid_rows, axis=0)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 RGB ``(H, W, 3)`` or grayscale ``(H, W)`` image."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode('.png', image)
    if not ok:
        raise ValueError(f'cannot encode an image of shape {image.shape} as PNG')
    return buf.tobytes()
