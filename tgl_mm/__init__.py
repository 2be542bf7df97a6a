"""tgl_mm: Temporally Grounded Learning for referring video object segmentation."""
from .version import __version__

__all__ = ['__version__']
