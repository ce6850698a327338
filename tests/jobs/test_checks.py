"""A check as a user runs it, through the real CLI and real CSV files: windows, look-backs, one
finding per cause, and the states it reports."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import cli
from jobs.checks import run_check
from jobs.errors import WindowError
from jobs.simulation import simulate_day, slow_drift, stable
from store import db
from store.models import Notification
from tests.replays import START, card_yaml

Columns = dict[str, np.ndarray]
Edit = Callable[[int, Columns], Columns]


def _write(folder: Path, days: int, *, scenario: Any = stable, edit: Edit | None = None) -> None:
    """Simulated days as CSV files, each passed through `edit(day, columns)` first."""
    folder.mkdir(parents=True, exist_ok=True)
    for day in range(days):
        columns = simulate_day(day, scenario, start=START, rows=600, seed=4)
        if edit is not None:
            columns = edit(day, columns)
        names = list(columns)
        stamps = np.datetime_as_string(columns["scored_at"], unit="s")
        with (folder / f"{START + timedelta(days=day)}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            cells = [stamps if n == "scored_at" else columns[n] for n in names]
            writer.writerows(zip(*cells, strict=True))


def _day(n: int) -> str:
    return (START + timedelta(days=n)).isoformat()


@pytest.fixture(name="runner")
def _runner(database_url: str) -> CliRunner:
    return CliRunner(env={"DATABASE_URL": database_url})


def _register(runner: CliRunner, folder: Path, **changes: Any) -> None:
    content = card_yaml()
    content.update(changes)
    card = folder / "card.yaml"
    card.write_text(yaml.safe_dump(content))
    done = runner.invoke(cli, ["register", str(card)])
    assert done.exit_code == 0, done.output


def _check(runner: CliRunner, *args: str) -> dict[str, Any]:
    done = runner.invoke(cli, ["check", "credit-risk", "--json", *args])
    assert done.exit_code == 0, done.output
    return dict(json.loads(done.stdout.splitlines()[-1]))


def _kinds(result: dict[str, Any]) -> list[tuple[str, str | None]]:
    return sorted((f["kind"], f["feature"]) for f in result["findings"])


def _notes(database_url: str) -> list[str]:
    engine = db.make_engine(database_url)
    with engine.connect() as connection:
        kinds = list(connection.execute(select(Notification.kind)).scalars())
    engine.dispose()
    return kinds


def test_checking_older_windows_never_recovers_a_live_finding(
    runner: CliRunner, database_url: str, tmp_path: Path
) -> None:
    """`check --as-of` day 30 (a critical drift), then days 20 and 21: before, the two older clear
    windows recovered the live drift, queued "recovered" messages and `models` said healthy."""
    _write(tmp_path / "data", 31, scenario=slow_drift(16, per_week=1.5))
    _register(runner, tmp_path)
    live = _check(runner, "--as-of", _day(31))
    assert ("input_drift", "utilization") in _kinds(live)
    said = _notes(database_url)
    for day in (20, 21):
        past = _check(runner, "--as-of", _day(day))
        assert all(f["state"] in ("past", "ongoing") for f in past["findings"]), past["findings"]
        assert past["queued"] == 0
    assert _notes(database_url) == said
    models = runner.invoke(cli, ["models"])
    assert "critical" in models.stdout, models.stdout


def test_no_post_reports_states_as_they_are(runner: CliRunner, tmp_path: Path) -> None:
    _write(tmp_path / "data", 31, scenario=slow_drift(16, per_week=1.5))
    _register(runner, tmp_path)
    _check(runner, "--as-of", _day(30))
    dry = _check(runner, "--as-of", _day(31), "--no-post")
    drift = next(f for f in dry["findings"] if f["feature"] == "utilization")
    assert drift["state"] == "ongoing"


def test_a_plain_check_covers_the_time_since_the_previous_run(
    sessions: sessionmaker[Session], runner: CliRunner, tmp_path: Path
) -> None:
    _write(tmp_path / "data", 31)
    _register(runner, tmp_path)
    _check(runner, "--as-of", _day(20))
    end = datetime.combine(START + timedelta(days=20), time(0), tzinfo=UTC)
    later = run_check(
        sessions=sessions, model_id="credit-risk", window_end=None, now=end + timedelta(days=3)
    )
    assert (later.window_start, later.window_end) == (end, end + timedelta(days=3))
    assert later.rows_read == 3 * 600
    much_later = end + timedelta(days=30)
    caught_up = run_check(
        sessions=sessions, model_id="credit-risk", window_end=None, now=much_later
    )
    assert caught_up.window_start == much_later - timedelta(days=7)  # at most a week


def test_a_window_in_the_future_is_refused(
    sessions: sessionmaker[Session], runner: CliRunner, tmp_path: Path
) -> None:
    _write(tmp_path / "data", 20)
    _register(runner, tmp_path)
    future = runner.invoke(cli, ["check", "credit-risk", "--as-of", "2999-01-01"])
    assert future.exit_code == 1
    assert "in the future" in future.stderr and len(future.stderr.splitlines()) == 1
    ancient = runner.invoke(cli, ["check", "credit-risk", "--as-of", "0001-01-01"])
    assert ancient.exit_code == 1 and "before 1970" in ancient.stderr
    now = datetime.now(UTC)
    with pytest.raises(WindowError):
        run_check(
            sessions=sessions,
            model_id="credit-risk",
            window_end=now + timedelta(hours=1),
            now=now,
        )


def _rename_income(day: int, columns: Columns) -> Columns:
    if day == 20:
        columns["income_usd"] = columns.pop("income")
    return columns


def test_a_missing_column_is_one_schema_change_and_nothing_else(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Before, one rename gave three findings: schema_change, a PSI of 14.9 and a missing rate."""
    _write(tmp_path / "data", 21, edit=_rename_income)
    _register(runner, tmp_path)
    result = _check(runner, "--as-of", _day(21))
    on_income = [f for f in result["findings"] if f["feature"] == "income"]
    assert [(f["kind"], f["severity"]) for f in on_income] == [("schema_change", "warn")]
    assert "'income' is missing" in on_income[0]["summary"]
    assert not [f for f in result["findings"] if f["kind"] == "segment_degradation"]


