"""Trends: the slow-drift story is flagged, a stable weekly-seasonal series stays quiet."""

import numpy as np
import pytest
from scipy import stats

from jobs.stats import Severity, assess_trend, mann_kendall, page_hinkley, theil_sen


def ar_noise(rng, n, phi, sd):
    out = np.zeros(n)
    shocks = rng.normal(0, sd, n)
    for i in range(n):
        out[i] = (phi * out[i - 1] if i else 0.0) + shocks[i]
    return out


def weekly(days):
    return 0.01 * np.sin(2 * np.pi * days / 7) + 0.006 * (days % 7 >= 5)


@pytest.mark.parametrize("seed", range(5))
def test_accuracy_falling_two_points_a_week_is_flagged_before_any_day_crosses(seed):
    rng = np.random.default_rng(seed)
    days = np.arange(19_700, 19_728)  # four weeks, as days since epoch
    accuracy = 0.92 - 0.02 / 7 * (days - days[0]) + weekly(days) + ar_noise(rng, 28, 0.3, 0.006)
    threshold = 0.80
    assert (accuracy > threshold).all()
    trend = assess_trend(accuracy, days, threshold=threshold, direction="down")
    assert trend.significant and trend.severity is Severity.WARN
    assert trend.slope == pytest.approx(-0.02 / 7, rel=0.35)
    assert trend.slope_low <= trend.slope <= trend.slope_high
    assert days[-1] < trend.crossing_day < days[-1] + 30
    assert not trend.crossed


def test_stable_weekly_seasonal_series_over_ninety_days_stays_quiet():
    loud = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        days = np.arange(90)
        accuracy = 0.92 + weekly(days) * 2 + ar_noise(rng, 90, 0.3, 0.006)
        trend = assess_trend(accuracy, days, threshold=0.85, direction="down")
        assert trend.seasonal and trend.severity is not Severity.WARN
        loud += trend.severity is not Severity.NONE
    assert loud <= 2


def test_a_rising_drift_metric_is_flagged_upward_only():
    rng = np.random.default_rng(1)
    days = np.arange(42)
    psi = 0.01 + 0.0015 * days + rng.normal(0, 0.003, 42)
    up = assess_trend(psi, days, threshold=0.1, direction="up")
    assert up.significant and up.severity is Severity.WARN and up.crossing_day > days[-1]
    down = assess_trend(psi, days, threshold=0.0, direction="down")
    assert not down.significant and down.crossing_day is None


def test_a_step_change_is_located_by_page_hinkley():
    rng = np.random.default_rng(2)
    days = np.arange(60)
    values = 0.9 + rng.normal(0, 0.005, 60) - 0.03 * (days >= 40)
    trend = assess_trend(values, days, threshold=None, direction="down")
    assert trend.change_day is not None and 36 <= trend.change_day <= 42
    assert trend.severity.rank >= Severity.INFO.rank
    assert page_hinkley(np.zeros(30), noise=0.0) == (None, None)


def test_already_crossed_is_reported():
    days = np.arange(30)
    values = 0.9 - 0.004 * days
    trend = assess_trend(values, days, threshold=0.85, direction="down")
    assert trend.crossed and trend.crossing_day is None and trend.severity is Severity.WARN


def test_theil_sen_and_mann_kendall_agree_with_scipy():
    rng = np.random.default_rng(3)
    days = np.sort(rng.choice(200, 60, replace=False)).astype(float)
    values = np.round(0.002 * days + rng.normal(0, 0.05, 60), 2)  # ties on purpose
    slope, _ = theil_sen(values, days)
    assert slope == pytest.approx(stats.theilslopes(values, days).slope)
    _, _, z = mann_kendall(values)
    tau = stats.kendalltau(np.arange(60), values)
    assert np.sign(z) == np.sign(tau.statistic)
    assert 2 * stats.norm.sf(abs(z)) == pytest.approx(tau.pvalue, rel=0.1)


def test_short_or_missing_series_are_not_enough_data():
    trend = assess_trend(
        np.array([0.9, np.nan, 0.8]), np.array([1, 2, 3]), threshold=0.5, direction="down"
    )
    assert trend.status == "not_enough_data" and trend.reason and trend.severity is Severity.NONE
    values = np.full(19, 0.9)
    values[::2] = np.nan  # nine finite points
    assert assess_trend(values, np.arange(19), threshold=None, direction="up").status == (
        "not_enough_data"
    )
    flat = assess_trend(np.full(20, 0.9), np.arange(20), threshold=0.8, direction="down")
    assert flat.status == "ok" and flat.severity is Severity.NONE and flat.slope == 0.0
    with pytest.raises(ValueError):
        assess_trend(np.ones(3), np.ones(4), threshold=None, direction="down")
    with pytest.raises(ValueError):
        assess_trend(np.ones(3), np.ones(3), threshold=None, direction="sideways")  # type: ignore[arg-type]
