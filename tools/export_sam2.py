"""Export a stage-0 checkpoint as an official-layout SAM2 ``.pt`` that the TGL configs load.

Example:
    python tools/export_sam2.py work_dirs/stage0_tiny_sam2_synthetic/iter_3000.pth \\
        checkpoints/tiny_sam2_stage0_synthetic.pt

Prints the SHA-256 of the written file (for ``checkpoint_sha256`` in a config).
"""
from __future__ import annotations

import argparse
import pickle
import sys

from tgl_mm.models.segmentors.sam2_pretrainer import export_sam2_checkpoint
from tgl_mm.models.utils.sam2_checkpoint import file_sha256
from tgl_mm.utils.checkpoint import load_checkpoint_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='mmengine checkpoint of a SAM2Pretrainer run')
    parser.add_argument('out', help='output .pt (official SAM2 layout)')
    args = parser.parse_args(argv)
    try:
        ckpt = load_checkpoint_file(args.checkpoint, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict):
            raise ValueError(f'{args.checkpoint}: no state_dict in the checkpoint')
        tensors = export_sam2_checkpoint(state, args.out)
    except (OSError, ValueError, pickle.UnpicklingError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'wrote {args.out}: {len(tensors)} tensors, sha256 {file_sha256(args.out)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
