"""Minimum-cost bipartite matching (the Hungarian method), for the DAVIS protocol.

scipy is not a dependency of tgl_mm; this is a small O(n^2 m) implementation of the
shortest-augmenting-path form of the Hungarian algorithm with dual potentials, vectorised over
columns. It returns what ``scipy.optimize.linear_sum_assignment`` returns.
"""
from __future__ import annotations

import numpy as np

__all__ = ['linear_sum_assignment']


def _assign_rows(cost: np.ndarray) -> np.ndarray:
    """Optimal column for every row of ``cost`` (n, m) with n <= m (minimisation)."""
    n, m = cost.shape
    # 1-based with a virtual column 0 holding the row being inserted
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)  # owner[j]: row matched to column j (0 = none)
    way = np.zeros(m + 1, dtype=np.int64)
    a = np.zeros((n + 1, m + 1))
    a[1:, 1:] = cost
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = owner[j0]
            free = ~used
            free[0] = False
            reduced = a[i0] - u[i0] - v
            better = free & (reduced < minv)
            minv[better] = reduced[better]
            way[better] = j0
            candidates = np.where(free, minv, np.inf)
            j1 = int(np.argmin(candidates))
            delta = candidates[j1]
            u[owner[used]] += delta
            v[used] -= delta
            minv[free] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:  # augment along the alternating path
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    col_of_row = np.full(n, -1, dtype=np.int64)
    for j in range(1, m + 1):
        if owner[j]:
            col_of_row[owner[j] - 1] = j - 1
    return col_of_row


def linear_sum_assignment(cost: np.ndarray,
                          maximize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Solve the linear sum assignment problem on a rectangular cost matrix.

    Args:
        cost: ``(n, m)`` finite costs.
        maximize: maximise the total instead of minimising it.

    Returns:
        ``(row_ind, col_ind)``: ``min(n, m)`` matched pairs, ``row_ind`` increasing; the total
        ``cost[row_ind, col_ind].sum()`` is optimal.
    """
    c = np.asarray(cost, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f'cost must be a 2-D matrix, got shape {c.shape}')
    if not np.isfinite(c).all():
        raise ValueError('cost matrix holds non-finite values')
    if c.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if maximize:
        c = -c
    if c.shape[0] <= c.shape[1]:
        cols = _assign_rows(c)
        return np.arange(c.shape[0]), cols
    rows_of_col = _assign_rows(c.T)
    order = np.argsort(rows_of_col)
    return rows_of_col[order], order
