"""Findings in words a person understands: what moved, which way, in the column's own terms, then
the metric; from real comparisons of real profiles."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pytest
import yaml

from jobs.observations import observe
from jobs.phrases import number, percent
from jobs.sources.base import ReadReport
from jobs.stats import BaselineSpec, Severity, compare, fit_baseline, profile_batch
from store.cards import Card, parse_card
from tests.replays import card_yaml


@pytest.mark.parametrize(
    ("value", "text"),
    [(55_000, "55,000"), (4120, "4,120"), (12.5, "12.5"), (0.724, "0.72"), (0.0031, "0.0031")],
)
def test_numbers_as_people_write_them(value: float, text: str) -> None:
    assert number(value) == text


def test_percentages() -> None:
    assert [percent(x) for x in (0.31, 0.045, 0.0, 0.003)] == ["31%", "4.5%", "0%", "0.3%"]


def _data(
    rng: np.random.Generator,
    n: int,
    *,
    income: float = 55_000,
    apac: float = 0.2,
    high: float = 0.0,
) -> dict[str, np.ndarray]:
    score = np.clip(rng.beta(2, 5, n) + high, 0, 1)
    return {
        "income": rng.normal(income, 12_000, n).round(-2),
        "region": rng.choice(
            np.array(["EU", "US", "APAC"], dtype=object), size=n, p=[0.8 - apac, 0.2, apac]
        ),
        "score": score,
        "label": (rng.random(n) < score).astype(float),
    }


SPEC = BaselineSpec(numeric=["income"], categorical=["region"], score="score", label="label")


def _card() -> Card:
    content = card_yaml()
    content["data"]["features"] = ["income", "region"]  # type: ignore[index]
    content["data"]["segments"] = []  # type: ignore[index]
    content["data"]["label"] = "label"  # type: ignore[index]
    content["limitations"] = []
    return parse_card(yaml.safe_dump(content))


def _summaries(window: dict[str, np.ndarray]) -> dict[str, str]:
    rng = np.random.default_rng(0)
    baseline = fit_baseline(_data(rng, 20_000), SPEC)
    report = compare(baseline, profile_batch(window, baseline.bins))
    read = ReadReport()
    read.keep(report.rows)
    found = observe(report=report, read=read, card=_card(), today=date(2026, 1, 20))
    return {
        f"{o.kind}:{o.feature}": o.summary for o in found if o.severity.rank >= Severity.WARN.rank
    }


def test_a_median_that_fell_is_said_in_the_columns_units() -> None:
    said = _summaries(_data(np.random.default_rng(1), 5_000, income=42_000))
    text = said["input_drift:income"]
    assert re.fullmatch(
        r"median income fell from 5[45],\d{3} to 4[12],\d{3} \(PSI 1\.\d+, critical at 0\.10\)",
        text,
    ), text


def test_a_category_that_grew_is_said_as_its_share() -> None:
    said = _summaries(_data(np.random.default_rng(1), 5_000, apac=0.35))
    assert said["input_drift:region"].startswith("the share of region=APAC rose from 20% to 3")


def test_the_score_is_said_as_the_share_above_a_cut() -> None:
    said = _summaries(_data(np.random.default_rng(1), 5_000, high=0.15))
    text = said["score_drift:score"]
    assert text.startswith("the share of scores at or above 0.")
    assert " rose from " in text


def test_a_performance_drop_says_realized_and_the_labels() -> None:
    window = _data(np.random.default_rng(1), 5_000)
    window["label"] = 1.0 - window["label"]  # the model is now wrong
    text = _summaries(window)["performance_drop:None"]
    assert text.startswith("accuracy 0.")
    assert "at baseline, from labels of 5,000 rows (realized" in text
