"""Shared fixtures for the demo app tests: a tiny random-init TGL model (64 px, a 32-d BERT text
encoder), its config and checkpoint on disk, and a short generated MP4.

(pytest runs with ``--import-mode=importlib``: test modules cannot import this file, so the
helpers are fixtures.)
"""
from __future__ import annotations

import numpy as np
import pytest

from tgl_mm.app.examples import write_mp4
from tgl_mm.datasets.synthetic import random_video
from tgl_mm.testing import save_tiny_model, with_random_tam

NUM_FRAMES = 12


@pytest.fixture(scope='session')
def tiny_app_files(tmp_path_factory) -> dict:
    """``config``, ``checkpoint`` (random-init weights) and ``model`` of a tiny TGL, and
    ``video``: a generated 12-frame 96x72 synthetic MP4."""
    root = tmp_path_factory.mktemp('app_model')
    config, model, checkpoint = save_tiny_model(root, absolute_stage_paths=True)
    _, frames, _ = random_video(np.random.default_rng(3), 96, 72, NUM_FRAMES, kind='motion')
    video = write_mp4(frames, root / 'clip.mp4', fps=6)
    return dict(config=config, checkpoint=checkpoint, model=model, video=video,
                num_frames=NUM_FRAMES)


@pytest.fixture(scope='session')
def tiny_tam_model(tiny_app_files):
    """The tiny TGL of ``tiny_app_files`` with a (random-init) Temporal Alignment Module."""
    return with_random_tam(tiny_app_files['config'])
