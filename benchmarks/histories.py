"""A database of many registered models with days of history each, for benchmarks that read it:
one model's real daily checks (the credit-risk replay, a slow drift from day 60 of its checks,
labels on the day, after its 14 baseline days, ending last midnight UTC so that it is fresh now),
its rows then cloned with SQL into the others, ids remapped. Cached under /tmp keyed by the shape
and the day: SQLite, a file; another URL, that database, EMPTIED and rebuilt when its cache marker
is missing.

    url = database(None, Shape(models=1000, days=90, rows=800, seed=0, today=date.today()))
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import (
    Column,
    ColumnElement,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.engine import make_url

from jobs.checks import run_check
from jobs.registration import register_card
from jobs.simulation import simulate_day, slow_drift
from store import db
from store.cards import load_card
from store.models import Base
from tests.replays import BASELINE_DAYS, card_yaml

ORIGINAL = "credit-risk"
DRIFT_FROM = 60  # the check (day after the baseline) the slow drift starts at
CACHE = Path(tempfile.gettempdir()) / "handoff-bench-commands"
MODELS, VERSIONS = Base.metadata.tables["models"], Base.metadata.tables["card_versions"]
SKIPPED = ("models", "card_versions")  # cloned by hand: the card names its model


@dataclass(frozen=True)
class Shape:
    """What the database holds; its cache key."""

    models: int
    days: int
    rows: int
    seed: int
    today: date

    @property
    def key(self) -> str:
        return f"m{self.models}-d{self.days}-r{self.rows}-s{self.seed}-{self.today}"

    @property
    def start(self) -> date:
        return self.today - timedelta(days=BASELINE_DAYS + self.days)

    def model_ids(self) -> list[str]:
        return [ORIGINAL] + [f"{ORIGINAL}-{k:04d}" for k in range(1, self.models)]


def write_history(url: str, shape: Shape, folder: Path) -> None:
    """Register the original model and run its daily checks (real ones, through run_check)."""
    data = folder / "data"
    data.mkdir(parents=True)
    total = BASELINE_DAYS + shape.days
    scenario = slow_drift(BASELINE_DAYS + DRIFT_FROM, per_week=0.25)
    for day in range(total):
        columns = simulate_day(day, scenario, start=shape.start, rows=shape.rows, seed=shape.seed)
        stamps = np.datetime_as_string(columns["scored_at"], unit="s")
        names = list(columns)
        with (data / f"{shape.start + timedelta(days=day)}.csv").open("w") as handle:
            handle.write(",".join(names) + "\n")
            rows = zip(*[stamps if n == "scored_at" else columns[n] for n in names], strict=True)
            handle.writelines(",".join(map(str, row)) + "\n" for row in rows)
    content: dict[str, Any] = card_yaml()
    content["baseline"] = {
        "from": shape.start.isoformat(),
        "to": (shape.start + timedelta(days=BASELINE_DAYS - 1)).isoformat(),
    }
    card_file = folder / "card.yaml"
    card_file.write_text(yaml.safe_dump(content))
    engine = db.prepare(url)
    sessions = db.make_sessionmaker(engine)
    registered = datetime.combine(shape.start, datetime.min.time(), tzinfo=UTC)
    with sessions.begin() as session:
        register_card(
            session=session, card=load_card(card_file), source_file=card_file, now=registered
        )
    started = time.monotonic()
    for day in range(BASELINE_DAYS, total):
        end = registered + timedelta(days=day + 1)
        run_check(
            sessions=sessions,
            model_id=ORIGINAL,
            window_end=end,
            now=end + timedelta(minutes=5),
            environ={},
        )
        if (day - BASELINE_DAYS + 1) % 30 == 0:
            print(
                f"  {day - BASELINE_DAYS + 1} checks in {time.monotonic() - started:.0f} s",
                flush=True,
            )
    engine.dispose()


def clone(engine: Engine, shape: Shape) -> None:
    """Copy the original model's rows into `shape.models - 1` clones, in one transaction: ids
    become id + k * (max id + 1) per table, foreign keys follow, model_id is the clone's."""
    tables = [t for t in Base.metadata.sorted_tables if "model_id" in t.c]
    clones = Table(
        "bench_clones",
        MetaData(),
        Column("k", Integer, primary_key=True),
        Column("model_id", String(64)),
        prefixes=["TEMPORARY"],
    )
    with engine.begin() as connection:
        offsets = {
            t.name: int(connection.scalar(select(func.coalesce(func.max(t.c.id), 0))) or 0) + 1
            for t in tables
            if "id" in t.c
        }
        clones.create(connection)
        ids = shape.model_ids()
        connection.execute(insert(clones), [{"k": k, "model_id": m} for k, m in enumerate(ids)][1:])
        model = connection.execute(select(MODELS).where(MODELS.c.id == ORIGINAL)).one()
        connection.execute(insert(MODELS), [{**model._asdict(), "id": m} for m in ids[1:]])
        versions = connection.execute(select(VERSIONS).where(VERSIONS.c.model_id == ORIGINAL)).all()
        step = offsets["card_versions"]
        connection.execute(
            insert(VERSIONS),
            [
                {
                    **v._asdict(),
                    "id": v.id + k * step,
                    "model_id": m,
                    "content": {**v.content, "model": m},
                }
                for k, m in enumerate(ids)
                if k
                for v in versions
            ],
        )
        for table in tables:
            if table.name in SKIPPED:
                continue
            exprs: list[ColumnElement[Any]] = []
            for column in table.c:
                targets = {fk.column.table.name for fk in column.foreign_keys}
                if column.name == "model_id":
                    exprs.append(clones.c.model_id)
                elif column.name == "id" and table.name in offsets:
                    exprs.append(column + clones.c.k * offsets[table.name])
                elif targets and next(iter(targets)) in offsets:
                    exprs.append(column + clones.c.k * offsets[next(iter(targets))])
                elif column.name == "idempotency_key":
                    exprs.append(clones.c.model_id + literal(":") + column)
                else:
                    exprs.append(column)
            query = (
                select(*exprs)
                .select_from(table.join(clones, true()))
                .where(table.c.model_id == ORIGINAL)
            )
            connection.execute(insert(table).from_select([c.name for c in table.c], query))
        if engine.dialect.name == "postgresql":
            for name in offsets:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))  # as autovacuum would, soon after a bulk load


