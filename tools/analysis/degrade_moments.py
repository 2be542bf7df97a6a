"""Write moment-retrieval prediction files from oracle moments degraded to a target IoU.

Stands in for retrieval models of known quality (the grounding-quality curve of
``benchmarks/synthetic_ablation.py``): every M+ span of an expression (MeViS-M moments, merged
across its objects) becomes one window, shifted, shrunk or widened (chosen at random per window,
seeded; a shift or widening that the video's ends would clip becomes a shrink) so its IoU with
the span is about ``--iou``. Output: the QVHighlights JSON-lines shape
that ``--grounding moment_retrieval --grounding-options pred_file=FILE`` reads.

Example:
    python tools/analysis/degrade_moments.py --data-root data/synthetic_mevis_m_seed1 \\
        --split valid_u --iou 0.7 --out work_dirs/grounding/mr_iou0.7.jsonl
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def degraded_predictions(moment_path: str | Path, iou: float, seed: int = 0
                         ) -> tuple[list[dict], float]:
    """``([{"qid", "pred_relevant_windows"}], mean achieved IoU)`` for every expression of a
    moment file."""
    from tgl_mm.datasets.moments import load_moments, mask_to_spans, spans_to_mask
    from tgl_mm.models.grounding.span_ops import DEGRADE_MODES, degrade_window, window_iou

    moments = load_moments(moment_path)
    rng = np.random.default_rng(seed)
    lines, ious = [], []
    for video, exps in sorted(moments.moments.items()):
        num = moments.num_frames[video]
        for exp_id, m in sorted(exps.items(), key=lambda kv: int(kv[0])
                                if str(kv[0]).isdigit() else str(kv[0])):
            windows = []
            for s, e in mask_to_spans(spans_to_mask(m.mplus_spans(), num)):
                truth = (s, e + 1)                       # inclusive span -> half-open window
                mode = DEGRADE_MODES[int(rng.integers(len(DEGRADE_MODES)))]
                side = float(rng.random())
                got = degrade_window(truth, num, iou, mode, side)
                if window_iou(truth, got) > iou + 0.05:   # clipped by the video's ends
                    got = degrade_window(truth, num, iou, 'shrink', side)
                ious.append(window_iou(truth, got))
                windows.append([got[0], got[1], float(got[1] - got[0])])
            windows.sort(key=lambda w: -w[2])
            lines.append({'qid': f'{video}/{exp_id}', 'pred_relevant_windows': windows})
    return lines, float(np.mean(ious)) if ious else float('nan')


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data-root', default='data/synthetic_mevis_m')
    p.add_argument('--split', default='valid_u')
    p.add_argument('--moment-file', default=None,
                   help='default: DATA_ROOT/moments/SPLIT.json')
    p.add_argument('--iou', type=float, required=True, help='target IoU in (0, 1]')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', required=True, help='output .jsonl')
    args = p.parse_args(argv)
    from tgl_mm.utils.fileio import atomic_path
    path = args.moment_file or Path(args.data_root) / 'moments' / f'{args.split}.json'
    try:
        lines, achieved = degraded_predictions(path, args.iou, args.seed)
    except (OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        Path(tmp).write_text(''.join(json.dumps(line) + '\n' for line in lines))
    print(f'wrote {args.out}: {len(lines)} queries, mean window IoU {achieved:.3f} '
          f'(target {args.iou})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
