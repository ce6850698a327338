"""`handoff findings` and `handoff ack|snooze|resolve`, and the errors every command shares."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import cli
from jobs.simulation import slow_drift
from tests.replays import START, card_yaml, write_days

HANDOFF = str(Path(sys.executable).with_name("handoff"))


@pytest.fixture(name="runner")
def _runner(database_url: str) -> CliRunner:
    return CliRunner(env={"DATABASE_URL": database_url})


@pytest.fixture(name="drifted")
def _drifted(runner: CliRunner, tmp_path: Path) -> CliRunner:
    """A model whose utilization drifted: one open episode."""
    write_days(tmp_path / "data", slow_drift(16, per_week=1.5), days=31, rows=500, seed=3)
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump(card_yaml()))
    assert runner.invoke(cli, ["register", str(card)]).exit_code == 0
    done = runner.invoke(cli, ["check", "credit-risk", "--as-of", "2026-02-05"])
    assert done.exit_code == 0, done.output
    return runner


def _findings(runner: CliRunner, *args: str) -> list[dict[str, object]]:
    done = runner.invoke(cli, ["findings", *args, "--json"])
    assert done.exit_code == 0, done.output
    return list(json.loads(done.stdout))


def test_findings_lists_id_episode_state_and_summary(drifted: CliRunner) -> None:
    rows = _findings(drifted)
    drift = next(r for r in rows if r["feature"] == "utilization" and r["kind"] == "input_drift")
    assert str(drift["id"]).startswith("F") and str(drift["episode"]).startswith("E")
    assert drift["state"] == "open" and drift["model"] == "credit-risk"
    assert "median utilization rose from" in str(drift["summary"])
    table = drifted.invoke(cli, ["findings", "credit-risk"])
    assert "EPISODE" in table.stdout.splitlines()[0]
    assert str(drift["id"]) in table.stdout


def test_ack_snooze_resolve_act_on_the_episode(drifted: CliRunner) -> None:
    drift = next(r for r in _findings(drifted) if r["feature"] == "utilization")
    finding, episode = str(drift["id"]), str(drift["episode"])
    acked = drifted.invoke(cli, ["ack", finding, "--as", "U0MARIA1"])
    assert acked.exit_code == 0, acked.output
    assert f"{episode} (credit-risk) acknowledged by U0MARIA1" in acked.stdout
    assert {r["state"] for r in _findings(drifted) if r["episode"] == episode} == {"acknowledged"}
    again = drifted.invoke(cli, ["ack", episode, "--as", "U0MARIA1"])
    assert again.exit_code == 1
    assert "acknowledged cannot be acknowledged" in again.stderr
    snoozed = drifted.invoke(cli, ["snooze", episode, "--as", "U0MARIA1", "--until", "2d"])
    assert snoozed.exit_code == 0 and "snoozed by U0MARIA1 until" in snoozed.stdout
    resolved = drifted.invoke(
        cli, ["resolve", finding, "--as", "U0MARIA1", "--note", "retrained on August"]
    )
    assert resolved.exit_code == 0, resolved.output
    assert _findings(drifted, "credit-risk") == [] or all(
        r["state"] == "resolved" for r in _findings(drifted) if r["episode"] == episode
    )
    missing = drifted.invoke(cli, ["ack", "F9999", "--as", "U1"])
    assert missing.exit_code == 1 and "no finding named 'F9999'" in missing.stderr
    nonsense = drifted.invoke(cli, ["ack", "banana", "--as", "U1"])
    assert nonsense.exit_code == 1 and "write F12" in nonsense.stderr


def _run(args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "HANDOFF_ERROR_LOG": os.devnull}
    return subprocess.run(
        [HANDOFF, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("sqlite:////no/such/folder/handoff.db", "a folder that does not exist"),
        ("not a url", "DATABASE_URL is not a database URL"),
        ("postgresql+psycopg://u:s3cret@127.0.0.1:1/db", "cannot reach the database"),
        ("mysql://u@127.0.0.1/db", "DATABASE_URL needs the Python driver"),
        ("nosuchdb://x", "a kind of database SQLAlchemy does not know"),
    ],
)
def test_an_unusable_database_url_is_one_line(url: str, said: str) -> None:
    """Before, about 110 lines of traceback."""
    done = _run(["models"], url)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert said in done.stderr and "DATABASE_URL" in done.stderr
    assert "s3cret" not in done.stderr


@pytest.mark.parametrize("command", [["run"], ["db", "upgrade"]])
def test_every_command_says_so(command: list[str]) -> None:
    done = _run(command, "sqlite:////no/such/folder/handoff.db")
    assert (done.returncode, done.stderr.count("\n")) == (1, 1), done.stderr
    assert "DATABASE_URL points at a SQLite file" in done.stderr


def test_a_closed_pipe_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    write_days(tmp_path / "data", slow_drift(16, per_week=1.5), days=20, rows=300, seed=3)
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump(card_yaml()))
    assert _run(["register", str(card)], sqlite_url).returncode == 0
    env = {**os.environ, "DATABASE_URL": sqlite_url}
    backfill = f"{HANDOFF} check credit-risk --as-of {START.replace(day=25)} --backfill 3 | head -1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", backfill],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 1, done.stderr
