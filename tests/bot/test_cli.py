"""The `handoff` command as a user runs it: exit codes, stdout for results, stderr for problems."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from store import db
from store.models import CardVersion

EXAMPLES = Path(__file__).parents[2] / "examples" / "cards"
WAREHOUSE = f"sqlite:///{EXAMPLES / 'data' / 'churn' / 'warehouse.db'}"


@pytest.fixture(name="runner")
def _runner(database_url: str) -> CliRunner:
    return CliRunner(env={"DATABASE_URL": database_url, "WAREHOUSE_URL": WAREHOUSE})


def _versions(database_url: str, model: str) -> int:
    engine = db.make_engine(database_url)
    with engine.connect() as connection:
        count = connection.scalar(
            select(func.count()).select_from(CardVersion).where(CardVersion.model_id == model)
        )
    engine.dispose()
    return int(count or 0)


def test_validate_accepts_the_examples(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", *map(str, sorted(EXAMPLES.glob("*.yaml")))])
    assert result.exit_code == 0, result.output
    assert "credit-risk.yaml: ok (credit-risk)" in result.stdout


def test_validate_prints_every_problem_to_stderr(runner: CliRunner, tmp_path: Path) -> None:
    card = tmp_path / "broken.yaml"
    text = (EXAMPLES / "credit-risk.yaml").read_text()
    text = text.replace("intent:", "intnet:").replace("Europe/Berlin", "Europe/Berlinn")
    card.write_text(text)
    result = runner.invoke(cli, ["validate", str(card)])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"{card}: intnet: ") and "intent" in line for line in lines)
    assert any(line.startswith(f"{card}: schedule.timezone: ") for line in lines), lines
    assert "Traceback" not in result.stderr


def test_register_twice_keeps_one_version(runner: CliRunner, database_url: str) -> None:
    card = str(EXAMPLES / "credit-risk.yaml")
    first = runner.invoke(cli, ["register", card])
    assert first.exit_code == 0, first.output
    assert "credit-risk: registered (version 1)" in first.stdout
    second = runner.invoke(cli, ["register", card])
    assert second.exit_code == 0, second.output
    assert "credit-risk: unchanged (version 1)" in second.stdout
    assert _versions(database_url, "credit-risk") == 1


def test_a_changed_limitation_makes_a_new_version_and_is_said(
    runner: CliRunner, database_url: str, tmp_path: Path
) -> None:
    card = tmp_path / "credit-risk.yaml"
    shutil.copy(EXAMPLES / "credit-risk.yaml", card)
    (tmp_path / "data").symlink_to(EXAMPLES / "data")
    assert runner.invoke(cli, ["register", str(card)]).exit_code == 0
    card.write_text(card.read_text().replace("under 12 months", "under 6 months"))
    result = runner.invoke(cli, ["register", str(card)])
    assert result.exit_code == 0, result.output
    assert "credit-risk: version 2, changed:" in result.stdout
    change = next(line for line in result.stdout.splitlines() if "limitation" in line)
    assert "12 months" in change and "6 months" in change
    assert _versions(database_url, "credit-risk") == 2


def test_a_broken_card_registers_nothing(
    runner: CliRunner, database_url: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: Not An Id\n")
    good = str(EXAMPLES / "credit-risk.yaml")
    result = runner.invoke(cli, ["register", good, str(broken)])
    assert result.exit_code == 1
    assert f"{broken}: model: " in result.stderr
    assert _versions(database_url, "credit-risk") == 0


def test_models_lists_registered_models(runner: CliRunner) -> None:
    assert "no models registered" in runner.invoke(cli, ["models"]).stdout
    runner.invoke(cli, ["register", *map(str, sorted(EXAMPLES.glob("*.yaml")))])
    result = runner.invoke(cli, ["models"])
    assert result.exit_code == 0, result.output
    assert "credit-risk" in result.stdout
    assert "unchecked" in result.stdout


def test_the_console_script_runs_and_upgrades_a_database(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}"}
    handoff = Path(sys.executable).with_name("handoff")
    done = subprocess.run(
        [str(handoff), "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "is at revision" in done.stdout
    missing = subprocess.run(
        [str(handoff), "validate", str(tmp_path / "nope.yaml")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert missing.returncode == 1
    assert "nope.yaml" in missing.stderr
    assert "Traceback" not in missing.stderr
