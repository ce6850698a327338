"""compare(): the two gates, default-threshold targets, flags instead of NaN, segments."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jobs.stats
from jobs.stats import (
    PERFORMANCE,
    BaselineSpec,
    Levels,
    Profile,
    Severity,
    Status,
    Thresholds,
    compare,
    fit_baseline,
    profile_batch,
)

CATS = np.array(["a", "b", "c", "d"], dtype=object)
SHIFTS = {"x0": ("mean", 0.1), "x1": ("mean", 0.3), "x2": ("scale", 1.2), "x3": ("mean", 0.02)}


def drift_batch(rng, n, drift):
    batch = {}
    for i in range(6):
        x = rng.normal(size=n)
        kind, size = SHIFTS.get(f"x{i}", ("", 0.0))
        if drift and kind:
            x = x + size if kind == "mean" else x * size
        batch[f"x{i}"] = x
    batch["c0"] = CATS[
        rng.choice(4, n, p=[0.3, 0.3, 0.25, 0.15] if drift else [0.4, 0.3, 0.2, 0.1])
    ]
    batch["c1"] = CATS[rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1])]
    z = rng.normal(-1, 1.5, n) + (0.3 if drift else 0.0)
    batch["score"] = 1 / (1 + np.exp(-z))
    return batch


DRIFT_SPEC = BaselineSpec(numeric=[f"x{i}" for i in range(6)], categorical=["c0", "c1"])


def check_targets(report):
    for name in ("x1", "x2", "c0", "score"):
        assert report.severity_of(name).rank >= Severity.WARN.rank, name
    assert report.severity_of("x0").rank >= Severity.INFO.rank
    assert report.severity_of("x3").rank < Severity.WARN.rank
    for name in ("x4", "x5", "c1"):
        assert report.severity_of(name) is Severity.NONE, name


def test_default_thresholds_meet_the_drift_targets():
    rng = np.random.default_rng(0)
    baseline = fit_baseline(drift_batch(rng, 300_000, False), DRIFT_SPEC)
    report = compare(baseline, profile_batch(drift_batch(rng, 300_000, True), baseline))
    check_targets(report)
    psi = report.get("x1", "psi")
    assert psi.real and psi.threshold == 0.025 and psi.severity is Severity.WARN


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_default_thresholds_meet_the_drift_targets_at_a_million_rows(seed):
    rng = np.random.default_rng(seed)
    baseline = fit_baseline(drift_batch(rng, 1_000_000, False), DRIFT_SPEC)
    check_targets(compare(baseline, profile_batch(drift_batch(rng, 1_000_000, True), baseline)))


def test_small_windows_need_a_bigger_change_to_be_real():
    rng = np.random.default_rng(1)
    baseline = fit_baseline(drift_batch(rng, 50_000, False), DRIFT_SPEC)
    report = compare(baseline, profile_batch(drift_batch(rng, 300, True), baseline))
    for name in ("x0", "x3", "x4", "x5", "c1"):
        assert report.severity_of(name) is Severity.NONE, name
    assert report.get("x0", "psi").real_cutoff > report.get("x0", "psi").value


def weekly_batch(rng, days, weekend_shift, first=0):
    n_per_day = 2000
    day = np.repeat(np.arange(first, first + days), n_per_day)
    weekend = (day % 7) >= 5
    x = rng.normal(size=day.size) + weekend_shift * weekend
    score = 1 / (1 + np.exp(-rng.normal(size=day.size)))
    return {"x": x, "score": score}, day


def test_day_to_day_variation_of_the_baseline_calibrates_gate_a():
    rng = np.random.default_rng(2)
    batch, day = weekly_batch(rng, 28, 0.25)
    spec = BaselineSpec(numeric=["x"])
    calibrated = fit_baseline(batch, spec, days=day)
    uncalibrated = fit_baseline(batch, spec)
    assert calibrated.days == 28 and calibrated.spread(None, None, "x", "psi") > 0
    saturday, _ = weekly_batch(rng, 1, 0.25, first=5)
    window = profile_batch(saturday, calibrated)
    assert not compare(calibrated, window).get("x", "psi").real
    assert compare(uncalibrated, window).get("x", "psi").real
    shifted = profile_batch({"x": saturday["x"] + 0.6, "score": saturday["score"]}, calibrated)
    assert compare(calibrated, shifted).get("x", "psi").severity.rank >= Severity.WARN.rank


def test_card_overrides_change_the_relevance_floor():
    rng = np.random.default_rng(3)
    baseline = fit_baseline(drift_batch(rng, 100_000, False), DRIFT_SPEC)
    window = profile_batch(drift_batch(rng, 100_000, True), baseline)
    card = Thresholds.from_mapping({"psi": {"warn": 0.1, "critical": 0.25}, "ks": {"warn": 0.1}})
    assert card.psi == Levels(0.005, 0.1, 0.25)
    report = compare(baseline, window, thresholds=card)
    assert report.get("x1", "psi").severity is Severity.INFO
    assert report.get("x1", "psi").threshold == 0.005
    assert report.get("x1", "ks").severity is Severity.WARN
    assert compare(baseline, window).get("x1", "ks").threshold is None


def labelled_batch(rng, n, apac_broken=False):
    region = np.array(["EU", "US", "APAC"], dtype=object)[rng.choice(3, n, p=[0.45, 0.4, 0.15])]
    x = rng.normal(size=n)
    score = 1 / (1 + np.exp(-(1.5 * x + rng.normal(0, 0.5, n))))
    y = (rng.random(n) < score).astype(float)
    if apac_broken:
        flip = (region == "APAC") & (rng.random(n) < 0.25)
        y[flip] = 1.0 - y[flip]
    return {"x": x, "region": region, "score": score, "y": y}


LABEL_SPEC = BaselineSpec(numeric=["x"], score="score", label="y", segments=["region"])


def test_a_segment_drop_that_the_whole_hides_is_visible():
    rng = np.random.default_rng(4)
    baseline = fit_baseline(labelled_batch(rng, 60_000), LABEL_SPEC)
    window = labelled_batch(rng, 20_000, apac_broken=True)
    report = compare(baseline, profile_batch(window, baseline), raw=window)
    overall = report.get(PERFORMANCE, "accuracy_drop")
    apac = report.segments["region"]["APAC"].get(PERFORMANCE, "accuracy_drop")
    assert overall.method == "realized" and apac.segment_value == "APAC"
    assert apac.value > 0.09 and apac.severity is Severity.CRITICAL
    assert overall.severity.rank <= Severity.WARN.rank and overall.value < apac.value
    eu = report.segments["region"]["EU"].get(PERFORMANCE, "accuracy_drop")
    assert eu.severity is Severity.NONE
    auc = report.get(PERFORMANCE, "roc_auc_drop")
    assert "exact" in auc.details and auc.details["exact"] >= auc.details["realized"] - 1e-9
    assert report.performance is not None and report.performance.realized is not None


def test_without_labels_performance_is_estimated_with_a_band():
    rng = np.random.default_rng(5)
    baseline = fit_baseline(labelled_batch(rng, 60_000), LABEL_SPEC)
    window = labelled_batch(rng, 5_000)
    window["y"][:] = np.nan
    report = compare(baseline, profile_batch(window, baseline))
    drop = report.get(PERFORMANCE, "accuracy_drop")
    assert drop.method == "estimated" and drop.severity is Severity.NONE
    assert drop.details["band_low"] < drop.details["estimated"] < drop.details["band_high"]
    assert report.performance is not None and report.performance.realized is None


def test_exact_ks_when_raw_data_is_given():
    rng = np.random.default_rng(6)
    reference = drift_batch(rng, 1500, False)
    baseline = fit_baseline(reference, DRIFT_SPEC)
    window = drift_batch(rng, 1000, True)
    report = compare(baseline, profile_batch(window, baseline), raw=window)
    ks = report.get("x1", "ks")
    assert ks.method == "exact"
    from scipy import stats

    assert ks.value == pytest.approx(stats.ks_2samp(window["x1"], reference["x1"]).statistic)
    assert compare(baseline, profile_batch(window, baseline)).get("x1", "ks").method == "binned"


ODD = BaselineSpec(numeric=["const", "nan", "x"], categorical=["c"], label="y", segments=["c"])


def odd_batch(rng, n, const=1.0):
    return {
        "const": np.full(n, const),
        "nan": np.full(n, np.nan),
        "x": rng.normal(size=n),
        "c": np.array(["a", None], dtype=object)[rng.integers(0, 2, n)],
        "score": rng.random(n),
        "y": np.where(rng.random(n) < 0.5, 1.0, np.nan),
    }


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 1000),
    n_ref=st.sampled_from([0, 1, 5, 50, 400]),
    n_win=st.sampled_from([0, 1, 5, 50, 400]),
    const=st.sampled_from([1.0, 2.0, np.nan, np.inf]),
)
def test_every_metric_is_finite_or_flagged(seed, n_ref, n_win, const):
    rng = np.random.default_rng(seed)
    baseline = fit_baseline(odd_batch(rng, n_ref), ODD, days=np.arange(n_ref) % 3)
    report = compare(baseline, profile_batch(odd_batch(rng, n_win, const), baseline))
    results = list(report.all_results())
    assert results
    for r in results:
        if r.status is Status.OK:
            assert r.value is not None and math.isfinite(r.value)
            assert r.p_value is None or 0.0 <= r.p_value <= 1.0
        else:
            assert r.value is None and r.reason and r.severity is Severity.NONE


def test_empty_window_is_flagged_not_enough_data():
    rng = np.random.default_rng(7)
    baseline = fit_baseline(drift_batch(rng, 1000, False), DRIFT_SPEC)
    report = compare(baseline, Profile.zeros(baseline.bins))
    assert all(r.status is Status.NOT_ENOUGH_DATA for r in report.all_results())
    assert report.severity is Severity.NONE


def test_public_api_is_importable():
    for name in jobs.stats.__all__:
        assert hasattr(jobs.stats, name), name
