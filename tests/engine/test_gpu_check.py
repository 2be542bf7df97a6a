"""tools/gpu_check.py, the one command for a GPU machine, runs end to end on the CPU with tiny
sizes (so it cannot rot), and refuses the full check without CUDA."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_check(tmp_path, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get('PYTHONPATH')])))
    return subprocess.run([sys.executable, str(REPO / 'tools/gpu_check.py'), '--out',
                           str(tmp_path / 'check.json'), '--work-dir', str(tmp_path / 'work'),
                           *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.dist
def test_tiny_gpu_check_runs_every_section_on_cpu(tmp_path):
    proc = run_check(tmp_path, '--tiny', '--device', 'cpu')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / 'check.json').read_text())
    assert result['ok'] and result['tiny']
    sections = ('env', 'train', 'train_checkpointed', 'dist_train', 'streaming')
    assert all(result[name]['ok'] for name in sections)
    assert result['env']['autocast_dtype'] == 'torch.bfloat16'
    for name, iters in (('train', 3), ('train_checkpointed', 1)):
        train = result[name]
        assert len(train['losses']) == iters + 1 and train['loss_finite']   # + one warm-up
        assert train['it_per_s'] > 0 and train['peak_mb'] > 0
        assert train['optim_wrapper'] == 'AutocastOptimWrapper'   # --amp on a CPU
        assert 0 < train['trained_m'] < train['total_m']
    assert result['train_checkpointed']['activation_checkpointing']
    assert result['dist_train']['backend'] == 'gloo' and result['dist_train']['distributed']
    stream = result['streaming']
    assert stream['ours']['frames'] == stream['sam2']['frames'] == 8
    assert stream['fps_ratio_ours_to_sam2'] == pytest.approx(
        stream['ours']['fps'] / stream['sam2']['fps'])


def test_full_gpu_check_needs_cuda(tmp_path):
    proc = run_check(tmp_path, '--device', 'cpu', '--sections', 'env')
    assert proc.returncode == 1
    assert 'needs a CUDA device' in proc.stderr and '--tiny' in proc.stderr
    assert not (tmp_path / 'check.json').exists()
