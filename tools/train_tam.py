"""Train the Temporal Alignment Module on a trained TGL checkpoint, as it is used at inference.

Example (the tiny recipe; ``tam`` grounding in benchmarks/synthetic_ablation.py)::

    python tools/train.py configs/tgl/tgl_tiny_synthetic.py --work-dir work_dirs/tiny
    python tools/train_tam.py configs/tgl/tgl_tiny_synthetic_tam.py \\
        work_dirs/tiny/iter_800.pth --out work_dirs/tiny/iter_800_tam.pth
    python tools/test.py configs/tgl/tgl_tiny_synthetic_tam.py work_dirs/tiny/iter_800_tam.pth \\
        --grounding tam

The TGL weights stay frozen. Every training expression is encoded over its whole video as the TAM
sees it at test time (features cached in the work dir); the TAM trains on whole videos and
contiguous crops; its threshold is chosen on held-out training videos and stored in the TAM
(``tam.decision_logit``). Settings: ``tam_train`` in the config
(:data:`tgl_mm.engine.tam_training.TAM_TRAIN_DEFAULTS`); see docs/grounding.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tgl_mm.engine import load_config
from tgl_mm.engine.tam_training import finite_or_none, fit_tam, tam_train_settings
from tgl_mm.utils import install_checkpoint_safety
from tgl_mm.utils.cli import KeyValueAction, add_debug_flag, run_tool
from tgl_mm.utils.fileio import atomic_dump_json


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='a config with model.tam (and optionally tam_train)')
    parser.add_argument('checkpoint', help='the trained TGL checkpoint (with or without a TAM)')
    parser.add_argument('--out', help='output checkpoint (default: <checkpoint stem>_tam.pth '
                        'next to it)')
    parser.add_argument('--work-dir', help='feature cache and tam_train.json (default: the '
                        "checkpoint's directory)")
    parser.add_argument('--seed', type=int, default=0, help='TAM initialisation, batches and '
                        'held-out videos (default 0)')
    parser.add_argument('--cfg-options', nargs='+', action=KeyValueAction, metavar='KEY=VALUE',
                        help='override config entries, e.g. tam_train.iters=500')
    add_debug_flag(parser)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    tam_train_settings(cfg)   # bad settings (iters < 1, ...) fail before any file is read
    ckpt = Path(args.checkpoint)
    if not ckpt.is_file():
        raise FileNotFoundError(f'checkpoint not found: {ckpt}')
    out = Path(args.out) if args.out else ckpt.with_name(f'{ckpt.stem}_tam.pth')
    work_dir = Path(args.work_dir) if args.work_dir else ckpt.parent
    install_checkpoint_safety()  # weights-only loading
    summary = fit_tam(cfg, str(ckpt), str(out), str(work_dir), seed=args.seed)
    atomic_dump_json(finite_or_none(summary), work_dir / f'{out.stem}.json', indent=2,
                     allow_nan=False)
    return summary


if __name__ == '__main__':
    sys.exit(run_tool(main))
