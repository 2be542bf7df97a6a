"""Ref-DAVIS17 evaluation: DAVIS 2017 unsupervised protocol per expression set, mean of the four.

    python tools/eval_ref_davis17.py \
        --meta data/ref-davis/meta_expressions/valid/meta_expressions.json \
        --gt-dir data/ref-davis/valid/Annotations --pred-dir work_dirs/ref_davis_pred \
        [--out ref_davis17.json] [--save-merged DIR] [--nproc N]

Predictions: ``<pred-dir>/<video>/<exp_id>/<frame>.png`` per expression (``tools/test.py --out``).
Per set, the expression masks of a video are merged into palette label maps (background 0.1,
scores < 0.5 zeroed, argmax), matched to the GT objects (Hungarian on J&F) and scored; J, F and
J&F are means over all objects. See docs/evaluation.md.
"""
from __future__ import annotations

import argparse
import sys

from tgl_mm.evaluation.ref_davis import evaluate_ref_davis17
from tgl_mm.formats import DataFormatError
from tgl_mm.utils.fileio import atomic_dump_json


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--meta', required=True, help='meta_expressions.json of the split')
    parser.add_argument('--gt-dir', required=True, help='palette annotations <video>/<frame>.png')
    parser.add_argument('--pred-dir', required=True, help='<video>/<exp_id>/<frame>.png masks')
    parser.add_argument('--out', help='write the full result (per set, per object) as JSON')
    parser.add_argument('--save-merged', help='also write the merged label maps per set here')
    parser.add_argument('--nproc', type=int, default=None, help='worker processes (all cores)')
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    try:
        res = evaluate_ref_davis17(args.meta, args.gt_dir, args.pred_dir, nproc=args.nproc,
                                   save_merged_dir=args.save_merged,
                                   progress=not args.no_progress)
    except (DataFormatError, FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'{"set":<20}{"J":>8}{"F":>8}{"J&F":>8}{"objects":>9}')
    for name, s in res['sets'].items():
        print(f'{name:<20}{s["J"]:>8.2f}{s["F"]:>8.2f}{s["J&F"]:>8.2f}{s["num_objects"]:>9}')
    print(f'{"mean of sets":<20}{res["J"]:>8.2f}{res["F"]:>8.2f}{res["J&F"]:>8.2f}')
    if res['missing']:
        print(f'warning: {len(res["missing"])} predicted frames missing (scored as empty masks), '
              f'e.g. {", ".join(res["missing"][:5])}', file=sys.stderr)
    if args.out:
        atomic_dump_json(res, args.out, indent=1)
        print(f'result: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
