"""Seeded simulations of a scored model's traffic: the demo's replay and the tests' ground truth.

A credit-style binary classifier with five numeric inputs, a region and a product category. The
model's score is a logistic function of the inputs that matches the truth on the baseline
population; scenarios then change the inputs (covariate drift into a region the model never
learned), one segment only, or the relationship itself (concept drift), day by day.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np

REGIONS = np.array(["EU", "US", "APAC"], dtype=object)
REGION_P = np.array([0.5, 0.3, 0.2])
PRODUCTS = np.array(["card", "loan", "mortgage", "auto"], dtype=object)
PRODUCT_P = np.array([0.4, 0.3, 0.2, 0.1])
NUMERIC = ("income", "debt_ratio", "history_months", "utilization", "inquiries")


@dataclass(frozen=True)
class Drift:
    """How day `d` (0 = first simulated day) differs from the baseline population."""

    shift: float = 0.0  # mean shift of `utilization` in baseline standard deviations
    segment_shift: float = 0.0  # the same, for APAC rows only
    concept: float = 0.0  # 0..1: how far the true relationship has turned away from the model's
    seasonal: float = 0.0  # amplitude of a weekly pattern in volume and `income`
    inputs: float = 0.0  # 0..1 of `INPUT_SHIFT`: utilization and income move together
    segment_inputs: float = 0.0  # the same, for APAC rows only


Scenario = Callable[[int], Drift]


def stable(_day: int) -> Drift:
    return Drift()


def seasonal(_day: int) -> Drift:
    return Drift(seasonal=0.15)


def slow_drift(onset: int, per_week: float = 0.25) -> Scenario:
    """The seed's story: stable until `onset`, then `utilization` creeps up `per_week` sd a week."""

    def scenario(day: int) -> Drift:
        return Drift(shift=max(0, day - onset) * per_week / 7)

    return scenario


def segment_drift(onset: int, per_week: float = 0.6) -> Scenario:
    def scenario(day: int) -> Drift:
        return Drift(segment_shift=max(0, day - onset) * per_week / 7)

    return scenario


def concept_drift(onset: int, per_week: float = 0.15) -> Scenario:
    def scenario(day: int) -> Drift:
        return Drift(concept=min(1.0, max(0, day - onset) * per_week / 7))

    return scenario


def _true_logit(x: dict[str, np.ndarray], concept: float) -> np.ndarray:
    # Utilization hurts until about 1.5 sd and then saturates: a linear model extrapolates badly.
    util = np.minimum(x["utilization"], 1.5)
    base = -1.0 - 0.8 * x["income"] + 0.9 * x["debt_ratio"] - 0.6 * x["history_months"]
    base = base + 1.1 * util + 0.4 * x["inquiries"]
    # Concept drift: debt ratio stops mattering and inquiries start to matter the other way.
    return np.asarray(base - concept * (0.9 * x["debt_ratio"] + 0.8 * x["inquiries"]))


def _model_logit(x: dict[str, np.ndarray]) -> np.ndarray:
    base = -1.0 - 0.8 * x["income"] + 0.9 * x["debt_ratio"] - 0.6 * x["history_months"]
    return np.asarray(base + 1.1 * x["utilization"] + 0.4 * x["inquiries"])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def write_csv(path: Path, columns: Mapping[str, np.ndarray], *, labelled: bool = True) -> None:
    """A simulated day's columns as a CSV file, timestamps to the second; without `labelled`
    the `defaulted` cells are empty (the outcomes have not arrived yet)."""
    names = list(columns)
    stamps = np.datetime_as_string(columns["scored_at"], unit="s")
    data = [stamps if name == "scored_at" else columns[name] for name in names]
    if not labelled and "defaulted" in columns:
        data[names.index("defaulted")] = np.full(len(stamps), "", dtype=object)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        writer.writerows(zip(*data, strict=True))


def simulate_day(
    day: int, scenario: Scenario, *, start: date, rows: int, seed: int
) -> dict[str, np.ndarray]:
    """One day of scored traffic as columns (timestamps as datetime64[ns], UTC)."""
    return _simulate(day, scenario, start=start, rows=rows, seed=seed, regions=(REGIONS, REGION_P))


def simulate_story_day(
    day: int, scenario: Scenario, *, start: date, rows: int, seed: int
) -> dict[str, np.ndarray]:
    """One day of a story (see `STORIES`): as `simulate_day`, over four regions."""
    regions = (STORY_REGIONS, STORY_REGION_P)
    return _simulate(day, scenario, start=start, rows=rows, seed=seed, regions=regions)


