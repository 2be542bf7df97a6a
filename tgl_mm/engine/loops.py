"""Train loops whose resumed runs reproduce the uninterrupted run exactly, without replaying data.

Registered in the ``tgl_mm`` scope under mmengine's names, so every config with
``default_scope = 'tgl_mm'`` and ``train_cfg.type='IterBasedTrainLoop'`` (or
``'EpochBasedTrainLoop'``) uses them. Compared with mmengine's loops they

- key every training sample's randomness by ``(seed, epoch, index)``
  (:mod:`tgl_mm.datasets.sample_rng`) by wrapping the data sampler in a
  :class:`~tgl_mm.datasets.sample_rng.KeyedSampler`;
- on resume (iteration-based), position the sampler at the resumed batch instead of loading and
  discarding every batch already trained on (mmengine's "Advance dataloader N steps");
- on resume, put back the generator states saved in the checkpoint
  (:mod:`tgl_mm.engine.rng_state`) at the point the uninterrupted run had them;
- (``ValLoop``) validate without changing the generators' states, so a run resumed from a
  checkpoint written just before a validation draws what the uninterrupted run draws after it.

A sampler without ``seed``/``epoch`` or length (e.g. ``InfiniteSampler``) is left alone and the
iteration-based loop falls back to mmengine's replay.
"""
from __future__ import annotations

import logging
from typing import Any

from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop as MMEpochBasedTrainLoop
from mmengine.runner import IterBasedTrainLoop as MMIterBasedTrainLoop
from mmengine.runner import ValLoop as MMValLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from torch.utils.data import DataLoader

from tgl_mm.datasets.sample_rng import KeyedSampler, is_keyable
from tgl_mm.registry import LOOPS

from .rng_state import RNG_STATE_KEY, preserved_rng_state, restore_rng_state

__all__ = ['EpochBasedTrainLoop', 'IterBasedTrainLoop', 'RESUMED_RNG_INFO', 'ValLoop',
           'resume_position']

#: message-hub info key under which ``AtomicCheckpointHook`` leaves a resumed checkpoint's
#: generator states for the train loop
RESUMED_RNG_INFO = f'resumed_{RNG_STATE_KEY}'


def _build_dataloader(runner: Any, dataloader: DataLoader | dict) -> DataLoader:
    """The loop's dataloader (built as mmengine's ``BaseLoop`` does), its sampler keyed."""
    if isinstance(dataloader, dict):
        diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
        dataloader = runner.build_dataloader(dataloader, seed=runner.seed,
                                             diff_rank_seed=diff_rank_seed)
    batch_sampler = getattr(dataloader, 'batch_sampler', None)
    sampler = getattr(batch_sampler, 'sampler', None)
    if sampler is not None and not isinstance(sampler, KeyedSampler) and is_keyable(sampler):
        batch_sampler.sampler = KeyedSampler(sampler)
    return dataloader


def _restore_resumed_rng(runner: Any) -> None:
    """Put back the generator states of the checkpoint just resumed from (once), if it has any."""
    state = runner.message_hub.get_info(RESUMED_RNG_INFO)
    if state is None:
        print_log('the resumed checkpoint holds no generator states (written before tgl_mm saved '
                  'them): random draws after resuming differ from an uninterrupted run',
                  logger='current', level=logging.WARNING)
        return
    runner.message_hub.update_info(RESUMED_RNG_INFO, None, resumed=False)
    restore_rng_state(state)


def resume_position(done: int, batches_per_epoch: int) -> tuple[int, int]:
    """``(epoch, batches to skip in it)`` after ``done`` iterations of ``batches_per_epoch``.

    At an epoch boundary the position is the *end* of the previous epoch, so the next batch
    starts the new epoch exactly as in an uninterrupted run (same ``set_epoch`` call, same fresh
    data-loader iterator).
    """
    if batches_per_epoch < 1:
        raise ValueError(f'the train dataloader has no batch (length {batches_per_epoch})')
    if done <= 0:
        return 0, 0
    epoch, batch = divmod(done, batches_per_epoch)
    return (epoch - 1, batches_per_epoch) if batch == 0 else (epoch, batch)


@LOOPS.register_module(name=['IterBasedTrainLoop', 'ResumableIterBasedTrainLoop'])
class IterBasedTrainLoop(MMIterBasedTrainLoop):
    """mmengine's ``IterBasedTrainLoop`` with exact, replay-free resuming (see the module doc).

    Same arguments as mmengine's loop.
    """

    def __init__(self, runner: Any, dataloader: DataLoader | dict, *args: Any,
                 **kwargs: Any) -> None:
        super().__init__(runner, _build_dataloader(runner, dataloader), *args, **kwargs)

    def _fast_forward(self) -> None:
        """Position the data at iteration ``self._iter`` without loading the batches before it."""
        sampler = self.dataloader.batch_sampler.sampler
        if not isinstance(sampler, KeyedSampler) or self.dataloader.batch_size is None:
            # a custom batch sampler or an unkeyed sampler: mmengine's replay
            print_log(f'Advance dataloader {self._iter} steps to skip data that has already been '
                      f'trained ({type(sampler).__name__} with batch size '
                      f'{self.dataloader.batch_size} cannot be positioned)',
                      logger='current', level=logging.WARNING)
            for _ in range(self._iter):
                next(self.dataloader_iterator)
            return
        epoch, batch = resume_position(self._iter, len(self.dataloader))
        sampler.set_epoch(epoch)
        sampler.skip_next(batch * self.dataloader.batch_size)
        self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)
        self.dataloader_iterator._epoch = epoch
        print_log(f'Resuming at iteration {self._iter}: epoch {epoch} of the data, batch {batch}',
                  logger='current')

    def run(self) -> Any:
        """Launch training (mmengine's loop, with the resume handling of this module)."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._fast_forward()
            _restore_resumed_rng(self.runner)
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model


@LOOPS.register_module(name=['EpochBasedTrainLoop', 'ResumableEpochBasedTrainLoop'])
class EpochBasedTrainLoop(MMEpochBasedTrainLoop):
    """mmengine's ``EpochBasedTrainLoop`` with keyed sample randomness, generator states
    restored on resume and validation that leaves the generators alone. Same arguments."""

    def __init__(self, runner: Any, dataloader: DataLoader | dict, *args: Any,
                 **kwargs: Any) -> None:
        super().__init__(runner, _build_dataloader(runner, dataloader), *args, **kwargs)
        self._rng_pending = False

    def run(self) -> Any:
        self._rng_pending = self._epoch > 0 or self._iter > 0
        return super().run()

    def run_epoch(self) -> None:
        if self._rng_pending:
            self._rng_pending = False
            _restore_resumed_rng(self.runner)
        super().run_epoch()


@LOOPS.register_module(name=['ValLoop', 'RNGPreservingValLoop'])
class ValLoop(MMValLoop):
    """mmengine's ``ValLoop`` that leaves the global generators as it found them (creating a
    data-loader iterator draws from torch's generator). Same arguments."""

    def run(self) -> dict:
        with preserved_rng_state():
            return super().run()
