"""mmengine's ``Runner`` with strict, weights-only checkpoint loading."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from tgl_mm.registry import RUNNERS
from tgl_mm.utils.checkpoint import (
    DEFAULT_REVISE_KEYS,
    check_training_state,
    install_checkpoint_safety,
    load_weights_into,
)

__all__ = ['TGLRunner']


@RUNNERS.register_module()
class TGLRunner(Runner):
    """mmengine's ``Runner`` (the default of :func:`tgl_mm.engine.build_runner`) that refuses a
    checkpoint not fitting the model.

    ``load_from`` (``tools/test.py CHECKPOINT``, fine-tuning starts) and ``--resume`` stop with a
    :class:`~tgl_mm.utils.checkpoint.CheckpointMismatchError` listing the first missing,
    unexpected and wrongly shaped keys, unless the config sets ``load_strict = False``
    (``--non-strict``), which loads the matching part with mmengine's warning.
    ``load_allow_missing`` (config, key prefixes such as ``('tam.',)``) lets a ``load_from``
    checkpoint lack those model parts (a start from a model without them); resuming is always
    checked in full. Resuming from a
    file without training state (weights only) is a
    :class:`~tgl_mm.utils.checkpoint.CheckpointContentError`.

    Creating one installs the checkpoint safety
    (:func:`~tgl_mm.utils.checkpoint.install_checkpoint_safety`: weights-only loaders, the
    atomic file backend), however it is built.
    """

    load_strict: bool = True
    load_allow_missing: tuple[str, ...] = ()
    _resuming: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        install_checkpoint_safety()
        super().__init__(*args, **kwargs)

    @classmethod
    def from_cfg(cls, cfg: Config) -> TGLRunner:
        runner = super().from_cfg(cfg)
        runner.load_strict = bool(cfg.get('load_strict', True))
        runner.load_allow_missing = tuple(cfg.get('load_allow_missing', ()))
        return runner

    def resume(self, filename: str, *args: Any, **kwargs: Any) -> None:
        self._resuming = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False

    def load_checkpoint(self, filename: str, map_location: str | Callable = 'cpu',
                        strict: bool = False,
                        revise_keys: list = list(DEFAULT_REVISE_KEYS)) -> dict:  # noqa: B006
        """mmengine's ``load_checkpoint``, checked first (see the class doc)."""
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        if self._resuming:
            check_training_state(checkpoint, filename)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        allow_missing = () if self._resuming else self.load_allow_missing
        checkpoint = load_weights_into(model, checkpoint, filename,
                                       strict=strict or self.load_strict, revise_keys=revise_keys,
                                       allow_missing=allow_missing)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
