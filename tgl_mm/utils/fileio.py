"""Atomic file output: readers never see a half-written file."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = '.tmp') -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    ``suffix`` ends the temporary name (e.g. ``'.mp4'`` for writers that pick the format from
    the extension).

    The temporary file lives in the same directory (same filesystem), so ``os.replace`` is atomic.
    If the body raises, the temporary file is removed and ``path`` is left untouched.

    Example:
        >>> with atomic_path('out/report.json') as tmp:
        ...     tmp.write_text('{}')
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=suffix, dir=path.parent)
    os.close(fd)
    # mkstemp creates 0600 files; give the result the permissions a plain open() would
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding='utf-8')


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_dump_json(obj: Any, path: str | os.PathLike, **kwargs: Any) -> None:
    """``json.dump`` ``obj`` to ``path`` atomically; ``kwargs`` go to ``json.dumps``."""
    atomic_write_text(path, json.dumps(obj, **kwargs))
