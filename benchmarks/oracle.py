"""The fastest delay any test could reach on the stories: an oracle knowing the exact change.

For each story and seed the oracle knows the onset day, the weekly pattern and the true change
(which inputs move and by how much each day, or how the label's true probability changes given
every input) and, each day D after onset, computes the Neyman-Pearson log-likelihood ratio of
"this exact change since onset" against "no change" on every row since onset. It alarms when
the ratio's z under no change passes z(ALARMS_PER_YEAR / 365): one test a day at the same
false-alarm rate per model-year as handoff's scan, with no multiplicity (it knows which column,
which direction, which segment). No test at that rate can be faster on average: this is the
information the data hold. Concept drift: the oracle reads every input, handoff only the score
and the label (a narrower view of the same rows, so handoff's bound is further out still).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import timedelta
from functools import lru_cache

import numpy as np

from jobs.simulation import (
    ABRUPT_SHIFT,
    CREEP_DAYS,
    GRADUAL_DAYS,
    INPUT_SHIFT,
    NUMERIC,
    STORY_ONSET,
    STORY_REGIONS,
    STORY_ROWS,
    STORY_SEASONAL,
    _model_logit,
    _true_logit,
    simulate_story_day,
    story,
)
from jobs.stats.significance import z_value
from jobs.stats.thresholds import DEFAULT_THRESHOLDS
from tests.stories import START

MAX_DAYS = 30


def _shift(name: str, days_in: int) -> dict[str, float]:
    """Mean shift per input (sd) on the `days_in`-th day of the change (0 = onset)."""
    ramp = {"gradual": GRADUAL_DAYS, "segment": GRADUAL_DAYS, "creep": CREEP_DAYS}
    if name == "abrupt":
        return {"utilization": ABRUPT_SHIFT}
    if name in ramp:
        share = min(1.0, (days_in + 1) / ramp[name])
        return {k: v * share for k, v in INPUT_SHIFT.items()}
    return {}


def _day_llr(name: str, seed: int, day: int) -> tuple[float, float, float]:
    """(log-likelihood ratio, its mean and variance without change) of one day's rows."""
    data = simulate_story_day(day, story(name), start=START, rows=STORY_ROWS, seed=seed)
    days_in = day - STORY_ONSET
    if name == "concept":
        x = {k: np.asarray(data[k], dtype=np.float64) for k in NUMERIC}
        concept = min(1.0, (days_in + 1) / GRADUAL_DAYS)
        p0 = 1.0 / (1.0 + np.exp(-_true_logit(x, 0.0)))
        p1 = 1.0 / (1.0 + np.exp(-_true_logit(x, concept)))
        up, down = np.log(p1 / p0), np.log((1 - p1) / (1 - p0))
        y = data["defaulted"]
        llr = float(np.sum(np.where(y == 1.0, up, down)))
        mean = float(np.sum(p0 * up + (1 - p0) * down))
        var = float(np.sum(p0 * (1 - p0) * (up - down) ** 2))
        return llr, mean, var
    weekday = (START + timedelta(days=day)).weekday()
    seasonal = {"income": STORY_SEASONAL * np.sin(2 * np.pi * weekday / 7)}
    rows = data["region"] == "APAC" if name == "segment" else np.ones(data["score"].size, bool)
    llr = mean = var = 0.0
    for column, delta in _shift(name, days_in).items():
        x = np.asarray(data[column], dtype=np.float64)[rows] - seasonal.get(column, 0.0)
        llr += float(np.sum(delta * x - delta * delta / 2))
        mean -= rows.sum() * delta * delta / 2
        var += rows.sum() * delta * delta
    return llr, mean, var


BAND_SAMPLE = 200_000
BANDS = 20


