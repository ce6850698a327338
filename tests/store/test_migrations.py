"""The migrations build an empty database into exactly what the models describe, on both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

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
