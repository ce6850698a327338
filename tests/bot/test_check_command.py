"""`handoff check` as a user and the scheduler run it: JSON contract, reruns, and a killed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import numpy as np
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from jobs.simulation import simulate_day, stable
from store import db
from store.models import CheckRun, Finding, Notification, WindowProfile
from tests.replays import START, card_yaml, write_days
from tests.sources.scores_server import Reply, running_server

HANDOFF = str(Path(sys.executable).with_name("handoff"))


def _csv_card(folder: Path, *, days: int = 21) -> Path:
    write_days(folder / "data", stable, days=days, rows=500, seed=1)
    path = folder / "card.yaml"
    path.write_text(yaml.safe_dump(card_yaml()))
    return path


def test_check_json_follows_the_contract_and_a_rerun_changes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    runner = CliRunner(env={"DATABASE_URL": database_url})
    card = _csv_card(tmp_path)
    registered = runner.invoke(cli, ["register", str(card)])
    assert registered.exit_code == 0, registered.output
    assert "baseline of 7,000 rows" in registered.stdout  # the card's first 14 days, 500 a day
    as_of = (START + timedelta(days=16)).isoformat()
    first = runner.invoke(cli, ["check", "credit-risk", "--as-of", as_of, "--json"])
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert result["model"] == "credit-risk"
    assert result["window"] == {
        "start": f"{START + timedelta(days=15)}T00:00:00+00:00",
        "end": f"{as_of}T00:00:00+00:00",
    }
    assert result["rows"]["read"] == 500
    assert result["rows"]["rejected"] == 0
    assert "income" in result["metrics"]["window"]["features"]
    for finding in result["findings"]:
        assert {
            "kind",
            "severity",
            "metric",
            "feature",
            "segment",
            "value",
            "threshold",
            "state",
            "summary",
        } <= set(finding)
        assert finding["severity"] in ("info", "warn", "critical")
    again = json.loads(
        runner.invoke(cli, ["check", "credit-risk", "--as-of", as_of, "--json"]).stdout
    )
    assert again["reused"] is True
    assert again["findings"] == result["findings"]
    engine = db.make_engine(database_url)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(CheckRun)) == 1
    engine.dispose()


def test_backfill_builds_history_oldest_first(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner(env={"DATABASE_URL": database_url})
    runner.invoke(cli, ["register", str(_csv_card(tmp_path))])
    as_of = (START + timedelta(days=21)).isoformat()
    done = runner.invoke(cli, ["check", "credit-risk", "--as-of", as_of, "--backfill", "6"])
    assert done.exit_code == 0, done.output
    ends = [line.split(" to ")[1][:10] for line in done.stdout.splitlines() if " to " in line]
    assert ends == sorted(ends) and len(ends) == 7
    assert "\r" not in done.stderr and "backfill [" not in done.stderr  # piped: no progress bar


def test_bad_as_of_and_unknown_model_are_clear_errors(database_url: str) -> None:
    runner = CliRunner(env={"DATABASE_URL": database_url})
    unknown = runner.invoke(cli, ["check", "nope"])
    assert unknown.exit_code == 1
    assert "no model named 'nope'" in unknown.stderr
    bad = runner.invoke(cli, ["check", "nope", "--as-of", "yesterday"])
    assert bad.exit_code == 2
    assert "--as-of" in bad.stderr


def _records(day: int) -> bytes:
    columns = simulate_day(day, stable, start=START, rows=300, seed=2)
    stamps = np.datetime_as_string(columns["scored_at"], unit="s")
    rows = [
        {
            name: (
                stamps[i]
                if name == "scored_at"
                else columns[name][i].item()
                if hasattr(columns[name][i], "item")
                else columns[name][i]
            )
            for name in columns
        }
        for i in range(len(stamps))
    ]
    return json.dumps(rows).encode()


def test_a_killed_check_leaves_nothing_and_the_next_run_completes_once(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'handoff.db'}"
    write_days(tmp_path / "reference", stable, days=14, rows=300, seed=2)
    content = card_yaml()
    content["baseline"] = {"source": {"kind": "csv", "path": "reference/*.csv"}}
    day = 20
    with running_server() as server:
        url = server.script("/scores", Reply(200, _records(day), delay=60))
        content["data"]["source"] = {"kind": "http", "url": url}  # type: ignore[index]
        card = tmp_path / "card.yaml"
        card.write_text(yaml.safe_dump(content))
        env = {**os.environ, "DATABASE_URL": database}
        subprocess.run(
            [HANDOFF, "register", str(card)], env=env, check=True, capture_output=True, timeout=120
        )
        as_of = (START + timedelta(days=day + 1)).isoformat()
        check = [HANDOFF, "check", "credit-risk", "--as-of", as_of]
        running = subprocess.Popen(check, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while "/scores" not in server.paths() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.poll() is None, "the check must still be running when it is killed"
        running.send_signal(signal.SIGKILL)
        running.communicate(timeout=30)

        engine = db.make_engine(database)
        with engine.connect() as connection:
            for table in (CheckRun, WindowProfile, Finding, Notification):
                assert connection.scalar(select(func.count()).select_from(table)) == 0, table

        server.script("/scores", Reply(200, _records(day)))
        for attempt in ("completes", "is already done"):
            done = subprocess.run(
                check, env=env, capture_output=True, text=True, timeout=120, check=False
            )
            assert done.returncode == 0, (attempt, done.stderr)
        assert "already checked" in done.stdout
        with engine.connect() as connection:
            runs = connection.execute(select(CheckRun.window_end, CheckRun.rows_read)).all()
        engine.dispose()
    end = datetime.combine(START + timedelta(days=day + 1), clock(0), tzinfo=UTC)
    assert runs == [(end, 300)]


def test_an_unreadable_source_is_a_failed_run_a_finding_and_a_clear_error(
    database_url: str, tmp_path: Path
) -> None:
    runner = CliRunner(env={"DATABASE_URL": database_url})
    card = _csv_card(tmp_path)
    assert runner.invoke(cli, ["register", str(card)]).exit_code == 0
    (tmp_path / "data").rename(tmp_path / "gone")
    as_of = (START + timedelta(days=16)).isoformat()
    failed = runner.invoke(cli, ["check", "credit-risk", "--as-of", as_of])
    assert failed.exit_code == 1
    assert "error: csv" in failed.stderr and "Traceback" not in failed.stderr
    engine = db.make_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(select(CheckRun.status)).scalars().all() == ["failed"]
        assert connection.execute(select(Finding.kind)).scalars().all() == ["source_error"]
        assert connection.execute(select(Notification.kind)).scalars().all() == ["episode.root"]
    (tmp_path / "gone").rename(tmp_path / "data")
    done = runner.invoke(cli, ["check", "credit-risk", "--as-of", as_of])
    assert done.exit_code == 0, done.output
    with engine.connect() as connection:
        assert connection.execute(select(CheckRun.status)).scalars().all() == ["completed"]
    engine.dispose()
