"""Safe checkpoint loading and atomic checkpoint saving for mmengine.

Loading
    mmengine 0.10.7 loads checkpoints with a bare ``torch.load``. Since torch 2.6 that is a
    weights-only load, which refuses the few non-tensor objects an mmengine checkpoint holds
    (the message hub's ``HistoryBuffer`` and its numpy arrays), so ``Runner.resume`` fails; before
    torch 2.6 the same call unpickled anything, which runs arbitrary code from the file.
    Importing ``tgl_mm`` replaces mmengine's checkpoint loaders (local files, http(s), s3/petrel)
    with :func:`load_checkpoint_file`-style loaders that always pass ``weights_only=True`` and allow
    exactly :func:`mmengine_safe_globals` -- nothing else, and never a fallback to full unpickling.

Saving
    :class:`AtomicLocalBackend` is mmengine's local file backend whose writes go to a temporary
    file in the target directory, renamed onto the target only when complete
    (``tgl_mm.engine.AtomicCheckpointHook`` selects it for checkpoints).
"""
from __future__ import annotations

import contextlib
import contextvars
import importlib.abc
import importlib.util
import io
import os
import pickle
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mmengine.fileio import LocalBackend, register_backend

from .fileio import atomic_path

__all__ = [
    'ATOMIC_BACKEND', 'AtomicLocalBackend', 'UnsafeCheckpointError', 'install_safe_loaders',
    'load_checkpoint_bytes', 'load_checkpoint_file', 'mmengine_safe_globals',
    'restricted_getattr', 'safe_checkpoint_globals', 'unsafe_globals',
]

#: name under which :class:`AtomicLocalBackend` is registered in mmengine's file backends
ATOMIC_BACKEND = 'tgl_atomic_local'

#: the only attributes ``builtins.getattr`` may fetch while unpickling: HistoryBuffer pickles its
#: ``statistics_methods`` dict, whose values are the functions ``HistoryBuffer.min`` etc., and
#: pickle stores a method of a class as ``getattr(HistoryBuffer, 'min')``.
HISTORY_BUFFER_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})

# more (owner, attribute) pairs allowed for the current load (see safe_checkpoint_globals)
_extra_attributes: contextvars.ContextVar[frozenset] = contextvars.ContextVar(
    'tgl_mm_checkpoint_attributes', default=frozenset())


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds objects outside tgl_mm's weights-only allow-list; nothing was run."""


