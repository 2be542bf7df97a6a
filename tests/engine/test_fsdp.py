"""FSDP through FlexibleRunner: the config builds; (slow) it trains and resumes on CPU."""
import socket
import subprocess

import pytest
from torch import nn

from tgl_mm.engine import TGLFSDPStrategy, build_runner, module_class_wrap_policy
from tgl_mm.registry import FUNCTIONS


def test_fsdp_config_builds(toy, tmp_path):
    cfg = toy.cfg(tmp_path, 'toy_fsdp.py')
    runner = build_runner(cfg)
    assert type(runner).__name__ == 'FlexibleRunner'
    assert isinstance(runner.strategy, TGLFSDPStrategy)
    policy = runner.strategy.model_wrapper['auto_wrap_policy']
    assert FUNCTIONS.get(policy['type']) is module_class_wrap_policy
    assert FUNCTIONS.get('tgl_mm.size_based_auto_wrap_policy') is not None


def test_module_class_wrap_policy():
    classes = ['Linear']
    assert module_class_wrap_policy(nn.Linear(2, 2), False, 6, module_classes=classes)
    assert not module_class_wrap_policy(nn.ReLU(), False, 0, module_classes=classes)
    assert module_class_wrap_policy(nn.ReLU(), True, 0, module_classes=classes)  # recurse


def _launch(toy, work, *options):
    env = toy.env()
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        env['PORT'] = str(sock.getsockname()[1])
    proc = subprocess.run(
        ['bash', str(toy.repo / 'tools' / 'dist_train.sh'), str(toy.configs / 'toy_fsdp.py'), '2',
         '--work-dir', str(work), *options], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]


def _scalars(work) -> list[dict]:
    """Every record LocalVisBackend logged (full float precision), oldest run first."""
    import json

    records = []
    for path in sorted(work.glob('*/vis_data/scalars.json')):
        records += [json.loads(line) for line in path.read_text().splitlines()]
    return records


@pytest.mark.dist
@pytest.mark.slow
def test_fsdp_trains_and_resumes_on_cpu(toy, tmp_path):
    """2 CPU ranks over gloo, bf16 mixed precision, sharded checkpoints: stopping after 4
    iterations and resuming to 6 logs the losses and validation score of an uninterrupted run."""
    lr = 'optim_wrapper.optimizer.lr=0.05'  # large enough to move bf16 weights every step
    _launch(toy, tmp_path / 'full', '--cfg-options', 'train_cfg.max_iters=6', lr)
    _launch(toy, tmp_path / 'part', '--cfg-options', 'train_cfg.max_iters=4', lr)
    assert (tmp_path / 'part' / 'iter_4.pth' / 'rank1.pth').is_file()
    _launch(toy, tmp_path / 'part', '--resume', '--cfg-options', 'train_cfg.max_iters=6', lr)

    full, part = _scalars(tmp_path / 'full'), _scalars(tmp_path / 'part')
    losses = {r['iter']: r['loss'] for r in full if 'loss' in r}
    resumed = {r['iter']: r['loss'] for r in part if 'loss' in r}
    assert resumed == losses and sorted(losses) == [1, 2, 3, 4, 5, 6]
    maes = [r['toy/mae'] for r in part if 'toy/mae' in r]  # after iteration 4, after 6
    assert maes[-1] == [r['toy/mae'] for r in full if 'toy/mae' in r][-1]
    assert maes[0] != maes[-1]  # the comparison is sensitive: training moved the weights
