"""Checkpoints that do not fit the model are refused (tools/test.py, --resume, load_from,
init_model) with the mismatching keys listed; misleading loader messages are fixed."""
from __future__ import annotations

import importlib.util
import os
import random
import uuid

import pytest
import torch

from tgl_mm.utils.checkpoint import (
    CheckpointContentError,
    CheckpointMismatchError,
    UnsafeCheckpointError,
    load_checkpoint_file,
    state_dict_mismatches,
)


def _tool(toy, name):
    spec = importlib.util.spec_from_file_location(f'tool_{name}', toy.repo / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _unique() -> list[str]:
    name = f'strict-{uuid.uuid4().hex[:8]}'
    return [f'experiment_name={name}', f'visualizer.name={name}', 'log_level=WARNING']


@pytest.fixture
def trained(toy, tmp_path):
    """A 4-iteration toy training: (config path, work dir)."""
    config = str(toy.configs / 'toy_iter.py')
    work = tmp_path / 'work'
    _tool(toy, 'train').main([config, '--work-dir', str(work), '--cfg-options',
                              'train_cfg.max_iters=4', 'train_cfg.val_interval=100', *_unique()])
    return config, work


def _bad_checkpoints(work) -> dict:
    good = load_checkpoint_file(work / 'iter_4.pth')
    shape = dict(good, state_dict={**good['state_dict'], 'fc1.weight': torch.zeros(8, 5)})
    other = {'state_dict': {'backbone.conv.weight': torch.zeros(3, 3)}}
    return dict(empty=({'state_dict': {}}, 'missing: fc1.weight'),
                other_arch=(other, 'unexpected: backbone.conv.weight'),
                wrong_shape=(shape, r'fc1.weight \(checkpoint \(8, 5\), model \(8, 4\)\)'))


@pytest.mark.parametrize('case', ['empty', 'other_arch', 'wrong_shape'])
def test_test_tool_refuses_a_checkpoint_that_does_not_fit(toy, trained, tmp_path, case):
    config, work = trained
    ckpt, listed = _bad_checkpoints(work)[case]
    path = tmp_path / f'{case}.pth'
    torch.save(ckpt, path)
    test = _tool(toy, 'test')
    with pytest.raises(CheckpointMismatchError, match=f'{case}.pth does not fit.*{listed}'):
        test.main([config, str(path), '--work-dir', str(tmp_path / 't'),
                   '--cfg-options', *_unique()])
    if case == 'wrong_shape':  # the documented opt-in loads what matches
        metrics = test.main([config, str(path), '--non-strict', '--work-dir',
                             str(tmp_path / 't'), '--cfg-options', *_unique()])
        assert 'toy/mae' in metrics


def test_resume_refuses_wrong_shape_and_weights_only_files(toy, trained, tmp_path):
    config, work = trained
    train = _tool(toy, 'train')
    shape, _ = _bad_checkpoints(work)['wrong_shape']
    torch.save(shape, tmp_path / 'shape.pth')
    args = ['--cfg-options', 'train_cfg.max_iters=6', 'train_cfg.val_interval=100']
    with pytest.raises(CheckpointMismatchError, match='fc1.weight'):
        train.main([config, '--work-dir', str(work), '--resume', str(tmp_path / 'shape.pth'),
                    *args, *_unique()])
    weights = tmp_path / 'weights.pth'
    torch.save(load_checkpoint_file(work / 'iter_4.pth')['state_dict'], weights)
    with pytest.raises(CheckpointContentError, match='weights.pth has no training state'):
        train.main([config, '--work-dir', str(work), '--resume', str(weights), *args,
                    *_unique()])
    # load_from (a fine-tuning start) is strict too
    with pytest.raises(CheckpointMismatchError, match='shape.pth does not fit'):
        train.main([config, '--work-dir', str(tmp_path / 'ft'), *args,
                    f'load_from={tmp_path / "shape.pth"}', *_unique()])


def test_init_model_is_strict(toy, trained, tmp_path):
    from tgl_mm.apis import init_model

    config, work = trained
    for case, (ckpt, listed) in _bad_checkpoints(work).items():
        path = tmp_path / f'{case}.pth'
        torch.save(ckpt, path)
        with pytest.raises(CheckpointMismatchError, match=listed):
            init_model(config, str(path))
    model = init_model(config, str(tmp_path / 'wrong_shape.pth'), strict=False)
    assert model.fc1.weight.shape == (8, 4)
    init_model(config, str(work / 'iter_4.pth'))  # a fitting checkpoint loads


def test_load_allow_missing_lets_a_start_lack_listed_parts(toy, trained, tmp_path):
    config, work = trained
    weights = load_checkpoint_file(work / 'iter_4.pth')['state_dict']
    torch.save({'state_dict': {k: v for k, v in weights.items() if not k.startswith('fc2.')}},
               tmp_path / 'no_fc2.pth')
    train = _tool(toy, 'train')
    args = [config, '--work-dir', str(tmp_path / 'ft'), '--cfg-options', 'train_cfg.max_iters=2',
            'train_cfg.val_interval=100', f'load_from={tmp_path / "no_fc2.pth"}', *_unique()]
    with pytest.raises(CheckpointMismatchError, match='2 missing: fc2.weight, fc2.bias'):
        train.main(args)
    train.main([*args, "load_allow_missing=['fc2.']"])
    assert (tmp_path / 'ft' / 'iter_2.pth').is_file()


def test_mismatch_lists_only_the_first_few():
    expected = {f'w{i}': torch.zeros(1) for i in range(20)}
    problems = state_dict_mismatches(expected, {})
    assert problems == ['20 missing: w0, w1, w2, w3, w4, ...']


def test_not_a_checkpoint_says_so(tmp_path):
    for name, data in (('random.pth', os.urandom(4096).replace(b'\x80', b'0').replace(b'PK', b'x')),
                       ('text.pth', b'hello world'), ('empty.pth', b'')):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointContentError, match=f'{name} is (not a torch.save|empty)'):
            load_checkpoint_file(tmp_path / name)


def test_refusals_never_advise_full_unpickling(tmp_path):
    class Payload:
        def __reduce__(self):
            return os.getcwd, ()

    for name, zipped in (('unsafe.pth', True), ('legacy.pth', False)):
        torch.save({'x': Payload()}, tmp_path / name, _use_new_zipfile_serialization=zipped)
        with pytest.raises(UnsafeCheckpointError, match=f'{name}: it needs .*getcwd') as err:
            load_checkpoint_file(tmp_path / name)
        assert 'weights_only=False' not in str(err.value)
    # malformed pickles after a valid protocol byte (fixed random bodies, so a failure
    # reproduces): refused with a checkpoint error naming the file, never torch's advice or a
    # bare low-level error (the weights-only unpickler raises e.g. IndexError on some)
    for seed in range(200):
        body = random.Random(seed).randbytes(64).replace(b'.', b',')
        (tmp_path / 'bad.pth').write_bytes(b'\x80\x02' + body)
        with pytest.raises((UnsafeCheckpointError, CheckpointContentError)) as err:
            load_checkpoint_file(tmp_path / 'bad.pth')
        assert 'weights_only=False' not in str(err.value) and 'bad.pth' in str(err.value)