def restricted_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` while unpickling a checkpoint.

    Serves only ``getattr(HistoryBuffer, name)`` for ``name`` in min/max/current/mean, plus the
    ``(owner, name)`` pairs a surrounding :func:`safe_checkpoint_globals` allows; anything else
    raises :class:`pickle.UnpicklingError` (which aborts the load).
    """
    from mmengine.logging import HistoryBuffer

    if obj is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    if any(owner is obj and attr == name for owner, attr in _extra_attributes.get()):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'refused getattr({getattr(obj, "__qualname__", type(obj).__name__)}, {name!r}) while '
        'unpickling: only HistoryBuffer.min/max/current/mean may be fetched')


def _numpy_globals() -> list[Callable | tuple[Callable, str]]:
    """numpy's array/scalar reconstruction globals under the new and the old module names."""
    import numpy as np

    try:  # numpy >= 2
        multiarray = np._core.multiarray
    except AttributeError:  # numpy 1.x
        multiarray = np.core.multiarray
    entries: list[Callable | tuple[Callable, str]] = [np.ndarray, np.dtype]
    for func in (multiarray._reconstruct, multiarray.scalar):
        for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
            entries.append((func, f'{module}.{func.__name__}'))
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25
    if dtypes is not None:
        for name in dtypes.__all__:
            cls = getattr(dtypes, name)
            if isinstance(cls, type) and issubclass(cls, np.dtype):
                entries.append((cls, f'numpy.dtypes.{cls.__name__}'))
    return entries


def mmengine_safe_globals() -> list[Callable | tuple[Callable, str]]:
    """The allow-list for weights-only loading of mmengine checkpoints.

    mmengine's ``HistoryBuffer``; ``numpy.ndarray``, ``numpy.dtype``, numpy's ``_reconstruct``
    and ``scalar`` (under ``numpy._core`` and the old ``numpy.core`` names) and numpy's dtype
    classes; ``builtins.getattr`` mapped to :func:`restricted_getattr`. Entries are in the form
    accepted by :func:`torch.serialization.add_safe_globals`.
    """
    from mmengine.logging import HistoryBuffer

    return [HistoryBuffer, (restricted_getattr, 'builtins.getattr'), *_numpy_globals()]


@contextlib.contextmanager
def safe_checkpoint_globals(extra: list | tuple = (),
                            attributes: list | tuple = ()) -> Iterator[None]:
    """Allow :func:`mmengine_safe_globals` for weights-only loads in the block.

    Args:
        extra: more globals, as for :func:`torch.serialization.add_safe_globals`.
        attributes: more ``(owner, name)`` pairs :func:`restricted_getattr` may serve (pickle
            stores nested classes and methods as ``getattr(owner, name)``).

    Example:
        >>> with safe_checkpoint_globals():
        ...     ckpt = torch.load('work_dirs/x/iter_10.pth', weights_only=True)
    """
    import torch

    token = _extra_attributes.set(_extra_attributes.get() | frozenset(attributes))
    try:
        with torch.serialization.safe_globals([*mmengine_safe_globals(), *extra]):
            yield
    finally:
        _extra_attributes.reset(token)


def unsafe_globals(file: str | os.PathLike | io.IOBase, extra: list | tuple = ()) -> list[str]:
    """Globals a ``torch.save`` file needs beyond the allow-list (read statically; runs nothing)."""
    import torch

    with safe_checkpoint_globals(extra):
        return torch.serialization.get_unsafe_globals_in_checkpoint(file)


def _refusal(name: str, err: pickle.UnpicklingError, needed: list[str]) -> UnsafeCheckpointError:
    if needed:
        detail = f'it needs {", ".join(needed)}'
    else:  # torch wraps the unpickler's reason in a long message
        reason = str(err).partition('WeightsUnpickler error:')[2].strip() or str(err)
        detail = reason.splitlines()[0].rstrip('.')
    return UnsafeCheckpointError(
        f'Refusing to load checkpoint {name}: {detail}, which tgl_mm does not allow in a '
        'weights-only load (the file may run code when unpickled). Nothing in it was executed. '
        'If you trust the file and its author, convert it yourself, e.g. '
        '`torch.save(torch.load(path, weights_only=False)["state_dict"], new_path)`.')


def _load(source: Any, name: str, map_location: Any, extra: list | tuple) -> Any:
    import torch

    try:
        with safe_checkpoint_globals(extra):
            return torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        needed: list[str] = []
        with contextlib.suppress(Exception):
            if hasattr(source, 'seek'):
                source.seek(0)
            needed = unsafe_globals(source, extra)
        raise _refusal(name, err, needed) from None
    except (RuntimeError, EOFError) as err:  # truncated or not a torch.save file
        raise type(err)(f'cannot read checkpoint {name} (truncated or not written by '
                        f'torch.save?): {err}') from err


def load_checkpoint_file(filename: str | os.PathLike, map_location: Any = None,
                         extra_globals: list | tuple = ()) -> Any:
    """Load a local checkpoint weights-only with the mmengine allow-list.

    Args:
        filename: path of a ``torch.save`` file.
        map_location: as for :func:`torch.load`.
        extra_globals: more allowed globals (e.g. ShardedTensor classes for sharded checkpoints).

    Raises:
        FileNotFoundError: ``filename`` is not a file.
        UnsafeCheckpointError: the pickle references anything outside the allow-list.
    """
    path = Path(filename).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    return _load(path, str(filename), map_location, extra_globals)


def load_checkpoint_bytes(data: bytes, name: str, map_location: Any = None,
                          extra_globals: list | tuple = ()) -> Any:
    """Like :func:`load_checkpoint_file` for bytes fetched from ``name`` (a URL or object key)."""
    return _load(io.BytesIO(data), name, map_location, extra_globals)


# --- mmengine integration ----------------------------------------------------------------------
# (mmengine logs "Loads checkpoint by <name[10:]> backend", hence the load_from_*_safe names)

def load_from_local_safe(filename: str, map_location: Any = None) -> Any:
    return load_checkpoint_file(filename, map_location)


def load_from_http_safe(filename: str, map_location: Any = None, model_dir: str | None = None,
                    progress: bool = True) -> Any:
    """Download once into torch's hub cache (``$TORCH_HOME/hub/checkpoints``), then load safely."""
    import torch
    from mmengine.dist import barrier, get_dist_info

    cache = Path(model_dir or Path(torch.hub.get_dir()) / 'checkpoints')
    target = cache / os.path.basename(filename.split('?')[0])
    rank, world_size = get_dist_info()
    if rank == 0 and not target.is_file():
        with atomic_path(target) as tmp:
            torch.hub.download_url_to_file(filename, str(tmp), progress=progress)
    if world_size > 1:
        barrier()
    return load_checkpoint_file(target, map_location)


def load_from_backend_safe(filename: str, map_location: Any = None, backend: str = 'petrel') -> Any:
    from mmengine.fileio import get_file_backend

    file_backend = get_file_backend(filename, backend_args=dict(backend=backend))
    return load_checkpoint_bytes(file_backend.get(filename), filename, map_location)


_SCHEMES: dict[tuple[str, ...], Callable] = {
    ('',): load_from_local_safe,
    ('http://', 'https://'): load_from_http_safe,
    (r'(\S+\:)?s3://', r'(\S+\:)?petrel://'): load_from_backend_safe,
}


def _register_loaders(checkpoint_module: Any) -> None:
    loader_cls = checkpoint_module.CheckpointLoader
    for prefixes, loader in _SCHEMES.items():
        loader_cls.register_scheme(list(prefixes), loader, force=True)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Run ``callback(module)`` right after ``fullname`` is first imported (then step aside)."""

    def __init__(self, fullname: str, callback: Callable[[Any], None]) -> None:
        self.fullname = fullname
        self.callback = callback

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.fullname:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_patch(module: Any) -> None:
            exec_module(module)
            self.callback(module)

        spec.loader.exec_module = exec_then_patch  # type: ignore[method-assign]
        return spec


def install_safe_loaders() -> None:
    """Route mmengine's checkpoint loading (Runner ``load_from``/``resume``,
    ``mmengine.runner.load_checkpoint``) through the weights-only loaders of this module.

    Called when ``tgl_mm`` is imported. It does not import mmengine's runner itself (that costs
    seconds); if ``mmengine.runner.checkpoint`` is not imported yet, the loaders are installed the
    moment it is. Idempotent.
    """
    target = 'mmengine.runner.checkpoint'
    if target in sys.modules:
        _register_loaders(sys.modules[target])
    elif not any(isinstance(f, _AfterImport) and f.fullname == target for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(target, _register_loaders))


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic writes (temporary file + rename).

    A crash while writing leaves the previous file (if any) untouched and no partial file under
    the target name. Select it with ``backend_args=dict(backend='tgl_atomic_local')``.
    """

    def put(self, obj: bytes, filepath: str | Path) -> None:
        with atomic_path(filepath) as tmp, open(tmp, 'wb') as f:
            f.write(obj)

    def put_text(self, obj: str, filepath: str | Path, encoding: str = 'utf-8') -> None:
        with atomic_path(filepath) as tmp, open(tmp, 'w', encoding=encoding) as f:
            f.write(obj)


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)
