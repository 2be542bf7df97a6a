"""Checkpoints of a model's trainable parts (e.g. the adapter, the text prompt and the MDP head).

A TGL model is mostly frozen encoders that load from their own files (SAM2 ``.pt``, a Hugging
Face text encoder). A stage that trains only the small parts, such as the referring-image
pretraining before MeViS-M (paper A.3, RefCOCO), is passed on as those parts alone: a few MB
instead of the whole model. File layout (``torch.save``, read weights-only)::

    {"state_dict": {"neck.layers.0....": tensor, "prompt....": tensor, "head....": tensor},
     "meta": {"parts": ["neck", "prompt", "head"]}}

Loading is strict per part: every part named in the file must match the model's part key for
key and shape; the model's other parts are left as they are. A model that has grown a module the
file's stage did not have (e.g. the adapter's HSA, ``neck.layers.<i>.hsa.*``, after a
pretraining without it) is refused, naming the missing keys, unless the caller lists their
prefixes in ``allow_missing``: those keys then keep the model's initialisation.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from tgl_mm.utils.checkpoint import (
    CheckpointContentError,
    CheckpointMismatchError,
    load_checkpoint_file,
    state_dict_mismatches,
)
from tgl_mm.utils.fileio import atomic_path

from .sam2_checkpoint import file_sha256

__all__ = ['save_model_parts', 'load_model_parts', 'new_module_prefixes']


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


def new_module_prefixes(missing: Sequence[str], present: Sequence[str]) -> list[str]:
    """For model keys a checkpoint lacks, the shortest key prefixes (ending in ``.``) that no
    checkpoint key starts with: the modules the checkpoint's model did not have, e.g.
    ``['neck.layers.0.hsa.']`` for every key of a new HSA module. A key whose every prefix is
    present elsewhere is given whole."""
    prefixes: set[str] = set()
    present_prefixes = {k[:i + 1] for k in present for i, ch in enumerate(k) if ch == '.'}
    for key in missing:
        parts = key.split('.')
        for n in range(1, len(parts)):
            prefix = '.'.join(parts[:n]) + '.'
            if prefix not in present_prefixes:
                prefixes.add(prefix)
                break
        else:
            prefixes.add(key)
    return sorted(prefixes)


def load_model_parts(model: nn.Module, path: str | os.PathLike,
                     sha256: str | None = None, allow_missing: Sequence[str] = ()
                     ) -> tuple[str, ...]:
    """Load a :func:`save_model_parts` file into ``model``; return the parts loaded.

    Args:
        model: the model (its top-level children are the parts).
        path: the parts file.
        sha256: expected hex SHA-256 of the file, or None.
        allow_missing: prefixes of model keys (``'neck.layers.0.hsa.'``) that a part in the file
            may lack; those weights keep their initialisation (logged). Each prefix must name
            some model key.

    Raises:
        FileNotFoundError: no such file.
        ValueError: its SHA-256 is not ``sha256``.
        CheckpointContentError: not a parts file.
        CheckpointMismatchError: a part does not fit the model (the first mismatches listed;
            for missing keys, the ``allow_missing`` prefixes that would accept them).
    """
    path = os.fspath(path)
    allow_missing = tuple(allow_missing)
    model_keys = list(model.state_dict())
    unknown = [p for p in allow_missing if not any(k.startswith(p) for k in model_keys)]
    if unknown:
        raise ValueError(f'allow_missing prefixes {unknown} name no weight of '
                         f'{type(model).__name__}')
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
    kept: list[str] = []
    for part in parts:
        given = {k[len(part) + 1:]: v for k, v in state.items() if k.startswith(part + '.')}
        allowed = [p[len(part) + 1:] for p in allow_missing if p.startswith(part + '.')]
        expected = modules[part].state_dict()
        problems = state_dict_mismatches(expected, given, allowed)
        if problems:
            missing = [f'{part}.{k}' for k in expected
                       if k not in given and not k.startswith(tuple(allowed))]
            hint = '' if not missing else (
                f'. If the file comes from a stage without those modules, start them at their '
                f'initialisation with pretrained.allow_missing='
                f'{new_module_prefixes(missing, list(state))}')
            raise CheckpointMismatchError(f'{path!r}, part {part!r} does not fit the model: '
                                          + '; '.join(problems) + hint)
        kept += [f'{part}.{k}' for k in expected if k not in given]
    for part in parts:
        given = {k[len(part) + 1:]: v for k, v in state.items() if k.startswith(part + '.')}
        modules[part].load_state_dict(given, strict=not allow_missing)
    if kept:
        print_log(f'{path}: {len(kept)} model weights not in the file keep their '
                  f'initialisation (allow_missing {list(allow_missing)}): '
                  f'{new_module_prefixes(kept, list(state))}', logger='current')
    return tuple(parts)
