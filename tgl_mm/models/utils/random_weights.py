"""SAM2 checkpoints with random weights in the official layout, for measuring the paper's
architectures where the official files are not at hand (benchmarks, the GPU check)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from tgl_mm.models.utils.sam2_settings import build_sam2_model, get_sam2_settings


def save_random_sam2_checkpoint(path: str | os.PathLike, arch: str | Mapping,
                                seed: int = 0) -> Path:
    """Write ``{"model": state_dict}`` of a randomly initialised sam2 model of ``arch`` (every
    part, official key layout, as the released ``.pt`` files), atomically.

    The weights are sam2's own initialisation after ``torch.manual_seed(seed)``: shapes and cost
    are the real architecture's, the outputs mean nothing.
    """
    path = Path(path)
    torch.manual_seed(seed)
    model = build_sam2_model(get_sam2_settings(arch))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.partial')
    torch.save({'model': model.state_dict()}, tmp)
    os.replace(tmp, path)
    return path


__all__ = ['save_random_sam2_checkpoint']
