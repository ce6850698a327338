"""Shared fixtures: real databases (SQLite file, PostgreSQL), a fixed clock."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from store import db
from store.models import Base
from tests.databases import postgres_url, scratch_postgres
from tests.slack_fixtures import _slack_api, _slack_client  # noqa: F401

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if postgres_url():
        return
    skip = pytest.mark.skip(reason="HANDOFF_TEST_POSTGRES_URL is not set (CI sets it)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(name="now")
def _now() -> datetime:
    return NOW


@pytest.fixture(scope="session", name="sqlite_template")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied per test (migrating each time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "handoff.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session", name="postgres_database")
def _postgres_database() -> Iterator[str]:
    base = postgres_url()
    if base is None:
        pytest.skip("HANDOFF_TEST_POSTGRES_URL is not set")
    with scratch_postgres(base) as url:
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(name="database_url", params=BACKENDS)
def _database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A migrated, empty database of each backend: a SQLite file, or PostgreSQL truncated."""
    if request.param == "sqlite":
        path = tmp_path / "handoff.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_database")
    yield url
    engine = db.make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(name="engine")
def _engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(name="sessions")
def _sessions(engine: Engine) -> sessionmaker[Session]:
    return db.make_sessionmaker(engine)


@pytest.fixture(name="sqlite_url")
def _sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite file only: for tests whose subject does not depend on the database
    (Slack delivery, listeners), run once instead of once per backend."""
    path = tmp_path / "handoff.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"
