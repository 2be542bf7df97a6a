"""Export the trainable parts of a TGL checkpoint (a few MB) for a later stage to start from.

Example (the referring-image pretraining the tiny TGL config starts from):
    python tools/export_parts.py work_dirs/tgl_tiny_synthetic_image_pretrain/iter_3000.pth \\
        checkpoints/tiny_tgl_image_pretrain_synthetic.pt

Writes ``neck``, ``prompt`` and ``head`` by default (``--parts`` to choose) and prints the
SHA-256 of the file, for ``model.pretrained.checkpoint_sha256`` in a config.
"""
from __future__ import annotations

import argparse
import pickle
import sys

from tgl_mm.models.utils.part_checkpoint import save_model_parts
from tgl_mm.models.utils.sam2_checkpoint import file_sha256
from tgl_mm.utils.checkpoint import checkpoint_state_dict, load_checkpoint_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='mmengine checkpoint of a TGLSAM2 run')
    parser.add_argument('out', help='output .pt (parts checkpoint)')
    parser.add_argument('--parts', nargs='+', default=['neck', 'prompt', 'head'],
                        help='top-level model parts to keep (default: neck prompt head)')
    args = parser.parse_args(argv)
    try:
        ckpt = load_checkpoint_file(args.checkpoint, map_location='cpu')
        state = checkpoint_state_dict(ckpt, args.checkpoint)
        tensors = save_model_parts(state, args.out, args.parts)
    except (OSError, ValueError, pickle.UnpicklingError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'wrote {args.out}: parts {args.parts}, {len(tensors)} tensors, sha256 '
          f'{file_sha256(args.out)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
