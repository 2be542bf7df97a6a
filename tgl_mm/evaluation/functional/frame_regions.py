"""Where in a video a model loses an expression: per-frame scores split by the frame's place
relative to the expression's moment (issue 19: is motion lost inside the moment, next to it, or
in long M- stretches far from any M+ memory?).

Pure functions over per-frame scores (a report's ``J_frames``) and inclusive ``[start, end]``
moment spans; :func:`region_means` aggregates a report's records per family.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from tgl_mm.formats import spans_to_mask

#: the regions, in the order tables show them
REGIONS = ('mplus', 'near', 'far')


def distance_to_moment(spans: Sequence[Sequence[int]], num_frames: int) -> np.ndarray:
    """Frames from each frame to the nearest frame of ``spans`` (inclusive ``[start, end]``):
    ``(num_frames,)`` int, 0 inside the moment; ``num_frames`` everywhere when ``spans`` is empty
    (no frame of the video is in the moment)."""
    if num_frames < 0:
        raise ValueError(f'num_frames must be >= 0, got {num_frames}')
    clipped = []
    for span in spans:
        start, end = int(span[0]), int(span[1])
        if start > end:
            raise ValueError(f'span {list(span)}: start after end')
        clipped.append((max(start, 0), min(end, num_frames - 1)))
    inside = spans_to_mask(clipped, num_frames)
    if not inside.any():
        return np.full(num_frames, num_frames, dtype=np.int64)
    idx = np.arange(num_frames)
    marked = idx[inside]
    # nearest marked frame on either side, by searchsorted
    pos = np.searchsorted(marked, idx)
    right = np.where(pos < len(marked), marked[np.minimum(pos, len(marked) - 1)] - idx,
                     num_frames)
    left = np.where(pos > 0, idx - marked[np.maximum(pos - 1, 0)], num_frames)
    return np.minimum(np.abs(right), np.abs(left)).astype(np.int64)


def frame_regions(spans: Sequence[Sequence[int]], num_frames: int, near: int = 3) -> np.ndarray:
    """Each frame's region: ``'mplus'`` (in the moment), ``'near'`` (at most ``near`` frames
    from it) or ``'far'``: ``(num_frames,)`` array of :data:`REGIONS` names."""
    if near < 1:
        raise ValueError(f'near must be >= 1, got {near}')
    dist = distance_to_moment(spans, num_frames)
    return np.where(dist == 0, 'mplus', np.where(dist <= near, 'near', 'far'))


def region_means(records: Iterable[Mapping], near: int = 3, key: str = 'J_frames',
                 families: Mapping[tuple[str, str], str] | None = None
                 ) -> dict[str, dict[str, dict]]:
    """Mean per-frame score (``key``, in [0, 1]; reported in %) per family and region over the
    report ``records`` (each with ``video_id``, ``exp_id``, ``gt_spans``, ``key`` and
    ``family``, or its family in ``families``: ``{(video_id, exp_id): family}``), every frame of
    every expression weighted alike; family ``'all'`` pools them.

    Returns ``{family: {region: {"mean": float | None, "frames": int}}}``. A record without a
    family raises a ``ValueError`` naming its video and expression."""
    sums: dict[str, dict[str, list[float]]] = {}
    for rec in records:
        where = (str(rec['video_id']), str(rec['exp_id']))
        family = (families or {}).get(where, rec.get('family'))
        if not family:
            raise ValueError(f'video {where[0]!r}, expression {where[1]!r}: no family')
        scores = np.asarray(rec[key], dtype=np.float64)
        regions = frame_regions(rec.get('gt_spans') or [], len(scores), near)
        for fam in (family, 'all'):
            acc = sums.setdefault(fam, {r: [0.0, 0] for r in REGIONS})
            for region in REGIONS:
                sel = scores[regions == region]
                acc[region][0] += float(sel.sum())
                acc[region][1] += int(sel.size)
    return {fam: {r: {'mean': 100 * s / n if n else None, 'frames': n}
                  for r, (s, n) in acc.items()}
            for fam, acc in sums.items()}
