"""The migrations build an empty database into exactly what the models describe, on both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from store import db
from store.models import Base
from tests.databases import postgres_url, scratch_postgres


@pytest.fixture(
    name="empty_url", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def _empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    base = postgres_url()
    assert base is not None
    with scratch_postgres(base) as url:
        yield url


def test_migrations_apply_to_an_empty_database_and_match_the_models(empty_url: str) -> None:
    engine = db.make_engine(empty_url)
    assert db.current_revision(engine) is None
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    assert db.schema_differences(engine) == []
    engine.dispose()


def test_upgrade_twice_is_harmless(empty_url: str) -> None:
    engine = db.make_engine(empty_url)
    db.upgrade(engine)
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


def test_prepare_migrates_a_fresh_sqlite_file(tmp_path: Path) -> None:
    engine = db.prepare(f"sqlite:///{tmp_path / 'new.db'}")
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


@pytest.mark.postgres
def test_prepare_refuses_a_postgres_schema_that_is_behind() -> None:
    base = postgres_url()
    assert base is not None
    with scratch_postgres(base) as url, pytest.raises(db.SchemaBehind, match="handoff db upgrade"):
        db.prepare(url)


def test_0002_moves_person_states_of_live_findings_to_episodes(empty_url: str) -> None:
    """A database at 0001 with findings in every state upgrades without losing what people did."""
    engine = db.make_engine(empty_url)
    db.upgrade(engine, "0001")
    t = "2026-11-01 06:00:00"
    rows = [
        "INSERT INTO models VALUES ('m', 'm', 1, 'active', '{t}', '{t}')",
        "INSERT INTO card_versions VALUES (1, 'm', 1, '{{}}', 'h', 'card.yaml', '{t}', NULL)",
        "INSERT INTO baselines VALUES (1, 'm', 1, '{t}', '{t}', 10, :data, '{t}')",
        "INSERT INTO check_runs VALUES (1, 'm', 1, '{t}', '2026-11-02 00:00:00', 'completed',"
        " 10, 0, '{{}}', '{{}}', NULL, '{t}', '{t}')",
    ]
    finding = (
        "INSERT INTO findings (id, model_id, key, kind, severity, worst_severity, summary,"
        " details, state, clear_runs, opened_at, last_seen_at, last_check_run_id, snoozed_until,"
        " escalation_step, slack_ts) VALUES ({id}, 'm', 'k{id}', 'input_drift', '{sev}', '{sev}',"
        " 's', '{{}}', '{state}', 0, '{t}', '{t}', 1, {until}, 0, {ts})"
    )
    findings = [
        (1, "warn", "open", "NULL", "'1.1'"),
        (2, "critical", "snoozed", "'2026-11-03 00:00:00'", "NULL"),
        (3, "warn", "recovered", "NULL", "NULL"),
        (4, "info", "open", "NULL", "NULL"),
    ]
    with engine.begin() as connection:
        for statement in rows:
            connection.execute(text(statement.format(t=t)), {"data": b"x"})
        for id_, sev, state, until, ts in findings:
            values = {"id": id_, "sev": sev, "state": state, "until": until, "ts": ts, "t": t}
            connection.execute(text(finding.format(**values)))
    db.upgrade(engine)
    assert db.schema_differences(engine) == []
    with engine.connect() as connection:
        episodes = connection.execute(
            text("SELECT state, severity, slack_ts, snoozed_until FROM episodes ORDER BY id")
        ).all()
        states = connection.execute(
            text("SELECT id, state, episode_id IS NOT NULL, last_window_end FROM findings")
        ).all()
        basis = connection.execute(text("SELECT basis FROM baselines")).scalar_one()
    engine.dispose()
    assert [(e[0], e[1], e[2]) for e in episodes] == [
        ("open", "warn", "1.1"),
        ("snoozed", "critical", None),
    ]
    assert episodes[1][3] is not None
    assert sorted((s[0], s[1], s[2]) for s in states) == [
        (1, "open", True),
        (2, "open", True),
        (3, "recovered", False),
        (4, "open", False),
    ]
    assert all(s[3] is not None for s in states)
    assert basis == "version:1"
