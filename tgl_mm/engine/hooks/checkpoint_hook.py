"""Checkpoint hook whose saves survive a crash at any moment."""
from __future__ import annotations

import os.path as osp

from mmengine.dist import barrier, get_world_size, is_main_process
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.hooks import CheckpointHook

from tgl_mm.registry import HOOKS
from tgl_mm.utils.checkpoint import ATOMIC_BACKEND, register_atomic_backend
from tgl_mm.utils.fileio import atomic_write_text

from ..loops import RESUMED_RNG_INFO
from ..rng_state import RNG_STATE_KEY, capture_rng_state


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with crash-safe saving; same arguments and behaviour.

    - Checkpoint files on local disk are written to a temporary file and renamed into place
      (:class:`tgl_mm.utils.checkpoint.AtomicLocalBackend`), so a crash never leaves a truncated
      ``iter_N.pth``/``epoch_N.pth`` (regular and best checkpoints alike).
    - ``work_dir/last_checkpoint`` is rewritten atomically, only after the checkpoint it names is
      complete (on every rank, for strategies that save shards).
    - Checkpoints beyond ``max_keep_ckpts`` are deleted only after the new one is complete
      (mmengine deletes first, so a crash mid-save could leave nothing to resume from).

    - Each checkpoint also holds the global generator states (``rng_state``,
      :func:`tgl_mm.engine.rng_state.capture_rng_state`); on resume tgl_mm's train loops put
      them back (:mod:`tgl_mm.engine.loops`), so the resumed run draws what the uninterrupted
      run draws.

    Non-local storage (``backend_args`` for s3/petrel, ``file_client_args``) is left to its backend.
    """

    def before_train(self, runner) -> None:
        register_atomic_backend()  # backend_args may name it too
        super().before_train(runner)
        if self.file_client_args is None and type(self.file_backend) is LocalBackend:
            self.backend_args = dict(backend=ATOMIC_BACKEND)
            self.file_backend = get_file_backend(self.out_dir, backend_args=self.backend_args)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[RNG_STATE_KEY] = capture_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # read by the train loop once it has positioned the data (tgl_mm.engine.loops)
        runner.message_hub.update_info(RESUMED_RNG_INFO, checkpoint.get(RNG_STATE_KEY),
                                       resumed=False)

    def _outdated_steps(self, runner, step: int) -> list[int]:
        """Record ``step`` among the kept checkpoints; return the steps that drop out."""
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            return []
        outdated = []
        while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
            outdated.append(self.keep_ckpt_ids.popleft())
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        return outdated

    def _remove_checkpoint(self, step: int) -> None:
        path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(step))
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # sharded (FSDP 'local') / DeepSpeed checkpoints
            self.file_backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step, meta):
        outdated = self._outdated_steps(runner, step)
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args,
            save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
            meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        if get_world_size() > 1:
            barrier()  # every rank's part of the checkpoint is on disk
        if not is_main_process():
            return
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old in outdated:
            self._remove_checkpoint(old)
