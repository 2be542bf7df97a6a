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


def window_iou(a: Sequence[int], b: Sequence[int]) -> float:
    """Temporal IoU of two half-open integer windows ``[start, end)``."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union > 0 else 0.0


DEGRADE_MODES = ('shift', 'shrink', 'widen')


def degrade_window(window: Sequence[int], num_frames: int, iou: float, mode: str,
                   side: float = 0.5) -> tuple[int, int]:
    """A window of frames ``[0, num_frames)`` whose IoU with ``window`` (half-open) is about
    ``iou``, made the way a retrieval model errs: ``shift`` (same length, moved later, or earlier
    when ``side < 0.5``), ``shrink`` (a part of it, placed by ``side`` in [0, 1]) or ``widen``
    (it plus margins, split by ``side``). Rounded to whole frames and clipped to the video, so the
    achieved IoU (:func:`window_iou`) may differ a little; never empty."""
    if not 0.0 < iou <= 1.0:
        raise ValueError(f'iou must be in (0, 1], got {iou}')
    if mode not in DEGRADE_MODES:
        raise ValueError(f'mode must be one of {DEGRADE_MODES}, got {mode!r}')
    start, end = int(window[0]), int(window[1])
    length = end - start
    if length <= 0 or start < 0 or end > num_frames:
        raise ValueError(f'window {list(window)} is not inside [0, {num_frames})')
    if mode == 'shift':
        d = round(length * (1 - iou) / (1 + iou))
        s = start + d if side >= 0.5 else start - d
        s = min(max(s, 0), num_frames - length)
        out = (s, s + length)
    elif mode == 'shrink':
        new = max(1, round(length * iou))
        s = start + round((length - new) * side)
        out = (s, s + new)
    else:
        extra = round(length / iou) - length
        before = round(extra * side)
        out = (max(0, start - before), min(num_frames, end + extra - before))
    return out
