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
    ``iou``, made the way a retrieval model errs.

    - ``shift``: same length, moved later (or earlier when ``side < 0.5``) by
      ``length * (1 - iou) / (1 + iou)`` frames, past the window's edges; only the video's own
      ends clip it (a shift past the last frame is cut there, so the IoU can come out lower or
      higher than asked; if nothing would be left, it moves the other way, or keeps one frame
      when the window fills the video);
    - ``shrink``: too narrow, ``length * iou`` frames of it (at least one), placed by ``side``
      in [0, 1];
    - ``widen``: too wide, ``length / iou`` frames, the margin split by ``side`` (the part of a
      margin the video's end cuts goes to the other side, as far as the video allows).

    Rounded to whole frames, so the achieved IoU (:func:`window_iou`) may differ a little;
    never empty.
    """
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
        sign = 1 if side >= 0.5 else -1
        # the last candidate always keeps a frame of the video
        s = next(c for c in (start + sign * d, start - sign * d, start + sign * (length - 1))
                 if max(c, 0) < min(c + length, num_frames))
        return max(s, 0), min(s + length, num_frames)
    if mode == 'shrink':
        new = min(length, max(1, round(length * iou)))
        s = start + round((length - new) * side)
        return s, s + new
    extra = min(round(length / iou) - length, num_frames - length)
    before = round(extra * side)
    after = extra - before
    if start - before < 0:                  # the video's start cuts the margin before
        before, after = start, after + before - start
    if end + after > num_frames:            # the video's end cuts the margin after
        before, after = before + after - (num_frames - end), num_frames - end
    return start - before, end + after


def mask_to_scored_windows(mask: torch.Tensor, scores: torch.Tensor) -> list[list[float]]:
    """Moment-retrieval predictions from an M+ and per-frame scores: one half-open window
    ``[start, end, score]`` per run of True frames, scored by the mean of ``scores`` over it,
    best first (equal scores: earlier window first).

    Args:
        mask: bool (T,)
        scores: float (T,)

    Returns:
        ``[[start, end, score], ...]`` with integer ``start``/``end`` (empty for an empty mask).
    """
    if mask.shape != scores.shape or mask.dim() != 1:
        raise ValueError(f'mask and scores must both be (T,), got {tuple(mask.shape)} and '
                         f'{tuple(scores.shape)}')
    flags = mask.bool().tolist() + [False]
    values = scores.detach().double().cpu()
    windows, start = [], None
    for t, flag in enumerate(flags):
        if flag and start is None:
            start = t
        elif not flag and start is not None:
            windows.append([start, t, float(values[start:t].mean())])
            start = None
    return sorted(windows, key=lambda w: -w[2])
