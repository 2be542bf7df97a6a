"""Helpers for tests of code that needs a whole TGL model (like ``mmdet.testing``), and
:func:`without_checkpoint_safety` for tests of the entry points that install it."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from mmengine.config import Config

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / 'configs' / 'tgl' / 'tgl_tiny_synthetic.py'


def tiny_tgl_config(text_dir: str | os.PathLike, image_size: int = 64, text_dim: int = 32,
                    chunk_size: int | None = 2) -> Config:
    """The tiny synthetic config with a small input and a tiny saved text encoder
    (:func:`~tgl_mm.models.backbones.text_encoder.save_tiny_text_encoder`, hidden ``text_dim``)
    in place of MiniLM, so a model builds and runs in seconds. The shipped stage-0 SAM2 still
    loads; the shipped parts checkpoint does not (it fits MiniLM), so ``model.pretrained`` is
    None. ``chunk_size`` None keeps the config's."""
    cfg = Config.fromfile(str(TINY_CONFIG))
    options = {
        'model.image_backbone.image_size': image_size, 'model.head.image_size': image_size,
        'model.text_backbone.model_dir': str(text_dir), 'model.neck.text_dim': text_dim,
        'model.prompt.text_dim': text_dim, 'model.pretrained': None}
    if chunk_size is not None:
        options['model.test_cfg.chunk_size'] = chunk_size
    cfg.merge_from_dict(options)
    return cfg


def save_tiny_model(root: str | os.PathLike, absolute_stage_paths: bool = False,
                    seed: int = 0):
    """Build the :func:`tiny_tgl_config` model (a tiny BERT text encoder saved under ``root``,
    ``torch.manual_seed(seed)`` first) and save its config and weights under ``root``.

    ``absolute_stage_paths``: point the stage-0 SAM2 checkpoints at this repository by absolute
    path, so the config also loads from another working directory.

    Returns:
        ``(config_path, model, checkpoint_path)``
    """
    import torch

    from tgl_mm.apis import init_model
    from tgl_mm.models.backbones.text_encoder import save_tiny_text_encoder
    root = Path(root)
    text_dir = save_tiny_text_encoder(root / 'bert', 'bert', hidden_size=32, num_layers=4)
    cfg = tiny_tgl_config(text_dir)
    if absolute_stage_paths:
        for part in ('image_backbone', 'head'):
            cfg.model[part]['checkpoint'] = str(REPO / cfg.model[part]['checkpoint'])
    config = root / 'tiny.py'
    cfg.dump(str(config))
    torch.manual_seed(seed)
    model = init_model(cfg)
    checkpoint = root / 'tiny.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    return config, model, checkpoint


def with_random_tam(config: str | os.PathLike, seed: int = 1):
    """The model of ``config`` (a dumped :func:`tiny_tgl_config`, text width 32) built with a
    randomly initialised Temporal Alignment Module (``torch.manual_seed(seed)`` first)."""
    import torch

    from tgl_mm.apis import init_model
    cfg = Config.fromfile(str(config))
    cfg.model.tam = dict(type='TemporalAlignmentModule', in_channels=128, text_dim=32,
                         embed_dim=32, num_heads=4)
    torch.manual_seed(seed)
    return init_model(cfg)


@contextlib.contextmanager
def without_checkpoint_safety() -> Iterator[None]:
    """mmengine's own checkpoint loaders and no ``tgl_atomic_local`` file backend in the block,
    as in a process that has imported tgl_mm but run none of its entry points, so a test shows
    that the entry point it calls installs
    :func:`~tgl_mm.utils.checkpoint.install_checkpoint_safety` itself. The state from before
    the block comes back after it."""
    from mmengine.fileio.backends.registry_utils import backends
    from mmengine.runner.checkpoint import CheckpointLoader

    from tgl_mm.utils import checkpoint

    schemes = CheckpointLoader._schemes.copy()
    replaced = dict(checkpoint._replaced_loaders)
    atomic = backends.get(checkpoint.ATOMIC_BACKEND)
    checkpoint.uninstall_safe_loaders()
    backends.pop(checkpoint.ATOMIC_BACKEND, None)
    try:
        if checkpoint.safe_loaders_installed():
            raise RuntimeError('tgl_mm\'s checkpoint loaders were installed by other means than '
                               'install_safe_loaders: cannot put mmengine\'s back')
        yield
    finally:
        CheckpointLoader._schemes = schemes
        checkpoint._replaced_loaders.clear()
        checkpoint._replaced_loaders.update(replaced)
        if atomic is None:
            backends.pop(checkpoint.ATOMIC_BACKEND, None)
        else:
            backends[checkpoint.ATOMIC_BACKEND] = atomic
