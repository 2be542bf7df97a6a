"""Safe checkpoint loading and atomic checkpoint saving for mmengine.

Loading
    mmengine 0.10.7 loads checkpoints with a bare ``torch.load``. Since torch 2.6 that is a
    weights-only load, which refuses the few non-tensor objects an mmengine checkpoint holds
    (the message hub's ``HistoryBuffer`` and its numpy arrays), so ``Runner.resume`` fails; before
    torch 2.6 the same call unpickled anything, which runs arbitrary code from the file.
    :func:`install_safe_loaders` replaces mmengine's checkpoint loaders (local files, http(s),
    s3/petrel) with :func:`load_checkpoint_file`-style loaders that always pass
    ``weights_only=True`` and allow exactly :func:`mmengine_safe_globals` -- nothing else, and
    never a fallback to full unpickling. (Whether a loaded checkpoint fits a model:
    :mod:`tgl_mm.utils.checkpoint_contents`, re-exported here.)

Saving
    :class:`AtomicLocalBackend` is mmengine's local file backend whose writes go to a temporary
    file in the target directory, renamed onto the target only when complete
    (``tgl_mm.engine.AtomicCheckpointHook`` selects it for checkpoints, after
    :func:`register_atomic_backend`).

Who installs it
    Importing this module (or any part of tgl_mm) changes nothing in mmengine. The entry points
    that load or save checkpoints call :func:`install_checkpoint_safety` (both of the above,
    idempotent): ``tgl_mm.engine.TGLRunner`` and ``tgl_mm.engine.build_runner`` (so
    ``tools/train.py`` and ``tools/test.py``), ``tgl_mm.apis.init_model`` (``tools/infer.py``,
    ``tools/app.py``), ``tools/train_tam.py``, ``tools/analysis/tam_predictions.py`` and
    ``tgl_mm.utils.register_all_modules``. :func:`load_checkpoint_file` is weights-only on its own
    and needs nothing installed.
"""
from __future__ import annotations

import contextlib
import contextvars
import io
import os
import pickle
import re
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mmengine.fileio import LocalBackend, register_backend

from .checkpoint_contents import (
    DEFAULT_REVISE_KEYS,
    CheckpointContentError,
    CheckpointMismatchError,
    check_checkpoint_fits,
    check_training_state,
    checkpoint_state_dict,
    load_weights_into,
    state_dict_mismatches,
)
from .fileio import atomic_path

