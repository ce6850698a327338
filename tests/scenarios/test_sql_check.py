"""A check on a SQL table counts inside the database, and equals the same check read row by row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sqlalchemy import Column, DateTime, Float, MetaData, String, Table, create_engine, insert
from sqlalchemy.orm import Session, sessionmaker

from jobs.checks import run_check
from jobs.registration import register_card
from jobs.simulation import simulate_day, slow_drift
from jobs.sources import open_source
from jobs.sources.base import Batch, CountingSource, SchemaKind, Source
from store import db
from store.card_schema import SqlSource
from store.cards import load_card
from tests.replays import START, card_yaml


class RowByRow:
    """The same source without its pushdown: batches only."""

    def __init__(self, inner: Source) -> None:
        self.inner = inner

    def describe(self) -> str:
        return self.inner.describe()

    def columns(self) -> dict[str, SchemaKind]:
        return self.inner.columns()

    def batches(self, **kwargs: Any) -> Iterator[Batch]:
        return self.inner.batches(**kwargs)


def _warehouse(path: Path, days: int) -> str:
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    numeric = [
        "income",
        "debt_ratio",
        "history_months",
        "utilization",
        "inquiries",
        "score",
        "defaulted",
    ]
    table = Table(
        "scores",
        MetaData(),
        Column("scored_at", DateTime),
        *(Column(n, Float) for n in numeric),
        Column("region", String),
        Column("product", String),
    )
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        for day in range(days):
            data = simulate_day(day, slow_drift(16, 0.6), start=START, rows=400, seed=9)
            stamps = data["scored_at"].astype("datetime64[us]").astype(datetime)
            rows = [
                {
                    "scored_at": stamps[i],
                    "region": data["region"][i],
                    "product": data["product"][i],
                    **{n: float(data[n][i]) for n in numeric},
                }
                for i in range(len(stamps))
            ]
            connection.execute(insert(table), rows)
    engine.dispose()
    return url


@pytest.fixture(name="sessions")
def _sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = db.prepare(f"sqlite:///{tmp_path / 'handoff.db'}")
    yield db.make_sessionmaker(engine)
    engine.dispose()


def test_pushdown_check_equals_the_row_by_row_check(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    environ = {"WAREHOUSE_URL": _warehouse(tmp_path / "warehouse.db", days=24)}
    content = card_yaml()
    content["data"]["source"] = {"kind": "sql", "url_env": "WAREHOUSE_URL", "table": "scores"}  # type: ignore[index]
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(content))
    card = load_card(path)
    with sessions.begin() as session:
        register_card(session=session, card=card, source_file=path, now=datetime.now(UTC))
    source = open_source(
        SqlSource(kind="sql", url_env="WAREHOUSE_URL", table="scores"),
        environ=environ,
        base_dir=tmp_path,
    )
    assert isinstance(source, CountingSource)  # counted inside the database
    assert not isinstance(RowByRow(source), CountingSource)
    results = []
    for day, wrapped in ((22, source), (23, RowByRow(source))):
        end = datetime.combine(START + timedelta(days=day), time(0), tzinfo=UTC)
        results.append(
            run_check(
                sessions=sessions,
                model_id="credit-risk",
                window_end=end,
                now=end,
                environ=environ,
                source=wrapped,
                post=False,
            )
        )
    pushed, in_memory = results
    assert pushed.rows_read == in_memory.rows_read == 400
    # the same day counted both ways gives the same metrics
    end = datetime.combine(START + timedelta(days=23), time(0), tzinfo=UTC)
    again = run_check(
        sessions=sessions,
        model_id="credit-risk",
        window_end=end,
        now=end,
        environ=environ,
        source=source,
        post=False,
    )
    assert again.metrics["window"] == in_memory.metrics["window"]
    assert np.isclose(
        again.metrics["series"]["psi:utilization"], in_memory.metrics["series"]["psi:utilization"]
    )
    assert [f.kind for f in again.findings] == [f.kind for f in in_memory.findings]
