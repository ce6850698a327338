"""Slow trends in a daily metric series: Theil-Sen slope, Mann-Kendall test, Page-Hinkley.

Days are plain numbers (e.g. days since epoch); there is no clock here. Pure numpy and stdlib.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from jobs.stats.significance import normal_sf, z_value
from jobs.stats.thresholds import Severity

__all__ = ["Trend", "assess_trend", "mann_kendall", "page_hinkley", "theil_sen"]

Direction = Literal["down", "up"]
_MIN_POINTS = 10
_SEASON = 7


def theil_sen(values: np.ndarray, days: np.ndarray) -> tuple[float, float]:
    """Theil-Sen line: (slope, intercept) with slope = median of pairwise slopes (y_j - y_i) /
    (t_j - t_i) over pairs with t_j != t_i, intercept = median(y - slope t).

    Robust to up to ~29% outliers, unbiased under symmetric noise. Raises ValueError when fewer
    than two distinct days are given.
    """
    y, t = np.asarray(values, np.float64), np.asarray(days, np.float64)
    i, j = np.triu_indices(y.size, k=1)
    dt = t[j] - t[i]
    used = dt != 0
    if not used.any():
        raise ValueError("theil_sen needs two distinct days")
    slope = float(np.median((y[j] - y[i])[used] / dt[used]))
    return slope, float(np.median(y - slope * t))


def _pairwise_slopes(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(y.size, k=1)
    dt = t[j] - t[i]
    used = dt != 0
    return np.sort((y[j] - y[i])[used] / dt[used])


def _autocorrelation_factor(residuals: np.ndarray, scale: float) -> float:
    """Variance inflation for lag-1 autocorrelation r of the detrended series: (1 + r) / (1 - r),
    i.e. an effective sample size n (1 - r) / (1 + r) (AR(1)); r clipped to [0, 0.95], so the
    factor is in [1, 39] and only ever widens the test."""
    centred = residuals - residuals.mean()
    denominator = float(np.sum(centred * centred))
    if denominator <= residuals.size * (1e-12 * scale) ** 2 or residuals.size < 4:
        return 1.0  # no noise left around the line: nothing to correlate
    r = float(np.sum(centred[:-1] * centred[1:])) / denominator
    r = min(max(r, 0.0), 0.95)
    return (1.0 + r) / (1.0 - r)


def mann_kendall(values: np.ndarray, *, variance_factor: float = 1.0) -> tuple[float, float, float]:
    """Mann-Kendall trend statistic of a series in time order: (S, variance of S, z).

    S = sum_{i<j} sign(y_j - y_i); Var S = [n(n-1)(2n+5) - sum_g t_g(t_g-1)(2t_g+5)] / 18 with t_g
    the sizes of tied groups, multiplied by `variance_factor` (autocorrelation); z = (S - sign S) /
    sqrt(Var S) (continuity correction), ≈ N(0, 1) without trend. z is 0 when Var S is 0.
    """
    y = np.asarray(values, np.float64)
    n = y.size
    i, j = np.triu_indices(n, k=1)
    s = float(np.sum(np.sign(y[j] - y[i])))
    _, ties = np.unique(y, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float(np.sum(ties * (ties - 1) * (2 * ties + 5)))) / 18.0
    var *= variance_factor
    z = (s - math.copysign(1.0, s)) / math.sqrt(var) if var > 0 and s != 0 else 0.0
    return s, var, z


def page_hinkley(
    values: np.ndarray, *, noise: float, delta: float = 0.5, threshold: float = 8.0
) -> tuple[int | None, int | None]:
    """Page-Hinkley test for an upward shift of the mean, in units of `noise` (the series' sd).

    With z = x / noise, m_t = sum_{i<=t} (z_i - mean(z_1..z_i) - delta); an alarm is raised at the
    first t with m_t - min_{i<=t} m_i > threshold. Returns (alarm index, change index = the argmin
    before the alarm) or (None, None). Zero or non-finite noise never alarms. Test a downward shift
    by passing -values.
    """
    x = np.asarray(values, np.float64)
    if x.size < 3 or not noise > 0 or not math.isfinite(noise):
        return None, None
    z = x / noise
    running = np.cumsum(z) / np.arange(1, z.size + 1)
    m = np.cumsum(z - running - delta)
    lowest = np.minimum.accumulate(m)
    alarms = np.flatnonzero(m - lowest > threshold)
    if alarms.size == 0:
        return None, None
    alarm = int(alarms[0])
    return alarm, int(np.argmin(m[: alarm + 1]))


@dataclass(frozen=True)
class Trend:
    """Trend assessment of one daily metric series (all days as numbers, no dates).

    `slope` per day (Theil-Sen on the series with its weekly pattern removed when `seasonal`),
    `slope_low`/`slope_high` its 95% interval (Sen), `level` the fitted value on the last day,
    `z`/`p_value` the Mann-Kendall test (one-sided, in the watched `direction`, variance widened by
    `variance_factor` for lag-1 autocorrelation), `change_day` where a Page-Hinkley shift in that
    direction started (None if none), `crossing_day` the projected day the fitted line reaches
    `threshold` (None without a threshold or when not heading there), `crossed` whether the fitted
    level is already beyond it. `significant`: p < alpha with the slope pointing the watched way.
    `severity`: warn when significant and crossed or crossing within the horizon; info when
    significant otherwise or when a change point was found; none else. `status` is
    "not_enough_data" (with `reason`) for fewer than 10 finite points or days.
    """

    status: str
    direction: str
    n: int
    severity: Severity = Severity.NONE
    significant: bool = False
    slope: float | None = None
    slope_low: float | None = None
    slope_high: float | None = None
    level: float | None = None
    z: float | None = None
    p_value: float | None = None
    variance_factor: float = 1.0
    seasonal: bool = False
    change_day: float | None = None
    threshold: float | None = None
    crossing_day: float | None = None
    crossed: bool = False
    reason: str | None = None


def _deseasonalise(y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, bool]:
    """Remove a weekly pattern: each weekday's median residual around a Theil-Sen line."""
    if t[-1] - t[0] < 3 * _SEASON or y.size < 3 * _SEASON:
        return y, False
    slope, intercept = theil_sen(y, t)
    residual = y - (intercept + slope * t)
    weekday = np.mod(t, _SEASON).astype(np.int64)
    counts = np.bincount(weekday, minlength=_SEASON)
    if (counts[counts > 0] < 2).any():
        return y, False
    centre = float(np.median(residual))
    effect = np.zeros(_SEASON)
    for day in np.flatnonzero(counts):
        effect[day] = float(np.median(residual[weekday == day])) - centre
    return y - effect[weekday], True


def assess_trend(
    values: np.ndarray,
    days: np.ndarray,
    *,
    threshold: float | None,
    direction: Direction,
    alpha: float = 0.01,
    horizon: float = 30.0,
) -> Trend:
    """Is the series drifting toward `threshold` in `direction` ("down": e.g. accuracy; "up": e.g.
    PSI)? See `Trend` for every field. Non-finite values are dropped; never raises for short or
    empty series (status "not_enough_data"); ValueError for a bad direction or mismatched lengths.
    """
    if direction not in ("down", "up"):
        raise ValueError("direction must be 'down' or 'up'")
    y_all, t_all = np.asarray(values, np.float64), np.asarray(days, np.float64)
    if y_all.shape != t_all.shape or y_all.ndim != 1:
        raise ValueError("values and days must be 1-D arrays of equal length")
    keep = np.isfinite(y_all) & np.isfinite(t_all)
    order = np.argsort(t_all[keep], kind="stable")
    y, t = y_all[keep][order], t_all[keep][order]
    if y.size < _MIN_POINTS or np.unique(t).size < _MIN_POINTS:
        return Trend(
            "not_enough_data",
            direction,
            int(y.size),
            threshold=threshold,
            reason=f"{y.size} finite points; a trend needs {_MIN_POINTS} distinct days",
        )
    sign = -1.0 if direction == "down" else 1.0
    adjusted, seasonal = _deseasonalise(y, t)
    slope, intercept = theil_sen(adjusted, t)
    factor = _autocorrelation_factor(adjusted - slope * t, float(np.max(np.abs(y))))
    _, var, z = mann_kendall(adjusted, variance_factor=factor)
    p_value = normal_sf(sign * z)
    slopes = _pairwise_slopes(adjusted, t)
    spread = z_value(0.025) * math.sqrt(var)
    low_i = int(np.clip(math.floor((slopes.size - spread) / 2.0), 0, slopes.size - 1))
    high_i = int(np.clip(math.ceil((slopes.size + spread) / 2.0), 0, slopes.size - 1))
    level = intercept + slope * float(t[-1])
    residual = adjusted - (intercept + slope * t)
    noise = float(np.median(np.abs(residual - np.median(residual)))) / 0.6745
    noise = (noise if noise > 0 else float(np.std(residual))) * math.sqrt(factor)
    alarm, start = page_hinkley(sign * adjusted, noise=noise)
    change_day = float(t[start]) if alarm is not None and start is not None else None
    crossing, crossed = None, False
    if threshold is not None:
        crossed = sign * (level - threshold) > 0
        if not crossed and sign * slope > 0:
            crossing = (threshold - intercept) / slope
    significant = bool(p_value < alpha and sign * slope > 0)
    if significant and (crossed or (crossing is not None and crossing - t[-1] <= horizon)):
        severity = Severity.WARN
    elif significant or change_day is not None:
        severity = Severity.INFO
    else:
        severity = Severity.NONE
    return Trend(
        "ok",
        direction,
        int(y.size),
        severity,
        significant,
        slope,
        float(slopes[low_i]),
        float(slopes[high_i]),
        level,
        z,
        p_value,
        factor,
        seasonal,
        change_day,
        threshold,
        crossing,
        crossed,
    )
