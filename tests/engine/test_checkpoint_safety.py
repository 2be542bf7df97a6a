"""Weights-only checkpoint loading: mmengine checkpoints load, code-running pickles are refused."""
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from tgl_mm.registry import MODELS
from tgl_mm.testing import without_checkpoint_safety
from tgl_mm.utils.checkpoint import (
    CheckpointContentError,
    UnsafeCheckpointError,
    install_safe_loaders,
    load_checkpoint_file,
    mmengine_safe_globals,
    restricted_getattr,
    safe_checkpoint_globals,
    safe_loaders_installed,
    uninstall_safe_loaders,
    unsafe_globals,
)


class _RunsShell:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


class _Fetches:
    """Unpickling this calls ``getattr(owner, name)``."""

    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __reduce__(self):
        return getattr, (self.owner, self.name)


def _save_toy_run(toy, tmp_path):
    cfg = toy.cfg(tmp_path, train_cfg=dict(max_iters=2, val_interval=100))
    runner = toy.train(cfg)
    return tmp_path / 'iter_2.pth', runner


def test_mmengine_checkpoint_needs_exactly_the_allow_list(toy, tmp_path):
    path, runner = _save_toy_run(toy, tmp_path)
    needed = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in needed
    assert 'builtins.getattr' in needed
    with pytest.raises(pickle.UnpicklingError):  # plain weights-only torch refuses it
        torch.load(path, weights_only=True)
    assert unsafe_globals(path) == []
    ckpt = load_checkpoint_file(path)
    buffers = ckpt['message_hub']['log_scalars']
    assert isinstance(buffers['train/loss'], HistoryBuffer)
    live = runner.message_hub.get_scalar('train/loss')
    assert buffers['train/loss'].statistics('mean') == live.mean()


def test_mmengine_loading_goes_through_the_safe_loader(toy, tmp_path):
    path, runner = _save_toy_run(toy, tmp_path)
    assert CheckpointLoader._get_checkpoint_loader(str(path)).__module__ == \
        'tgl_mm.utils.checkpoint'
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert ckpt['meta']['iter'] == 2
    model = MODELS.build(dict(type='ToyRegressor', in_dim=4, hidden_dim=8))
    load_checkpoint(model, str(path), map_location='cpu')
    for key, value in toy.state(runner).items():
        assert torch.equal(model.state_dict()[key], value), key


def test_code_running_checkpoint_is_refused_and_runs_nothing(tmp_path):
    install_safe_loaders()  # as tgl_mm's entry points do (test_entry_point_safety.py)
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(2)}, 'meta': _RunsShell(marker)}, path)
    assert any(g.endswith('.system') for g in unsafe_globals(path))  # the payload is there
    model = torch.nn.Linear(2, 1)
    with pytest.raises(UnsafeCheckpointError, match=str(path)) as err:
        load_checkpoint(model, str(path))
    assert 'system' in str(err.value) and 'Nothing in it was executed' in str(err.value)
    with pytest.raises(UnsafeCheckpointError):
        _load_checkpoint(str(path))  # the Runner's resume/load_from path
    assert not marker.exists()


@pytest.mark.parametrize('owner,name', [(HistoryBuffer, 'update'), (HistoryBuffer, '__init__'),
                                        (np.ndarray, 'tofile'), (os, 'system')])
def test_getattr_serves_only_history_buffer_statistics(tmp_path, owner, name):
    path = tmp_path / 'fetch.pth'
    if owner is os:  # a module cannot be pickled by reference: check the function directly
        with pytest.raises(pickle.UnpicklingError, match='refused getattr'):
            restricted_getattr(os, 'system')
        return
    torch.save({'x': _Fetches(owner, name)}, path)
    with pytest.raises(UnsafeCheckpointError, match=f'refused getattr.*{name}'):
        load_checkpoint_file(path)
    for stat in ('min', 'max', 'current', 'mean'):
        assert restricted_getattr(HistoryBuffer, stat) is getattr(HistoryBuffer, stat)


def test_old_numpy_module_names_load(tmp_path):
    """Checkpoints written under numpy 1.x name numpy.core.multiarray (numpy 2: numpy._core)."""
    buffer = HistoryBuffer([1.0, 2.0], [1, 1])
    obj = {'hb': buffer, 'scalar': np.float64(3.5), 'array': np.arange(3)}
    path = tmp_path / 'legacy.pth'
    torch.save(obj, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    new, old = b'numpy._core.multiarray\n', b'numpy.core.multiarray\n'
    if new in data:
        path.write_bytes(data.replace(new, old))
    assert old in path.read_bytes()
    loaded = load_checkpoint_file(path)
    assert loaded['hb'].mean() == 1.5 and loaded['scalar'] == 3.5
    assert loaded['array'].tolist() == [0, 1, 2]


def test_allow_list_is_scoped_to_the_load():
    before = set(map(str, torch.serialization.get_safe_globals()))
    with safe_checkpoint_globals():
        inside = set(map(str, torch.serialization.get_safe_globals()))
    assert len(inside) > len(before)
    assert set(map(str, torch.serialization.get_safe_globals())) == before
    names = {e[1] if isinstance(e, tuple) else e.__qualname__ for e in mmengine_safe_globals()}
    assert {'builtins.getattr', 'numpy.core.multiarray._reconstruct',
            'numpy._core.multiarray.scalar', 'HistoryBuffer'} <= names


def test_missing_or_truncated_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(tmp_path / 'nope.pth')
    path = tmp_path / 'cut.pth'
    torch.save({'w': torch.zeros(100)}, path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointContentError, match='cannot read checkpoint .*cut.pth.*truncated'):
        load_checkpoint_file(path)


def test_install_is_idempotent_and_undone_by_uninstall():
    """install_safe_loaders replaces mmengine's local, http(s) and s3/petrel loaders (once:
    a second call changes nothing); uninstall_safe_loaders puts mmengine's own back."""
    import mmengine.runner.checkpoint as mm

    with without_checkpoint_safety():
        assert not safe_loaders_installed()
        mmengine_schemes = dict(CheckpointLoader._schemes)
        assert mmengine_schemes[''] is mm.load_from_local
        install_safe_loaders()
        installed = dict(CheckpointLoader._schemes)
        install_safe_loaders()
        assert dict(CheckpointLoader._schemes) == installed and safe_loaders_installed()
        assert {p for p, f in installed.items() if f is not mmengine_schemes[p]} == \
            {'', 'http://', 'https://', r'(\S+\:)?s3://', r'(\S+\:)?petrel://'}
        uninstall_safe_loaders()
        uninstall_safe_loaders()
        assert dict(CheckpointLoader._schemes) == mmengine_schemes
        # a loader registered after the install (someone else's) stays on uninstall
        def theirs(filename, map_location=None):
            raise NotImplementedError

        install_safe_loaders()
        CheckpointLoader.register_scheme('http://', theirs, force=True)
        uninstall_safe_loaders()
        assert CheckpointLoader._schemes['http://'] is theirs
        assert CheckpointLoader._schemes[''] is mm.load_from_local
