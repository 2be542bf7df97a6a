"""benchmarks/demo_seeds.py: the demo over training seeds, read from the demo's own reports, and
the README table (mean ± std and range per grounding and family) made from its JSON."""
from __future__ import annotations

import json
from pathlib import Path


def _report(jf: dict[tuple[str, str], float], swap: bool = False) -> dict:
    recs = [dict(video_id='v', exp_id=e, family=f, **{'J&F': s, 'J': s, 'F': s})
            for (e, f), s in jf.items()]
    report = {'per_expression': recs, 'num_expressions': len(recs)}
    if swap:
        report['sentence_swap'] = {'swapped': len(recs), 'dropped': 0}
    return report


def _seed_dir(root: Path, seed: int) -> None:
    """A finished demo folder of ``seed``: one report per test, J&F growing with the seed."""
    for name, base in (('oracle', 60.0), ('none', 50.0), ('tam', 55.0),
                       ('oracle_swapped', 20.0)):
        folder = root / f'seed{seed}' / f'test_{name}' / '20260101_000000'
        folder.mkdir(parents=True)
        jf = {('0', 'event'): base + seed, ('1', 'motion'): base + 2 * seed}
        (folder / 'rvos_report.json').write_text(json.dumps(
            _report(jf, swap=name.endswith('_swapped'))))


def test_finished_seeds_are_read_not_rerun(demo_seeds, monkeypatch, tmp_path):
    root, data = tmp_path / 'work', tmp_path / 'data'
    data.mkdir()
    (data / 'info.json').write_text(json.dumps({'version': 4, 'settings': {'seed': 0}}))
    for seed in (0, 1):
        _seed_dir(root, seed)
    bench = demo_seeds.ablation()
    monkeypatch.setattr(bench, 'run', lambda *a: (_ for _ in ()).throw(AssertionError(a)))
    monkeypatch.setattr(bench, 'code_provenance', lambda: {'commit': 'abc'})
    assert demo_seeds.main(['--seeds', '0', '1', '--data-root', str(data), '--work-root',
                            str(root), '--out', str(tmp_path / 'out')]) == 0
    result = json.loads((tmp_path / 'out' / 'demo_seeds.json').read_text())
    assert result['seeds'] == [0, 1] and result['data']['seed'] == 0
    rows = {(r['grounding'], r['family']): r['jf'] for r in result['rows']}
    assert rows['oracle', 'event'] == [60.0, 61.0] and rows['none', 'motion'] == [50.0, 52.0]
    assert rows['oracle: swap gap', 'all'] == [40.0, 40.0]
    table = demo_seeds.readme_table(result)
    # appearance has no expression; event 60, 61; motion 60, 62 (population std)
    assert '| oracle | - | 60.5 ± 0.5 (60.0–61.0) | 61.0 ± 1.0 (60.0–62.0) |' in table
    assert 'up to 1.5 points apart' in table                     # oracle/none/tam, all: 1.5
    assert demo_seeds.readme_block(result).startswith(demo_seeds.README_BEGIN)


def test_an_unfinished_seed_is_run(demo_seeds, monkeypatch, tmp_path):
    root = tmp_path / 'work'
    _seed_dir(root, 0)
    (root / 'seed1').mkdir()
    commands = []

    def fake_run(cmd, log):
        commands.append(cmd)
        _seed_dir(tmp_path / 'made', 1)
        (root / 'seed1').rmdir()
        (tmp_path / 'made' / 'seed1').rename(root / 'seed1')

    bench = demo_seeds.ablation()
    monkeypatch.setattr(bench, 'run', fake_run)
    monkeypatch.setattr(bench, 'code_provenance', lambda: {'commit': 'abc'})
    monkeypatch.setattr(bench, 'data_provenance', lambda root: {'seed': 0})
    demo_seeds.main(['--seeds', '0', '1', '--work-root', str(root), '--out', str(tmp_path)])
    (cmd,) = commands
    assert cmd[1:4] == ['tools/demo.py', '--seed', '1']
    assert cmd[cmd.index('--work-dir') + 1] == str(root / 'seed1')