def _blank_income(day: int, columns: Columns) -> Columns:
    if day == 20:
        income = columns["income"].astype(object)
        income[np.random.default_rng(1).random(income.size) < 0.3] = ""
        columns["income"] = income
    return columns


def test_missing_cells_are_a_data_quality_finding_not_a_drift(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Before, 30% of income cells missing read as "income drifted: psi 0.794", critical."""
    _write(tmp_path / "data", 21, edit=_blank_income)
    _register(runner, tmp_path)
    result = _check(runner, "--as-of", _day(21))
    on_income = [f for f in result["findings"] if f["feature"] == "income"]
    assert [f["kind"] for f in on_income] == ["data_quality"]
    assert "of income values are missing, against 0% at baseline" in on_income[0]["summary"]


def _spoil(day: int, columns: Columns) -> Columns:
    if day == 20:
        score = columns["score"].astype(object)
        score[:30] = 1.7  # out of range
        score[30:40] = "high"  # not a number
        columns["score"] = score
        debt = columns["debt_ratio"].astype(object)
        debt[100:150] = "n/a?"
        columns["debt_ratio"] = debt
    return columns


def test_rejected_rows_add_up_and_bad_cells_are_counted_apart(
    runner: CliRunner, tmp_path: Path
) -> None:
    _write(tmp_path / "data", 21, edit=_spoil)
    _register(runner, tmp_path)
    result = _check(runner, "--as-of", _day(21))
    rows = result["rows"]
    assert rows["rejected_by_reason"] == {"score_out_of_range": 30, "wrong_type:score": 10}
    assert sum(rows["rejected_by_reason"].values()) == rows["rejected"] == 40
    assert rows["bad_cells"] == {"wrong_type:debt_ratio": 50}


def test_an_unknown_model_gets_the_closest_names(runner: CliRunner, tmp_path: Path) -> None:
    _write(tmp_path / "data", 20)
    _register(runner, tmp_path)
    typo = runner.invoke(cli, ["check", "credit-risc"])
    assert typo.exit_code == 1
    assert "did you mean 'credit-risk'?" in typo.stderr


def test_the_schema_is_judged_on_the_windows_own_files(runner: CliRunner, tmp_path: Path) -> None:
    """Before, a rename in day 20's file raised schema_change on every day checked before it."""
    _write(tmp_path / "data", 21, edit=_rename_income)
    _register(runner, tmp_path)
    earlier = _check(runner, "--as-of", _day(18))
    assert [f for f in earlier["findings"] if f["kind"] == "schema_change"] == []


def test_a_zero_byte_file_is_no_data_not_a_missing_column_per_feature(
    runner: CliRunner, tmp_path: Path
) -> None:
    _write(tmp_path / "data", 20)
    _register(runner, tmp_path)
    (tmp_path / "data" / f"{START + timedelta(days=20)}.csv").write_bytes(b"")
    result = _check(runner, "--as-of", _day(21))
    assert [f["kind"] for f in result["findings"]] == ["no_data"]


def test_rows_no_window_can_hold_are_a_note_on_their_file_and_copies_are_said(
    runner: CliRunner, tmp_path: Path
) -> None:
    _write(tmp_path / "data", 21)
    _register(runner, tmp_path)
    broken = tmp_path / "data" / "late-export.csv"
    day20 = (tmp_path / "data" / f"{START + timedelta(days=20)}.csv").read_text().splitlines()
    header, rows = day20[0], day20[1:]
    bad = ["yesterday" + row[row.index(",") :] for row in rows[:50]]
    broken.write_text("\n".join([header, *bad]) + "\n")
    day_file = tmp_path / "data" / f"{START + timedelta(days=20)}.csv"
    shutil.copy(day_file, tmp_path / "data" / "x.csv")
    result = _check(runner, "--as-of", _day(21))
    notes = {
        f["metric"].split(":", 1)[0]: f["summary"]
        for f in result["findings"]
        if f["kind"] == "data_quality"
    }
    assert "late-export.csv has 50 rows that belong to no window" in notes["unplaced_rows"]
    assert "x.csv is a copy of" in notes["duplicate_file"]
    assert result["rows"]["read"] == 600 and result["rows"]["rejected"] == 0
