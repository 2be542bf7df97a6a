"""Render one expression's predicted masks over its frames (and the GT when the split has masks).

    python tools/analysis/render_overlay.py --split-dir data/mevis/valid_u \
        --pred-dir work_dirs/pred --video 0a8c5fbb --exp 2 --out overlay.png [--frames 8] [--no-gt]

The output is a grid: one column per selected frame (evenly spaced), a prediction row and a GT
row, titled with the video, expression id and sentence.
"""
from __future__ import annotations

import argparse
import sys

from tgl_mm.formats import DataFormatError
from tgl_mm.utils.fileio import atomic_write_bytes
from tgl_mm.visualization.overlay import encode_png
from tgl_mm.visualization.prediction_overlay import render_prediction_overlay


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--split-dir', required=True,
                        help='MeViS-layout split (JPEGImages/, meta_expressions.json)')
    parser.add_argument('--pred-dir', required=True, help='<video>/<exp_id>/<frame>.png masks')
    parser.add_argument('--video', required=True)
    parser.add_argument('--exp', required=True, help='expression id')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--frames', type=int, default=8, help='frames (columns) to draw')
    parser.add_argument('--tile-width', type=int, default=320)
    parser.add_argument('--no-gt', action='store_true', help='do not draw the ground truth')
    args = parser.parse_args(argv)
    try:
        grid = render_prediction_overlay(args.split_dir, args.pred_dir, args.video, args.exp,
                                         with_gt=not args.no_gt, max_frames=args.frames,
                                         tile_width=args.tile_width)
    except (DataFormatError, FileNotFoundError, KeyError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    atomic_write_bytes(args.out, encode_png(grid))
    print(f'{args.out}: {grid.shape[1]}x{grid.shape[0]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
