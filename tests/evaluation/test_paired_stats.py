"""Paired differences over seeds: t quantiles, interval coverage and verdicts."""
import math

import numpy as np
import pytest

from tgl_mm.evaluation.functional.paired_stats import (
    paired_difference,
    student_t_cdf,
    student_t_quantile,
)


@pytest.mark.parametrize('df,quantile', [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622),
                                         (29, 2.0452)])
def test_t_quantiles_match_the_tables(df, quantile):
    assert student_t_quantile(0.975, df) == pytest.approx(quantile, abs=1e-3)
    assert student_t_cdf(student_t_quantile(0.9, df), df) == pytest.approx(0.9, abs=1e-9)
    assert student_t_quantile(0.025, df) == pytest.approx(-quantile, abs=1e-3)


def test_t_cdf_is_symmetric_and_tends_to_the_normal():
    assert student_t_cdf(0.0, 3) == pytest.approx(0.5)
    assert student_t_cdf(1.3, 5) + student_t_cdf(-1.3, 5) == pytest.approx(1.0)
    assert student_t_quantile(0.975, 100000) == pytest.approx(1.95996, abs=1e-3)


def test_interval_covers_the_true_mean_about_95_percent():
    rng = np.random.default_rng(0)
    covered = 0
    trials = 2000
    for _ in range(trials):
        a = rng.normal(1.0, 2.0, 5)
        d = paired_difference(dict(enumerate(a)), dict.fromkeys(range(5), 0.0))
        covered += d.low <= 1.0 <= d.high
    assert 0.93 < covered / trials < 0.97


def test_pairs_only_shared_seeds_and_gives_verdicts():
    a = {0: 3.0, 1: 4.0, 2: 5.0, 3: None, 7: 1.0}
    b = {0: 1.0, 1: 1.5, 2: 2.0, 3: 0.0}
    d = paired_difference(a, b)
    assert d.seeds == (0, 1, 2) and d.diffs == (2.0, 2.5, 3.0)
    assert d.mean == pytest.approx(2.5) and d.low > 0 and d.verdict == 'holds'
    assert paired_difference(a, b, direction=-1).verdict == 'reversed'
    mixed = paired_difference({0: 1.0, 1: -1.0, 2: 0.5}, {0: 0.0, 1: 0.0, 2: 0.0})
    assert mixed.low < 0 < mixed.high and mixed.verdict == 'undecided'
    one = paired_difference({0: 5.0}, {0: 1.0})
    assert one.mean == 4.0 and math.isnan(one.low) and one.verdict == 'undecided'
    assert paired_difference({}, {}).verdict == 'undecided'
    assert d.as_dict()['verdict'] == 'holds'
    with pytest.raises(ValueError, match='direction'):
        paired_difference(a, b, direction=0)
