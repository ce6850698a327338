"""Tests and sampling-noise models: KS (exact and binned), chi-square, and null quantiles.

Statistics are numpy; scipy is used only for distributions (p-values and quantiles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = [
    "ChiSquareResult",
    "KSResult",
    "Noise",
    "binomial_noise",
    "chi_square",
    "divergence_noise",
    "ks_binned",
    "ks_exact",
    "ks_noise",
    "normal_noise",
    "normal_sf",
    "sampling_factor",
    "shifted_divergence_cutoff",
    "z_value",
]

_KS_MEAN = math.sqrt(math.pi / 2.0) * math.log(2.0)
"""Mean of the Kolmogorov distribution (sqrt(n_eff) * D under the null)."""
_KS_LIMIT_N = 10_000


@dataclass(frozen=True)
class KSResult:
    """Two-sample Kolmogorov-Smirnov statistic with its p-value and how it was computed.

    `method` is "exact" (raw data on both sides), "sketch" (raw window against the baseline's
    quantile sketch of the reference) or "binned" (counts only). `bound` is how far the exact
    statistic can exceed `statistic` (0 for exact; for binned, the largest bin share; for sketch,
    1/len(sketch)).
    """

    statistic: float
    p_value: float
    n_reference: int
    n_window: int
    method: str
    bound: float


@dataclass(frozen=True)
class ChiSquareResult:
    """Pearson chi-square test of homogeneity of a 2 x k table (reference row, window row)."""

    statistic: float
    p_value: float
    dof: int


@lru_cache(maxsize=1024)
def z_value(alpha: float) -> float:
    """Standard normal quantile exceeded with probability `alpha`."""
    return NormalDist().inv_cdf(1.0 - alpha)


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@cache
def _distributions() -> Any:
    """scipy.stats, imported on first use: it takes a second to import, and a CLI command that
    compares nothing should not pay for it."""
    from scipy import stats

    return stats


@lru_cache(maxsize=1024)
def _chi2_isf(alpha: float, dof: int) -> float:
    return float(_distributions().chi2.isf(alpha, dof))


@lru_cache(maxsize=64)
def _kolmogorov_isf(alpha: float) -> float:
    return float(_distributions().kstwobign.isf(alpha))


def _ks_p_value(d: float, n1: int, n2: int) -> float:
    big, small = max(n1, n2), min(n1, n2)
    en = big * small / (big + small)
    if en > _KS_LIMIT_N:  # kstwo is slow for large n; its limit is within ~1e-3 there
        return float(np.clip(_distributions().kstwobign.sf(d * math.sqrt(en)), 0.0, 1.0))
    return float(np.clip(_distributions().kstwo.sf(d, max(np.round(en), 1.0)), 0.0, 1.0))


def ks_exact(reference: np.ndarray, window: np.ndarray) -> KSResult:
    """KS statistic D = sup_x |F_window(x) - F_reference(x)| on raw values, NaN dropped.

    The statistic equals `scipy.stats.ks_2samp(...).statistic`; the p-value is Smirnov's asymptotic
    two-sided one (`kstwo.sf(D, round(n m / (n + m)))`, scipy's method="asymp"; above an effective
    size of 10,000 its limit `kstwobign.sf(D sqrt(n m / (n + m)))`). ±inf are ordinary
    values. Raises ValueError when a side has no non-NaN value.
    """
    a = np.sort(np.asarray(reference, dtype=np.float64))
    b = np.sort(np.asarray(window, dtype=np.float64))
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need a non-missing value")
    pooled = np.concatenate([a, b])
    diff = (
        np.searchsorted(a, pooled, side="right") / a.size
        - np.searchsorted(b, pooled, side="right") / b.size
    )
    d = float(np.max(np.abs(diff)))
    return KSResult(d, _ks_p_value(d, a.size, b.size), a.size, b.size, "exact", 0.0)


def ks_binned(reference: np.ndarray, window: np.ndarray, *, p_value: bool = True) -> KSResult:
    """KS statistic from counts over the same ordered value bins (exclude the missing bin).

    D_b = max_i |P_i - Q_i| over the cumulative shares at bin edges. Because each edge is a point of
    the true CDFs (left limits), D_b <= D, and within a bin each CDF moves by at most that bin's
    share, so D <= D_b + max_i max(p_i, q_i): `bound` reports that largest share. The p-value uses
    D_b, so it is conservative (NaN when `p_value` is False, to save time). Raises ValueError if
    a side is empty.
    """
    r = np.asarray(reference, dtype=np.float64)
    w = np.asarray(window, dtype=np.float64)
    n1, n2 = float(r.sum()), float(w.sum())
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both count vectors need at least one count")
    p, q = w / n2, r / n1
    d = float(np.max(np.abs(np.cumsum(p) - np.cumsum(q)), initial=0.0))
    bound = float(np.max(np.maximum(p, q), initial=0.0))
    p_val = _ks_p_value(d, int(n1), int(n2)) if p_value else math.nan
    return KSResult(d, p_val, int(n1), int(n2), "binned", bound)


def chi_square(
    reference: np.ndarray, window: np.ndarray, *, p_value: bool = True
) -> ChiSquareResult:
    """Pearson chi-square test that both count vectors come from one distribution.

    Statistic sum (o - e)² / e over the 2 x k table of bins non-empty in either row, e = row total *
    column total / grand total; dof = k - 1; p-value from chi2.sf. No Yates correction (equals
    `scipy.stats.chi2_contingency(table, correction=False)`). Raises ValueError if a row is empty or
    fewer than two bins are used (dof 0).
    """
    table = np.vstack([np.asarray(reference, np.float64), np.asarray(window, np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if (rows <= 0).any() or table.shape[1] < 2:
        raise ValueError("chi-square needs two non-empty rows and two used bins")
    expected = np.outer(rows, table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    p = float(_distributions().chi2.sf(statistic, dof)) if p_value else math.nan
    return ChiSquareResult(statistic, p, dof)


@dataclass(frozen=True)
class Noise:
    """What sampling alone produces for a metric: its expected size and its (1 - alpha) quantile."""

    mean: float
    cutoff: float


def sampling_factor(n: float, n_reference: float, *, inside: bool = False) -> float:
    """Variance factor of a share difference: 1/n + 1/N, or 1/n - 1/N when the window is a part
    of the reference (a baseline day against the whole baseline)."""
    if n <= 0 or n_reference <= 0:
        return math.inf
    return max(0.0, 1.0 / n + (-1.0 if inside else 1.0) / n_reference)


def divergence_noise(dof: int, factor: float, alpha: float, *, root: float = 0.0) -> Noise:
    """Noise of a chi-square-like divergence: value ≈ chi2(dof) * factor (PSI, and JS² * 8 ln 2).

    With `root` > 0 the metric is sqrt(chi2(dof) * factor / root) (the JS distance uses 8 ln 2).
    """
    dof = max(dof, 1)
    mean, cutoff = dof * factor, _chi2_isf(alpha, dof) * factor
    if root > 0:
        return Noise(math.sqrt(mean / root), math.sqrt(cutoff / root))
    return Noise(mean, cutoff)


def shifted_divergence_cutoff(dof: int, factor: float, alpha: float, excess: float) -> float:
    """The (1 - alpha) quantile of a chi-square-like divergence (PSI) whose expected excess over
    sampling is already `excess` (a weekly peak the baseline saw): value ≈ factor * chi2'(dof,
    lambda), lambda = excess / factor, noncentral. A shifted level also fluctuates more (variance
    2 (dof + 2 lambda) instead of 2 dof), so "sampling cutoff + excess" would call its ordinary
    noise real. Patnaik's approximation: chi2'(k, l) ≈ c chi2(nu) with c = (k + 2l) / (k + l),
    nu = (k + l)^2 / (k + 2l). Equals the null cutoff at excess 0.
    """
    dof = max(dof, 1)
    if not factor > 0 or not math.isfinite(factor):
        return math.inf
    lam = max(excess, 0.0) / factor
    scale = (dof + 2 * lam) / (dof + lam)
    nu = (dof + lam) ** 2 / (dof + 2 * lam)
    return float(_distributions().chi2.isf(alpha, nu)) * scale * factor


def ks_noise(factor: float, alpha: float) -> Noise:
    """Noise of a KS statistic: D ≈ K * sqrt(factor), K the Kolmogorov distribution."""
    root = math.sqrt(factor)
    return Noise(_KS_MEAN * root, _kolmogorov_isf(alpha) * root)


def binomial_noise(share: float, factor: float, alpha: float, *, two_sided: bool = True) -> Noise:
    """Noise of a change in a share p: normal with sd sqrt(p (1 - p) * factor).

    `mean` is E|change| = sd * sqrt(2 / pi); `cutoff` the (1 - alpha) quantile of |change|
    (two-sided) or of the change (one-sided).
    """
    sd = math.sqrt(max(share * (1.0 - share), 0.0) * factor)
    z = z_value(alpha / 2.0 if two_sided else alpha)
    return Noise(sd * math.sqrt(2.0 / math.pi), z * sd)


def normal_noise(sd: float, alpha: float, *, two_sided: bool = False) -> Noise:
    """Noise of a normal quantity with standard deviation `sd` (one-sided by default)."""
    z = z_value(alpha / 2.0 if two_sided else alpha)
    return Noise(sd * math.sqrt(2.0 / math.pi), z * sd)
