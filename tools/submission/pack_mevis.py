"""Pack MeViS ``valid`` predictions for the evaluation server (video folders at the zip root).

    python tools/submission/pack_mevis.py work_dirs/mevis_valid_pred submission.zip \
        --meta data/mevis/valid/meta_expressions.json

``work_dirs/mevis_valid_pred`` is what ``tools/test.py CONFIG CKPT --out DIR`` writes with a
``format_only`` RVOSMetric. With ``--meta``, every video/expression/frame must be present (missing
ones are listed and nothing is written, unless ``--allow-missing``).
"""
from __future__ import annotations

import argparse
import sys

from tgl_mm.evaluation.submission import SubmissionError, pack_mevis_valid, summarize_pack
from tgl_mm.formats import DataFormatError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('pred_dir', help='<video>/<exp_id>/<frame>.png predictions')
    parser.add_argument('zip_path', help='output zip')
    parser.add_argument('--meta', help='meta_expressions.json of MeViS valid (completeness check)')
    parser.add_argument('--allow-missing', action='store_true',
                        help='pack even if predictions are missing (listed)')
    args = parser.parse_args(argv)
    try:
        plan = pack_mevis_valid(args.pred_dir, args.zip_path, meta_path=args.meta,
                                allow_missing=args.allow_missing)
    except (SubmissionError, DataFormatError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    summary, warnings = summarize_pack(plan, where='')
    print(summary)
    for warning in warnings:
        print(f'warning: {warning}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
