"""The Hungarian solver against brute force."""
import itertools

import numpy as np
import pytest

from tgl_mm.evaluation.functional.assignment import linear_sum_assignment


def brute_force(cost, maximize=False):
    n, m = cost.shape
    best = None
    if n <= m:
        for cols in itertools.permutations(range(m), n):
            total = cost[np.arange(n), list(cols)].sum()
            if best is None or (total > best if maximize else total < best):
                best = total
    else:
        for rows in itertools.permutations(range(n), m):
            total = cost[list(rows), np.arange(m)].sum()
            if best is None or (total > best if maximize else total < best):
                best = total
    return best


@pytest.mark.parametrize('seed', range(8))
def test_optimal_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        n, m = (int(v) for v in rng.integers(1, 7, 2))
        if rng.random() < 0.3:  # many ties
            cost = rng.integers(0, 3, (n, m)).astype(float)
        else:
            cost = rng.normal(size=(n, m))
        for maximize in (False, True):
            rows, cols = linear_sum_assignment(cost, maximize=maximize)
            assert len(rows) == len(cols) == min(n, m)
            assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
            assert np.all(np.diff(rows) > 0)
            assert cost[rows, cols].sum() == pytest.approx(brute_force(cost, maximize), abs=1e-9)


def test_known_matrix():
    cost = np.array([[4, 1, 3], [2, 0, 5], [3, 2, 2]])
    rows, cols = linear_sum_assignment(cost)
    assert rows.tolist() == [0, 1, 2] and cols.tolist() == [1, 0, 2]  # 1 + 2 + 2 = 5


def test_empty_and_bad():
    rows, cols = linear_sum_assignment(np.zeros((0, 3)))
    assert rows.size == cols.size == 0
    with pytest.raises(ValueError, match='non-finite'):
        linear_sum_assignment(np.array([[np.inf, 1.0]]))
    with pytest.raises(ValueError, match='2-D'):
        linear_sum_assignment(np.zeros(3))
