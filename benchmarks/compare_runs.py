"""Paired comparisons between runs of different ``synthetic_ablation.py`` invocations.

An invocation with ``--cfg-options`` (a lever tried on some rows) keeps its runs in its own
``--work-dir``; this compares any of its (row, test) with a (row, test) of another work dir,
by training seed: the paired difference ``better - worse`` per family with its 95 %
t-interval and verdict, as the benchmark judges its own orderings. Both sides must come from
the same data seed; the runs' provenance (config, options, code) is printed beside them.

    python benchmarks/compare_runs.py \
        --side 'hsa lr x0.1=work_dirs/lever_hsa_lr01/data1:tgl+hsa:oracle' \
        --side 'recipe=work_dirs/synthetic_ablation/data1:tgl:oracle' \
        --compare 'hsa lr x0.1>recipe' [--out benchmarks/results/levers.json]

A side is ``LABEL=WORK_DIR:ROW:TEST`` (``WORK_DIR`` holds the data seed's run folders, e.g.
``work_dirs/synthetic_ablation/data1``); a comparison is ``BETTER>WORSE`` (labels).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic_ablation as sa  # noqa: E402


def parse_side(text: str) -> tuple[str, Path, str, str]:
    """``LABEL=WORK_DIR:ROW:TEST`` -> (label, work dir, row, test)."""
    label, sep, rest = text.partition('=')
    parts = rest.rsplit(':', 2)
    if not sep or len(parts) != 3 or not label:
        raise SystemExit(f'--side {text!r}: expected LABEL=WORK_DIR:ROW:TEST')
    work, row, test = parts
    if row not in sa.ROWS:
        raise SystemExit(f'--side {text!r}: unknown row {row!r} (one of {", ".join(sa.ROWS)})')
    return label, Path(work), row, test


def side_scores(work: Path, row: str, test: str) -> tuple[dict[int, dict], list[dict]]:
    """``{seed: {family: J&F}}`` of the finished runs of ``row`` under ``work`` with a report
    for ``test`` (read as the benchmark collects them), and their provenance records."""
    folder = sa.run_dir(work, row, 0).parent
    seeds = sorted(int(run.name[4:]) for run in folder.glob('seed*')
                   if run.name[4:].isdigit())                 # not seed3.stale and the like
    results = {row: {s: sa.one_seed(s, '', sa.run_dir(work, row, s), [], tests=(test,),
                                    collect_only=True) for s in seeds}}
    scores = sa.seed_family_jf(results, row, test)
    provenance = []
    for seed in scores:
        prov = sa.run_dir(work, row, seed) / 'provenance.json'
        if prov.is_file():
            provenance.append({'seed': seed, **json.loads(prov.read_text())})
    return scores, provenance


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--side', action='append', required=True, metavar='LABEL=WORK_DIR:ROW:TEST')
    p.add_argument('--compare', action='append', required=True, metavar='BETTER>WORSE')
    p.add_argument('--confidence', type=float, default=0.95)
    p.add_argument('--out', default=None, help='write the comparisons to this JSON file')
    args = p.parse_args(argv)
    from tgl_mm.evaluation.functional import paired_difference
    sides = {}
    for text in args.side:
        label, work, row, test = parse_side(text)
        scores, prov = side_scores(work, row, test)
        if not scores:
            raise SystemExit(f'--side {text!r}: no finished run of {row!r} with a {test!r} '
                             f'report under {work}')
        sides[label] = dict(work_dir=str(work), row=row, test=test, scores=scores,
                            provenance=[{k: r.get(k) for k in ('seed', 'config', 'options',
                                                               'code', 'data')}
                                        for r in prov])
        commits = sorted({(r.get('code') or {}).get('commit', '?')[:9] for r in prov})
        options = sorted({' '.join(r.get('options') or []) or '-' for r in prov})
        print(f'{label}: {row} / {test}, seeds {sorted(scores)}, commit {", ".join(commits)}, '
              f'options {"; ".join(options)}')
    results = []
    print(f'\n| better − worse | {" | ".join(sa.FAMILIES)} |\n|---|' + '---|' * len(sa.FAMILIES))
    for text in args.compare:
        better, sep, worse = text.partition('>')
        if not sep or better not in sides or worse not in sides:
            raise SystemExit(f'--compare {text!r}: expected BETTER>WORSE of labels '
                             f'{", ".join(sides)}')
        cells = []
        for fam in sa.FAMILIES:
            diff = paired_difference({s: v[fam] for s, v in sides[better]['scores'].items()},
                                     {s: v[fam] for s, v in sides[worse]['scores'].items()},
                                     1, args.confidence).as_dict()
            results.append(dict(better=better, worse=worse, family=fam, **diff))
            cells.append(sa.format_difference(diff))
        print(f'| {better} − {worse} | ' + ' | '.join(cells) + ' |')
    if args.out:
        from tgl_mm.utils.fileio import atomic_dump_json
        atomic_dump_json(dict(command=['python', 'benchmarks/compare_runs.py', *(argv or
                                                                              sys.argv[1:])],
                              sides=sides, comparisons=results), args.out)
        print(f'\nwritten {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
