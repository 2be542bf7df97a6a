"""Photometric jitter on clips (the same draw for every frame of a clip)."""
from __future__ import annotations

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from tgl_mm.registry import TRANSFORMS

from ..sample_rng import Rng, sample_rng


def _factor(strength: float, rng: Rng) -> float:
    return float(rng.uniform(max(0.0, 1 - strength), 1 + strength)) if strength else 1.0


def adjust_clip(frames: np.ndarray, brightness: float, contrast: float, saturation: float,
                hue_shift: float) -> np.ndarray:
    """Apply colour factors to uint8 RGB frames ``(T, H, W, 3)``; returns uint8.

    ``brightness``/``contrast``/``saturation`` are multiplicative factors (1 = unchanged);
    contrast blends with the clip's mean grey, saturation with each pixel's grey;
    ``hue_shift`` is a fraction of the hue circle.
    """
    x = frames.astype(np.float32)
    if brightness != 1.0:
        x *= brightness
    grey_w = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if contrast != 1.0:
        mean = float((x @ grey_w).mean())
        x = (x - mean) * contrast + mean
    if saturation != 1.0:
        grey = (x @ grey_w)[..., None]
        x = (x - grey) * saturation + grey
    out = np.clip(x, 0, 255).astype(np.uint8)
    if hue_shift:
        for i in range(len(out)):
            hsv = cv2.cvtColor(out[i], cv2.COLOR_RGB2HSV)
            hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + round(hue_shift * 180)) % 180
                           ).astype(np.uint8)
            out[i] = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return out


@TRANSFORMS.register_module()
class VideoColorJitter(BaseTransform):
    """Random brightness, contrast, saturation and hue, drawn once per clip and applied to every
    frame (so appearance stays consistent over time), with probability ``prob``.

    After ``VideoResizePad`` only the valid region (``img_shape``) is changed: the padding stays 0.

    Args:
        brightness, contrast, saturation: factor drawn from ``[1 - x, 1 + x]``.
        hue: shift drawn from ``[-hue, hue]`` (fraction of the hue circle, <= 0.5).
        prob: probability to jitter a clip.
    """

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2,
                 saturation: float = 0.2, hue: float = 0.02, prob: float = 0.8) -> None:
        for name, v in dict(brightness=brightness, contrast=contrast,
                            saturation=saturation).items():
            if v < 0:
                raise ValueError(f'{name} must be >= 0, got {v}')
        if not 0 <= hue <= 0.5:
            raise ValueError(f'hue must be in [0, 0.5], got {hue}')
        self.brightness, self.contrast, self.saturation, self.hue = \
            brightness, contrast, saturation, hue
        self.prob = prob

    def transform(self, results: dict) -> dict:
        rng = sample_rng(results)
        if rng.random() >= self.prob:
            return results
        b, c, s = (_factor(x, rng) for x in (self.brightness, self.contrast, self.saturation))
        h = float(rng.uniform(-self.hue, self.hue)) if self.hue else 0.0
        frames = results['frames']
        vh, vw = (int(v) for v in results.get('img_shape', frames.shape[1:3]))
        out = frames.copy()
        out[:, :vh, :vw] = adjust_clip(frames[:, :vh, :vw], b, c, s, h)
        results['frames'] = out
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, '
                f'saturation={self.saturation}, hue={self.hue}, prob={self.prob})')