def database(url: str | None, shape: Shape) -> str:
    """The URL of a database holding `shape` (built, or from the cache)."""
    CACHE.mkdir(exist_ok=True)
    if url is None:
        target = CACHE / f"{shape.key}.db"
        url = f"sqlite:///{target}"
        if target.exists():
            return url
        building = target.with_suffix(".building")
        for stale in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
            stale.unlink(missing_ok=True)  # an interrupted build's
        build_url = f"sqlite:///{building}"
    else:
        marker = CACHE / (hashlib.sha256(url.encode()).hexdigest()[:12] + f"-{shape.key}.ready")
        if marker.exists():
            return url
        engine = db.open_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        db.upgrade(engine)
        engine.dispose()
        build_url = url
    print(
        f"building {shape.models} models x {shape.days} days ({shape.rows} rows a day)", flush=True
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        write_history(build_url, shape, Path(folder))
    engine = db.prepare(build_url)
    clone(engine, shape)
    with engine.connect() as connection:
        counts = {
            t.name: connection.scalar(select(func.count()).select_from(t))
            for t in Base.metadata.sorted_tables
            if "model_id" in t.c
        }
        if engine.dialect.name == "sqlite":
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    print(f"  built in {time.monotonic() - started:.0f} s: {counts}", flush=True)
    if make_url(build_url).get_backend_name() == "sqlite":
        for suffix in ("-wal", "-shm"):  # empty after the checkpoint; moved along all the same
            if Path(f"{building}{suffix}").exists():
                Path(f"{building}{suffix}").rename(f"{target}{suffix}")
        building.rename(target)
    else:
        marker.write_text(json.dumps(counts))
    return url
