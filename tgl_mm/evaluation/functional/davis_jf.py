"""DAVIS J (region similarity) and F (boundary F-measure) for whole videos: exact and fast.

The values are those of the DAVIS 2017 definition (:mod:`.davis_reference`) to the last bit. Both
implementations below reduce a video to six pixel counts per frame (``|pred & gt|``,
``|pred | gt|``, the boundary pixels of each mask and how many of them are matched), from which
:func:`j_and_f` computes J and F with the definition's own float operations.

* **Compiled kernel** (``_davis_jf_kernel.c``, built by ``pip install -e .`` when a C compiler is
  present; the default): one pass over both masks 8 pixels per 64-bit word for the counts and the
  foreground box, boundary flags as bit rows inside the box, and for each boundary pixel a
  row-by-row search of the other mask's bit rows within the disk, nearest rows first, stopping at
  the first hit. The GIL is released.
* **numpy / OpenCV** (the fall-back, also selectable with ``backend='numpy'``):

  * Each frame is cut to boxes around ``pred | gt`` (the bounding box, split where the objects
    are far apart); frames where both masks are empty cost two row reductions. All dense work
    happens inside these boxes.
  * The boundary map is "the 2x2 block anchored at the pixel is not constant", with the block
    clipped to the image: this is exactly DAVIS's ``seg2bmap`` including its last-row/column
    rules. Replicating the image border into the box margin makes the clipping implicit.
  * ``cv2.dilate`` with a disk is replaced by exact tests at the boundary pixels only: the disk
    of radius ``r`` is a union of axis-aligned rectangles (one per distinct half-width
    ``floor(sqrt(r^2 - dy^2))``), and a boundary pixel of the *other* mask lies in the rectangle
    around ``p`` iff that mask is not constant on the rectangle grown by the 2x2 block, which a
    summed-area table answers with four look-ups. Tests run in stages (largest inner rectangle,
    then the bounding square, then the rest) over the points of many frames at once.

See :func:`j_and_f` and ``benchmarks/bench_j_and_f.py`` (speed of both against the per-frame
reference).

Long module: the two implementations of one metric, kept side by side so that a change to the
counts is made to both (``tests/evaluation`` checks them against the reference bit for bit).
"""
from __future__ import annotations

import math
import threading
import warnings

import cv2
import numpy as np
import torch

from tgl_mm.formats.masks import as_bool_masks

from .davis_reference import boundary_radius, f_from_counts

try:
    from . import _davis_jf_kernel
except ImportError:  # built without a C compiler: the numpy implementation is used
    _davis_jf_kernel = None

__all__ = ['j_and_f', 'jf_backend', 'boundary_radius', 'disk_rectangles', 'as_bool_masks']

BACKENDS = ('auto', 'c', 'numpy')

# Summed-area tables of several boxes are kept together so their boundary points are tested with
# one set of numpy calls. The look-ups are random access: a cache-sized batch (~2 MiB of int32,
# more only when a single box needs it) makes them several times faster than a large one.
_CHUNK = 256 * 1024
# Empty bands (rows or columns without foreground) wider than this split a frame into separate
# boxes (less dense work for objects far apart; any split gives the same values).
_MIN_SPLIT_GAP = 48


def disk_rectangles(radius: int) -> list[tuple[int, int]]:
    """The disk ``x^2 + y^2 <= r^2`` as a union of centred rectangles ``[-w, w] x [-h, h]``.

    Returns ``[(w, h), ...]``, one per distinct half-width ``w(dy) = floor(sqrt(r^2 - dy^2))``
    with ``h`` the largest ``|dy|`` of that half-width or more; e.g. r = 8 gives
    ``[(8, 0), (7, 3), (6, 5), (5, 6), (3, 7), (0, 8)]``.
    """
    r = int(radius)
    if r < 0:
        raise ValueError(f'radius must be >= 0, got {radius}')
    half_widths = [math.isqrt(r * r - dy * dy) for dy in range(r + 1)]
    return [(w, max(dy for dy in range(r + 1) if half_widths[dy] >= w))
            for w in sorted(set(half_widths), reverse=True)]


