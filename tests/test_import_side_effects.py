"""Importing tgl_mm changes nothing in mmengine (issue 21): no checkpoint loader, file backend,
import hook, torch allow-list entry or default scope appears until an entry point installs it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: prints the import hooks, as JSON, before mmengine's runner is imported (an import hook waiting
#: for it would show here and be gone after)
HOOKS = r'''
import inspect, json, sys

def name(obj):
    obj = obj if inspect.isclass(obj) or inspect.isfunction(obj) else type(obj)
    return f'{obj.__module__}.{obj.__qualname__}'

print(json.dumps(dict(meta_path=[name(finder) for finder in sys.meta_path],
                      runner_imported='mmengine.runner' in sys.modules)))
'''

#: prints what tgl_mm could change in mmengine (and around it), as JSON; run after the imports
#: (and after HOOKS)
STATE = r'''
import torch.serialization
from mmengine.fileio.backends.registry_utils import backends, prefix_to_backends
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import CheckpointLoader

print(json.dumps(dict(
    loaders={prefix: name(f) for prefix, f in CheckpointLoader._schemes.items()},
    backends={key: name(cls) for key, cls in backends.items()},
    prefix_to_backends={key: name(cls) for key, cls in prefix_to_backends.items()},
    meta_path=[name(finder) for finder in sys.meta_path],
    safe_globals=sorted(g[1] if isinstance(g, tuple) else name(g)
                        for g in torch.serialization.get_safe_globals()),
    default_scopes=sorted(DefaultScope._instance_dict),
)))
'''

#: every package of tgl_mm (what a downstream project may import)
ALL = ['tgl_mm', 'tgl_mm.registry', 'tgl_mm.utils', 'tgl_mm.structures', 'tgl_mm.datasets',
       'tgl_mm.models', 'tgl_mm.evaluation', 'tgl_mm.engine', 'tgl_mm.apis',
       'tgl_mm.visualization']


def _state_after(code: str) -> list[dict]:
    """What ``code`` prints (one dict per ``HOOKS`` or ``STATE`` in it), run in a fresh
    interpreter that sees this checkout of tgl_mm."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(REPO), env.get('PYTHONPATH')]))
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith('{')]


@pytest.fixture(scope='module')
def mmengine_only() -> tuple[dict, dict]:
    """The import hooks of a process that imported mmengine (registries and file I/O), and its
    state once it imported mmengine's runner too; no tgl_mm."""
    hooks, state = _state_after('import mmengine, mmengine.fileio, mmengine.registry\n' + HOOKS
                                + 'import mmengine.runner\n' + STATE)
    assert not hooks['runner_imported']
    return hooks, state


@pytest.mark.parametrize('modules,mmengine_first', [
    (['tgl_mm.registry'], False),
    (['tgl_mm'], True),
    (ALL, False),
], ids=['registry', 'package-after-mmengine-runner', 'every-package'])
def test_importing_tgl_mm_changes_nothing_in_mmengine(mmengine_only, modules, mmengine_first):
    """``mmengine_first``: mmengine's runner is imported before tgl_mm (a patch at import time
    would show); otherwise after (a hook waiting for it would show)."""
    hooks_before, state_before = mmengine_only
    imports = ''.join(f'import {m}\n' for m in modules)
    code = ('import mmengine.runner\n' + imports if mmengine_first else imports) + HOOKS + STATE
    hooks, state = _state_after(code)
    if modules == ['tgl_mm.registry']:  # stays light: mmengine's runner is not imported yet
        assert hooks == hooks_before, f'importing {modules} added an import hook'
    for key, expected in state_before.items():
        assert state[key] == expected, f'importing {modules} changed {key}'


def test_register_all_modules_installs_the_safety_once(mmengine_only):
    """register_all_modules is an entry point: afterwards mmengine's local, http(s) and
    s3/petrel loaders are tgl_mm's weights-only ones and the atomic backend is registered; a
    second call changes nothing; no import hook is left."""
    _, before = mmengine_only
    code = ('from tgl_mm.utils import register_all_modules\n'
            'register_all_modules(init_default_scope=False)\n' + HOOKS + STATE
            + 'register_all_modules(init_default_scope=False)\n' + STATE)
    _, once, twice = _state_after(code)
    assert once == twice
    ours = {p for p, f in once['loaders'].items() if f.startswith('tgl_mm.')}
    assert ours == {'', 'http://', 'https://', r'(\S+\:)?s3://', r'(\S+\:)?petrel://'}
    assert once['loaders'][''] == 'tgl_mm.utils.checkpoint.load_from_local_safe'
    assert {p: f for p, f in once['loaders'].items() if p not in ours} == \
        {p: f for p, f in before['loaders'].items() if p not in ours}
    assert once['backends'] == {**before['backends'],
                                'tgl_atomic_local': 'tgl_mm.utils.checkpoint.AtomicLocalBackend'}
    assert once['meta_path'] == before['meta_path']
    assert once['safe_globals'] == before['safe_globals']
