"""`handoff register` checks a card against its data before it stores anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from jobs.simulation import stable
from store import db
from store.models import CardVersion, StoredBaseline
from tests.replays import card_yaml, write_days

HANDOFF = str(Path(sys.executable).with_name("handoff"))


@pytest.fixture(name="runner")
def _runner(database_url: str) -> CliRunner:
    return CliRunner(env={"DATABASE_URL": database_url})


def _card(folder: Path, rows: int = 300, **changes: Any) -> Path:
    write_days(folder / "data", stable, days=16, rows=rows, seed=2)
    content = card_yaml()
    for key, value in changes.items():
        if key.startswith("data."):
            content["data"][key.removeprefix("data.")] = value  # type: ignore[index]
        else:
            content[key] = value
    path = folder / "card.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def _stored(database_url: str) -> tuple[int, int]:
    engine = db.make_engine(database_url)
    with engine.connect() as connection:
        versions = connection.scalar(select(func.count()).select_from(CardVersion))
        baselines = connection.scalar(select(func.count()).select_from(StoredBaseline))
    engine.dispose()
    return int(versions or 0), int(baselines or 0)


def test_a_column_the_data_lacks_is_refused_with_the_closest_name(
    runner: CliRunner, database_url: str, tmp_path: Path
) -> None:
    """Before, a typo'd feature registered, and every check then warned about it."""
    features = ["income", "debt_ratoi", "history_months", "utilization", "inquiries"]
    card = _card(tmp_path, **{"data.features": features, "data.label": "defualted"})
    done = runner.invoke(cli, ["register", str(card)])
    assert done.exit_code == 1
    lines = done.stderr.splitlines()
    assert (
        f"{card}: data.features[1]: 'debt_ratoi' is not a column of csv data/*.csv: "
        "did you mean 'debt_ratio'?" in lines
    )
    assert any(line.startswith(f"{card}: data.label: 'defualted'") for line in lines)
    assert _stored(database_url) == (0, 0)


def test_a_baseline_too_thin_to_fit_is_refused(
    runner: CliRunner, database_url: str, tmp_path: Path
) -> None:
    card = _card(tmp_path, rows=10)
    done = runner.invoke(cli, ["register", str(card)])
    assert done.exit_code == 1
    assert "only 140 usable rows" in done.stderr and "at least 200" in done.stderr
    assert _stored(database_url) == (0, 0)


def test_register_prints_the_baselines_real_span(runner: CliRunner, tmp_path: Path) -> None:
    """Before, a baseline read from a file of its own printed "1970-01-01 to 2200-01-01"."""
    card = _card(tmp_path, baseline={"source": {"kind": "csv", "path": "data/*.csv"}})
    done = runner.invoke(cli, ["register", str(card)])
    assert done.exit_code == 0, done.output
    assert "baseline of 4,800 rows, 2026-01-05 00:" in done.stdout
    assert "to 2026-01-20 23:" in done.stdout
    assert "1970" not in done.stdout and "2200" not in done.stdout


def test_a_window_baseline_spans_the_days_the_card_states(
    runner: CliRunner, tmp_path: Path
) -> None:
    done = runner.invoke(cli, ["register", str(_card(tmp_path))])
    assert done.exit_code == 0, done.output
    assert "baseline of 4,200 rows, 2026-01-05 00:" in done.stdout
    assert "to 2026-01-18 23:" in done.stdout  # the card says `to: 2026-01-18`


def test_unreadable_data_stores_nothing(
    runner: CliRunner, database_url: str, tmp_path: Path
) -> None:
    card = _card(tmp_path)
    for path in (tmp_path / "data").iterdir():
        path.unlink()
    done = runner.invoke(cli, ["register", str(card)])
    assert done.exit_code == 1
    assert "no file matches" in done.stderr
    assert _stored(database_url) == (0, 0)


def test_skip_data_check_stores_the_card_for_a_later_first_check(
    runner: CliRunner, database_url: str, tmp_path: Path
) -> None:
    card = _card(tmp_path)
    done = runner.invoke(cli, ["register", "--skip-data-check", str(card)])
    assert done.exit_code == 0, done.output
    assert "data not read" in done.stdout
    assert _stored(database_url) == (1, 0)


def test_a_threshold_change_keeps_the_baseline(
    runner: CliRunner, database_url: str, tmp_path: Path
) -> None:
    card = _card(tmp_path)
    assert runner.invoke(cli, ["register", str(card)]).exit_code == 0
    content = yaml.safe_load(card.read_text())
    content["thresholds"] = {"psi": {"warn": 0.2, "critical": 0.3}}
    content["builders"] = ["U0NEWONE1"]
    card.write_text(yaml.safe_dump(content))
    done = runner.invoke(cli, ["register", str(card)])
    assert done.exit_code == 0, done.output
    assert "version 2" in done.stdout and "(kept: nothing it depends on changed)" in done.stdout
    assert _stored(database_url) == (2, 1)
    content["data"]["features"] = ["income", "utilization"]
    card.write_text(yaml.safe_dump(content))
    assert runner.invoke(cli, ["register", str(card)]).exit_code == 0
    assert _stored(database_url) == (3, 2)  # the features changed: a new baseline


def test_a_check_works_from_any_folder(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, the card's path was stored as given, so a check run elsewhere found no files."""
    card = _card(tmp_path / "team")
    monkeypatch.chdir(tmp_path / "team")
    assert runner.invoke(cli, ["register", "card.yaml"]).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    done = runner.invoke(cli, ["check", "credit-risk", "--as-of", "2026-01-20"])
    assert done.exit_code == 0, done.output
    assert "300 rows read" in done.stdout
    assert os.path.isabs(card)


@pytest.mark.postgres
def test_two_checks_racing_to_fit_a_baseline_store_one(
    runner: CliRunner, database_url: str, tmp_path: Path
) -> None:
    """Two processes find no baseline and fit one each: the unique basis keeps one, and the
    loser takes the winner's (on PostgreSQL, where the two really run at once)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises the two writers")
    card = _card(tmp_path, rows=3000)
    assert runner.invoke(cli, ["register", "--skip-data-check", str(card)]).exit_code == 0
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [HANDOFF, "check", "credit-risk", "--as-of", "2026-01-20"]
    racing = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=180) for process in racing]
    assert [process.returncode for process in racing] == [0, 0], outputs
    assert _stored(database_url) == (1, 1)
