"""The Slurm launch scripts build the srun command they document (a fake srun records it)."""
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_srun(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    (bin_dir / 'srun').chmod(0o755)
    return dict(os.environ, PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}', PYTHON='py',
                GPUS='4', GPUS_PER_NODE='0', TASKS_PER_NODE='2', PORT='29601')


def _run(script, *args, env):
    proc = subprocess.run(['bash', str(REPO / 'tools' / script), *args], env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split('\n')[:-1]


def test_slurm_train_command(fake_srun):
    argv = _run('slurm_train.sh', 'part', 'job', 'c.py', 'wd', '--amp', env=fake_srun)
    assert argv[:3] == ['-p', 'part', '--job-name=job']
    assert '--ntasks=4' in argv and '--ntasks-per-node=2' in argv
    assert not any(a.startswith('--gres') for a in argv)  # CPU nodes: GPUS_PER_NODE=0
    assert argv[-6:] == ['-u', str(REPO / 'tools' / 'train.py'), 'c.py', '--work-dir=wd',
                         '--launcher=slurm', '--amp']


def test_slurm_test_command(fake_srun):
    argv = _run('slurm_test.sh', 'part', 'job', 'c.py', 'ck.pth', '--out', 'o', env=fake_srun)
    assert argv[-7:] == ['-u', str(REPO / 'tools' / 'test.py'), 'c.py', 'ck.pth',
                         '--launcher=slurm', '--out', 'o']


def test_usage_errors_name_the_arguments():
    proc = subprocess.run(['bash', str(REPO / 'tools' / 'dist_test.sh'), 'c.py'],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and 'CONFIG CHECKPOINT GPUS' in proc.stderr
