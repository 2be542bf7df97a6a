"""Frame samplers (pipeline transforms registered in ``TRANSFORMS``)."""
from .base import BaseFrameSampler, moment_flags
from .moment_sampler import MomentAwareFrameSampler
from .random_sampler import AllFramesSampler, RandomFrameSampler

__all__ = ['BaseFrameSampler', 'moment_flags', 'MomentAwareFrameSampler', 'RandomFrameSampler',
           'AllFramesSampler']
