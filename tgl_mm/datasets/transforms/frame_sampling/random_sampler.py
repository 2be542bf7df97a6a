"""Plain frame samplers: random clips (the prior-work baseline) and whole videos (testing)."""
from __future__ import annotations

import numpy as np

from tgl_mm.datasets.sample_rng import Rng
from tgl_mm.registry import TRANSFORMS

from .base import BaseFrameSampler, check_num_frames, choose


@TRANSFORMS.register_module()
class RandomFrameSampler(BaseFrameSampler):
    """``num_frames`` distinct frames drawn uniformly from the whole video (repeats only when the
    video is shorter), temporal order kept; moments are ignored for the choice but still
    recorded (``gt_mplus``, ``gt_obj_mplus``). The random sampling of prior RVOS work, for the
    ablation against :class:`MomentAwareFrameSampler`, which draws exactly the same frames with
    ``mplus_ratio=0`` (the form the configs use, as a dataset setting)."""

    def __init__(self, num_frames: int = 8) -> None:
        self.num_frames = check_num_frames(num_frames)

    def sample(self, mplus: np.ndarray, rng: Rng) -> np.ndarray:
        return choose(np.arange(len(mplus)), self.num_frames, rng)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num_frames={self.num_frames})'


@TRANSFORMS.register_module()
class AllFramesSampler(BaseFrameSampler):
    """Every frame of the video, in order (T = T_V): the test-time sampler."""

    def sample(self, mplus: np.ndarray, rng: Rng) -> np.ndarray:
        return np.arange(len(mplus))
