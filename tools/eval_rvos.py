"""Score a folder of predicted masks against a MeViS-layout split, offline.

    python tools/eval_rvos.py --gt-root data/mevis/valid_u --pred-dir work_dirs/pred \
        [--out report.json] [--nproc N] [--strict]

Predictions: ``<pred-dir>/<video>/<exp_id>/<frame>.png`` (any non-zero pixel is foreground), at
the ground-truth size. Missing videos, expressions and frames are listed by name and score 0 on
their frames; predictions the split does not have are listed and ignored. A wrong-sized or
unreadable prediction stops the evaluation with an error naming the file. See docs/evaluation.md.
"""
from __future__ import annotations

import argparse
import os
import sys

from tgl_mm.evaluation.offline import PredictionError, evaluate_predictions
from tgl_mm.evaluation.report import write_report
from tgl_mm.formats import DataFormatError
from tgl_mm.utils.cli import add_debug_flag, run_tool


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Score MeViS-layout predictions (J, F, J&F) against meta_expressions.json '
        '+ mask_dict.json.')
    parser.add_argument('--gt-root', required=True,
                        help='split folder with meta_expressions.json and mask_dict.json')
    parser.add_argument('--pred-dir', required=True, help='<video>/<exp_id>/<frame>.png folder')
    parser.add_argument('--out', help='report JSON path (CSV tables are written next to it)')
    parser.add_argument('--nproc', type=int, default=None,
                        help='worker processes (default: all CPU cores)')
    parser.add_argument('--bound-th', type=float, default=0.008,
                        help='DAVIS boundary tolerance (default 0.008 of the diagonal)')
    parser.add_argument('--strict', action='store_true',
                        help='exit with status 3 if any video, expression or frame is missing')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.out and os.path.isdir(args.out):
        parser.error(f'--out {args.out} is a directory; give the report JSON path, e.g. '
                     f'{os.path.join(args.out, "rvos_report.json")}')
    return args


def _preview(names, limit: int = 10) -> str:
    names = list(names)
    more = f' ... (+{len(names) - limit} more)' if len(names) > limit else ''
    return ', '.join(map(str, names[:limit])) + more


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        summary, records = evaluate_predictions(args.gt_root, args.pred_dir, nproc=args.nproc,
                                                bound_th=args.bound_th,
                                                progress=not args.no_progress)
    except (PredictionError, DataFormatError, FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    fail = summary['failures']
    print(f'expressions: {summary["num_expressions"]}   J: {summary["J"]:.2f}   '
          f'F: {summary["F"]:.2f}   J&F: {summary["J&F"]:.2f}')
    if fail['num_failed_expressions']:
        print(f'FAILURES (scored 0 on the missing frames): {fail["num_failed_expressions"]} '
              f'expressions, {fail["num_missing_frames"]} frames', file=sys.stderr)
        if fail['missing_videos']:
            print(f'  missing videos: {_preview(fail["missing_videos"])}', file=sys.stderr)
        if fail['missing_expressions']:
            print(f'  missing expressions: {_preview(fail["missing_expressions"])}',
                  file=sys.stderr)
        if fail['missing_frames']:
            items = [f'{k} [{_preview(v, 5)}]' for k, v in fail['missing_frames'].items()]
            print(f'  missing frames: {_preview(items)}', file=sys.stderr)
    extra = summary['unexpected']
    for kind in ('videos', 'expressions', 'frames'):
        if extra[kind]:
            print(f'warning: predictions for {len(extra[kind])} {kind} not in the ground truth '
                  f'(ignored): {_preview(extra[kind])}', file=sys.stderr)
    if args.out:
        paths = write_report(args.out, records, summary)
        print('report: ' + ', '.join(str(p) for p in paths.values()))
    return 3 if args.strict and fail['num_failed_expressions'] else 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
