"""Shared tiny SAM2 fixtures for the model tests (random weights, 64 px inputs, fast on CPU).

- ``tiny_settings``: the ``'tiny'`` SAM2 settings at ``TINY_SIZE`` px.
- ``make_tiny_sam2(cls=SAM2Base, seed=0, **kwargs)``: a whole sam2 model (official key layout)
  with every tensor randomised, e.g. ``make_tiny_sam2(SAM2VideoPredictor, fill_hole_area=0)``.
- ``tiny_image_encoder``: a ``SAM2ImageEncoder`` for the tiny settings (frozen, random weights).
- ``tiny_images``: (6, 3, TINY_SIZE, TINY_SIZE) smooth random normalised frames.
- ``save_sam2_checkpoint(model, path)``: write ``{"model": state_dict}`` like the official files.
- ``tiny_size`` (``TINY_SIZE``) and ``randomize(module, seed)``.
- ``tiny_infer_files``: a tiny TGL (64 px, tiny text encoder) saved as config and checkpoint,
  and a 10-frame 8 fps MP4 of a square moving right: what inference tools read.

(pytest runs with ``--import-mode=importlib``: test modules cannot import this file, so the
helpers are fixtures.)
"""
from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from sam2.modeling.sam2_base import SAM2Base

from tgl_mm.models.backbones.sam2_image_encoder import SAM2ImageEncoder
from tgl_mm.models.utils.sam2_settings import build_sam2_model, get_sam2_settings

TINY_SIZE = 64


def randomize_(module: torch.nn.Module, seed: int, std: float = 0.05) -> torch.nn.Module:
    """Add Gaussian noise to every floating tensor of ``module`` (so each one is distinct from
    its default initialisation), and make objects present (positive object-score bias)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=gen) * std)
        decoder = getattr(module, 'sam_mask_decoder', None)
        if decoder is not None and getattr(decoder, 'pred_obj_scores', False):
            head = decoder.pred_obj_score_head
            last = head.layers[-1] if hasattr(head, 'layers') else head
            last.bias.fill_(4.0)
    return module


def _save_sam2_checkpoint(model: torch.nn.Module, path) -> None:
    """Save ``model``'s state dict in the official SAM2 file format ``{"model": ...}``."""
    torch.save({'model': model.state_dict()}, path)


@pytest.fixture(scope='session')
def save_sam2_checkpoint() -> Callable[[torch.nn.Module, object], None]:
    return _save_sam2_checkpoint


@pytest.fixture(scope='session')
def randomize() -> Callable[..., torch.nn.Module]:
    return randomize_


@pytest.fixture(scope='session')
def tiny_size() -> int:
    return TINY_SIZE


@pytest.fixture(scope='session')
def tiny_settings() -> dict:
    return get_sam2_settings('tiny', image_size=TINY_SIZE)


@pytest.fixture
def make_tiny_sam2(tiny_settings) -> Callable[..., SAM2Base]:
    def make(cls: type[SAM2Base] = SAM2Base, seed: int = 0, **kwargs) -> SAM2Base:
        torch.manual_seed(seed)
        return randomize_(build_sam2_model(tiny_settings, cls=cls, **kwargs), seed)
    return make


@pytest.fixture
def tiny_image_encoder(tiny_settings) -> SAM2ImageEncoder:
    torch.manual_seed(0)
    return randomize_(SAM2ImageEncoder(arch=tiny_settings), seed=1)


@pytest.fixture
def tiny_images() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    coarse = torch.randn(6, 3, 8, 8, generator=gen)
    return F.interpolate(coarse, size=(TINY_SIZE, TINY_SIZE), mode='bilinear',
                         align_corners=False)


@pytest.fixture(scope='module')
def tiny_infer_files(tmp_path_factory) -> dict:
    """``{"root", "config", "ckpt", "video", "model"}``: a tiny TGL (random weights,
    seed 0) dumped as ``tiny.py`` / ``tiny.pth`` and ``clip.mp4`` (10 frames, 8 fps, 56 x 40: a
    blue square moving right) in a fresh folder."""
    import cv2
    import numpy as np

    from tgl_mm.testing import save_tiny_model

    root = tmp_path_factory.mktemp('infer')
    config, model, ckpt = save_tiny_model(root)
    video = root / 'clip.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), 8, (56, 40))
    for i in range(10):
        frame = np.full((40, 56, 3), 30, np.uint8)
        frame[8:20, 2 + 4 * i:14 + 4 * i] = (60, 80, 220)
        writer.write(frame)
    writer.release()
    return dict(root=root, config=config, ckpt=ckpt, video=video, model=model)
