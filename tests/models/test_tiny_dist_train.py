"""The tiny TGL config trains on 2 CPU processes (DDP over gloo) via tools/dist_train.sh."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
from tgl_mm.utils.checkpoint import load_checkpoint_file

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


@pytest.mark.dist
def test_tiny_config_trains_and_validates_on_two_ranks(tmp_path):
    data = tmp_path / 'synthetic'
    make_synthetic_mevis_m(data, num_videos=4, num_valid_u=2, num_valid=1, size=96,
                           min_frames=12, max_frames=14, progress=False, log=None)
    work = tmp_path / 'work'
    env = dict(os.environ, PYTHON=sys.executable, PORT=_free_port(),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    options = [f'{loader}.dataset.data_root={data}'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    options += ['train_cfg.max_iters=3', 'train_cfg.val_interval=3',
                'default_hooks.checkpoint.interval=3', 'default_hooks.logger.interval=1']
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', 'configs/tgl/tgl_tiny_synthetic.py', '2',
         '--work-dir', str(work), '--cfg-options', *options],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'Distributed launcher: pytorch' in log and 'Distributed training: True' in log
    assert 'Iter(train) [3/3]' in log and 'rvos/J&F' in log
    ckpt = load_checkpoint_file(work / 'iter_3.pth', map_location='cpu')  # weights-only
    assert ckpt['meta']['iter'] == 3
    assert any(k.startswith('neck.') for k in ckpt['state_dict'])
    # distributed validation scores every valid_u expression exactly once
    report = json.loads(next(work.glob('*/rvos_report.json')).read_text())
    meta = json.loads((data / 'valid_u' / 'meta_expressions.json').read_text())['videos']
    assert report['num_expressions'] == sum(len(v['expressions']) for v in meta.values())
