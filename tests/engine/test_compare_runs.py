"""benchmarks/compare_runs.py: runs of two work dirs paired by training seed, per family, with
the benchmark's own interval and verdict; bad sides are one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest


def _run(work: Path, row: str, seed: int, test: str, jf: dict[str, float],
         options: list[str] | None = None) -> None:
    folder = work / row.replace('+', '_') / f'seed{seed}'
    report = {'per_expression': [dict(video_id='v', exp_id=str(i), family=fam,
                                      **{'J&F': v, 'J': v, 'F': v})
                                 for i, (fam, v) in enumerate(jf.items())]}
    (folder / f'test_{test}' / '20260101_000000').mkdir(parents=True)
    (folder / f'test_{test}' / '20260101_000000' / 'rvos_report.json').write_text(
        json.dumps(report))
    (folder / 'provenance.json').write_text(json.dumps(
        {'config': f'{row}.py', 'options': options or [], 'code': {'commit': 'abc'},
         'data': {'seed': 1}}))


def test_pairs_by_seed_across_work_dirs(compare_runs, tmp_path, capsys):
    lever, default = tmp_path / 'lever' / 'data1', tmp_path / 'default' / 'data1'
    for seed in range(5):
        # the lever beats the recipe on motion by 2 + seed / 10, loses on event by 1
        _run(default, 'tgl', seed, 'oracle', {'event': 50.0 + seed, 'motion': 40.0 - seed})
        _run(lever, 'tgl+hsa', seed, 'oracle',
             {'event': 49.0 + seed, 'motion': 42.0 - seed + seed / 10}, ['x=1'])
    _run(lever, 'tgl+hsa', 7, 'oracle', {'event': 0.0, 'motion': 0.0})  # no pair: left out
    (lever / 'tgl_hsa' / 'seed3.stale').mkdir()                          # not a seed
    out = tmp_path / 'cmp.json'
    assert compare_runs.main(['--side', f'lever={lever}:tgl+hsa:oracle',
                              '--side', f'recipe={default}:tgl:oracle',
                              '--compare', 'lever>recipe', '--out', str(out)]) == 0
    result = json.loads(out.read_text())
    by_family = {c['family']: c for c in result['comparisons']}
    assert by_family['motion']['seeds'] == [0, 1, 2, 3, 4]
    assert by_family['motion']['mean'] == pytest.approx(2.2)
    assert by_family['motion']['verdict'] == 'holds'
    assert by_family['event']['mean'] == pytest.approx(-1.0)
    assert by_family['event']['verdict'] == 'reversed'
    assert result['sides']['lever']['provenance'][0]['options'] == ['x=1']
    assert 'lever − recipe' in capsys.readouterr().out


def test_bad_sides_are_one_line_errors(compare_runs, tmp_path):
    with pytest.raises(SystemExit, match='LABEL=WORK_DIR:ROW:TEST'):
        compare_runs.main(['--side', 'nolabel', '--compare', 'a>b'])
    with pytest.raises(SystemExit, match="unknown row 'nope'"):
        compare_runs.main(['--side', f'a={tmp_path}:nope:oracle', '--compare', 'a>b'])
    with pytest.raises(SystemExit, match='no finished run'):
        compare_runs.main(['--side', f'a={tmp_path}:tgl:oracle', '--compare', 'a>b'])
