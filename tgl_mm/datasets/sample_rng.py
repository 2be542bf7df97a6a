"""Per-sample randomness: every training sample draws from its own generator.

A training sample's random choices (frames, flip, colour jitter) come from
``numpy.random.default_rng((seed, epoch, index))`` instead of numpy's global generator. So a
sample's augmentation depends only on the run's seed, the epoch and the dataset index -- not on
which worker loads it, how many samples came before it, or whether the run was resumed. That is
what lets a resumed run skip the batches it has already trained on without loading them
(:class:`tgl_mm.engine.IterBasedTrainLoop`) and still reach the uninterrupted run's weights.

- :class:`KeyedSampler` wraps a dataset sampler (mmengine ``DefaultSampler``) and yields
  :class:`SampleIndex` values: plain ints carrying their ``(seed, epoch, index)`` key.
- ``BaseRVOSDataset.prepare_data`` turns the key into ``results['rng']``; transforms draw from
  :func:`sample_rng` (numpy's global generator when the sample has no key, e.g. a pipeline
  called by hand or at test time).
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Sized
from typing import Any

import numpy as np
from torch.utils.data import Sampler

__all__ = ['KeyedSampler', 'RNG_KEY', 'SampleIndex', 'is_keyable', 'sample_rng']

#: results key holding the sample's generator
RNG_KEY = 'rng'

Rng = np.random.Generator | np.random.RandomState


class SampleIndex(int):
    """A dataset index that carries the key of its sample's randomness.

    Behaves as ``int(index)`` everywhere (indexing, arithmetic); ``key`` is a tuple of
    non-negative ints, usually ``(seed, epoch, index)``.
    """

    key: tuple[int, ...]

    def __new__(cls, index: int, key: tuple[int, ...]) -> SampleIndex:
        obj = super().__new__(cls, index)
        obj.key = tuple(int(k) for k in key)
        return obj

    def __reduce__(self) -> tuple:  # keep the key when sent to a data-loading worker
        return SampleIndex, (int(self), self.key)

    def __repr__(self) -> str:
        return f'SampleIndex({int(self)}, key={self.key})'


def sample_rng(results: dict) -> Rng:
    """The generator a transform draws from: the sample's own, else numpy's global one.

    Both kinds offer ``random()``, ``uniform()`` and ``choice()``.
    """
    rng = results.get(RNG_KEY)
    return np.random.mtrand._rand if rng is None else rng


class KeyedSampler(Sampler):
    """Yield the indices of ``sampler`` as :class:`SampleIndex` ``(seed, epoch, index)``.

    ``sampler`` must be finite and expose ``seed`` and ``epoch`` (mmengine's
    ``DefaultSampler`` does). :meth:`skip_next` makes the next pass start ``n`` indices in,
    without touching the skipped samples (used to resume mid-epoch).
    """

    def __init__(self, sampler: Any) -> None:
        if not is_keyable(sampler):
            raise TypeError(f'{type(sampler).__name__} needs seed, epoch and a length to be keyed')
        self.sampler = sampler
        self._skip = 0

    def skip_next(self, n: int) -> None:
        """Start the next pass at position ``n`` of the epoch's index order."""
        self._skip = int(n)

    def __iter__(self) -> Iterator[SampleIndex]:
        skip, self._skip = self._skip, 0
        seed, epoch = int(self.sampler.seed), int(self.sampler.epoch)
        for index in itertools.islice(iter(self.sampler), skip, None):
            yield SampleIndex(index, (seed, epoch, int(index)))

    def __len__(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)


def is_keyable(sampler: Any) -> bool:
    """True when ``sampler`` is finite with integer ``seed`` and ``epoch`` attributes."""
    return (isinstance(sampler, Sized) and isinstance(getattr(sampler, 'seed', None), int)
            and isinstance(getattr(sampler, 'epoch', None), int))
