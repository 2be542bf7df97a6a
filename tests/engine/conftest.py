"""Shared helpers for engine tests (the ``toy`` fixture): toy configs, in-process runners and
the environment for tools run in subprocesses."""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import uuid
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]


class ToyKit:
    """Runs the toy components of tests/fixtures/toy (imported by the configs themselves)."""

    repo = REPO
    configs = REPO / 'tests' / 'fixtures' / 'toy'

    def cfg(self, work_dir: Path, name: str = 'toy_iter.py', **options) -> Config:
        """Load a toy config with a unique experiment name (mmengine keys loggers and message
        hubs by it) and ``options`` merged as ``--cfg-options`` would."""
        from tgl_mm.engine import load_config

        cfg = load_config(self.configs / name, options or None)
        cfg.work_dir = str(work_dir)
        cfg.experiment_name = f'{Path(name).stem}-{uuid.uuid4().hex[:8]}'
        cfg.visualizer.name = cfg.experiment_name
        cfg.log_level = 'WARNING'
        return cfg

    @staticmethod
    def train(cfg: Config):
        """Build a runner for ``cfg`` and train it; return the runner."""
        from tgl_mm.engine import build_runner

        runner = build_runner(cfg)
        runner.train()
        return runner

    def tool(self, name: str):
        """``tools/<name>.py`` (``name`` may hold a folder: ``analysis/x``) as a fresh module."""
        path = self.repo / 'tools' / f'{name}.py'
        spec = importlib.util.spec_from_file_location(f'tool_{name.replace("/", "_")}', path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    @staticmethod
    def unique_options(prefix: str = 'toy') -> list[str]:
        """``--cfg-options`` values giving a tool run its own experiment and visualizer names
        (mmengine keys them globally) and a quiet log."""
        name = f'{prefix}-{uuid.uuid4().hex[:8]}'
        return [f'experiment_name={name}', f'visualizer.name={name}', 'log_level=WARNING']

    @staticmethod
    def state(runner) -> dict[str, torch.Tensor]:
        model = getattr(runner.model, 'module', runner.model)
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    @staticmethod
    def env() -> dict[str, str]:
        """Environment for tools in a subprocess: repository importable, this Python."""
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(REPO), env.get('PYTHONPATH')]))
        env['PYTHON'] = sys.executable
        env['OMP_NUM_THREADS'] = '1'
        return env


@pytest.fixture
def toy(monkeypatch) -> ToyKit:
    # configs import tests.fixtures.toy.toy_components: the repository root must be importable
    # (tools/dist_train.sh puts it on PYTHONPATH for the same reason)
    monkeypatch.syspath_prepend(str(REPO))
    importlib.import_module('tests.fixtures.toy.toy_components')  # registers the toy parts
    return ToyKit()


def _script(name: str, path: Path):
    """The script at ``path`` imported as the module ``name`` while a fixture lasts."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.fixture(scope='module')
def bench():
    """``benchmarks/synthetic_ablation.py`` as a module (its rows, statistics and README
    block)."""
    yield from _script('synthetic_ablation', REPO / 'benchmarks' / 'synthetic_ablation.py')


@pytest.fixture(scope='module')
def demo_seeds():
    """``benchmarks/demo_seeds.py`` as a module (the demo over seeds, its README block)."""
    yield from _script('demo_seeds', REPO / 'benchmarks' / 'demo_seeds.py')


@pytest.fixture(scope='module')
def compare_runs():
    """``benchmarks/compare_runs.py`` as a module (paired comparisons across work dirs)."""
    yield from _script('compare_runs', REPO / 'benchmarks' / 'compare_runs.py')
