"""Every entry point that loads a checkpoint refuses a code-running pickle by itself, from a
process where nothing installed tgl_mm's weights-only loaders (importing tgl_mm does not, issue
21): tools/train.py (--resume, load_from), tools/test.py, init_model, tools/infer.py,
tools/app.py, tools/train_tam.py, tools/analysis/tam_predictions.py, tools/export_*.py,
register_all_modules; the runner builders install the loaders and the atomic backend."""
from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.fileio.backends.registry_utils import backends
from mmengine.runner import Runner, load_checkpoint

from tgl_mm.testing import without_checkpoint_safety
from tgl_mm.utils.checkpoint import (
    ATOMIC_BACKEND,
    AtomicLocalBackend,
    UnsafeCheckpointError,
    safe_loaders_installed,
)

TAM_CONFIG = 'configs/tgl/tgl_tiny_synthetic_tam.py'


class _RunsShell:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


@pytest.fixture
def evil(tmp_path) -> Path:
    """A Runner-shaped checkpoint whose ``meta`` runs a shell command when unpickled; the test
    checks that ``<tmp>/pwned`` never appears."""
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'fc1.weight': torch.zeros(8, 4)},
                'meta': _RunsShell(tmp_path / 'pwned'), 'message_hub': {}}, path)
    return path


def _frames(folder: Path) -> str:
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f'{i:05d}.png'), np.zeros((8, 8, 3), np.uint8))
    return str(folder)


def _toy_config(toy) -> str:
    return str(toy.configs / 'toy_iter.py')


def _train_resume(toy, evil, tmp):
    toy.tool('train').main([_toy_config(toy), '--work-dir', str(tmp / 'w'), '--resume',
                            str(evil), '--cfg-options', *toy.unique_options('safety')])


def _train_load_from(toy, evil, tmp):
    toy.tool('train').main([_toy_config(toy), '--work-dir', str(tmp / 'w'), '--cfg-options',
                            f'load_from={evil}', *toy.unique_options('safety')])


def _test(toy, evil, tmp):
    toy.tool('test').main([_toy_config(toy), str(evil), '--work-dir', str(tmp / 'w'),
                           '--cfg-options', *toy.unique_options('safety')])


def _init_model(toy, evil, tmp):
    from tgl_mm.apis import init_model

    init_model(_toy_config(toy), str(evil))


def _infer(toy, evil, tmp):
    toy.tool('infer').main([_toy_config(toy), str(evil), _frames(tmp / 'frames'), '--text', 'a',
                            '--grounding', 'none', '--out', str(tmp / 'out')])


def _app(toy, evil, tmp):
    # the page (Gradio) is never reached: the checkpoint is refused first
    def launch(*args, **kwargs):
        raise AssertionError('the app started with a refused checkpoint')

    saved = sys.modules.get('tgl_mm.app.page')
    sys.modules['tgl_mm.app.page'] = types.SimpleNamespace(DemoApp=None, launch=launch)
    try:
        toy.tool('app').main([_toy_config(toy), str(evil), '--work-dir', str(tmp / 'app'),
                              '--examples', '0'])
    finally:
        if saved is None:
            sys.modules.pop('tgl_mm.app.page', None)
        else:
            sys.modules['tgl_mm.app.page'] = saved


def _train_tam(toy, evil, tmp):
    toy.tool('train_tam').main([str(toy.repo / TAM_CONFIG), str(evil), '--work-dir',
                                str(tmp / 'tam')])


def _tam_predictions(toy, evil, tmp):
    toy.tool('analysis/tam_predictions').main([str(toy.repo / TAM_CONFIG), str(evil), '--out',
                                               str(tmp / 'mr.jsonl')])


def _register_all_modules(toy, evil, tmp):
    from tgl_mm.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    load_checkpoint(torch.nn.Linear(4, 8), str(evil))  # mmengine's own function


ENTRY_POINTS = {
    'train --resume': _train_resume, 'train load_from': _train_load_from, 'test': _test,
    'init_model': _init_model, 'infer': _infer, 'app': _app, 'train_tam': _train_tam,
    'tam_predictions': _tam_predictions, 'register_all_modules': _register_all_modules,
}


@pytest.mark.parametrize('entry', list(ENTRY_POINTS))
def test_entry_point_refuses_code_running_checkpoint(toy, evil, tmp_path, entry):
    """From mmengine's own loaders (under torch >= 2.6 they would fail with torch's plain
    UnpicklingError, which advises weights_only=False), the entry point refuses with tgl_mm's
    UnsafeCheckpointError and runs nothing."""
    refused = pytest.raises(UnsafeCheckpointError, match='evil.pth.*system')
    with without_checkpoint_safety(), refused as err:
        ENTRY_POINTS[entry](toy, evil, tmp_path)
    assert 'Nothing in it was executed' in str(err.value)
    assert not (tmp_path / 'pwned').exists()


@pytest.mark.parametrize('tool', ['export_parts', 'export_sam2'])
def test_export_tools_refuse_code_running_checkpoint(toy, evil, tmp_path, capsys, tool):
    """The export tools read with load_checkpoint_file, weights-only without anything
    installed."""
    out = tmp_path / 'out.pt'
    with without_checkpoint_safety():
        assert toy.tool(tool).main([str(evil), str(out)]) == 2
    assert 'error: Refusing to load checkpoint' in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / 'pwned').exists()


@pytest.mark.parametrize('runner_type', [None, 'Runner'])
def test_runner_builders_install_the_safety(toy, tmp_path, runner_type):
    """build_runner installs the loaders and the atomic backend whatever the runner type;
    TGLRunner does it however it is built."""
    from tgl_mm.engine import TGLRunner, build_runner

    cfg = toy.cfg(tmp_path)
    if runner_type is not None:
        cfg.runner_type = runner_type
    with without_checkpoint_safety():
        assert not safe_loaders_installed() and ATOMIC_BACKEND not in backends
        build_runner(cfg)
        assert safe_loaders_installed() and backends[ATOMIC_BACKEND] is AtomicLocalBackend
    if runner_type is None:
        with without_checkpoint_safety():
            TGLRunner.from_cfg(toy.cfg(tmp_path / 'direct'))
            assert safe_loaders_installed() and backends[ATOMIC_BACKEND] is AtomicLocalBackend


def test_checkpoint_hook_registers_its_backend(toy, tmp_path):
    """AtomicCheckpointHook registers the backend it selects, also under mmengine's own Runner
    (which installs nothing)."""
    cfg = toy.cfg(tmp_path, train_cfg=dict(max_iters=2, val_interval=100))
    with without_checkpoint_safety():
        runner = Runner.from_cfg(cfg)
        runner.train()
        hook = next(h for h in runner.hooks if type(h).__name__ == 'AtomicCheckpointHook')
        assert isinstance(hook.file_backend, AtomicLocalBackend)
        assert not safe_loaders_installed()
    assert (tmp_path / 'iter_2.pth').is_file()