__all__ = [
    'DEFAULT_REVISE_KEYS', 'ATOMIC_BACKEND', 'AtomicLocalBackend', 'CheckpointContentError',
    'CheckpointMismatchError',
    'UnsafeCheckpointError', 'check_checkpoint_fits', 'check_training_state',
    'checkpoint_state_dict', 'install_checkpoint_safety', 'install_safe_loaders',
    'load_weights_into', 'state_dict_mismatches', 'load_checkpoint_bytes',
    'load_checkpoint_file', 'mmengine_safe_globals', 'register_atomic_backend',
    'restricted_getattr', 'safe_checkpoint_globals', 'safe_loaders_installed',
    'uninstall_safe_loaders', 'unsafe_globals',
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


#: what re-saving a checkpoint safely looks like (never a full unpickling)
_RESAVE_ADVICE = ('Nothing in it was executed. tgl_mm loads only tensors, plain containers and '
                  'an allow-list of classes (docs/checkpoints.md); re-save the weights where the '
                  'file was made, as a plain state dict: `torch.save(model.state_dict(), path)`.')


def _refusal(name: str, err: pickle.UnpicklingError, needed: list[str]) -> UnsafeCheckpointError:
    # the static scan reads zip files only; for a legacy-format file take the unpickler's word
    needed = needed or re.findall(r'unsupported GLOBAL ([\w.]+)', str(err))
    if needed:
        return UnsafeCheckpointError(
            f'Refusing to load checkpoint {name}: it needs {", ".join(needed)}, which tgl_mm does '
            f'not allow in a weights-only load (the file may run code when unpickled). '
            + _RESAVE_ADVICE)
    # torch wraps the unpickler's reason in a long message that advises weights_only=False
    reason = str(err).partition('WeightsUnpickler error:')[2].strip() or str(err)
    lines = [ln.strip().rstrip('.') for ln in reason.splitlines()
             if ln.strip() and 'weights_only' not in ln]
    detail = f' ({lines[0]})' if lines else ''
    return UnsafeCheckpointError(
        f'Refusing to load checkpoint {name}: its pickle is malformed or uses operations outside '
        f'a weights-only load{detail}. ' + _RESAVE_ADVICE)


def _looks_like_torch_save(head: bytes) -> bool:
    """A ``torch.save`` file is a zip archive (``PK``) or, in the legacy format, a pickle
    (protocol 2+ starts with ``0x80``)."""
    return head[:2] == b'PK' or head[:1] == b'\x80'


def _check_format(head: bytes, name: str) -> None:
    if not head:
        raise CheckpointContentError(f'checkpoint {name} is empty (0 bytes)')
    if not _looks_like_torch_save(head):
        raise CheckpointContentError(
            f'checkpoint {name} is not a torch.save file (neither a zip archive nor a pickle; '
            f'it starts with {head[:8]!r})')


def _load(source: Any, name: str, map_location: Any, extra: list | tuple) -> Any:
    import torch

    if hasattr(source, 'getvalue'):
        _check_format(source.getvalue()[:8], name)
    else:
        with open(source, 'rb') as f:
            _check_format(f.read(8), name)
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
    except (RuntimeError, EOFError, IndexError, KeyError, ValueError, OverflowError,
            struct.error) as err:
        # truncated, damaged or not a torch.save file: the weights-only unpickler lets the
        # low-level error of a malformed opcode through (e.g. IndexError on an empty stack)
        reason = (str(err).splitlines()[0] if str(err) else '') or 'unexpected end of file'
        reason = reason if isinstance(err, (RuntimeError, EOFError)) \
            else f'malformed pickle: {type(err).__name__}: {reason}'
        raise CheckpointContentError(
            f'cannot read checkpoint {name}: truncated or damaged ({reason})') from None


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


#: mmengine's loaders that :func:`install_safe_loaders` replaced, by prefix (None: the prefix
#: had no loader), for :func:`uninstall_safe_loaders`
_replaced_loaders: dict[str, Callable | None] = {}


def _checkpoint_loader() -> Any:
    from mmengine.runner.checkpoint import CheckpointLoader

    return CheckpointLoader


def safe_loaders_installed() -> bool:
    """Whether mmengine's checkpoint loaders are this module's weights-only ones right now."""
    schemes = _checkpoint_loader()._schemes
    return all(schemes.get(prefix) is loader
               for prefixes, loader in _SCHEMES.items() for prefix in prefixes)


def install_safe_loaders() -> None:
    """Route mmengine's checkpoint loading (Runner ``load_from``/``resume``,
    ``mmengine.runner.load_checkpoint``) through the weights-only loaders of this module.

    Nothing installs them on import: the entry points that load checkpoints call this (through
    :func:`install_checkpoint_safety`): :class:`tgl_mm.engine.TGLRunner` and
    :func:`tgl_mm.engine.build_runner`, :func:`tgl_mm.apis.init_model`,
    :func:`tgl_mm.utils.register_all_modules` and the tools. Imports ``mmengine.runner``.
    Idempotent; :func:`uninstall_safe_loaders` puts mmengine's loaders back.
    """
    loader_cls = _checkpoint_loader()
    if safe_loaders_installed():
        return
    for prefixes, loader in _SCHEMES.items():
        for prefix in prefixes:
            current = loader_cls._schemes.get(prefix)
            if current is not loader:
                _replaced_loaders.setdefault(prefix, current)
        loader_cls.register_scheme(list(prefixes), loader, force=True)


def uninstall_safe_loaders() -> None:
    """Put back the loaders :func:`install_safe_loaders` replaced (mmengine's own, unless
    something else had replaced them first); a prefix whose loader is no longer ours (replaced
    since) is left alone. Idempotent."""
    loader_cls = _checkpoint_loader()
    ours = {prefix: loader for prefixes, loader in _SCHEMES.items() for prefix in prefixes}
    for prefix, original in _replaced_loaders.items():
        if loader_cls._schemes.get(prefix) is not ours[prefix]:
            continue
        if original is None:
            loader_cls._schemes.pop(prefix, None)
        else:
            loader_cls.register_scheme(prefix, original, force=True)
    _replaced_loaders.clear()


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


def register_atomic_backend() -> None:
    """Register :class:`AtomicLocalBackend` in mmengine's file backends as
    :data:`ATOMIC_BACKEND` (idempotent). Whoever selects the backend calls this first
    (:class:`tgl_mm.engine.AtomicCheckpointHook`, :func:`install_checkpoint_safety`); importing
    tgl_mm does not."""
    register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


def install_checkpoint_safety() -> None:
    """Weights-only checkpoint loading (:func:`install_safe_loaders`) and the atomic file
    backend (:func:`register_atomic_backend`): what tgl_mm's runner, tools and
    :func:`~tgl_mm.apis.init_model` install before they load or save checkpoints. Idempotent."""
    install_safe_loaders()
    register_atomic_backend()


# --- does a checkpoint fit the model? ----------------------------------------------------------
