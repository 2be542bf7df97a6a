"""Checkpoints of a model's trainable parts (e.g. the adapter, the text prompt and the MDP head).

A TGL model is mostly frozen encoders that load from their own files (SAM2 ``.pt``, a Hugging
Face text encoder). A stage that trains only the small parts, such as the referring-image
pretraining before MeViS-M (paper A.3, RefCOCO), is passed on as those parts alone: a few MB
instead of the whole model. File layout (``torch.save``, read weights-only)::

    {"state_dict": {"neck.layers.0....": tensor, "prompt....": tensor, "head....": tensor},
     "meta": {"parts": ["neck", "prompt", "head"]}}

Loading is strict per part: every part named in the file must match the model's part key for
key and shape; the model's other parts are left as they are.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from tgl_mm.utils.checkpoint import (
    CheckpointContentError,
    CheckpointMismatchError,
    load_checkpoint_file,
    state_dict_mismatches,
)
from tgl_mm.utils.fileio import atomic_path

from .sam2_checkpoint import file_sha256

__all__ = ['save_model_parts', 'load_model_parts']


def save_model_parts(state_dict: Mapping[str, Tensor], path: str | os.PathLike,
                     parts: Sequence[str]) -> dict[str, Tensor]:
    """Write the ``parts`` (top-level module names) of a model state dict to ``path``
    atomically; return what was written. A part with no key in ``state_dict`` is an error."""
    parts = tuple(parts)
    if not parts:
        raise ValueError('save_model_parts: no parts given')
    out = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()
           if k.split('.', 1)[0] in parts}
    empty = [p for p in parts if not any(k.startswith(p + '.') for k in out)]
    if empty:
        raise ValueError(f'save_model_parts: the state dict has no weights of {empty} (its parts: '
                         f'{sorted({k.split(".", 1)[0] for k in state_dict})})')
    with atomic_path(path) as tmp:
        torch.save({'state_dict': out, 'meta': {'parts': list(parts)}}, tmp)
    return out


def load_model_parts(model: nn.Module, path: str | os.PathLike,
                     sha256: str | None = None) -> tuple[str, ...]:
    """Load a :func:`save_model_parts` file into ``model``; return the parts loaded.

    Raises:
        FileNotFoundError: no such file.
        ValueError: its SHA-256 is not ``sha256``.
        CheckpointContentError: not a parts file.
        CheckpointMismatchError: a part does not fit the model (the first mismatches listed).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'parts checkpoint not found: {path!r}')
    if sha256 is not None:
        got = file_sha256(path)
        if got != sha256.lower():
            raise ValueError(f'{path!r} has SHA-256 {got}, expected {sha256}: the file is not the '
                             'one this config was made for')
    ckpt: Any = load_checkpoint_file(path, map_location='cpu')
    meta = ckpt.get('meta') if isinstance(ckpt, Mapping) else None
    state = ckpt.get('state_dict') if isinstance(ckpt, Mapping) else None
    parts = meta.get('parts') if isinstance(meta, Mapping) else None
    if not isinstance(state, Mapping) or not isinstance(parts, list) or not parts:
        raise CheckpointContentError(f'{path!r} is not a parts checkpoint (state_dict and '
                                     'meta.parts); write one with tools/export_parts.py')
    stray = [k for k in state if k.split('.', 1)[0] not in parts]
    if stray:
        raise CheckpointContentError(f'{path!r} holds weights outside its parts {parts}: '
                                     f'{stray[:5]}')
    modules = dict(model.named_children())
    for part in parts:
        if part not in modules:
            raise CheckpointMismatchError(f'{path!r} holds part {part!r}, which '
                                          f'{type(model).__name__} does not have (parts: '
                                          f'{sorted(modules)})')
    for part in parts:
        given = {k[len(part) + 1:]: v for k, v in state.items() if k.startswith(part + '.')}
        problems = state_dict_mismatches(modules[part].state_dict(), given)
        if problems:
            raise CheckpointMismatchError(f'{path!r}, part {part!r} does not fit the model: '
                                          + '; '.join(problems))
    for part in parts:
        given = {k[len(part) + 1:]: v for k, v in state.items() if k.startswith(part + '.')}
        modules[part].load_state_dict(given, strict=True)
    return tuple(parts)
