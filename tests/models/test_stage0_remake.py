"""(slow) The documented stage-0 remake command, shortened: ``tools/train.py`` on the stage-0 config
then ``tools/export_sam2.py``; the exported file loads, holds the trained weights, and the short
run already tracks far better than copying the prompt mask.

The length is measured (seed 0, one thread, validation on the tracks generated below, every 50
iterations): J&F stays at the copy level (33-36 against 33.4) up to iteration 750, while the mask
loss sits on its plateau (Dice ~0.6), then jumps: 88.2 at 800. 1000 iterations (~11 minutes on one
core; the run that made the shipped file scored 88.3 on full valid_u at 1000) leave margin for a
machine where the jump comes later. This test's run: 91.5 against 33.4 (10 min 37 s).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
from tgl_mm.models.utils.sam2_checkpoint import file_sha256
from tgl_mm.registry import MODELS
from tgl_mm.utils.checkpoint import load_checkpoint_file

REPO = Path(__file__).resolve().parents[2]
ITERS = 1000


def run(*args: str) -> str:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, *args], cwd=REPO, env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout


@pytest.mark.slow
def test_stage0_remake_command_tracks(tmp_path):
    root = tmp_path / 'syn'
    make_synthetic_mevis_m(root, num_videos=1, num_valid_u=4, num_valid=1, seed=11,
                           progress=False, log=None)
    work = tmp_path / 'work'
    run('tools/train.py', 'configs/tgl/stage0_tiny_sam2_synthetic.py', '--work-dir', str(work),
        '--cfg-options', f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
        f'default_hooks.checkpoint.interval={ITERS}',
        f'val_dataloader.dataset.data_root={root}', f'test_dataloader.dataset.data_root={root}')
    exported = tmp_path / 'stage0.pt'
    printed = run('tools/export_sam2.py', str(work / f'iter_{ITERS}.pth'), str(exported))
    sha = file_sha256(exported)
    assert f'sha256 {sha}' in printed

    # the exported file loads (SHA-256 checked) into the stage-0 model: the trained weights
    model = MODELS.build(dict(
        type='SAM2Pretrainer',
        image_backbone=dict(type='SAM2ImageEncoder', arch='tiny', image_size=128,
                            checkpoint=str(exported), checkpoint_sha256=sha),
        head=dict(type='MDPHead', arch='tiny', image_size=128, memory_from='all',
                  order='temporal', checkpoint=str(exported), checkpoint_sha256=sha),
        loss=dict(type='OSSLoss')))
    trained = load_checkpoint_file(work / f'iter_{ITERS}.pth', map_location='cpu')['state_dict']
    loaded = model.state_dict()
    keys = [k for k in trained if k.startswith(('image_backbone.encoder.', 'head.sam2.'))]
    assert len(keys) > 300
    for key in keys:
        assert torch.equal(loaded[key], trained[key]), key

    # the run's own validation (TrackingMetric on the generated valid_u tracks)
    scalars = next(work.glob('*/vis_data/scalars.json'))
    final = [json.loads(line) for line in scalars.read_text().splitlines()
             if 'tracking/J&F' in line][-1]
    assert final['tracking/tracks'] >= 8
    assert final['tracking/J&F'] >= final['tracking/copy_J&F'] + 30, final
