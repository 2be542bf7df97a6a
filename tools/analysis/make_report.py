"""Figures and tables from an evaluation report (tools/eval_rvos.py --out, or the RVOSMetric's
rvos_report.json in the work dir).

    python tools/analysis/make_report.py REPORT.json --out-dir work_dirs/report \
        [--moments data/mevis/valid_u/moments.json] [--pred-moments chrono_moments.json] \
        [--timelines 20] [--timeline-order worst|best|name] [--expressions VID/EXP ...] [--top-k 4]

Writes into --out-dir:
  per_expression.csv      one row per expression (J, F, J&F, moment coverage, M+ IoU, ...)
  jf_vs_coverage.png      J&F against the share of the video in the GT moment (needs moments)
  coverage_bins.json      the binned means of that plot
  timelines/<video>__<exp>.png   GT moment vs predicted M+ / top-k frames (paper Fig. 6 style)
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tqdm import tqdm

from tgl_mm.evaluation.report import CSV_FIELDS, attach_moments, load_report, records_to_csv
from tgl_mm.formats import load_moments
from tgl_mm.utils.fileio import atomic_dump_json, atomic_write_text
from tgl_mm.visualization.report_figures import plot_grounding_timeline, plot_jf_vs_coverage

_SAFE = re.compile(r'[^A-Za-z0-9._-]+')


def _pick(records, args):
    if args.expressions:
        wanted = {tuple(e.split('/', 1)) for e in args.expressions}
        picked = [r for r in records if (str(r['video_id']), str(r['exp_id'])) in wanted]
        found = {(str(r['video_id']), str(r['exp_id'])) for r in picked}
        missing = sorted('/'.join(w) for w in wanted - found)
        if missing:
            raise KeyError(f'expressions not in the report: {", ".join(missing)}')
        return picked
    if args.timelines == 0:
        return []
    scored = [r for r in records if r.get('J&F') is not None]
    if args.timeline_order == 'worst':
        order = sorted(scored, key=lambda r: r['J&F'])
    elif args.timeline_order == 'best':
        order = sorted(scored, key=lambda r: -r['J&F'])
    else:
        order = list(records)
    return order if args.timelines < 0 else order[:args.timelines]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('report', help='report JSON')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--moments', help='GT moment file (tgl_mm format) for coverage/timelines')
    parser.add_argument('--pred-moments', help='predicted moments in the same format')
    parser.add_argument('--timelines', type=int, default=20,
                        help='how many timeline figures (-1: all, 0: none)')
    parser.add_argument('--timeline-order', choices=('worst', 'best', 'name'), default='worst')
    parser.add_argument('--expressions', nargs='+', metavar='VIDEO/EXP',
                        help='draw timelines for exactly these expressions')
    parser.add_argument('--top-k', type=int, default=4, help='top-scored frames to mark')
    args = parser.parse_args(argv)

    try:
        report = load_report(args.report)
        records = report['per_expression']
        if args.moments:
            n = attach_moments(records, load_moments(args.moments), 'gt')
            print(f'GT moments for {n}/{len(records)} expressions')
        if args.pred_moments:
            n = attach_moments(records, load_moments(args.pred_moments), 'pred')
            print(f'predicted moments for {n}/{len(records)} expressions')
        picked = _pick(records, args)
    except (FileNotFoundError, ValueError, KeyError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    out = Path(args.out_dir)
    atomic_write_text(out / 'per_expression.csv', records_to_csv(records, CSV_FIELDS))
    print(f'table: {out / "per_expression.csv"}')
    try:
        bins = plot_jf_vs_coverage(records, out / 'jf_vs_coverage.png')
        atomic_dump_json(bins, out / 'coverage_bins.json', indent=1)
        print(f'plot: {out / "jf_vs_coverage.png"}')
    except ValueError as e:
        print(f'skipped the coverage plot: {e}', file=sys.stderr)
    for rec in tqdm(picked, desc='timelines', unit='fig', disable=not picked):
        name = f'{_SAFE.sub("_", str(rec["video_id"]))}__{_SAFE.sub("_", str(rec["exp_id"]))}.png'
        plot_grounding_timeline(rec, out / 'timelines' / name, top_k=args.top_k)
    if picked:
        print(f'timelines: {len(picked)} in {out / "timelines"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
