"""One command for a GPU machine: does this code run there, and what does the paper's setting
cost? Writes one JSON (see docs/get_started.md, "On a GPU machine").

    python tools/gpu_check.py [--out work_dirs/gpu_check/gpu_check.json] [--device cuda:0]
    python tools/gpu_check.py --tiny        # CPU smoke run with tiny sizes (seconds)

Sections: torch / CUDA / bf16 AMP sanity; 20 AMP training iterations of
configs/tgl/tgl_hiera-b_mevis-m.py's architecture (random weights in the official layouts, 8-frame
clip, batch 1, 1024 px) and a few with activation checkpointing; a one-process
``tools/dist_train.sh ... 1``; streaming inference of a 300-frame 1024-px video with two
sentences beside sam2's SAM2VideoPredictor. Exit status 1 when a section failed (the JSON says
which and why).
"""
from __future__ import annotations

import argparse
import sys

from tgl_mm.engine.gpu_check import PAPER_CONFIG, run_gpu_check
from tgl_mm.utils.cli import add_debug_flag, run_tool

SECTIONS = ('env', 'train', 'train_checkpointed', 'dist_train', 'streaming')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='work_dirs/gpu_check/gpu_check.json')
    parser.add_argument('--work-dir', default='work_dirs/gpu_check',
                        help='random weights, the generated video and data go here')
    parser.add_argument('--device', default=None, help='default: cuda if available, else cpu')
    parser.add_argument('--tiny', action='store_true',
                        help='tiny sizes (tiny SAM2, 64 px, 3 iterations, 8 frames): a CPU run '
                             'in seconds')
    parser.add_argument('--config', default=str(PAPER_CONFIG))
    parser.add_argument('--sections', nargs='+', choices=SECTIONS, default=list(SECTIONS))
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    results = run_gpu_check(args.out, args.work_dir, device=args.device, tiny=args.tiny,
                            config=args.config, sections=tuple(args.sections))
    print(f'[gpu_check] {"all sections passed" if results["ok"] else "FAILED"} in '
          f'{results["seconds"]:.0f} s; wrote {args.out}')
    return 0 if results['ok'] else 1


if __name__ == '__main__':
    sys.exit(run_tool(main))
