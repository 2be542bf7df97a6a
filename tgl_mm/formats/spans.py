"""Frame spans and per-frame flags: the one conversion between them.

A span is an inclusive ``[start, end]`` pair of 0-based frame indices (the MeViS-M moment
convention, :mod:`tgl_mm.formats.moments`); a flag array is bool ``(T,)``, True on the frames of
the spans (for example M+).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ['spans_to_mask', 'mask_to_spans']


def spans_to_mask(spans: Iterable[Sequence[int]], num_frames: int) -> np.ndarray:
    """bool ``(num_frames,)``: True on the frames of the inclusive spans (clipped to the video)."""
    mask = np.zeros(num_frames, dtype=bool)
    for start, end in spans:
        mask[max(int(start), 0):int(end) + 1] = True
    return mask


def mask_to_spans(mask: Any) -> list[list[int]]:
    """Inclusive ``[start, end]`` spans of the True runs of per-frame flags ``(T,)`` (numpy, a
    list, or a torch tensor on any device; any shape is flattened)."""
    if hasattr(mask, 'detach') and hasattr(mask, 'cpu'):
        mask = mask.detach().cpu().numpy()
    m = np.asarray(mask).astype(bool).reshape(-1).astype(np.int8)
    edges = np.diff(np.concatenate([[0], m, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [[int(s), int(e)] for s, e in zip(starts, ends)]
