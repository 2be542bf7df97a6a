"""Deprecated alias of :mod:`tgl_mm.formats.masks` (the data-format floor; goes next release)."""
from tgl_mm.formats.masks import *  # noqa: F401,F403
from tgl_mm.formats.masks import __all__  # noqa: F401
from tgl_mm.utils.deprecation import warn_moved

warn_moved(__name__, 'tgl_mm.formats.masks')
