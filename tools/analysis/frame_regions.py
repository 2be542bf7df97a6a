"""Per-frame J by where the frame lies relative to the expression's moment (in it, at most
--near frames from it, further), per family, for groups of evaluation reports (e.g. one per
training seed): where a model loses `motion` (issue 19).

    python tools/analysis/frame_regions.py \
        tgl='work_dirs/synthetic_ablation/data1/tgl/seed*/test_oracle/*/rvos_report.json' \
        baseline='work_dirs/synthetic_ablation/data1/baseline/seed*/test_none/*/rvos_report.json' \
        [--near 3] [--out regions.json]

Each NAME=GLOB is a group; the table shows each group's mean over its reports (± the standard
deviation across them) and the frames counted.
"""
from __future__ import annotations

import argparse
import glob
import sys

import numpy as np

from tgl_mm.evaluation.functional.frame_regions import REGIONS, region_means
from tgl_mm.evaluation.report import load_report
from tgl_mm.utils.cli import add_debug_flag, run_tool
from tgl_mm.utils.fileio import atomic_dump_json


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('groups', nargs='+', metavar='NAME=GLOB',
                   help='a name and a glob of rvos_report.json files (quote the glob)')
    p.add_argument('--near', type=int, default=3,
                   help='frames from the moment that still count as near it (default 3)')
    p.add_argument('--out', default=None, help='also write the table as JSON')
    add_debug_flag(p)
    return p.parse_args(argv)


def group_table(paths: list[str], near: int) -> dict[str, dict[str, dict]]:
    """``{family: {region: {"mean", "std", "frames", "reports"}}}`` over the reports."""
    per = [region_means(load_report(p)['per_expression'], near) for p in paths]
    out: dict[str, dict[str, dict]] = {}
    for fam in per[0]:
        for region in REGIONS:
            vals = [t[fam][region]['mean'] for t in per
                    if fam in t and t[fam][region]['mean'] is not None]
            out.setdefault(fam, {})[region] = {
                'mean': float(np.mean(vals)) if vals else None,
                'std': float(np.std(vals, ddof=1)) if len(vals) > 1 else None,
                'frames': per[0][fam][region]['frames'], 'reports': len(vals)}
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tables = {}
    for group in args.groups:
        name, sep, pattern = group.partition('=')
        if not sep or not name:
            raise ValueError(f'{group!r}: expected NAME=GLOB')
        paths = sorted(glob.glob(pattern))
        if not paths:
            raise FileNotFoundError(f'group {name}: no report matches {pattern}')
        tables[name] = group_table(paths, args.near)
    families = sorted({f for t in tables.values() for f in t}, key=lambda f: (f == 'all', f))
    print(f'per-frame J (%) by region (near: <= {args.near} frames from the moment)')
    print('| family | region | frames | ' + ' | '.join(tables) + ' |')
    print('|---|---|---|' + '---|' * len(tables))
    for fam in families:
        for region in REGIONS:
            cells = []
            for t in tables.values():
                c = t.get(fam, {}).get(region, {})
                cells.append('-' if c.get('mean') is None else
                             f'{c["mean"]:.1f}' + (f' ± {c["std"]:.1f}' if c['std'] else '')
                             + f' ({c["reports"]})')
            frames = next((t[fam][region]['frames'] for t in tables.values() if fam in t), 0)
            print(f'| {fam} | {region} | {frames} | ' + ' | '.join(cells) + ' |')
    if args.out:
        atomic_dump_json({'near': args.near, 'groups': tables}, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
