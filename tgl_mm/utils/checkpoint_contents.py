"""What a loaded checkpoint holds, and whether it fits a model: its state dict (keys revised as
mmengine revises them), the differences to a model's, training state for resuming, and a strict
load that names what does not fit. (Loading the file safely: :mod:`tgl_mm.utils.checkpoint`.)"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ['DEFAULT_REVISE_KEYS', 'CheckpointContentError', 'CheckpointMismatchError',
           'checkpoint_state_dict', 'state_dict_mismatches', 'check_checkpoint_fits',
           'check_training_state', 'load_weights_into']


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model (missing/unexpected keys, wrong shapes)."""


class CheckpointContentError(ValueError):
    """A checkpoint file is not what the operation needs: not a ``torch.save`` file, truncated,
    without a state dict, or (for resuming) without training state."""


#: mmengine's default key revision when loading into a bare model (DDP's ``module.`` prefix)
DEFAULT_REVISE_KEYS: tuple[tuple[str, str], ...] = ((r'^module\.', ''),)
#: how many mismatching keys an error lists per kind
MISMATCH_EXAMPLES = 5


def checkpoint_state_dict(checkpoint: Any, name: str,
                          revise_keys: Sequence[tuple[str, str]] = DEFAULT_REVISE_KEYS
                          ) -> dict[str, Any]:
    """The model weights of a loaded checkpoint, keys revised as mmengine revises them.

    A Runner checkpoint holds them under ``state_dict``; a plain state dict is its own.
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, Mapping) else None
    if not isinstance(state, Mapping):
        raise CheckpointContentError(
            f'checkpoint {name} holds {type(state if state is not None else checkpoint).__name__}'
            ', not a state dict of tensors')
    out = dict(state)
    for pattern, repl in revise_keys:
        out = {re.sub(pattern, repl, k): v for k, v in out.items()}
    return out


def _examples(items: Sequence[str]) -> str:
    shown = ', '.join(items[:MISMATCH_EXAMPLES])
    return shown + (', ...' if len(items) > MISMATCH_EXAMPLES else '')


def state_dict_mismatches(expected: Mapping[str, Any], given: Mapping[str, Any],
                          allow_missing: Sequence[str] = ()) -> list[str]:
    """Human-readable differences between a model's state dict and a checkpoint's (empty when
    the checkpoint fits): missing keys (except those starting with an ``allow_missing`` prefix),
    unexpected keys, shape mismatches, each with examples."""
    missing = [k for k in expected if k not in given and not k.startswith(tuple(allow_missing))]
    unexpected = [k for k in given if k not in expected]
    shapes = [f'{k} (checkpoint {tuple(getattr(given[k], "shape", ()))}, model '
              f'{tuple(expected[k].shape)})' for k in expected
              if k in given and tuple(getattr(given[k], 'shape', ())) != tuple(expected[k].shape)]
    parts = []
    for label, items in (('missing', missing), ('unexpected', unexpected),
                         ('of the wrong shape', shapes)):
        if items:
            parts.append(f'{len(items)} {label}: {_examples(items)}')
    return parts


def check_checkpoint_fits(model: Any, checkpoint: Any, name: str,
                          revise_keys: Sequence[tuple[str, str]] = DEFAULT_REVISE_KEYS,
                          allow_missing: Sequence[str] = ()) -> None:
    """Raise :class:`CheckpointMismatchError` unless the checkpoint's weights match ``model``'s
    state dict key for key and shape for shape (model keys under an ``allow_missing`` prefix may
    be absent: parts the checkpoint's model did not have, e.g. ``'tam.'``)."""
    expected = model.state_dict()
    problems = state_dict_mismatches(
        expected, checkpoint_state_dict(checkpoint, name, revise_keys), allow_missing)
    if problems:
        raise CheckpointMismatchError(
            f'checkpoint {name} does not fit {type(model).__name__} ({len(expected)} tensors): '
            + '; '.join(problems) + '. Is it for another config? To load the matching part '
            'anyway use --non-strict (tools), load_strict=False (config) or strict=False '
            '(init_model).')


def check_training_state(checkpoint: Any, name: str) -> None:
    """Raise :class:`CheckpointContentError` unless ``checkpoint`` was written by training
    (``meta`` with ``epoch`` and ``iter``), as resuming needs."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    if not isinstance(meta, Mapping) or 'epoch' not in meta or 'iter' not in meta:
        raise CheckpointContentError(
            f'checkpoint {name} has no training state (no meta/epoch/iter: weights only?), so '
            'there is nothing to resume. To start a new training from these weights use '
            f'--cfg-options load_from={name} without --resume.')


def load_weights_into(model: Any, checkpoint: Any, name: str, strict: bool = True,
                      revise_keys: Sequence[tuple[str, str]] = DEFAULT_REVISE_KEYS,
                      allow_missing: Sequence[str] = ()) -> Any:
    """Load a loaded checkpoint's weights into ``model`` (mmengine's loader), after
    :func:`check_checkpoint_fits` when ``strict``; non-strict loads keep mmengine's warning."""
    from mmengine.runner.checkpoint import _load_checkpoint_to_model

    if strict:
        check_checkpoint_fits(model, checkpoint, name, revise_keys, allow_missing)
    return _load_checkpoint_to_model(model, checkpoint, strict=False,
                                     revise_keys=list(revise_keys))
