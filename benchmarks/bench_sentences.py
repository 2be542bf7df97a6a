"""Frames/s with K sentences (batched through the adapter path, prompt and head) beside sam2's
``SAM2VideoPredictor`` tracking K objects on the same SAM2 weights, side by side in one run.

    python benchmarks/bench_sentences.py [--sentences 1 2 4 8] [--video-frames 100]
    python benchmarks/bench_sentences.py --paper-b --size 512 --video-frames 30

Default: the tiny config (its 128 px input, the stage-0 SAM2 weights it loads, MiniLM).
``--paper-b``: configs/tgl/tgl_hiera-b_mevis-m.py's architecture (Hiera-B+, RoBERTa-base's shape,
HSA) with random weights in the official layouts at ``--size``. Every case is a fresh process
(:func:`bench_paper_size.measure`), ours and sam2 alternating per K; ``none`` grounding (every
frame M+); frames/s counts video frames (the ratio is the same counted per sentence), decoding
included for both (a generated JPEG folder).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from bench_paper_size import CONFIGS, REPO, measure

from tgl_mm.utils.fileio import atomic_dump_json

TINY_CONFIG = REPO / 'configs/tgl/tgl_tiny_synthetic.py'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sentences', type=int, nargs='+', default=[1, 2, 4, 8])
    parser.add_argument('--video-frames', type=int, default=100)
    parser.add_argument('--paper-b', action='store_true')
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--files', default='work_dirs/bench_sentences')
    parser.add_argument('--out', default=None, help='JSON of every case')
    args = parser.parse_args()
    files = str(Path(args.files).resolve())
    base = dict(config=str(CONFIGS['b']), size=args.size, random=True) if args.paper_b else \
        dict(config=str(TINY_CONFIG), random=False)
    rows = []
    for k in args.sentences:
        fps = {}
        for kind in ('ours', 'sam2'):
            row = measure(dict(base, kind=kind, video_frames=args.video_frames, sentences=k,
                               files=files))
            rows.append(row)
            fps[kind] = row.get('fps')
        ratio = f'{fps["ours"] / fps["sam2"]:.2f}' if all(fps.values()) else 'n/a'
        print(f'{k} sentence(s) / objects: ours {fps["ours"] or 0:6.2f} frames/s, '
              f'SAM2VideoPredictor {fps["sam2"] or 0:6.2f} frames/s, ratio {ratio}', flush=True)
    if args.out:
        atomic_dump_json(rows, args.out, indent=1)


if __name__ == '__main__':
    main()
