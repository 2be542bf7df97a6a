"""Validate a MeViS-M moment file (tgl_mm format) against a split's meta_expressions.json.

Checks the schema (docs/moments_schema.json), then per expression: spans inside the video,
not reversed, only for objects the expression refers to, every referred object present, M+
not empty; unknown videos/expressions and declared frame counts. Exit code 0 when valid, 1 with
an error naming file, video, expression and field otherwise.

Example:
    python tools/data/check_moments.py data/synthetic_mevis_m/moments/train.json \
        --split-dir data/synthetic_mevis_m/train
"""
from __future__ import annotations

import argparse
import os
import sys

from tgl_mm.formats import DataFormatError
from tgl_mm.formats import check_moment_file


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('moment_file', help='moment file to check')
    p.add_argument('--split-dir', required=True,
                   help='the split directory holding meta_expressions.json')
    p.add_argument('--require-all', action='store_true',
                   help='every expression of the split must have a moment')
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    meta = os.path.join(args.split_dir, 'meta_expressions.json')
    try:
        s = check_moment_file(args.moment_file, meta, require_all=args.require_all)
    except DataFormatError as e:
        print(f'INVALID: {e}', file=sys.stderr)
        return 1
    print(f'OK: {args.moment_file}: {s["videos"]} videos, {s["expressions"]} expressions '
          f'({s["object_level"]} object-level, {s["video_level"]} video-level), '
          f'{s["missing"]} split expressions without a moment; M+ coverage mean '
          f'{s["coverage_mean"]:.2f} (min {s["coverage_min"]:.2f}, max {s["coverage_max"]:.2f})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
