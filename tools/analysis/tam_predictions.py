"""Write the TAM's spans on a split as a moment-retrieval prediction file (a learned retriever).

The checkpoint's Temporal Alignment Module must have been trained by ``tools/train_tam.py`` on
another split (the train split): the tool refuses a TAM trained on the split it predicts. Each
contiguous run of the TAM's M+ (the config's ``tam`` grounding, else the calibrated threshold)
becomes one window ``[start, end, score]`` scored by the mean TAM score over it, best first;
``--grounding moment_retrieval --grounding-options pred_file=FILE`` reads it (``top_k=1``: the
TAM's best span). When the split has a moment file, the file's retrieval quality (mean top-1
IoU, R1@0.5/0.7, mAP, top-1 inside/overlap/miss) is printed and written next to it as
``<out stem>.stats.json``; the predictions themselves read no moments.

Example:
    python tools/analysis/tam_predictions.py configs/tgl/tgl_tiny_synthetic_tam.py \\
        work_dirs/tiny/iter_800_tam.pth --split valid_u --out work_dirs/grounding/mr_tam.jsonl
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tgl_mm.utils.cli import KeyValueAction, add_debug_flag, run_tool


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', help='a TAM config (model.tam), e.g. tgl_tiny_synthetic_tam.py')
    p.add_argument('checkpoint', help='a TGL checkpoint with a TAM from tools/train_tam.py')
    p.add_argument('--split', default='valid_u', help='split to predict (default valid_u)')
    p.add_argument('--out', required=True, help='output .jsonl')
    p.add_argument('--moment-file', default=None, help='moments to report the quality against '
                   '(default: DATA_ROOT/moments/SPLIT.json when it exists)')
    p.add_argument('--cfg-options', nargs='+', action=KeyValueAction, metavar='KEY=VALUE',
                   help='override config entries, e.g. test_dataloader.dataset.data_root=DIR')
    add_debug_flag(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from tgl_mm.engine import load_config
    from tgl_mm.engine.tam_predictions import write_tam_predictions
    from tgl_mm.models.grounding.degraded_retrieval import queries_from_moments, retrieval_quality
    from tgl_mm.utils import install_checkpoint_safety
    from tgl_mm.utils.fileio import atomic_dump_json

    cfg = load_config(args.config, args.cfg_options)
    install_checkpoint_safety()  # weights-only loading
    records = write_tam_predictions(cfg, args.checkpoint, args.out, args.split)
    moments = Path(args.moment_file) if args.moment_file else \
        Path(cfg.test_dataloader.dataset.get('data_root', '.')) / 'moments' / f'{args.split}.json'
    if not moments.is_file():
        print(f'no moment file {moments}: retrieval quality not reported')
        return {}
    stats = retrieval_quality(records, queries_from_moments(moments))
    out = Path(args.out)
    atomic_dump_json(dict(moment_file=str(moments), checkpoint=str(args.checkpoint),
                          split=args.split, **stats),
                     out.with_name(f'{out.stem}.stats.json'), indent=2)
    print(f'TAM windows on {args.split}: mean top-1 IoU {stats["mean_iou"]:.3f}, '
          f'R1@0.5 {stats["R1@0.5"]:.1f}, R1@0.7 {stats["R1@0.7"]:.1f}, mAP {stats["mAP"]:.1f}; '
          f'top-1 inside {stats["top1_inside"]:.1f} %, overlapping '
          f'{stats["top1_overlap"]:.1f} %, missing {stats["top1_miss"]:.1f} %')
    return stats


if __name__ == '__main__':
    sys.exit(run_tool(main))
