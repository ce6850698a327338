"""Replays: simulated days written as CSV files, a card pointing at them, checks run daily."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import yaml
from sqlalchemy.orm import Session, sessionmaker

from jobs.checks import run_check
from jobs.registration import register_card
from jobs.results import CheckResult
from jobs.simulation import Scenario, simulate_day, write_csv
from store.cards import load_card

START = date(2026, 1, 5)  # a Monday
BASELINE_DAYS = 14


def write_days(folder: Path, scenario: Scenario, *, days: int, rows: int, seed: int) -> None:
    for day in range(days):
        columns = simulate_day(day, scenario, start=START, rows=rows, seed=seed)
        write_csv(folder / f"{START + timedelta(days=day)}.csv", columns)


def card_yaml(*, limitations: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {
        "model": "credit-risk",
        "name": "Credit risk score",
        "intent": {"problem": "Rank applications by risk of default."},
        "builders": ["U024BE7LH"],
        "channel": "#credit-model-health",
        "limitations": limitations
        or [
            {
                "text": "Less reliable in APAC: few APAC applicants in training.",
                "segment": {"column": "region", "in": ["APAC"]},
            }
        ],
        "data": {
            "source": {"kind": "csv", "path": "data/*.csv"},
            "timestamp": "scored_at",
            "score": "score",
            "decision_threshold": 0.5,
            "label": "defaulted",
            "features": [
                "income",
                "debt_ratio",
                "history_months",
                "utilization",
                "inquiries",
                "product",
            ],
            "segments": ["region"],
        },
        "baseline": {
            "from": START.isoformat(),
            "to": (START + timedelta(days=BASELINE_DAYS - 1)).isoformat(),
        },
        "schedule": {"check": "0 6 * * *"},
    }


@dataclass
class Replay:
    sessions: sessionmaker[Session]
    folder: Path

    def check(self, day: int) -> CheckResult:
        end = datetime.combine(START + timedelta(days=day + 1), time(0), tzinfo=UTC)
        return run_check(
            sessions=self.sessions,
            model_id="credit-risk",
            window_end=end,
            now=end + timedelta(hours=6),
            environ={},
        )


def replay(
    sessions: sessionmaker[Session],
    folder: Path,
    scenario: Scenario,
    *,
    days: int,
    rows: int = 2000,
    seed: int = 0,
    label_column: bool = True,
    label_delay: str | None = None,
) -> Replay:
    write_days(folder / "data", scenario, days=days, rows=rows, seed=seed)
    content = card_yaml()
    if not label_column:
        content["data"]["label"] = None  # type: ignore[index]
    if label_delay is not None:
        content["data"]["label_delay"] = label_delay  # type: ignore[index]
    path = folder / "card.yaml"
    path.write_text(yaml.safe_dump(content))
    card = load_card(path)
    with sessions.begin() as session:
        register_card(
            session=session,
            card=card,
            source_file=path,
            now=datetime.combine(START, time(0), tzinfo=UTC),
        )
    return Replay(sessions, folder)
