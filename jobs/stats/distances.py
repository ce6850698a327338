"""Distances between two count vectors over the same bins: PSI, Jensen-Shannon, Wasserstein, TV.

Pure numpy. Each function raises ValueError on an empty side; callers flag "not enough data".
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["PSI_PSEUDOCOUNT", "jensen_shannon", "psi", "total_variation", "wasserstein_binned"]

PSI_PSEUDOCOUNT = 0.5
"""Jeffreys smoothing added to every bin that is non-empty on either side before PSI."""


def _pair(reference: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(reference, dtype=np.float64)
    w = np.asarray(window, dtype=np.float64)
    if r.shape != w.shape or r.ndim != 1:
        raise ValueError("count vectors must be 1-D and of equal length")
    if (r < 0).any() or (w < 0).any():
        raise ValueError("counts must be non-negative")
    if r.sum() <= 0 or w.sum() <= 0:
        raise ValueError("both count vectors need at least one count")
    return r, w


def psi(
    reference: np.ndarray, window: np.ndarray, *, pseudocount: float = PSI_PSEUDOCOUNT
) -> float:
    """Population stability index of `window` against `reference` (both raw counts, same bins).

    PSI = sum_i (p_i - q_i) * ln(p_i / q_i) over the k bins non-empty on either side, with
    p_i = (w_i + a) / (n + k a) and q_i = (r_i + a) / (N + k a), a = `pseudocount` (default 0.5,
    Jeffreys). Properties: symmetric, >= 0 (each term is), exactly 0 for identical counts, always
    finite thanks to the smoothing, and ≈ chi-square(k-1) * (1/n + 1/N) when both sides are samples
    of one distribution. For a normal location shift of d standard deviations on decile bins,
    PSI ≈ d² (0.3 sd ≈ 0.09). Bins empty on both sides add nothing. Raises ValueError if a side is
    empty.
    """
    r, w = _pair(reference, window)
    used = (r > 0) | (w > 0)
    r, w = r[used], w[used]
    k = r.size
    p = (w + pseudocount) / (w.sum() + k * pseudocount)
    q = (r + pseudocount) / (r.sum() + k * pseudocount)
    return float(max(0.0, np.sum((p - q) * np.log(p / q))))


def jensen_shannon(reference: np.ndarray, window: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2) between the normalised count vectors.

    JS = sqrt((KL(p || m) + KL(q || m)) / 2) with m = (p + q) / 2 and logarithms base 2, i.e.
    `scipy.spatial.distance.jensenshannon(p, q, base=2)`. A metric in [0, 1]: 0 for equal
    proportions, 1 for disjoint supports; finite with empty bins (no smoothing needed). For close
    distributions JS² ≈ chi-square / (8 ln 2), so JS ≈ sqrt(PSI / 5.55). Raises ValueError if a side
    is empty.
    """
    r, w = _pair(reference, window)
    p = w / w.sum()
    q = r / r.sum()
    m = (p + q) / 2.0
    total = 0.0
    for dist in (p, q):
        used = dist > 0
        total += float(np.sum(dist[used] * np.log2(dist[used] / m[used])))
    return math.sqrt(max(0.0, total / 2.0))


def total_variation(reference: np.ndarray, window: np.ndarray) -> float:
    """Total variation distance: half the L1 distance of the proportions, in [0, 1] (clipped: for
    disjoint supports the float sum can round to 1 + 2e-16)."""
    r, w = _pair(reference, window)
    return float(min(1.0, 0.5 * np.abs(w / w.sum() - r / r.sum()).sum()))  # rounding can pass 1


def wasserstein_binned(atoms: np.ndarray, reference: np.ndarray, window: np.ndarray) -> float:
    """Wasserstein-1 distance with each bin's mass placed on one atom (`NumericBins.atoms`).

    W = sum_i |P_i - Q_i| * (a_{i+1} - a_i), with P, Q the cumulative proportions over bins sorted
    by atom a; equal to `scipy.stats.wasserstein_distance(a, a, window, reference)`. In feature
    units. Moving every value to its bin's atom moves it at most half a bin width inside the
    reference range, so against the raw-data distance the error is at most sum_i (p_i + q_i) *
    width_i / 2 over inner bins plus the distance of outer-bin values to the range ends. Zero for
    equal proportions. Raises ValueError if a side is empty or atoms and counts differ in length.
    """
    r, w = _pair(reference, window)
    a = np.asarray(atoms, dtype=np.float64)
    if a.shape != r.shape:
        raise ValueError("one atom per bin is needed")
    order = np.argsort(a, kind="stable")
    a, r, w = a[order], r[order], w[order]
    gaps = np.diff(a)
    cumulative = np.cumsum(w / w.sum())[:-1] - np.cumsum(r / r.sum())[:-1]
    return float(np.sum(np.abs(cumulative) * gaps))
