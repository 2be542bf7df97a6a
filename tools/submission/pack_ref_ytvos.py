"""Pack Ref-YouTube-VOS ``valid`` predictions: ``Annotations/<video>/<exp_id>/<frame>.png``.

    python tools/submission/pack_ref_ytvos.py work_dirs/ytvos_pred submission.zip \
        --meta data/ref-youtube-vos/meta_expressions/valid/meta_expressions.json \
        --exclude-meta data/ref-youtube-vos/meta_expressions/test/meta_expressions.json

The valid split is meta_expressions/valid minus the test videos (202 videos); with ``--meta`` every
video/expression/frame must be present (else the missing ones are listed and nothing is written,
unless ``--allow-missing``).
"""
from __future__ import annotations

import argparse
import sys

from tgl_mm.evaluation.submission import SubmissionError, pack_ref_ytvos_valid, summarize_pack
from tgl_mm.formats import DataFormatError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('pred_dir', help='<video>/<exp_id>/<frame>.png predictions')
    parser.add_argument('zip_path', help='output zip')
    parser.add_argument('--meta', help='meta_expressions/valid/meta_expressions.json')
    parser.add_argument('--exclude-meta', help='meta_expressions/test/meta_expressions.json '
                        '(its videos are not part of valid)')
    parser.add_argument('--allow-missing', action='store_true',
                        help='pack even if predictions are missing (listed)')
    args = parser.parse_args(argv)
    try:
        plan = pack_ref_ytvos_valid(args.pred_dir, args.zip_path, meta_path=args.meta,
                                    exclude_meta_path=args.exclude_meta,
                                    allow_missing=args.allow_missing)
    except (SubmissionError, DataFormatError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    summary, warnings = summarize_pack(plan, where=' (under Annotations/)')
    print(summary)
    for warning in warnings:
        print(f'warning: {warning}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
