"""Generate the synthetic MeViS-M benchmark (public MeViS layout + tgl_mm moment files).

Example:
    python tools/data/make_synthetic_mevis_m.py --out-dir data/synthetic_mevis_m --seed 0
"""
from __future__ import annotations

import argparse
import sys

from tgl_mm.datasets.synthetic import make_synthetic_mevis_m


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out-dir', default='data/synthetic_mevis_m', help='output directory')
    p.add_argument('--seed', type=int, default=0, help='base random seed')
    p.add_argument('--num-videos', type=int, default=150, help='train videos')
    p.add_argument('--num-valid-u', type=int, default=24, help='valid_u videos')
    p.add_argument('--num-valid', type=int, default=10, help='valid videos')
    p.add_argument('--size', type=int, default=160, help='longer frame side in pixels')
    p.add_argument('--min-frames', type=int, default=20, help='fewest frames per video')
    p.add_argument('--max-frames', type=int, default=28, help='most frames per video')
    p.add_argument('--image-frames-per-video', type=int, default=3,
                   help='frames per train / valid_u video in the referring-image split '
                        '(image_refer/, the stage-1 data); 0: none')
    p.add_argument('--image-sentences', nargs='+', default=['look'],
                   choices=['look', 'shape', 'colour', 'position'],
                   help='kinds of sentence in the image split: look (colour and shape, with '
                        'count and size; the default, as the video expressions name objects), '
                        'shape, colour, position (docs/tiny_recipe.md: what stage 1 learns '
                        'from each)')
    p.add_argument('--overwrite', action='store_true', help='replace an existing --out-dir')
    p.add_argument('--skip-existing', action='store_true',
                   help='do nothing if --out-dir already holds a generated dataset')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from pathlib import Path
    if args.skip_existing and (Path(args.out_dir) / 'info.json').is_file():
        print(f'{args.out_dir} exists; skipping (--skip-existing)')
        return 0
    try:
        make_synthetic_mevis_m(
            args.out_dir, seed=args.seed, num_videos=args.num_videos,
            num_valid_u=args.num_valid_u, num_valid=args.num_valid, size=args.size,
            min_frames=args.min_frames, max_frames=args.max_frames,
            image_frames_per_video=args.image_frames_per_video,
            image_sentence_kinds=args.image_sentences, overwrite=args.overwrite,
            progress=not args.no_progress)
    except (FileExistsError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
