"""An output folder owned by one run at a time (``tools/infer.py --out``, the app's requests).

- :class:`OutputLock`: an exclusive ``flock`` on ``DIR/.lock`` (holding the owner's pid, for
  the message), taken without waiting: a second run into the same folder is refused while the
  first one lives, and the lock goes with the process (no stale lock after a crash or a kill).
  The file is deleted on release; a run that locked a file just deleted (its inode no longer
  at ``DIR/.lock``) tries again, so two runs never hold two different lock files.
- :func:`remove_stale_partials`: staging folders ``DIR/.partial-<pid>`` left by runs that died
  (SIGKILL, power loss); under the lock no other run can be writing one.
- :func:`remove_outputs`: the files an earlier run wrote (``result.json``, ``masks/``, every
  overlay name), so nothing of it is left beside the new run's outputs.
"""
from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

LOCK_NAME = '.lock'
PARTIAL_PREFIX = '.partial-'


class OutputBusyError(RuntimeError):
    """Another live run writes into the same output folder."""


def prepare_out_dir(out: str | os.PathLike, what: str = 'output folder',
                    create: bool = True) -> Path:
    """``out`` as an existing folder (created if missing, unless ``create`` is False: then
    only checked).

    Raises:
        NotADirectoryError: ``out`` (or a parent) is a file (naming it).
    """
    out = Path(out)
    for path in (out, *out.parents):
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f'{what} {out}: {path} is a file, not a folder')
    if create:
        out.mkdir(parents=True, exist_ok=True)
    return out


class OutputLock:
    """Exclusive ownership of an output folder for the ``with`` block.

    Args:
        out: the folder (it must exist).
        what: how to name the folder in the message (``--out``).

    Raises:
        OutputBusyError: another process (or another ``OutputLock`` of this one) holds it.
    """

    def __init__(self, out: str | os.PathLike, what: str = 'output folder') -> None:
        self.path = Path(out) / LOCK_NAME
        self.what = what
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.pread(fd, 32, 0).decode('ascii', 'replace').strip() or 'unknown'
                os.close(fd)
                raise OutputBusyError(f'{self.what} {self.path.parent} is in use by another '
                                      f'run (pid {owner}): wait for it or choose another '
                                      'folder') from None
            if self._same_file(fd):
                break
            os.close(fd)   # locked a lock file its owner deleted meanwhile: take the new one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f'{os.getpid()}\n'.encode(), 0)
        self._fd = fd
        return self

    def _same_file(self, fd: int) -> bool:
        """Whether ``fd`` is still the file at :attr:`path`."""
        try:
            return os.path.samestat(os.fstat(fd), os.stat(self.path))
        except FileNotFoundError:
            return False

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)   # while locked: see the module doc
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def remove_stale_partials(out: str | os.PathLike, keep: Path | None = None) -> list[Path]:
    """Delete the ``.partial-*`` staging folders in ``out`` (call it holding the
    :class:`OutputLock`: they are then all from dead runs), except ``keep``; return them."""
    removed = []
    for stage in sorted(Path(out).glob(f'{PARTIAL_PREFIX}*')):
        if keep is not None and stage == keep:
            continue
        if stage.is_dir() and not stage.is_symlink():
            shutil.rmtree(stage, ignore_errors=True)
        else:
            stage.unlink(missing_ok=True)
        removed.append(stage)
    return removed


def remove_outputs(out: str | os.PathLike, names: Iterable[str]) -> None:
    """Delete the files or folders ``names`` in ``out`` (missing ones are fine)."""
    for name in names:
        path = Path(out) / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


__all__ = ['LOCK_NAME', 'PARTIAL_PREFIX', 'OutputBusyError', 'prepare_out_dir', 'OutputLock',
           'remove_stale_partials', 'remove_outputs']
