"""Frame-sampling transforms (registered in ``TRANSFORMS``): which frames of a video a training
clip holds. (The data sampler that batches expressions is ``datasets/video_batch_sampler.py``.)"""
from .base import BaseFrameSampler, moment_flags
from .moment_sampler import MomentAwareFrameSampler
from .random_sampler import AllFramesSampler, RandomFrameSampler

__all__ = ['BaseFrameSampler', 'moment_flags', 'MomentAwareFrameSampler', 'RandomFrameSampler',
           'AllFramesSampler']
