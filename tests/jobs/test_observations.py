"""From what a run read and compared to observations: the pure rules, one by one."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import yaml

from jobs.observations import covering_limitation, observe
from jobs.sources.base import ReadReport
from store.cards import Card, parse_card
from tests.replays import card_yaml


def _card(**changes: Any) -> Card:
    content = card_yaml(
        limitations=[
            {"text": "Not validated in APAC.", "segment": {"column": "region", "in": ["APAC"]}},
            {"text": "Thin files.", "segment": {"column": "history_months", "below": 12}},
            {"text": "Not for small business."},
        ]
    )
    content.update(changes)
    return parse_card(yaml.safe_dump(content))


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("region", "APAC", "Not validated in APAC."),
        ("region", "EU", None),
        ("history_months", "6", "Thin files."),
        ("history_months", "12", None),
        ("history_months", "many", None),
        ("product", "card", None),
    ],
)
def test_the_limitation_covering_a_segment(column: str, value: str, expected: str | None) -> None:
    found = covering_limitation(_card(), column, value)
    assert (found.text if found else None) == expected


def _read(**counts: int) -> ReadReport:
    report = ReadReport()
    report.keep(counts.get("kept", 0))
    if counts.get("rejected"):
        report.reject("nan_score", counts["rejected"])
    return report


def test_no_rows_is_a_critical_no_data_finding() -> None:
    (only,) = observe(report=None, read=_read(), card=_card(), today=date(2026, 1, 20))
    assert (only.kind, only.severity) == ("no_data", "critical")


def test_missing_columns_and_type_changes_are_schema_changes() -> None:
    read = _read(kept=100)
    read.note_missing("income")
    read.type_changes["utilization"] = "expected numeric, found string"
    found = observe(report=None, read=read, card=_card(), today=date(2026, 1, 20))
    assert sorted((o.kind, o.feature) for o in found) == [
        ("schema_change", "income"),
        ("schema_change", "utilization"),
    ]


@pytest.mark.parametrize(("rejected", "severity"), [(2, None), (6, "warn"), (25, "critical")])
def test_a_burst_of_rejected_rows_is_a_data_quality_finding(
    rejected: int, severity: str | None
) -> None:
    found = observe(
        report=None,
        read=_read(kept=100 - rejected, rejected=rejected),
        card=_card(),
        today=date(2026, 1, 20),
    )
    assert [o.severity for o in found if o.kind == "data_quality"] == (
        [severity] if severity else []
    )


@pytest.mark.parametrize(
    ("trained_to", "severity"),
    [("2025-12-01", None), ("2024-12-01", "info"), ("2023-06-01", "warn")],
)
def test_old_training_data_is_noted(trained_to: str, severity: str | None) -> None:
    card = _card(context={"trained_on": {"from": "2023-01-01", "to": trained_to}})
    found = observe(report=None, read=_read(kept=10), card=card, today=date(2026, 1, 20))
    assert [o.severity for o in found if o.kind == "stale_training_data"] == (
        [severity] if severity else []
    )


def test_a_whole_drift_names_the_segment_it_is_worst_in_when_that_segment_is_held() -> None:
    """A drift all in APAC, as loud in the whole as in APAC: the segment's own finding is held, so
    the whole's must say APAC and its limitation (before, neither reached the message)."""
    from jobs.observations import Observation, _worst_in
    from jobs.stats import Severity

    whole = Observation(
        kind="input_drift",
        severity=Severity.CRITICAL,
        summary="median utilization rose from -0.02 to 0.40 (PSI 1.98, critical at 0.10)",
        metric="psi",
        feature="utilization",
        value=1.98,
    )
    held = Observation(
        kind="segment_degradation",
        severity=Severity.CRITICAL,
        summary="in region=APAC, median utilization rose (PSI 6.1)",
        metric="psi",
        feature="utilization",
        segment="region=APAC",
        value=6.1,
        held=True,
    )
    (named,) = _worst_in([whole], [held], _card())
    assert named.details["worst_segment"] == "region=APAC"
    assert named.summary.endswith(
        "; worst in region=APAC, a known limitation: Not validated in APAC."
    )
    (plain,) = _worst_in([whole], [Observation(**{**held.__dict__, "held": False})], _card())
    assert plain == whole  # a segment with a finding of its own says it itself
