"""A crash while saving never leaves a truncated checkpoint or a last_checkpoint pointing at one."""
import contextlib
import resource
import signal
import subprocess
import sys

import pytest
import torch
from mmengine.fileio import get_file_backend

from tgl_mm.utils.checkpoint import (
    ATOMIC_BACKEND,
    AtomicLocalBackend,
    load_checkpoint_file,
    register_atomic_backend,
)


@contextlib.contextmanager
def file_size_limit(max_bytes: int):
    """Writes past ``max_bytes`` fail with EFBIG (Python ignores SIGXFSZ by default)."""
    assert signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_backend_failure_mid_write_keeps_previous_file(tmp_path):
    register_atomic_backend()  # as AtomicCheckpointHook does before selecting it
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend=ATOMIC_BACKEND))
    assert isinstance(backend, AtomicLocalBackend)
    target = tmp_path / 'iter_4.pth'
    backend.put(b'old checkpoint', target)
    with file_size_limit(1024), pytest.raises(OSError):
        backend.put(b'x' * 4096, target)  # the write stops after 1 kB
    assert target.read_bytes() == b'old checkpoint'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['iter_4.pth']  # no temp file left
    backend.put_text('new', target)
    assert target.read_text() == 'new'


def test_runner_uses_atomic_backend(toy, tmp_path):
    runner = toy.train(toy.cfg(tmp_path, train_cfg=dict(max_iters=2, val_interval=100)))
    hook = next(h for h in runner.hooks if type(h).__name__ == 'AtomicCheckpointHook')
    assert isinstance(hook.file_backend, AtomicLocalBackend)
    assert hook.backend_args == dict(backend=ATOMIC_BACKEND)
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_2.pth')


def test_process_killed_while_saving(toy, tmp_path):
    """The job dies (SIGXFSZ) in the middle of writing iter_4.pth; with max_keep_ckpts=1 mmengine
    would already have deleted iter_2.pth. Resume must still work and finish like a clean run."""
    options = dict(train_cfg=dict(max_iters=6, val_interval=100))
    clean_cfg = toy.cfg(tmp_path / 'clean', 'toy_crash.py', **options)
    clean_cfg.custom_hooks = []
    clean = toy.train(clean_cfg)
    limit = (tmp_path / 'clean' / 'iter_6.pth').stat().st_size // 2

    work = tmp_path / 'crashed'
    run = subprocess.run(
        [sys.executable, str(toy.repo / 'tools' / 'train.py'), str(toy.configs / 'toy_crash.py'),
         '--work-dir', str(work), '--cfg-options', f'custom_hooks.0.max_bytes={limit}',
         'train_cfg.max_iters=6', 'train_cfg.val_interval=100'],
        env=toy.env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == -signal.SIGXFSZ, run.stderr[-3000:]
    names = sorted(p.name for p in work.iterdir() if p.is_file())
    assert 'iter_4.pth' not in names  # no truncated checkpoint under a real name
    assert any(n.startswith('.iter_4.pth.') for n in names), names  # it died inside that save
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    assert load_checkpoint_file(work / 'iter_2.pth')['meta']['iter'] == 2

    again = toy.cfg(work, 'toy_crash.py', **options)
    again.custom_hooks = []
    again.resume = True
    resumed = toy.train(again)
    assert resumed.iter == 6
    for key, value in toy.state(clean).items():
        assert torch.equal(toy.state(resumed)[key], value), key
    assert not (work / 'iter_2.pth').exists()  # pruned once a newer checkpoint was complete