def _not_constant(q: np.ndarray, row: np.ndarray, w: int, h: int,
                  table: np.ndarray) -> np.ndarray:
    """bool per anchor: is the mask not constant on rows ``[y - h, y + h + 1]`` x columns
    ``[x - w, x + w + 1]`` around it?

    ``q`` are flat anchor positions in the summed-area ``table`` and ``row`` their tables' row
    pitches. (Four 1-D ``take`` calls are several times faster than one 2-D fancy index.)
    """
    top = q - h * row
    bottom = top + (2 * h + 2) * row
    total = table.take(bottom + (w + 2))
    total -= table.take(top + (w + 2))
    total -= table.take(bottom - w)
    total += table.take(top - w)
    total -= 1  # 0 < total < area, as one unsigned comparison
    return total.view(np.uint32) < np.uint32((2 * w + 2) * (2 * h + 2) - 1)


class _DiskTest:
    """The disk of radius ``r`` as rectangle tests, prepared once: the largest inner rectangle,
    the bounding square, and the corner offsets and areas of the other rectangles."""

    def __init__(self, radius: int) -> None:
        rects = disk_rectangles(radius)
        self.radius = radius
        self.inner = max(rects, key=lambda wh: (2 * wh[0] + 1) * (2 * wh[1] + 1))
        others = [r for r in rects if r != self.inner]
        self.num_others = len(others)
        w = np.array([r[0] for r in others], np.int64)[:, None]
        h = np.array([r[1] for r in others], np.int64)[:, None]
        # per rectangle: top-left, top-right, bottom-left, bottom-right corner offsets
        self.row_coef = np.concatenate([-h, -h, h + 2, h + 2], axis=1).reshape(-1, 1)
        self.col_coef = np.concatenate([-w, w + 2, -w, w + 2], axis=1).reshape(-1, 1)
        self.areas_minus_1 = ((2 * w + 2) * (2 * h + 2) - 1).astype(np.uint32)

    def within(self, q: np.ndarray, row: np.ndarray, table: np.ndarray) -> np.ndarray:
        """bool per anchor: the mask whose table ``q`` points into has a boundary pixel within
        the disk around the anchor (``row``: the anchors' table row pitches). Tested in stages:
        the largest rectangle (most anchors end here), then the bounding square (constant there:
        no boundary pixel nearby), then all other rectangles at once for what is left."""
        hit = _not_constant(q, row, *self.inner, table)
        if not self.num_others:
            return hit
        todo = np.flatnonzero(~hit)
        if todo.size:
            todo = todo[_not_constant(q[todo], row[todo], self.radius, self.radius, table)]
        if todo.size:  # one flat `take` for all rectangles, anchors along the rows
            idx = self.row_coef * row[todo] + (q[todo] + self.col_coef)  # (4 R, M)
            v = table.take(idx).reshape(self.num_others, 4, todo.size)
            total = v[:, 3] - v[:, 1]
            total -= v[:, 2]
            total += v[:, 0]
            total -= 1  # 0 < total < area, as one unsigned comparison
            hit[todo] = (total.view(np.uint32) < self.areas_minus_1).any(axis=0)
        return hit


def _nonzero_bytes(buf: np.ndarray) -> np.ndarray:
    """Flat indices of the non-zero bytes of ``buf`` (uint8, size a multiple of 8, 8-aligned),
    scanning 8 bytes at a time (boundary flags are sparse)."""
    as_words = buf.view(np.uint64)
    words = np.flatnonzero(as_words != 0)
    if words.size == 0:
        return words
    # the non-zero words' bytes, in memory order, read as bool (numpy's fast nonzero path)
    blocks = as_words[words].view(np.bool_)
    hits = np.flatnonzero(blocks)
    return words[hits >> 3] * 8 + (hits & 7)


def _round8(n: int) -> int:
    return (n + 7) // 8 * 8


