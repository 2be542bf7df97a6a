"""Exact, replay-free resuming: keyed sample randomness, saved generator states, positioned data.

The slow test kills a real ``tools/train.py`` process of the tiny TGL config mid-run, resumes it
and compares the final weights with an uninterrupted run bit for bit.
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tgl_mm.datasets.sample_rng import KeyedSampler, SampleIndex, sample_rng
from tgl_mm.engine.loops import resume_position
from tgl_mm.engine.rng_state import capture_rng_state, preserved_rng_state, restore_rng_state
from tgl_mm.utils.checkpoint import load_checkpoint_bytes, load_checkpoint_file

REPO = Path(__file__).resolve().parents[2]


# --- pure parts ----------------------------------------------------------------------------------
@pytest.mark.parametrize('done, per_epoch, expected', [
    (0, 5, (0, 0)), (3, 5, (0, 3)), (5, 5, (0, 5)), (7, 5, (1, 2)), (10, 5, (1, 5)),
    (800, 30, (26, 20))])
def test_resume_position(done, per_epoch, expected):
    assert resume_position(done, per_epoch) == expected


def test_sample_index_keeps_its_key_through_pickle():
    idx = SampleIndex(7, (3, 1, 7))
    assert idx == 7 and [10, 11, 12, 13, 14, 15, 16, 17][idx] == 17
    again = pickle.loads(pickle.dumps(idx))  # as sent to a data-loading worker
    assert isinstance(again, SampleIndex) and again.key == (3, 1, 7)


def test_keyed_sampler_keys_and_skips():
    from mmengine.dataset import DefaultSampler

    sampler = DefaultSampler(list(range(10)), shuffle=True, seed=5)
    sampler.set_epoch(2)
    keyed = KeyedSampler(sampler)
    order = list(sampler)
    assert [int(i) for i in keyed] == order
    assert all(i.key == (5, 2, int(i)) for i in keyed)
    keyed.skip_next(4)
    assert [int(i) for i in keyed] == order[4:]
    assert [int(i) for i in keyed] == order  # the skip is used once


def test_transforms_draw_from_the_sample_generator():
    from tgl_mm.datasets import MomentAwareFrameSampler, VideoColorJitter, VideoRandomFlip

    def run(key: tuple[int, ...]) -> tuple:
        results = dict(num_video_frames=20, mplus_spans=[(5, 12)], obj_moments=[[(5, 12)]],
                       frames=np.full((4, 8, 8, 3), 100, np.uint8), text='the left dog',
                       rng=np.random.default_rng(key))
        np.random.seed(int(time.time_ns() % 2**31))  # the global generator must not matter
        for t in (MomentAwareFrameSampler(4), VideoRandomFlip(0.5), VideoColorJitter(prob=1.0)):
            results = t(results)
        return results['frame_inds'], results['flip'], results['frames'].tobytes()

    assert run((1, 0, 3)) == run((1, 0, 3))
    assert len({run((1, e, 3))[0].__repr__() + str(run((1, e, 3))[1]) for e in range(8)}) > 1
    assert sample_rng({}) is np.random.mtrand._rand


def test_concat_dataset_passes_the_key_on():
    from mmengine.dataset import BaseDataset
    from mmengine.registry import DefaultScope

    from tgl_mm.registry import DATASETS

    class Probe(BaseDataset):
        def load_data_list(self) -> list[dict]:
            return [{}, {}, {}]

        def __getitem__(self, index):
            return index

    with DefaultScope.overwrite_default_scope('tgl_mm'):
        concat = DATASETS.build(dict(type='ConcatDataset', datasets=[Probe(), Probe()]))
    assert type(concat).__module__ == 'tgl_mm.datasets.wrappers'
    got = concat[SampleIndex(4, (0, 2, 4))]
    assert int(got) == 1 and got.key == (0, 2, 4)
    assert type(concat[4]) is int


def test_rng_state_round_trip_is_weights_only_loadable():
    import io

    state = capture_rng_state()
    first = (torch.rand(3), np.random.rand(3), __import__('random').random())
    buffer = io.BytesIO()
    torch.save(dict(rng_state=state), buffer)
    loaded = load_checkpoint_bytes(buffer.getvalue(), 'rng.pth')['rng_state']
    restore_rng_state(loaded)
    again = (torch.rand(3), np.random.rand(3), __import__('random').random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert first[2] == again[2]
    restore_rng_state(loaded)
    with preserved_rng_state():
        torch.rand(100)
        np.random.rand(100)
    assert torch.equal(torch.rand(3), first[0]) and np.array_equal(np.random.rand(3), first[1])


# --- the toy runner: resuming loads only the batches still to train ------------------------------
def test_resume_loads_no_batch_twice(toy, tmp_path, monkeypatch):
    from tests.fixtures.toy.toy_components import ToyRegressionDataset

    options = dict(train_cfg=dict(max_iters=40, val_interval=100),
                   default_hooks=dict(checkpoint=dict(interval=30)))
    toy.train(toy.cfg(tmp_path / 'full', **options))
    fetched: list[int] = []
    original = ToyRegressionDataset.__getitem__

    def counting(self, index):
        if len(self) == 32:  # the training set (validation has 8 samples)
            fetched.append(int(index))
        return original(self, index)

    monkeypatch.setattr(ToyRegressionDataset, '__getitem__', counting)
    from tgl_mm.engine import set_resume

    again = toy.cfg(tmp_path / 'full', **options)
    set_resume(again, str(tmp_path / 'full' / 'iter_30.pth'))
    resumed = toy.train(again)
    assert resumed.iter == 40
    assert len(fetched) == 10 * 2  # 10 batches of 2, nothing replayed


# --- a real process, killed ----------------------------------------------------------------------
def _train_cmd(data: Path, work: Path, *extra: str) -> list[str]:
    options = [f'{loader}.dataset.data_root={data}'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    options += ['train_cfg.max_iters=24', 'train_cfg.val_interval=8',
                'default_hooks.checkpoint.interval=4', 'default_hooks.logger.interval=4',
                'randomness.seed=3']
    return [sys.executable, 'tools/train.py', 'configs/tgl/tgl_tiny_synthetic.py',
            '--work-dir', str(work), *extra, '--cfg-options', *options]


def _env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS='1',
                PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get('PYTHONPATH')])))


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint_file(path, map_location='cpu')['state_dict']


@pytest.mark.slow
def test_killed_training_resumes_bit_for_bit(tmp_path):
    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m

    data = tmp_path / 'data'
    make_synthetic_mevis_m(data, num_videos=4, num_valid_u=1, num_valid=1, size=96,
                           min_frames=12, max_frames=14, progress=False, log=None)
    full = subprocess.run(_train_cmd(data, tmp_path / 'full'), cwd=REPO, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert full.returncode == 0, full.stderr[-3000:]

    work = tmp_path / 'killed'
    proc = subprocess.Popen(_train_cmd(data, work), cwd=REPO, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = work / 'last_checkpoint'
    deadline = time.monotonic() + 300
    while not (last.is_file() and last.read_text().endswith('iter_12.pth')):
        assert proc.poll() is None and time.monotonic() < deadline, 'no checkpoint to kill after'
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # mid-run: between two checkpoints, after a validation
    assert proc.wait() == -signal.SIGKILL
    assert not (work / 'iter_24.pth').exists()

    resumed = subprocess.run(_train_cmd(data, work, '--resume'), cwd=REPO, env=_env(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert 'Advance dataloader' not in log and 'Resuming at iteration' in log
    a, b = _weights(tmp_path / 'full' / 'iter_24.pth'), _weights(work / 'iter_24.pth')
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


# --- in process: dropout (torch's generator) and validations between checkpoints ----------------
@pytest.fixture
def dropout_toy(toy):
    from mmengine.hooks import Hook

    from tests.fixtures.toy.toy_components import ToyRegressor
    from tgl_mm.registry import HOOKS, MODELS

    @MODELS.register_module(force=True)
    class ToyDropoutRegressor(ToyRegressor):
        """The toy with dropout on its hidden layer: training draws from torch's generator."""

        def forward(self, inputs, target=None, index=None, mode='tensor'):
            if mode == 'loss':
                inputs = torch.nn.functional.dropout(inputs, 0.5, training=True)
            return super().forward(inputs, target, index, mode)

    class Stop(Exception):
        pass

    @HOOKS.register_module(force=True)
    class ToyStopAfterIterHook(Hook):
        def __init__(self, n: int) -> None:
            self.n = n

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            if runner.iter + 1 == self.n:
                raise Stop

    toy.Stop = Stop
    return toy


@pytest.mark.parametrize('stop_after, resume_from', [(10, 8), (17, 16)])  # mid-epoch, boundary
def test_resume_with_dropout_and_validation_is_exact(dropout_toy, tmp_path, stop_after,
                                                     resume_from):
    toy = dropout_toy
    options = dict(model=dict(type='ToyDropoutRegressor'),
                   train_cfg=dict(max_iters=24, val_interval=4),
                   default_hooks=dict(checkpoint=dict(interval=4, max_keep_ckpts=10)))
    full = toy.train(toy.cfg(tmp_path / 'full', **options))
    stopped = toy.cfg(tmp_path / 'stopped', **options)
    stopped.custom_hooks = [dict(type='ToyStopAfterIterHook', n=stop_after)]
    with pytest.raises(toy.Stop):
        toy.train(stopped)
    from tgl_mm.engine import set_resume

    again = toy.cfg(tmp_path / 'stopped', **options)
    set_resume(again, str(tmp_path / 'stopped' / f'iter_{resume_from}.pth'))
    resumed = toy.train(again)
    a, b = toy.state(full), toy.state(resumed)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
