"""Deprecated alias of :mod:`tgl_mm.datasets.transforms.frame_sampling` (frame-sampling
transforms; OpenMMLab's ``samplers`` are data samplers); goes in the next release."""
from tgl_mm.datasets.transforms.frame_sampling import *  # noqa: F401,F403
from tgl_mm.datasets.transforms.frame_sampling import __all__  # noqa: F401
from tgl_mm.utils.deprecation import warn_moved

warn_moved(__name__, 'tgl_mm.datasets.transforms.frame_sampling')