class _BoundaryMatcher:
    """Boundary pixel counts and matched counts per frame, box by box.

    For a box, the padded crops of pred and gt are stacked (pred rows, then gt rows) into one
    image, so one call each computes both masks' boundary flags, their positions and the
    summed-area table; a rectangle sum only takes differences of table rows within one half, so
    the halves do not mix. Anchors are queued with positions into the *other* half's table and
    tested batch-wise (:meth:`_DiskTest.within`).
    """

    def __init__(self, num: int, height: int, width: int, radius: int) -> None:
        self.height, self.width = height, width
        self.radius = radius
        self.disk = _DiskTest(radius)
        # rectangles reach r rows/columns above/left of an anchor, r + 1 below/right
        self.margin = radius + 1
        self.counts = np.zeros((num, 2), np.int64)  # boundary pixels of (pred, gt)
        self.matched = np.zeros((num, 2), np.int64)
        pad_h, pad_w = height + 2 * self.margin, width + 2 * self.margin
        self.n_pad = _round8(2 * pad_h * pad_w)
        self.n_flags = _round8(2 * pad_h * (pad_w + 1))
        n_vert = _round8(2 * pad_h * (width + 1))
        ws = _workspace()
        ws.reserve(u8=self.n_pad + self.n_flags + n_vert + height * width,
                   ints=_CHUNK + (2 * pad_h + 1) * (pad_w + 1))
        buf = ws.u8
        self.pad_buf = buf[:self.n_pad]
        self.flag_buf = buf[self.n_pad:self.n_pad + self.n_flags]
        self.vert_buf = buf[self.n_pad + self.n_flags:self.n_pad + self.n_flags + n_vert]
        self.and_buf = buf[self.n_pad + self.n_flags + n_vert:]
        self.table = ws.ints
        self.pending: list[tuple[int, np.ndarray, int, int]] = []  # t, q, n_pred, row pitch
        self.used = 0

    def intersection(self, p: np.ndarray, g: np.ndarray) -> int:
        """``|p & g|`` of two uint8 0/1 views of one box."""
        out = self.and_buf[:p.size].reshape(p.shape)
        return cv2.countNonZero(cv2.bitwise_and(p, g, dst=out))

    def add_box(self, t: int, p8: np.ndarray, g8: np.ndarray, y0: int, y1: int, x0: int,
                x1: int) -> None:
        """Queue the boundary anchors of frame ``t`` (uint8 0/1 frames ``p8``, ``g8``) that belong
        to the foreground box rows ``[y0, y1)`` x columns ``[x0, x1)``: from one row/column before
        the box to its last row/column (all of them if boxes of a frame share no column)."""
        m = self.margin
        ya, xa = max(y0 - 1, 0), max(x0 - 1, 0)
        crop_h, crop_w = y1 - ya, x1 - xa
        # the crop grown by the margin; the part outside the image replicates the image border
        sy0, sy1 = max(ya - m, 0), min(y1 + m, self.height)
        sx0, sx1 = max(xa - m, 0), min(x1 + m, self.width)
        borders = (sy0 - (ya - m), (y1 + m) - sy1, sx0 - (xa - m), (x1 + m) - sx1)
        ph, pw = crop_h + 2 * m, crop_w + 2 * m
        row = pw + 1  # table row pitch
        tsize = (2 * ph + 1) * row
        pad = self.pad_buf[:2 * ph * pw].reshape(2 * ph, pw)
        cv2.copyMakeBorder(p8[sy0:sy1, sx0:sx1], *borders, cv2.BORDER_REPLICATE, dst=pad[:ph])
        cv2.copyMakeBorder(g8[sy0:sy1, sx0:sx1], *borders, cv2.BORDER_REPLICATE, dst=pad[ph:])
        # Boundary flags (0/1 bytes) of the stacked anchor rows m .. ph + m + crop_h, laid out like
        # the table rows so flat indices need no conversion: block (a b / c d) is not constant iff
        # a^c, b^d or a^b (cv2 is several times faster than numpy on these strided views). The
        # rows between the halves are not anchors and are cleared.
        n_rows = ph + crop_h
        n_flags = _round8(n_rows * row)
        flags = self.flag_buf[:n_rows * row].reshape(n_rows, row)
        vert = self.vert_buf[:n_rows * (crop_w + 1)].reshape(n_rows, crop_w + 1)
        core = pad[m:m + n_rows + 1, m:m + crop_w + 1]
        cv2.bitwise_xor(core[:-1], core[1:], dst=vert)
        out = flags[:, :crop_w]
        cv2.bitwise_xor(core[:-1, :-1], core[:-1, 1:], dst=out)
        cv2.bitwise_or(out, vert[:, :-1], dst=out)
        cv2.bitwise_or(out, vert[:, 1:], dst=out)
        flags[:, crop_w:] = 0
        flags[crop_h:ph] = 0
        self.flag_buf[n_rows * row:n_flags] = 0
        idx = _nonzero_bytes(self.flag_buf[:n_flags])  # (r - m) * row + x, r a stacked row
        cv2.integral(pad, sum=self.table[self.used:self.used + tsize].reshape(2 * ph + 1, row))
        n_pred = int(np.searchsorted(idx, ph * row))  # pred anchors come first
        self.counts[t, 0] += n_pred
        self.counts[t, 1] += idx.size - n_pred
        # each anchor reads the *other* half of the table, at (r + m, x + m)
        q = idx + (self.used + m * row + m + ph * row)
        q[n_pred:] -= 2 * ph * row
        self.pending.append((t, q, n_pred, row))
        self.used += tsize
        if self.used >= _CHUNK:  # test while the tables are still in cache
            self.flush()

    def flush(self) -> None:
        """Test the queued anchors and add their matches to :attr:`matched`."""
        if not self.pending:
            return
        pending = self.pending
        sizes = np.array([[p[2], p[1].size - p[2]] for p in pending]).reshape(-1)
        q = np.concatenate([p[1] for p in pending])
        row = np.repeat(np.array([p[3] for p in pending], np.int64), sizes.reshape(-1, 2).sum(1))
        # (frame, pred) -> 2 t, (frame, gt) -> 2 t + 1
        slot = np.repeat(np.array([[2 * p[0], 2 * p[0] + 1] for p in pending]).reshape(-1),
                         sizes)
        hit = self.disk.within(q, row, self.table)
        self.matched += np.bincount(slot[hit], minlength=2 * self.matched.shape[0]).reshape(-1, 2)
        self.pending = []
        self.used = 0


