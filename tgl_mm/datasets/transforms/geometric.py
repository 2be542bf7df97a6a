"""Geometric transforms on clips: keep-ratio resize with square padding, horizontal flip."""
from __future__ import annotations

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from tgl_mm.registry import TRANSFORMS

from ..sample_rng import sample_rng
from .text import swap_left_right

_INTERP = {'nearest': cv2.INTER_NEAREST, 'bilinear': cv2.INTER_LINEAR,
           'area': cv2.INTER_AREA, 'bicubic': cv2.INTER_CUBIC}


def keep_ratio_shape(h: int, w: int, size: int) -> tuple[int, int]:
    """``(h', w')`` with the longer side ``size`` and the aspect ratio kept (each side >= 1)."""
    scale = size / max(h, w)
    return max(1, min(size, round(h * scale))), max(1, min(size, round(w * scale)))


def resize_pad(arr: np.ndarray, new_hw: tuple[int, int], size: int, interpolation: int
               ) -> np.ndarray:
    """Resize ``(T, H, W[, C])`` to ``(T, h', w'[, C])`` and zero-pad bottom/right to
    ``(T, size, size[, C])``."""
    t = arr.shape[0]
    out = np.zeros((t, size, size, *arr.shape[3:]), dtype=arr.dtype)
    h, w = new_hw
    for i in range(t):
        out[i, :h, :w] = cv2.resize(arr[i], (w, h), interpolation=interpolation)
    return out


@TRANSFORMS.register_module()
class VideoResizePad(BaseTransform):
    """Resize every frame keeping the aspect ratio so the longer side is ``size``, then zero-pad
    at the bottom/right to ``size x size`` (SAM2 needs square inputs).

    Required keys: ``frames`` (T, H, W, 3). Optional: ``gt_masks`` (T, H, W), ``gt_obj_masks``
    (N, T, H, W).
    Modified: ``frames`` -> (T, S, S, 3); with ``resize_masks`` the masks likewise (nearest);
    without (testing) masks stay at the original size.
    Added: ``img_shape`` (h, w) after resizing, ``pad_shape`` (S, S), ``scale_factor``
    (w_scale, h_scale).

    Args:
        size: the square side S (a multiple of 32 for SAM2).
        resize_masks: resize and pad the masks with the frames (training) or keep them at the
            original size (testing, where the metric compares at the original size).
        interpolation: frame interpolation: 'bilinear' (default), 'area', 'bicubic', 'nearest'.
    """

    def __init__(self, size: int, resize_masks: bool = True,
                 interpolation: str = 'bilinear') -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError(f'size must be a positive int, got {size!r}')
        if interpolation not in _INTERP:
            raise ValueError(f'interpolation must be one of {sorted(_INTERP)}')
        self.size = size
        self.resize_masks = resize_masks
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        frames = results['frames']
        h0, w0 = frames.shape[1:3]
        new_hw = keep_ratio_shape(h0, w0, self.size)
        results['frames'] = resize_pad(frames, new_hw, self.size, _INTERP[self.interpolation])
        if self.resize_masks:
            if 'gt_masks' in results:
                m = results['gt_masks'].astype(np.uint8)
                results['gt_masks'] = resize_pad(m, new_hw, self.size, cv2.INTER_NEAREST) > 0
            if 'gt_obj_masks' in results:
                om = results['gt_obj_masks']
                n, t = om.shape[:2]
                flat = om.reshape(n * t, *om.shape[2:]).astype(np.uint8)
                res = resize_pad(flat, new_hw, self.size, cv2.INTER_NEAREST) > 0
                results['gt_obj_masks'] = res.reshape(n, t, self.size, self.size)
        results['img_shape'] = new_hw
        results['pad_shape'] = (self.size, self.size)
        results['scale_factor'] = (new_hw[1] / w0, new_hw[0] / h0)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, resize_masks={self.resize_masks}, '
                f'interpolation={self.interpolation!r})')


def _hflip_valid(arr: np.ndarray, w: int) -> np.ndarray:
    """Flip the last-but-channel axis within the valid width ``w`` (padding stays right)."""
    out = arr.copy()
    out[..., :w] = arr[..., :w][..., ::-1]
    return out


@TRANSFORMS.register_module()
class VideoRandomFlip(BaseTransform):
    """Flip the whole clip horizontally with probability ``prob`` and swap *left*/*right* in the
    expression (so "the dog moving left" stays true).

    Works before or after ``VideoResizePad``: after it, only the valid region (``img_shape``)
    is flipped and the padding stays at the right.

    Modified keys: ``frames``, ``gt_masks``, ``gt_obj_masks`` (when present; masks at another
    size than the frames, i.e. test-time originals, are flipped over their full width), ``text``.
    Added: ``flip`` (bool).
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob

    def transform(self, results: dict) -> dict:
        flip = bool(sample_rng(results).random() < self.prob)
        results['flip'] = flip
        if not flip:
            return results
        frames = results['frames']
        w_valid = int(results.get('img_shape', frames.shape[1:3])[1])
        results['frames'] = np.ascontiguousarray(
            _hflip_valid(frames.transpose(0, 3, 1, 2), w_valid).transpose(0, 2, 3, 1))
        for key in ('gt_masks', 'gt_obj_masks'):
            if key in results:
                m = results[key]
                w = w_valid if m.shape[-1] == frames.shape[2] else m.shape[-1]
                results[key] = _hflip_valid(m, w)
        results['text'] = swap_left_right(results['text'])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'
