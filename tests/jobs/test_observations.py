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