class _Workspace:
    """Per-thread reusable buffers (fresh large allocations cost page faults on every call)."""

    def __init__(self) -> None:
        self.u8 = np.zeros(0, np.uint8)
        self.ints = np.zeros(0, np.int32)

    def reserve(self, u8: int, ints: int) -> None:
        if self.u8.size < u8:
            self.u8 = np.empty(u8, np.uint8)
        if self.ints.size < ints:
            self.ints = np.empty(ints, np.int32)


_LOCAL = threading.local()


def _workspace() -> _Workspace:
    ws = getattr(_LOCAL, 'ws', None)
    if ws is None:
        ws = _LOCAL.ws = _Workspace()
    return ws


def _f_measure(counts: np.ndarray, matched: np.ndarray) -> np.ndarray:
    """DAVIS F per frame from boundary pixel counts and matched counts ``(T, 2)`` of (pred, gt),
    with the definition's own float operations (:func:`.davis_reference.f_from_counts`)."""
    return np.array([f_from_counts(n_fg, n_gt, m_fg, m_gt) for (n_fg, n_gt), (m_fg, m_gt)
                     in zip(counts.tolist(), matched.tolist())], np.float64).reshape(-1)


def _runs(idx: np.ndarray, min_gap: int) -> list[tuple[int, int]]:
    """Split sorted indices into ``[start, end)`` runs at gaps of more than ``min_gap``."""
    if int(idx[-1]) - int(idx[0]) < idx.size + min_gap:  # no gap can be wide enough
        return [(int(idx[0]), int(idx[-1]) + 1)]
    cuts = np.flatnonzero(np.diff(idx) > min_gap + 1)
    starts = [int(idx[0])] + [int(idx[c + 1]) for c in cuts]
    ends = [int(idx[c]) + 1 for c in cuts] + [int(idx[-1]) + 1]
    return list(zip(starts, ends))


