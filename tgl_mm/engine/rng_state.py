"""Random generator states saved in checkpoints, so a resumed run continues the same draws.

mmengine re-seeds every generator when it resumes, so the dropout masks (torch) and anything
drawn from Python's or numpy's global generators after a resume differ from the uninterrupted
run's. ``AtomicCheckpointHook`` stores :func:`capture_rng_state` in each checkpoint under
``rng_state``; tgl_mm's train loops put it back with :func:`restore_rng_state` where the
uninterrupted run would have had it (see :mod:`tgl_mm.engine.loops`).
"""
from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

__all__ = ['RNG_STATE_KEY', 'capture_rng_state', 'preserved_rng_state', 'restore_rng_state']

#: checkpoint key of the generator states
RNG_STATE_KEY = 'rng_state'


def _cuda_ready() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def capture_rng_state() -> dict[str, Any]:
    """The states of Python's, numpy's and torch's (CPU and CUDA) global generators.

    Holds only tuples, ints, numpy arrays and tensors: loadable weights-only.
    """
    return dict(python=random.getstate(), numpy=np.random.get_state(),
                torch=torch.get_rng_state(),
                cuda=torch.cuda.get_rng_state_all() if _cuda_ready() else [])


def restore_rng_state(state: dict[str, Any]) -> None:
    """Set the global generators to ``state`` (from :func:`capture_rng_state`)."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(tuple(state['numpy']))
    torch.set_rng_state(state['torch'])
    if state.get('cuda') and _cuda_ready():
        torch.cuda.set_rng_state_all(state['cuda'])


@contextlib.contextmanager
def preserved_rng_state() -> Iterator[None]:
    """Run the block without changing the global generators' states (e.g. validation inside
    training, so a run resumed after a validation draws what the uninterrupted one draws)."""
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)
