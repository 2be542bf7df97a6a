"""Write moment-retrieval prediction files from annotated moments degraded to a quality level.

Stands in for retrieval models of known quality (the grounding-quality curve of
``benchmarks/synthetic_ablation.py``). A level is named by its target mean IoU of the top-1
windows; every query gets 5 scored windows (best first) whose errors go both ways: shifts past
the moment's edges, too wide, too narrow, and outright misses (a window elsewhere in the video)
whose share grows as the level drops. The model is
:mod:`tgl_mm.models.grounding.degraded_retrieval` (docs/grounding.md, "Degraded moment
retrieval"). Output: the QVHighlights JSON-lines shape that ``--grounding moment_retrieval
--grounding-options pred_file=FILE`` reads. Each level reports its achieved mean top-1 IoU,
R1@0.5/0.7, mAP and the shares of top-1 windows inside, overlapping and missing the moment.

Examples:
    python tools/analysis/degrade_moments.py --data-root data/synthetic_mevis_m_seed1 \\
        --split valid_u --iou 0.7 --out work_dirs/grounding/mr_iou0.7.jsonl
    python tools/analysis/degrade_moments.py --data-root data/synthetic_mevis_m_seed1 \\
        --split valid_u --sweep --out-dir work_dirs/grounding     # every level + stats JSON
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

STAT_COLUMNS = ('mean_iou', 'R1@0.5', 'R1@0.7', 'mAP', 'top1_inside', 'top1_overlap',
                'top1_miss')


def stats_table(rows: list[tuple[str, dict]]) -> str:
    """A Markdown table of :func:`retrieval_quality` results, one row per (name, stats)."""
    head = '| level | ' + ' | '.join(STAT_COLUMNS) + ' |'
    lines = [head, '|' + '---|' * (len(STAT_COLUMNS) + 1)]
    for name, stats in rows:
        cells = [f'{stats["mean_iou"]:.3f}'] + [f'{stats[k]:.1f}' for k in STAT_COLUMNS[1:]]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def level_stats(moment_path: str | Path, level: str | float, seed: int = 0,
                num_windows: int | None = None) -> dict:
    """The achieved quality of one level on a moment file, as ``--iou LEVEL`` writes it
    (:func:`~tgl_mm.models.grounding.degraded_retrieval.retrieval_quality`: ``mean_iou``,
    ``R1@0.5``, ``R1@0.7``, ``mAP``, ``top1_inside``/``overlap``/``miss``, ...)."""
    from tgl_mm.models.grounding.degraded_retrieval import (
        NUM_WINDOWS,
        degradation_sweep,
        queries_from_moments,
    )

    queries = queries_from_moments(moment_path)
    return degradation_sweep(queries, [float(level)], seed,
                             num_windows or NUM_WINDOWS)[0].stats


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from tgl_mm.models.grounding.degraded_retrieval import NUM_WINDOWS, QUALITY_LEVELS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data-root', default='data/synthetic_mevis_m')
    p.add_argument('--split', default='valid_u')
    p.add_argument('--moment-file', default=None,
                   help='default: DATA_ROOT/moments/SPLIT.json')
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument('--iou', type=float, help='one level: target mean top-1 IoU in (0, 1]')
    what.add_argument('--sweep', nargs='*', type=float, metavar='IOU',
                      help=f'several levels (default {" ".join(map(str, QUALITY_LEVELS))})')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-windows', type=int, default=NUM_WINDOWS, help='windows per query')
    p.add_argument('--out', help='output .jsonl (with --iou)')
    p.add_argument('--out-dir', help='with --sweep: writes mr_iou<IOU>.jsonl per level and '
                   'degradation_stats.json')
    args = p.parse_args(argv)
    if args.iou is not None and not args.out:
        p.error('--iou needs --out')
    if args.sweep is not None and not args.out_dir:
        p.error('--sweep needs --out-dir')
    if args.sweep == []:
        args.sweep = list(QUALITY_LEVELS)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tgl_mm.models.grounding.degraded_retrieval import degradation_sweep, queries_from_moments
    from tgl_mm.models.grounding.prediction_files import write_prediction_file
    from tgl_mm.utils.fileio import atomic_dump_json

    path = args.moment_file or Path(args.data_root) / 'moments' / f'{args.split}.json'
    levels = [args.iou] if args.iou is not None else args.sweep
    try:
        queries = queries_from_moments(path)
        results = degradation_sweep(queries, levels, args.seed, args.num_windows)
    except (OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    if args.iou is not None:
        write_prediction_file(results[0].predictions, args.out)
        print(f'wrote {args.out}: {len(queries)} queries, {args.num_windows} windows each')
    else:
        out_dir = Path(args.out_dir)
        for level in results:
            write_prediction_file(level.predictions, out_dir / f'mr_iou{level.quality:g}.jsonl')
        atomic_dump_json(dict(moment_file=str(path), seed=args.seed,
                              num_windows=args.num_windows,
                              levels=[dict(target_iou=r.quality, hit_logit=r.hit_logit,
                                           file=f'mr_iou{r.quality:g}.jsonl', **r.stats)
                                      for r in results]),
                         out_dir / 'degradation_stats.json', indent=2)
        print(f'wrote {len(results)} levels to {out_dir} ({len(queries)} queries)')
    print(stats_table([(f'{r.quality:g}', r.stats) for r in results]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
