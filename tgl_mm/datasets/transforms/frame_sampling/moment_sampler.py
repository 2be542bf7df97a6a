"""Moment-aware frame sampling (TGL paper A.3)."""
from __future__ import annotations

import math

import numpy as np

from tgl_mm.datasets.sample_rng import Rng
from tgl_mm.registry import TRANSFORMS

from .base import BaseFrameSampler, check_num_frames, choose


@TRANSFORMS.register_module()
class MomentAwareFrameSampler(BaseFrameSampler):
    """Sample ``num_frames`` frames: ``ceil(num_frames * mplus_ratio)`` always from M+, the rest
    from the whole video; temporal order kept (paper A.3: T = 8 for Hiera-B, 6 for Hiera-L,
    half from M+).

    Frames are distinct whenever the video allows: the M+ part draws distinct M+ frames, the rest
    draws distinct frames among those not drawn yet (which may be M+ or M- frames). When M+ has
    fewer frames than its quota, every M+ frame is taken and some are repeated, so the quota of
    M+ frames always holds; a video shorter than ``num_frames`` repeats frames likewise.

    ``mplus_ratio=0`` forces no frame into M+: the clip is ``num_frames`` frames drawn uniformly
    from the whole video, the very draws of :class:`RandomFrameSampler` from the same generator
    (the random sampling of Tab. 2's baseline, reachable through the dataset's
    ``frame_sampling`` setting; see :mod:`tgl_mm.datasets.pipeline_settings`). Moments are then
    only recorded, not needed.

    Added keys: ``frame_inds``, ``gt_mplus`` (T,), ``gt_obj_mplus`` (N, T); see
    :mod:`tgl_mm.datasets.samplers.base`.

    Args:
        num_frames: clip length T.
        mplus_ratio: share of the clip that must come from M+ (0 <= ratio <= 1; 0: uniform
            random frames).
    """

    def __init__(self, num_frames: int = 8, mplus_ratio: float = 0.5) -> None:
        self.num_frames = check_num_frames(num_frames)
        if isinstance(mplus_ratio, bool) or not isinstance(mplus_ratio, (int, float)) \
                or not 0 <= mplus_ratio <= 1:
            raise ValueError(f'mplus_ratio must be a number in [0, 1], got {mplus_ratio!r}')
        self.mplus_ratio = mplus_ratio
        self.num_mplus = math.ceil(num_frames * mplus_ratio)

    def sample(self, mplus: np.ndarray, rng: Rng) -> np.ndarray:
        if self.num_mplus == 0:   # uniform random, exactly RandomFrameSampler's draw
            return choose(np.arange(len(mplus)), self.num_frames, rng)
        pos = np.flatnonzero(mplus)
        if len(pos) == 0:
            raise ValueError('moment-aware sampling needs at least one M+ frame')
        first = choose(pos, self.num_mplus, rng)
        rest = np.setdiff1d(np.arange(len(mplus)), first)
        k = self.num_frames - self.num_mplus
        second = choose(rest if len(rest) >= k else np.arange(len(mplus)), k, rng)
        return np.concatenate([first, second])

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_frames={self.num_frames}, '
                f'mplus_ratio={self.mplus_ratio})')
