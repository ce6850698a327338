"""Slow trends that agree with the levels: significant only, against the card's warn level, and
folded into the level finding when that one is already loud."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from jobs.checks import merge_trends
from jobs.observations import Observation
from jobs.series import Series, trend_observations
from jobs.stats import Severity, Thresholds

END = datetime(2026, 3, 1, tzinfo=UTC)
CARD = Thresholds.from_mapping({"psi": {"warn": 0.1, "critical": 0.25}})


def _history(values: np.ndarray) -> tuple[Series, dict[str, float]]:
    today = END.timestamp() / 86_400
    days = today - np.arange(len(values), 0, -1)
    return {"psi:income": list(zip(days.tolist(), values.tolist(), strict=True))}, {
        "psi:income": float(values[-1])
    }


def test_a_trend_that_is_not_significant_is_no_finding() -> None:
    """Before, trends with p = 0.11 and 0.27 were reported (a change point alone made them info)."""
    rng = np.random.default_rng(3)
    for seed in range(20):
        noisy = 0.02 + 0.0002 * np.arange(30) + rng.normal(0, 0.01, 30)
        history, today = _history(noisy)
        found = trend_observations(history, today, END, CARD)
        assert all(o.details["p_value"] < 0.01 for o in found), (seed, found)


def test_a_trend_projects_against_the_cards_warn_level() -> None:
    """Before, the trend said "crosses 0.025" (the engine's default) beside a card's 0.1."""
    rising = 0.02 + 0.002 * np.arange(30) + np.random.default_rng(5).normal(0, 0.001, 30)
    history, today = _history(rising)
    (trend,) = trend_observations(history, today, END, CARD)
    assert trend.threshold == 0.1
    assert "reaches the warn level 0.10 on" in trend.summary
    assert "the drift of income (PSI) is rising" in trend.summary


def test_a_trend_of_a_metric_already_at_warn_goes_into_its_level_finding() -> None:
    level = Observation(
        kind="input_drift",
        severity=Severity.WARN,
        summary="median income fell from 55,000 to 42,000 (PSI 0.14, warn at 0.10)",
        metric="psi",
        feature="income",
        value=0.14,
        threshold=0.1,
    )
    trend = Observation(
        kind="slow_trend",
        severity=Severity.WARN,
        summary="the drift of income (PSI) is rising 0.014 a week",
        metric="psi:income",
        feature="income",
        details={"slope_per_day": 0.002, "crossed": True},
    )
    merged, kept = merge_trends([level], [trend], [], score="score")
    assert merged.kind == "input_drift"
    assert merged.summary.endswith("and still rising 0.014 a week")
    # the trend is held: its live finding neither updates nor reads as recovered
    assert (kept.kind, kept.held) == ("slow_trend", True)
    quiet = Observation(**{**level.__dict__, "severity": Severity.INFO})
    kinds = sorted(o.kind for o in merge_trends([quiet], [trend], [], score="score"))
    assert kinds == ["input_drift", "slow_trend"]  # past warn while the day is quiet: still said
    early = Observation(**{**trend.__dict__, "details": {"slope_per_day": 0.002}})
    kinds = sorted(o.kind for o in merge_trends([quiet], [early], [], score="score"))
    assert kinds == ["input_drift", "slow_trend"]


def test_a_trend_already_past_warn_says_so_and_is_kept_while_the_day_is_quiet() -> None:
    """Before, such a trend was dropped when the day's level finding was quiet, and its finding
    "recovered" while the metric was at its worst (seen in `handoff demo`)."""
    rising = 0.02 + 0.005 * np.arange(30) + np.random.default_rng(5).normal(0, 0.003, 30)
    history, today = _history(rising)
    (trend,) = trend_observations(history, today, END, CARD)
    assert trend.details["crossed"]
    assert "its trend line is already past the warn level 0.10" in trend.summary
    quiet_day = Observation(
        kind="input_drift",
        severity=Severity.INFO,
        summary="median income fell a little (PSI 0.09, warn at 0.10)",
        metric="psi",
        feature="income",
        value=0.09,
        threshold=0.1,
    )
    kinds = sorted(o.kind for o in merge_trends([quiet_day], [trend], [], score="score"))
    assert kinds == ["input_drift", "slow_trend"]


def test_a_live_trend_not_seen_today_is_held_while_its_level_finding_is_loud() -> None:
    """Before, an estimated-accuracy trend "recovered" when the blind estimate bounced back while
    the realized accuracy finding was critical (seen in `handoff demo`)."""
    from store.models import Finding

    level = Observation(
        kind="performance_drop",
        severity=Severity.CRITICAL,
        summary="accuracy 0.71 against 0.78 at baseline (realized)",
        metric="accuracy_drop",
        value=0.07,
        threshold=0.05,
    )
    live = Finding(
        kind="slow_trend",
        key="slow_trend|accuracy@estimated||",
        metric="accuracy@estimated",
        feature=None,
        severity="warn",
        summary="accuracy (estimated) is falling 0.006 a week",
    )
    out = merge_trends([level], [], [live], score="score")
    held = [o for o in out if o.kind == "slow_trend"]
    assert [(o.key, o.held) for o in held] == [(live.key, True)]
    quiet = Observation(**{**level.__dict__, "severity": Severity.INFO})
    assert [o.kind for o in merge_trends([quiet], [], [live], score="score")] == [
        "performance_drop"
    ]  # a quiet level: the trend may clear and recover as usual


def test_an_accuracy_trend_is_held_while_the_other_accuracy_series_still_falls() -> None:
    """Before, "Recovered: accuracy (estimated) is falling" was said while realized accuracy was
    still seen falling (the blind estimate had bounced back; seen in `handoff demo`)."""
    from store.models import Finding

    live = Finding(
        kind="slow_trend",
        key="slow_trend|accuracy@estimated||",
        metric="accuracy@estimated",
        feature=None,
        severity="warn",
        summary="accuracy (estimated) is falling 0.006 a week",
    )
    realized = Observation(
        kind="slow_trend",
        severity=Severity.WARN,
        summary="accuracy (realized) is falling 0.009 a week",
        metric="accuracy@realized",
        details={"slope_per_day": -0.0013},
    )
    out = merge_trends([], [realized], [live], score="score")
    assert sorted((o.metric, o.held) for o in out) == [
        ("accuracy@estimated", True),
        ("accuracy@realized", False),
    ]
    assert [o.metric for o in merge_trends([], [], [live], score="score")] == []