@lru_cache(maxsize=64)
def _band_rates(days_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band edges, P(default | band) without and with the concept drift of that day), from a
    large sample: what a test reading only the score band and the label could know at best."""
    rng = np.random.default_rng(12345)
    x = {k: rng.standard_normal(BAND_SAMPLE) for k in NUMERIC}
    score = 1.0 / (1.0 + np.exp(-_model_logit(x)))
    edges = np.quantile(score, np.arange(1, BANDS) / BANDS)
    band = np.searchsorted(edges, score)
    concept = min(1.0, (days_in + 1) / GRADUAL_DAYS)
    rates = []
    for c in (0.0, concept):
        p = 1.0 / (1.0 + np.exp(-_true_logit(x, c)))
        rates.append(np.bincount(band, p, BANDS) / np.bincount(band, minlength=BANDS))
    return edges, rates[0], rates[1]


def _band_llr(seed: int, day: int) -> tuple[float, float, float]:
    """The concept oracle restricted to the score band and the label (handoff's view)."""
    data = simulate_story_day(day, story("concept"), start=START, rows=STORY_ROWS, seed=seed)
    edges, p0, p1 = _band_rates(day - STORY_ONSET)
    band = np.searchsorted(edges, data["score"])
    up, down = np.log(p1 / p0)[band], np.log((1 - p1) / (1 - p0))[band]
    q = p0[band]
    llr = float(np.sum(np.where(data["defaulted"] == 1.0, up, down)))
    return (
        llr,
        float(np.sum(q * up + (1 - q) * down)),
        float(np.sum(q * (1 - q) * (up - down) ** 2)),
    )


def oracle_delay(
    name: str, seed: int, alarms_per_year: float, *, bands: bool = False
) -> int | None:
    """First day after onset on which the oracle's test passes its threshold."""
    threshold = z_value(alarms_per_year / 365)
    llr = mean = var = 0.0
    for days_in in range(MAX_DAYS):
        day = STORY_ONSET + days_in
        a, b, c = _band_llr(seed, day) if bands else _day_llr(name, seed, day)
        llr, mean, var = llr + a, mean + b, var + c
        if var > 0 and (llr - mean) / np.sqrt(var) > threshold:
            return days_in
    return None


def _part_llrs(seed: int, day: int) -> dict[tuple[str, str], tuple[float, float, float]]:
    """The segment story's known-change LLR (each input's direction and size) on each region's
    rows and each moving input alone: what a test knowing the change but not where it happens
    (which region, which input) computes."""
    data = simulate_story_day(day, story("segment"), start=START, rows=STORY_ROWS, seed=seed)
    weekday = (START + timedelta(days=day)).weekday()
    seasonal = {"income": STORY_SEASONAL * np.sin(2 * np.pi * weekday / 7)}
    out = {}
    for region in STORY_REGIONS:
        rows = data["region"] == region
        for column, delta in _shift("segment", day - STORY_ONSET).items():
            x = np.asarray(data[column], dtype=np.float64)[rows] - seasonal.get(column, 0.0)
            n = float(rows.sum())
            llr = float(np.sum(delta * x - delta * delta / 2))
            out[(str(region), column)] = (llr, -n * delta * delta / 2, n * delta * delta)
    return out


def blind_delay(seed: int, alarms_per_year: float, *, by_input: bool) -> int | None:
    """The segment oracle not knowing the region (and, `by_input`, not which input moves): one
    known-change test per region (per region and input), the false-alarm rate split over them
    (Bonferroni), the first day any passes. Handoff's scan knows neither, nor the size."""
    parts: dict[tuple[str, str], tuple[float, float, float]] = {}
    tests = 0
    for days_in in range(MAX_DAYS):
        for (region, column), (a, b, c) in _part_llrs(seed, STORY_ONSET + days_in).items():
            key = (region, column if by_input else "")
            llr, mean, var = parts.get(key, (0.0, 0.0, 0.0))
            parts[key] = (llr + a, mean + b, var + c)
        tests = tests or len(parts)
        threshold = z_value(alarms_per_year / 365 / tests)
        if any(v > 0 and (s - m) / np.sqrt(v) > threshold for s, m, v in parts.values()):
            return days_in
    return None


def oracle_table(stories: Sequence[str], seeds: range) -> None:
    rate = DEFAULT_THRESHOLDS.alarms_per_year
    print(
        f"\noracle (knows onset, column, direction and size; {rate} false alarms per "
        f"model-year, z > {z_value(rate / 365):.2f})"
    )
    print(f"{'story':<9} {'delay med/worst':>16}")
    for name in stories:
        if name == "stable":
            continue
        delays = [oracle_delay(name, seed, rate) for seed in seeds]
        found = [d for d in delays if d is not None]
        shown = (
            f"{statistics.median(found):g}/{max(found)}"
            if len(found) == len(delays)
            else f"never on {len(delays) - len(found)}"
        )
        print(f"{name:<9} {shown:>16}")
        if name == "segment":
            for by_input, label in ((False, "region"), (True, "region or input")):
                delays = [blind_delay(seed, rate, by_input=by_input) for seed in seeds]
                found = [d for d in delays if d is not None]
                shown = f"{statistics.median(found):g}/{max(found)}" if found else "-"
                print(f"{'  not knowing the ' + label:<36} {shown}")
        if name == "concept":
            delays = [oracle_delay(name, seed, rate, bands=True) for seed in seeds]
            found = [d for d in delays if d is not None]
            shown = f"{statistics.median(found):g}/{max(found)}" if found else "-"
            print(f"{'  reading only score band and label':<36} {shown}")
