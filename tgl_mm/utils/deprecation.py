"""Aliases kept for one release after a public name moves."""
from __future__ import annotations

import warnings

__all__ = ['warn_moved']


def warn_moved(old: str, new: str) -> None:
    """Warn (``DeprecationWarning``, pointing at the importer) that module ``old`` moved to
    ``new`` and that the alias goes in the next release."""
    warnings.warn(f'{old} moved to {new}; import it from there (this alias goes in the next '
                  'release)', DeprecationWarning, stacklevel=3)
