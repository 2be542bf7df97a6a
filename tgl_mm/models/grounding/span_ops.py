"""Small pure functions on per-frame flags, windows and scores."""
from __future__ import annotations

from collections.abc import Sequence

import torch


def windows_to_mask(windows: Sequence[Sequence[float]], num_frames: int) -> torch.Tensor:
    """Frames covered by half-open windows ``[start, end)`` in frame units.

    A frame ``t`` is covered when ``start <= t < end`` (fractional bounds from a moment-retrieval
    model are allowed: frame ``t`` is covered when ``t`` lies in the window). Windows are clipped to
    the video.

    Returns:
        bool (num_frames,)
    """
    t = torch.arange(num_frames, dtype=torch.float64)
    mask = torch.zeros(num_frames, dtype=torch.bool)
    for window in windows:
        start, end = float(window[0]), float(window[1])
        mask |= (t >= start) & (t < end)
    return mask


def spans_to_mask(spans: Sequence[Sequence[int]], num_frames: int) -> torch.Tensor:
    """Frames covered by inclusive frame spans ``[start, end]`` (the MeViS-M convention)."""
    return windows_to_mask([(s, e + 1) for s, e in spans], num_frames)


def topk_mask(scores: torch.Tensor, k: int, within: torch.Tensor | None = None) -> torch.Tensor:
    """The ``k`` highest-scored frames (ties: earlier frame first), optionally among ``within``.

    Args:
        scores: float (T,)
        k: number of frames to keep (clipped to the number of candidates; at least 1 candidate).
        within: optional bool (T,) candidate frames (an empty set falls back to all frames).

    Returns:
        bool (T,)
    """
    if k < 1:
        raise ValueError(f'top-k needs k >= 1, got {k}')
    candidates = torch.ones_like(scores, dtype=torch.bool) if within is None else within
    if not bool(candidates.any()):
        candidates = torch.ones_like(scores, dtype=torch.bool)
    masked = torch.where(candidates, scores.double(), torch.tensor(float('-inf'),
                                                                   dtype=torch.float64))
    # stable ordering: sort by (-score, index)
    order = torch.argsort(-masked, stable=True)
    keep = order[:min(k, int(candidates.sum()))]
    mask = torch.zeros_like(candidates)
    mask[keep] = True
    return mask


def largest_span(mask: torch.Tensor) -> torch.Tensor:
    """Keep only the longest run of True frames (the earliest one on ties).

    Args:
        mask: bool (T,)

    Returns:
        bool (T,) with a single contiguous run (all False if ``mask`` is).
    """
    best_start, best_len, start = 0, 0, None
    values = mask.tolist() + [False]
    for i, v in enumerate(values):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if i - start > best_len:
                best_start, best_len = start, i - start
            start = None
    out = torch.zeros_like(mask)
    out[best_start:best_start + best_len] = True
    return out