def _simulate(
    day: int,
    scenario: Scenario,
    *,
    start: date,
    rows: int,
    seed: int,
    regions: tuple[np.ndarray, np.ndarray],
) -> dict[str, np.ndarray]:
    drift = scenario(day)
    rng = np.random.default_rng([seed, day])
    weekday = (start + timedelta(days=day)).weekday()
    weekly = np.sin(2 * np.pi * weekday / 7)
    n = max(1, int(rows * (1 + drift.seasonal * weekly)))
    x = {name: rng.standard_normal(n) for name in NUMERIC}
    region = rng.choice(regions[0], size=n, p=regions[1])
    product = rng.choice(PRODUCTS, size=n, p=PRODUCT_P)
    x["income"] = x["income"] + drift.seasonal * weekly
    x["utilization"] = x["utilization"] + drift.shift + drift.segment_shift * (region == "APAC")
    if drift.inputs or drift.segment_inputs:
        moved = drift.inputs + drift.segment_inputs * (region == "APAC")
        for name, full in INPUT_SHIFT.items():
            x[name] = x[name] + moved * full
    score = _sigmoid(_model_logit(x))
    label = (rng.random(n) < _sigmoid(_true_logit(x, drift.concept))).astype(float)
    midnight = datetime.combine(start + timedelta(days=day), time(0), tzinfo=UTC)
    offsets = np.sort(rng.integers(0, 86_400_000_000_000, size=n))
    stamps = np.datetime64(midnight.replace(tzinfo=None), "ns") + offsets.astype("timedelta64[ns]")
    return {
        "scored_at": stamps,
        **{name: np.round(values, 4) for name, values in x.items()},
        "region": region,
        "product": product,
        "score": np.round(score, 5),
        "defaulted": label,
    }


# --- the stories of tests/scenarios and benchmarks/detection.py

STORY_REGIONS = np.array(["EU", "US", "APAC", "LATAM"], dtype=object)
STORY_REGION_P = np.array([0.35, 0.25, 0.25, 0.15])
STORY_DAYS = 120
STORY_ROWS = 2000
STORY_BASELINE_DAYS = 28
STORY_ONSET = 35
STORY_SEASONAL = 0.15
INPUT_SHIFT = {"utilization": 2.5, "income": 1.75}
"""The full shift of the moving inputs (in sd): accuracy falls from ~0.78 to ~0.64 at the full
shift, as utilization leaves the range the model learned (its effect saturates at 1.5 sd)."""
GRADUAL_DAYS = 42
CREEP_DAYS = 84
ABRUPT_SHIFT = 1.0


def _ramp(day: int, onset: int, days: int) -> float:
    """0 before `onset`, then rising on a straight line to 1 after `days` days (day `onset` is
    the first day with a change: 1 / days of it)."""
    return min(1.0, max(0, day - onset + 1) / days)


def story(name: str, onset: int = STORY_ONSET) -> Scenario:
    """One of `STORIES`, changing from day `onset`, on top of a weekly pattern:

    stable: nothing changes; gradual: utilization and income move over six weeks to
    `INPUT_SHIFT` (accuracy falls ~2.4 points a week); segment: the same in APAC only; abrupt:
    utilization jumps 1 sd on the day of onset; creep: the gradual movement over twelve weeks
    (each day's PSI under 0.1 for about ten days); concept: inputs and scores as in stable, the
    true relation to the label fading linearly over six weeks."""
    if name not in STORIES:
        raise ValueError(f"unknown story {name!r}: one of {', '.join(STORIES)}")

    def scenario(day: int) -> Drift:
        drift = Drift(seasonal=STORY_SEASONAL)
        if name == "gradual":
            return replace(drift, inputs=_ramp(day, onset, GRADUAL_DAYS))
        if name == "segment":
            return replace(drift, segment_inputs=_ramp(day, onset, GRADUAL_DAYS))
        if name == "abrupt":
            return replace(drift, shift=ABRUPT_SHIFT if day >= onset else 0.0)
        if name == "creep":
            return replace(drift, inputs=_ramp(day, onset, CREEP_DAYS))
        if name == "concept":
            return replace(drift, concept=_ramp(day, onset, GRADUAL_DAYS))
        return drift

    return scenario


STORIES = ("stable", "gradual", "segment", "abrupt", "creep", "concept")
