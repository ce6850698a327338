"""Fixtures of the source tests: a warehouse URL per backend (a SQLite file; a scratch PostgreSQL
database per module when HANDOFF_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.databases import postgres_url, scratch_postgres


@pytest.fixture(scope="module", name="postgres")
def _postgres() -> Iterator[str]:
    base = postgres_url()
    if base is None:
        pytest.skip("HANDOFF_TEST_POSTGRES_URL is not set")
    with scratch_postgres(base) as url:
        yield url


@pytest.fixture(
    name="url",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "duckdb"],
)
def _url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A warehouse of each backend (SQLite and DuckDB files, PostgreSQL); its table ``scores`` is
    dropped afterwards. DuckDB (through duckdb_engine) stands in for the analytical warehouses
    (Trino, Spark SQL, BigQuery): typed columns, and no function of ours registered in it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        return
    url: str = request.getfixturevalue("postgres")
    yield url
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS scores"))
    engine.dispose()
