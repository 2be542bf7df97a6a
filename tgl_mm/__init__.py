"""tgl_mm: Temporally Grounded Learning for referring video object segmentation.

Importing the package makes mmengine's checkpoint loading weights-only safe under any torch
version (see :mod:`tgl_mm.utils.checkpoint`); it stays light (no torch import here).
"""
from .utils.checkpoint import install_safe_loaders
from .version import __version__

install_safe_loaders()

__all__ = ['__version__']
