"""The package's floors (docs/design.md "Floors"): each package imports only from the floors below
it, function-local imports included; and long library modules say why they are long."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'tgl_mm'

#: floor of each top-level module or package of tgl_mm (docs/design.md): an import may only go
#: to a lower floor or stay inside its own package
FLOORS = {
    'version': 0, 'registry': 0,
    'structures': 1, 'utils': 1,
    'formats': 2,
    'datasets': 3, 'evaluation': 3,
    'models': 4, 'visualization': 4, 'analysis': 4,
    'apis': 5,
    'engine': 6, 'app': 6,
    'testing': 7,
}
#: modules allowed to import upwards, and why
EXCEPTIONS = {
    # the registration entry point (OpenMMLab's ``<pkg>.utils.register_all_modules``) imports
    # every package inside the function, to fill the registries
    'utils/setup_env.py',
}
#: a library module longer than this states why at its top (``Long module:`` in its docstring)
LONG_MODULE_LINES = 420


def imported_modules(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``path`` (a module under ``root``,
    the ``tgl_mm`` folder), function-local included."""
    rel = path.relative_to(root).with_suffix('')
    here = ['tgl_mm', *rel.parts]
    package = here[:-1]  # the package a relative import starts from (also for __init__)
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                name = '.'.join(base) + (f'.{node.module}' if node.module else '')
            else:
                name = node.module or ''
            out.append((node.lineno, name))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
    return out


def upward_imports(root: Path = PACKAGE) -> list[str]:
    """Every import of a tgl_mm module that does not point to a lower floor."""
    bad = []
    for path in sorted(root.rglob('*.py')):
        rel = path.relative_to(root)
        own = rel.parts[0].removesuffix('.py')
        if own == '__init__' or rel.as_posix() in EXCEPTIONS:
            continue
        for line, name in imported_modules(path, root):
            parts = name.split('.')
            if parts[0] != 'tgl_mm' or len(parts) < 2 or parts[1] == own:
                continue
            if FLOORS[parts[1]] >= FLOORS[own]:
                bad.append(f'{rel}:{line} ({own}, floor {FLOORS[own]}) imports {name} '
                           f'(floor {FLOORS[parts[1]]})')
    return bad


def test_every_package_has_a_floor():
    names = {p.name.removesuffix('.py') for p in PACKAGE.iterdir()
             if (p.is_dir() and (p / '__init__.py').is_file())
             or (p.suffix == '.py' and p.name != '__init__.py')}
    assert names == set(FLOORS), 'place new packages in FLOORS and docs/design.md'


def test_imports_point_down():
    assert upward_imports() == []


def test_the_check_catches_an_upward_import(tmp_path):
    """An evaluation module importing datasets (same floor) and a function-local import of
    apis from formats are both reported."""
    root = tmp_path / 'tgl_mm'
    for pkg in FLOORS:
        if pkg in ('version', 'registry', 'testing'):
            (root / f'{pkg}.py').parent.mkdir(parents=True, exist_ok=True)
            (root / f'{pkg}.py').write_text('')
        else:
            (root / pkg).mkdir(parents=True, exist_ok=True)
            (root / pkg / '__init__.py').write_text('')
    (root / 'evaluation' / 'm.py').write_text('from tgl_mm.datasets import x\n')
    (root / 'formats' / 'f.py').write_text('def f():\n    from ..apis import y\n')
    (root / 'apis' / 'ok.py').write_text('from ..formats import z\nfrom .ok2 import w\n')
    bad = upward_imports(root)
    assert len(bad) == 2
    assert any('evaluation/m.py:1' in b and 'tgl_mm.datasets' in b for b in bad)
    assert any('formats/f.py:2' in b and 'tgl_mm.apis' in b for b in bad)


@pytest.mark.parametrize('path', sorted(PACKAGE.rglob('*.py')), ids=lambda p: p.name)
def test_long_modules_say_why(path):
    lines = path.read_text(encoding='utf-8').count('\n')
    if lines > LONG_MODULE_LINES:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding='utf-8'))) or ''
        assert 'Long module:' in doc, (f'{path.relative_to(PACKAGE)} has {lines} lines: split it '
                                       'by concept or say why at its top ("Long module: ...")')


def test_apis_reach_the_model_only_through_its_interface():
    """``tgl_mm.apis`` imports nothing of ``tgl_mm.models`` but the inference interface
    (docs/design.md "Inference interface")."""
    reached = {name for path in (PACKAGE / 'apis').rglob('*.py')
               for _, name in imported_modules(path)
               if name == 'tgl_mm.models' or name.startswith('tgl_mm.models.')}
    assert reached <= {'tgl_mm.models.segmentors.inference_interface'}
