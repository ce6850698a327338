"""The sequential scan: mergeable daily sums, calibration on the baseline's own days, the scan's
false-alarm rate and power, format-1 baselines, and the seasonal-peak gate of PSI."""

from datetime import date

import numpy as np
import pytest

from jobs.simulation import NUMERIC, simulate_story_day, story
from jobs.stats import Baseline, BaselineSpec, Thresholds, fit_baseline, profile_batch
from jobs.stats.codec import pack, unpack
from jobs.stats.comparisons import judge
from jobs.stats.measures import Measurement
from jobs.stats.sequential import Summer, calibrate, scan, scan_threshold
from jobs.stats.significance import divergence_noise, shifted_divergence_cutoff

START = date(2026, 1, 5)
SPEC = BaselineSpec(
    numeric=NUMERIC,
    categorical=["product"],
    score="score",
    label="defaulted",
    segments=["region"],
    ks_sketch=0,
)


def _baseline(name: str, seed: int, days: int = 28) -> tuple[Baseline, list[dict[str, np.ndarray]]]:
    scenario = story(name)
    batches = [
        simulate_story_day(d, scenario, start=START, rows=2000, seed=seed) for d in range(days)
    ]
    batch = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    day = np.concatenate([np.full(b["score"].size, i) for i, b in enumerate(batches)])
    return fit_baseline(batch, SPEC, days=day), batches


@pytest.fixture(name="stable", scope="module")
def _stable() -> tuple[Baseline, list[dict[str, np.ndarray]]]:
    return _baseline("stable", 3, days=21)


def test_daily_sums_merge_by_addition(stable):
    baseline, batches = stable
    assert baseline.sequential is not None
    summer = Summer.of(baseline.bins, baseline.reference, baseline.sequential)
    a, b = (profile_batch(x, baseline.bins) for x in batches[:2])
    rows_a, sums_a = summer.sums(a)
    rows_b, sums_b = summer.sums(b)
    rows, sums = summer.sums(a + b)
    np.testing.assert_allclose(rows, rows_a + rows_b)
    np.testing.assert_allclose(sums, sums_a + sums_b, atol=1e-8)


def test_the_reference_sums_to_zero_and_the_weekly_pattern_is_calibrated(stable):
    baseline, _ = stable
    calibration = baseline.sequential
    assert calibration is not None
    summer = Summer.of(baseline.bins, baseline.reference, calibration)
    _, sums = summer.sums(baseline.reference)
    np.testing.assert_allclose(sums, 0.0, atol=1e-6)
    keys = list(calibration.keys)
    sampling = calibration.variance / 2000
    income = keys.index(("", "", "income", "mean"))
    debt = keys.index(("", "", "debt_ratio", "mean"))
    # income follows the week (0.15 sd): its daily mean strays ~20x further than sampling says
    assert calibration.between[income] > 10 * sampling[income]
    assert calibration.between[debt] < sampling[debt]


def test_the_threshold_splits_the_yearly_budget(stable):
    baseline, _ = stable
    assert baseline.sequential is not None
    z = scan_threshold(baseline.sequential)
    assert 4.0 < z.min() <= z.max() < 5.5
    assert (scan_threshold(baseline.sequential, alarms_per_year=1.0) < z).all()


def _scan_days(baseline: Baseline, batches: list[dict[str, np.ndarray]]) -> list[list[object]]:
    assert baseline.sequential is not None
    summer = Summer.of(baseline.bins, baseline.reference, baseline.sequential)
    rows, sums, out = [], [], []
    for batch in batches:
        r, s = summer.sums(profile_batch(batch, baseline.bins))
        rows.append(r)
        sums.append(s)
        out.append(scan(baseline.sequential, np.vstack(rows[-7:]), np.vstack(sums[-7:])))
    return out


def test_six_stable_weeks_with_a_weekly_pattern_raise_nothing(stable):
    baseline, _ = stable
    later = [
        simulate_story_day(d, story("stable"), start=START, rows=2000, seed=3)
        for d in range(28, 70)
    ]
    assert all(alarms == [] for alarms in _scan_days(baseline, later))


def test_a_creep_is_found_within_three_days_and_said_in_its_own_units():
    baseline, _ = _baseline("creep", 1)
    days = [
        simulate_story_day(d, story("creep"), start=START, rows=2000, seed=1) for d in range(28, 40)
    ]
    found = [i for i, alarms in enumerate(_scan_days(baseline, days)) if alarms]
    assert found and found[0] + 28 - 35 <= 3
    alarm = _scan_days(baseline, days)[found[0]][0]
    assert alarm.key == ("", "", "utilization", "mean")
    assert 0.05 < alarm.effect < 0.3  # standard deviations, moving up


def test_the_scan_refuses_misaligned_sums(stable):
    baseline, _ = stable
    assert baseline.sequential is not None
    with pytest.raises(ValueError, match="calibration's order"):
        scan(baseline.sequential, np.zeros((2, 3)), np.zeros((2, 3)))


def test_format_2_round_trips_and_format_1_still_loads(stable):
    baseline, _ = stable
    again = Baseline.from_bytes(baseline.to_bytes())
    assert again.sequential is not None and baseline.sequential is not None
    assert again.sequential.keys == baseline.sequential.keys
    np.testing.assert_allclose(again.sequential.between, baseline.sequential.between)
    arrays = unpack(baseline.to_bytes())
    arrays = {k: v for k, v in arrays.items() if not k.startswith("seq_")}
    arrays["format"] = np.asarray([1])
    old = Baseline.from_bytes(pack(arrays))
    assert old.sequential is None
    assert old.spreads == baseline.spreads


def test_a_weekly_peak_the_baseline_saw_is_not_real_for_its_ordinary_noise():
    """Fails before the noncentral gate: 'sampling cutoff + spread' called a peak day's ordinary
    fluctuation real (a PSI of 0.045 at 2,000 rows fluctuates ~4x more than a flat day's)."""
    dof, factor, alpha = 9, 1 / 2000 + 1 / 56000, 1e-4
    noise = divergence_noise(dof, factor, alpha)
    spread = 0.045
    value = noise.cutoff + spread + 0.005
    m = Measurement(
        "income", "psi", value, value, noise, None, 2000, 56000, "binned", {"bins": float(dof + 1)}
    )
    result = judge(m, Thresholds(), spread)
    assert not result.real
    assert result.real_cutoff == pytest.approx(
        shifted_divergence_cutoff(dof, factor, alpha, spread)
    )
    assert shifted_divergence_cutoff(dof, factor, alpha, 0.0) == pytest.approx(noise.cutoff)
    far = judge(replace_value(m, 0.2), Thresholds(), spread)
    assert far.real


def replace_value(m: Measurement, value: float) -> Measurement:
    return Measurement(
        m.feature,
        m.metric,
        value,
        value,
        m.noise,
        None,
        m.n_window,
        m.n_reference,
        m.method,
        m.details,
    )


def test_without_daily_profiles_there_is_no_calibration(stable):
    baseline, _ = stable
    assert calibrate(baseline.bins, baseline.reference, []).between.sum() == 0.0
    single = Baseline.from_profiles(baseline.bins, baseline.reference, [baseline.reference])
    assert single.sequential is None
