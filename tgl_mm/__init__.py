"""tgl_mm: Temporally Grounded Learning for referring video object segmentation.

Importing the package, or any part of it, changes nothing in mmengine: the checkpoint safety
(weights-only loaders, the atomic file backend; :mod:`tgl_mm.utils.checkpoint`) is installed by
the entry points that load checkpoints -- tgl_mm's runner, the tools,
:func:`tgl_mm.apis.init_model` and :func:`tgl_mm.utils.register_all_modules` -- or by calling
:func:`tgl_mm.utils.install_checkpoint_safety`. It stays light (no torch import here).
"""
from .version import __version__

__all__ = ['__version__']
