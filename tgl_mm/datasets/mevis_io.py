"""Deprecated alias of :mod:`tgl_mm.formats` (the data-format floor); goes in the next release."""
from tgl_mm.formats import *  # noqa: F401,F403
from tgl_mm.formats import __all__  # noqa: F401
from tgl_mm.utils.deprecation import warn_moved

warn_moved(__name__, 'tgl_mm.formats')
