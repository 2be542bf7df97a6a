"""Resuming a stopped run reaches exactly the weights of an uninterrupted run."""
import pytest
import torch
from mmengine.hooks import Hook

from tgl_mm.registry import HOOKS


class _Stop(Exception):
    pass


@HOOKS.register_module()
class _StopAfterIterHook(Hook):
    """Abort training after iteration ``n`` (1-based), as a killed job would."""

    def __init__(self, n: int) -> None:
        self.n = n

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.n:
            raise _Stop


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize('resume', ['auto', 'path'])
def test_resume_matches_uninterrupted_run(toy, tmp_path, resume):
    options = dict(train_cfg=dict(max_iters=6, val_interval=100))
    full = toy.train(toy.cfg(tmp_path / 'full', **options))

    stopped = toy.cfg(tmp_path / 'stopped', **options)
    stopped.custom_hooks = [dict(type='_StopAfterIterHook', n=5)]  # checkpoints at 2 and 4
    with pytest.raises(_Stop):
        toy.train(stopped)
    work = tmp_path / 'stopped'
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_4.pth')

    from tgl_mm.engine import set_resume
    again = toy.cfg(work, **options)
    set_resume(again, 'auto' if resume == 'auto' else str(work / 'iter_4.pth'))
    resumed = toy.train(again)
    assert resumed.iter == 6
    _assert_same(toy.state(resumed), toy.state(full))
    # the optimizer state continued too (Adam moments, step count)
    full_opt = full.optim_wrapper.optimizer.state_dict()['state']
    resumed_opt = resumed.optim_wrapper.optimizer.state_dict()['state']
    for idx in full_opt:
        for key in full_opt[idx]:
            assert torch.equal(full_opt[idx][key], resumed_opt[idx][key]), (idx, key)
