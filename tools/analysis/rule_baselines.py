"""Score non-learned rule baselines on a generated synthetic MeViS-M split, per family.

Example:
    python tools/analysis/rule_baselines.py --data-root data/synthetic_mevis_m --split valid_u

Rules (see ``tgl_mm.analysis.rule_baselines``): ``all_objects`` (every object of the video),
``named_look`` (every object of the named shape and colour) and ``best`` (per sentence kind: the
look-alike whose frames show the named event, the one whose track performs the named motion,
else the named look). Each is given the objects' ground-truth masks, so only the choice of
objects is scored. Prints a J&F table (families x rules) and writes the figures as JSON.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tgl_mm.analysis.rule_baselines import RULES, format_rule_table, score_rules
from tgl_mm.utils.fileio import atomic_dump_json


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data-root', default='data/synthetic_mevis_m', help='generated dataset')
    p.add_argument('--split', default='valid_u', help='train, valid_u or valid (uses valid_gt)')
    p.add_argument('--rules', nargs='+', choices=RULES, default=list(RULES))
    p.add_argument('--out', default=None,
                   help='JSON output (default: work_dirs/rule_baselines/<split>.json)')
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        scores = score_rules(args.data_root, args.split, tuple(args.rules))
    except (FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    out = Path(args.out or f'work_dirs/rule_baselines/{args.split}.json')
    atomic_dump_json({'data_root': str(args.data_root), 'split': args.split, 'rules': scores},
                     out, indent=1)
    print(f'rule baselines, J&F on {args.data_root} {args.split}:')
    print(format_rule_table(scores))
    print(f'written to {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