def _row_profile(p8: np.ndarray, g8: np.ndarray) -> np.ndarray:
    """Foreground pixels per row of ``p8 | g8`` summed over both masks: int32 ``(rows,)``."""
    return (cv2.reduce(p8, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
            + cv2.reduce(g8, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel())


def _foreground_boxes(p8: np.ndarray, g8: np.ndarray, rows: np.ndarray, x0: int, x1: int,
                      depth: int = 0) -> list[tuple[int, int, int, int]]:
    """Boxes ``(y0, y1, x0, x1)`` covering the foreground of two uint8 frames inside columns
    ``[x0, x1)``, whose foreground rows are ``rows``: an XY cut at empty bands wider than
    ``_MIN_SPLIT_GAP`` (any cut gives the same J and F; it only saves work)."""
    boxes = []
    for y0, y1 in _runs(rows, _MIN_SPLIT_GAP):
        cols = x0 + np.flatnonzero(p8[y0:y1, x0:x1].view(np.bool_).any(0)
                                   | g8[y0:y1, x0:x1].view(np.bool_).any(0))
        col_runs = _runs(cols, _MIN_SPLIT_GAP)
        if len(col_runs) == 1:
            boxes.append((y0, y1, *col_runs[0]))
            continue
        for cx0, cx1 in col_runs:  # each run's own rows, cut again
            sub = y0 + np.flatnonzero(_row_profile(p8[y0:y1, cx0:cx1], g8[y0:y1, cx0:cx1]))
            if depth >= 2:
                boxes.append((int(sub[0]), int(sub[-1]) + 1, cx0, cx1))
            else:
                boxes += _foreground_boxes(p8, g8, sub, cx0, cx1, depth + 1)
    return boxes


def _counts_numpy(pred: np.ndarray, gt: np.ndarray, radius: int) -> np.ndarray:
    """The six per-frame counts (see :func:`_counts_c`) with numpy and OpenCV (module docstring)."""
    pred, gt = _canonical_bool(pred), _canonical_bool(gt)
    num, height, width = pred.shape
    matcher = _BoundaryMatcher(num, height, width, radius)
    inter = np.zeros(num, np.int64)
    union = np.zeros(num, np.int64)
    p8, g8 = pred.view(np.uint8), gt.view(np.uint8)
    for t in range(num):
        rows_p = cv2.reduce(p8[t], 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
        rows_g = cv2.reduce(g8[t], 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
        rows = np.flatnonzero(rows_p + rows_g)
        if rows.size == 0:
            continue  # both empty: J = F = 1
        n_p, n_g = int(rows_p.sum()), int(rows_g.sum())
        union[t] = n_p + n_g  # minus the intersection below
        if n_p == 0 or n_g == 0:
            # J = 0; a non-empty mask has a boundary pixel unless it fills the frame
            full = max(n_p, n_g) == height * width
            matcher.counts[t] = (0, 0) if full else ((n_p > 0), (n_g > 0))
            continue
        both = 0
        for y0, y1, x0, x1 in _foreground_boxes(p8[t], g8[t], rows, 0, width):
            both += matcher.intersection(p8[t, y0:y1, x0:x1], g8[t, y0:y1, x0:x1])
            matcher.add_box(t, p8[t], g8[t], y0, y1, x0, x1)
        inter[t] = both
        union[t] -= both
    matcher.flush()
    return np.concatenate([inter[:, None], union[:, None], matcher.counts, matcher.matched],
                          axis=1)


def _counts_c(pred: np.ndarray, gt: np.ndarray, radius: int) -> np.ndarray:
    """int64 ``(T, 6)`` per frame: ``|pred & gt|``, ``|pred | gt|``, boundary pixels of pred and
    of gt, and how many of each have a boundary pixel of the other mask within ``radius``
    (compiled kernel; C-contiguous bool inputs)."""
    num, height, width = pred.shape
    counts = np.empty((num, 6), np.int64)
    if not _davis_jf_kernel.counts(pred, gt, num, height, width, radius, counts):
        # a bool array holding bytes other than 0/1 (a 0/255 array viewed as bool): canonicalise
        pred, gt = _canonical_bool(pred), _canonical_bool(gt)
        _davis_jf_kernel.counts(pred, gt, num, height, width, radius, counts)
    return counts


def _canonical_bool(x: np.ndarray) -> np.ndarray:
    """``x`` (bool) with every byte 0 or 1: a copy only when some byte is not (which numpy allows
    for arrays viewed as bool, e.g. ``mask_0_255.view(bool)``, and any non-zero byte is True)."""
    as_bytes = x.view(np.uint8)
    return as_bytes != 0 if x.size and as_bytes.max() > 1 else x


_warned_fallback = False


def jf_backend(backend: str = 'auto') -> str:
    """The implementation :func:`j_and_f` uses for ``backend``: ``'c'`` (the compiled kernel) or
    ``'numpy'``. ``'auto'`` is the kernel when it was built (``pip install -e .`` with a C
    compiler), else numpy."""
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    if backend == 'c' and _davis_jf_kernel is None:
        raise RuntimeError('j_and_f: the compiled kernel tgl_mm/evaluation/functional/'
                           '_davis_jf_kernel.c is not built; reinstall with a C compiler '
                           '(pip install -e .) or use backend="numpy"')
    if backend == 'auto':
        return 'numpy' if _davis_jf_kernel is None else 'c'
    return backend


def j_and_f(pred: np.ndarray | torch.Tensor, gt: np.ndarray | torch.Tensor,
            bound_th: float = 0.008, backend: str = 'auto') -> tuple[np.ndarray, np.ndarray]:
    """Per-frame DAVIS region similarity J and boundary F-measure of a video.

    Equal to the DAVIS 2017 definition (:func:`.davis_reference.j_and_f_reference`) to the last
    bit, and much faster (see ``benchmarks/bench_j_and_f.py``).

    * J = ``|pred & gt| / |pred | gt|``; 1 when both masks are empty.
    * F: boundary maps as DAVIS ``seg2bmap``; a boundary pixel is matched when a boundary pixel of
      the other mask lies within the disk of radius ``r`` around it, ``r = bound_th`` pixels when
      ``bound_th >= 1`` else ``ceil(bound_th * sqrt(H^2 + W^2))``; precision and recall are the
      matched fractions of the predicted and GT boundary pixels; F = 2PR / (P + R). No boundary
      in either mask: F = 1; in exactly one: F = 0; P + R = 0: F = 0.

    Args:
        pred: predicted masks ``(T, H, W)``, bool (any non-zero value is foreground); numpy or
            torch.
        gt: ground-truth masks of the same shape.
        bound_th: boundary tolerance (fraction of the image diagonal, or pixels when >= 1).
        backend: ``'auto'`` (the compiled kernel when built, else numpy), ``'c'`` or ``'numpy'``
            (see :func:`jf_backend`); all give the same values.

    Returns:
        ``(J, F)``: float64 arrays of shape ``(T,)``.
    """
    global _warned_fallback
    impl = jf_backend(backend)
    pred = as_bool_masks(pred, 'pred')
    gt = as_bool_masks(gt, 'gt')
    if pred.ndim != 3 or gt.ndim != 3:
        raise ValueError(f'pred and gt must be (T, H, W) masks, got shapes {pred.shape} and '
                         f'{gt.shape}')
    if pred.shape != gt.shape:
        raise ValueError(f'pred and gt differ in shape: {pred.shape} vs {gt.shape}')
    num, height, width = pred.shape
    if height == 0 or width == 0:
        raise ValueError(f'masks have an empty frame size {pred.shape[1:]}')
    # a disk reaching past the image diagonal covers the same pixels as one reaching it
    radius = min(boundary_radius((height, width), bound_th),
                 math.isqrt((height - 1) ** 2 + (width - 1) ** 2) + 1)
    if impl == 'c':
        counts = _counts_c(pred, gt, radius)
    else:
        if backend == 'auto' and not _warned_fallback:
            _warned_fallback = True
            warnings.warn('j_and_f: the compiled J&F kernel is not built (no C compiler at '
                          'install time?); using the numpy implementation: same values, '
                          'about 3x slower. Reinstall with `pip install -e .` to build it.',
                          stacklevel=2)
        counts = _counts_numpy(pred, gt, radius)
    inter, union = counts[:, 0], counts[:, 1]
    j = np.ones(num, np.float64)
    nz = union > 0
    j[nz] = inter[nz] / union[nz]
    return j, _f_measure(counts[:, 2:4], counts[:, 4:6])
