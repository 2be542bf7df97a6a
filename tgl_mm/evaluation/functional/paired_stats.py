"""Paired comparisons over training seeds: the mean difference, its Student-t confidence interval
and a verdict on an expected direction.

Two configurations trained with the same seeds on the same data give one difference per seed;
the seeds are the independent replicates, so the interval is the one-sample t-interval of those
differences (``n - 1`` degrees of freedom). A comparison *holds* when the interval excludes 0 in
the expected direction, is *reversed* when it excludes 0 the other way, and is *undecided*
otherwise (also with fewer than two paired seeds).

Pure Python (no scipy): the t quantile comes from the regularised incomplete beta function.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ['PairedDifference', 'paired_difference', 'student_t_cdf', 'student_t_quantile',
           'VERDICTS']

#: verdicts of :attr:`PairedDifference.verdict`
VERDICTS = ('holds', 'reversed', 'undecided')


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta ``I_x(a, b)`` for ``0 <= x <= 1``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def student_t_cdf(t: float, df: float) -> float:
    """``P(T <= t)`` for Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f'degrees of freedom must be positive, got {df}')
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def student_t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection on
    :func:`student_t_cdf`; ``0 < p < 1``)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f'p must be in (0, 1), got {p}')
    if p < 0.5:
        return -student_t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while student_t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if student_t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class PairedDifference:
    """``a - b`` over the seeds both sides have.

    Attributes:
        seeds: the paired seeds, ascending.
        diffs: ``a[s] - b[s]`` per paired seed.
        mean: mean difference (``nan`` without a pair).
        low, high: the two-sided t-interval of the mean at ``confidence`` (``nan`` with fewer
            than two pairs).
        confidence: e.g. 0.95.
        direction: ``+1`` if ``a > b`` is expected, ``-1`` if ``a < b`` is.
    """

    seeds: tuple[int, ...]
    diffs: tuple[float, ...]
    mean: float
    low: float
    high: float
    confidence: float
    direction: int

    @property
    def n(self) -> int:
        return len(self.diffs)

    @property
    def verdict(self) -> str:
        """``holds`` / ``reversed`` / ``undecided`` (see the module docstring)."""
        if self.n < 2 or math.isnan(self.low):
            return 'undecided'
        if self.low > 0 or self.high < 0:
            return 'holds' if (self.low > 0) == (self.direction > 0) else 'reversed'
        return 'undecided'

    def as_dict(self) -> dict:
        return {'seeds': list(self.seeds), 'diffs': list(self.diffs), 'mean': self.mean,
                'low': self.low, 'high': self.high, 'confidence': self.confidence,
                'direction': self.direction, 'n': self.n, 'verdict': self.verdict}


def paired_difference(a: Mapping[int, float | None], b: Mapping[int, float | None],
                      direction: int = 1, confidence: float = 0.95) -> PairedDifference:
    """The paired difference ``a - b`` over the seeds where both have a value.

    Args:
        a, b: ``{seed: value}``; ``None`` values are left out (with their pair).
        direction: ``+1`` when ``a > b`` is expected, ``-1`` when ``a < b`` is.
        confidence: two-sided confidence of the interval.
    """
    if direction not in (1, -1):
        raise ValueError(f'direction must be +1 or -1, got {direction}')
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must be in (0, 1), got {confidence}')
    seeds = tuple(sorted(s for s in a if s in b and a[s] is not None and b[s] is not None))
    diffs = tuple(float(a[s]) - float(b[s]) for s in seeds)
    n = len(diffs)
    mean = sum(diffs) / n if n else math.nan
    if n < 2:
        return PairedDifference(seeds, diffs, mean, math.nan, math.nan, confidence, direction)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = student_t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return PairedDifference(seeds, diffs, mean, mean - half, mean + half, confidence, direction)
