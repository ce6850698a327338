"""The sql source on SQLite and PostgreSQL: streamed batches, and the pushed-down profile equal to
the in-memory one (NULL, NaN, values on edges, ±inf, unseen categories, segments, labels)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from jobs.errors import SourceError
from jobs.sources.base import ReadReport
from jobs.sources.warehouse import SqlSource
from jobs.stats import Bins, CategoricalBins, NumericBins, Profile, profile_batch

START = datetime(2024, 7, 1, tzinfo=UTC)
END = datetime(2024, 7, 2, tzinfo=UTC)
WINDOW_QUERY = "SELECT * FROM scores WHERE scored_at >= :start AND scored_at < :end"
LOOSE_QUERY = (
    "SELECT * FROM scores WHERE scored_at >= :start - INTERVAL '1 day' AND :end IS NOT NULL"
)


def rows(n: int = 600, seed: int = 3) -> list[dict[str, Any]]:
    """Random rows around the window plus every edge case the bins must agree on."""
    rng = np.random.default_rng(seed)
    out = []
    for minute in rng.integers(0, 3 * 1440, n):
        out.append(
            {
                "scored_at": datetime(2024, 6, 30) + timedelta(minutes=int(minute)),
                "score": float(rng.random()),
                "income": float(rng.normal()),
                "age": int(rng.integers(18, 80)),
                "region": str(rng.choice(["DE", "FR", "NL", "XX"])),
                "label": int(rng.integers(0, 2)),
            }
        )
    inside = datetime(2024, 7, 1, 12)
    odd: list[dict[str, Any]] = [
        {"income": v} for v in (-1.0, 0.0, 0.5, 1.0, math.inf, -math.inf, None, math.nan)
    ]
    odd += [{"score": v} for v in (0.0, 0.5, 1.0, None, math.nan, 1.5, -0.1)]
    odd += [{"region": v} for v in (None, "unseen", "NL")]
    odd += [{"label": v} for v in (None, 2)]
    odd += [{"age": None}, {"scored_at": datetime(2024, 7, 1)}, {"scored_at": datetime(2024, 7, 2)}]
    base = {"scored_at": inside, "score": 0.3, "income": 0.2, "age": 40, "region": "DE", "label": 1}
    return out + [{**base, **change} for change in odd]


def create(url: str, data: list[dict[str, Any]], *, drop: tuple[str, ...] = ()) -> None:
    columns = [
        sa.Column("scored_at", sa.DateTime),
        sa.Column("score", sa.Float),
        sa.Column("income", sa.Float),
        sa.Column("age", sa.Integer),
        sa.Column("region", sa.String(20)),
        sa.Column("label", sa.Integer),
    ]
    table = sa.Table("scores", sa.MetaData(), *(c for c in columns if c.name not in drop))
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        connection.execute(
            table.insert(), [{k: v for k, v in r.items() if k not in drop} for r in data]
        )
    engine.dispose()


def make_bins(*, label: str | None = "label") -> Bins:
    return Bins(
        numeric={
            "income": NumericBins(np.array([-1.0, 0.0, 0.5, 1.0])),
            "age": NumericBins(np.array([30.0, 50.0])),
        },
        categorical={"region": CategoricalBins(("DE", "FR"), frozenset({"DE", "FR", "NL"}))},
        score=NumericBins(np.linspace(0.0, 1.0, 11)),
        score_column="score",
        label_column=label,
        decision_threshold=0.5,
        segments={"region": CategoricalBins(("DE",), frozenset({"DE", "FR", "NL"}))},
    )


def in_memory(source: SqlSource, bins: Bins) -> tuple[Profile, ReadReport]:
    report = ReadReport()
    columns = {name: "numeric" for name in bins.numeric} | {"region": "categorical"}
    batches = list(
        source.batches(
            start=START,
            end=END,
            columns=columns,  # type: ignore[arg-type]
            timestamp="scored_at",
            score="score",
            label=bins.label_column,
            report=report,
            batch_rows=97,
        )
    )
    batch = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    return profile_batch(batch, bins), report


def pushed(source: SqlSource, bins: Bins) -> tuple[Profile, ReadReport]:
    report = ReadReport()
    profile = source.profile(start=START, end=END, bins=bins, timestamp="scored_at", report=report)
    return profile, report


def counters(report: ReadReport) -> tuple[object, ...]:
    """What both paths must count alike."""
    return (
        report.rows_read,
        report.rows_rejected,
        dict(report.rejected),
        dict(report.bad_cells),
        dict(report.type_changes),
        report.missing_columns,
        report.duplicate_rows,
    )


@pytest.mark.parametrize("form", ["table", "query"])
def test_pushdown_equals_the_in_memory_profile(url: str, form: str) -> None:
    create(url, rows())
    spec: dict[str, str] = {"table": "scores"} if form == "table" else {"query": WINDOW_QUERY}
    source = SqlSource(url_env="WAREHOUSE_URL", environ={"WAREHOUSE_URL": url}, **spec)
    bins = make_bins()

    memory, memory_report = in_memory(source, bins)
    database, database_report = pushed(source, bins)

    assert database == memory
    assert counters(database_report) == counters(memory_report)
    # NULL and NaN (which SQLite stores as NULL) are missing, on either backend.
    assert memory_report.rejected == {"nan_score": 2, "score_out_of_range": 2}
    assert memory_report.duplicate_rows == 1  # income NULL and income NaN: both missing
    assert database.features["income"][-1] == 2
    assert database.segments["region"]["DE"].rows > 0
    assert database.score_label[:, 2].sum() >= 2  # NULL and 2 are unknown labels


# Numbers written as text, and text that is no number, in numeric columns: SQLite keeps text in a
# REAL column; on PostgreSQL the realistic case is a text column holding numbers as text.
TEXT_CELLS: list[dict[str, Any]] = [
    *({"income": v} for v in ("n/a", "1,5", "", " 0.75 ", "-inf", "Infinity", "NaN", "1e400")),
    *({"income": v} for v in ("-1e-400", "1e99999", "-1E+99999", "0e99999", "1e-00001")),
    *({"age": v} for v in ("forty", "41", "4e1")),
    *({"score": v} for v in ("high", "", " 0.5", "nan", "1.5e0", ".25")),
    *({"label": v} for v in ("yes", "1.0", "0")),
]


def create_with_text(url: str, data: list[dict[str, Any]]) -> None:
    """`data` and TEXT_CELLS. On SQLite, score and income are REAL columns (which keep text that is
    no number) and age and label text columns; on PostgreSQL and DuckDB (typed) all four are text
    columns."""
    postgres = url.startswith(("postgresql", "duckdb"))
    names = ("score", "income", "age", "label")
    texts = set(names) if postgres else {"age", "label"}
    table = sa.Table(
        "scores",
        sa.MetaData(),
        sa.Column("scored_at", sa.DateTime),
        *(sa.Column(n, sa.Text if n in texts else sa.Float) for n in names),
        sa.Column("region", sa.String(20)),
    )
    # Inserted without the column types, which would turn every value into a float.
    untyped = sa.table(
        "scores",
        sa.column("scored_at", sa.DateTime),
        *(sa.column(n) for n in names),
        sa.column("region"),
    )
    base = {"scored_at": datetime(2024, 7, 1, 12), "score": 0.3, "income": 0.2, "age": 40}
    base |= {"region": "DE", "label": 1}
    everything = [{**dict.fromkeys(names), **r} for r in data]
    everything += [{**base, **change} for change in TEXT_CELLS]
    everything = [
        {k: str(v) if k in texts and v is not None else v for k, v in r.items()} for r in everything
    ]
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        connection.execute(untyped.insert(), everything)
    engine.dispose()


@pytest.mark.parametrize("form", ["table", "query"])
def test_text_in_numeric_columns_counts_alike_in_the_database(url: str, form: str) -> None:
    create_with_text(url, rows(200))
    spec: dict[str, str] = {"table": "scores"} if form == "table" else {"query": WINDOW_QUERY}
    source = SqlSource(url_env="W", environ={"W": url}, **spec)
    bins = make_bins()

    memory, memory_report = in_memory(source, bins)
    database, database_report = pushed(source, bins)

    assert counters(database_report) == counters(memory_report)
    assert database == memory
    assert memory_report.rejected["wrong_type:score"] == 2  # "high" and "": not numbers
    assert memory_report.rejected["nan_score"] == 3  # NULL, NaN and "nan"
    assert memory_report.rejected["score_out_of_range"] == 3  # 1.5, -0.1 and "1.5e0"
    assert memory_report.bad_cells == {
        "wrong_type:income": 3,
        "wrong_type:age": 1,
        "wrong_type:label": 1,
    }
    # Unreadable text is missing, never the largest value: NULL, NaN, "NaN", 3 unreadable.
    assert database.features["income"][-1] == 6


def test_duplicate_rows_are_counted_alike_in_the_database(url: str) -> None:
    data = rows(100)
    create(url, data + data[:10] + [{**data[20], "label": 0 if data[20]["label"] else 1}])
    source = SqlSource(url_env="W", environ={"W": url}, table="scores")
    memory, memory_report = in_memory(source, make_bins())
    database, database_report = pushed(source, make_bins())
    assert database == memory
    inside = sum(START <= r["scored_at"].replace(tzinfo=UTC) < END for r in data[:10])
    # The copies of the first ten rows that fall in the window, and income NULL = income NaN.
    assert database_report.duplicate_rows == memory_report.duplicate_rows == inside + 1 > 1


def test_a_query_that_ignores_the_window_has_rows_rejected(url: str) -> None:
    if url.startswith("sqlite"):
        query = "SELECT * FROM scores WHERE scored_at >= datetime(:start, '-1 day') AND :end > ''"
    else:
        query = LOOSE_QUERY
    create(url, rows())
    source = SqlSource(url_env="W", environ={"W": url}, query=query)
    bins = make_bins()
    memory, memory_report = in_memory(source, bins)
    database, database_report = pushed(source, bins)
    assert database == memory
    assert counters(database_report) == counters(memory_report)
    assert memory_report.rejected["outside_window"] > 100


def test_a_missing_column_is_reported_and_counted_missing(url: str) -> None:
    create(url, rows(50), drop=("income", "label"))
    source = SqlSource(url_env="W", environ={"W": url}, table="scores")
    bins = make_bins(label=None)
    memory, memory_report = in_memory(source, bins)
    database, database_report = pushed(source, bins)
    assert database == memory
    assert memory_report.missing_columns == ["income"]
    assert database_report.missing_columns == ["income"]
    assert database.features["income"][-1] == database.rows


def test_columns_from_table_and_query(url: str) -> None:
    create(url, rows(20))
    expected = {
        "scored_at": "timestamp",
        "score": "numeric",
        "income": "numeric",
        "age": "numeric",
        "region": "categorical",
        "label": "numeric",
    }
    for spec in ({"table": "scores"}, {"query": WINDOW_QUERY}):
        assert SqlSource(url_env="W", environ={"W": url}, **spec).columns() == expected


def test_batches_hold_typed_columns(url: str) -> None:
    create(url, rows(100))
    source = SqlSource(url_env="W", environ={"W": url}, table="scores")
    report = ReadReport()
    batches = list(
        source.batches(
            start=START,
            end=END,
            columns={"income": "numeric", "region": "categorical", "age": "numeric"},
            timestamp="scored_at",
            score="score",
            label="label",
            report=report,
            batch_rows=16,
        )
    )
    assert len(batches) > 2 and all(len(b["score"]) <= 16 for b in batches)
    first = batches[0]
    assert first["scored_at"].dtype == np.dtype("datetime64[ns]")
    assert first["income"].dtype == np.float64 and first["region"].dtype == object
    stamps = np.concatenate([b["scored_at"] for b in batches])
    assert stamps.min() >= np.datetime64("2024-07-01")
    assert stamps.max() < np.datetime64("2024-07-02")
    assert report.rows_skipped == 0  # the database filtered the window


def test_a_missing_url_variable_is_named() -> None:
    with pytest.raises(SourceError, match="environment variable WAREHOUSE_URL is not set"):
        SqlSource(url_env="WAREHOUSE_URL", environ={}, table="scores")


def test_the_password_never_appears_in_messages() -> None:
    url = "postgresql+psycopg://reader:s3cret@127.0.0.1:1/warehouse?sslpassword=pw-xyzzy"
    source = SqlSource(url_env="W", environ={"W": url}, table="scores")
    assert "s3cret" not in source.where() and "***" in source.where()
    assert "pw-xyzzy" not in source.where()
    with pytest.raises(SourceError) as error:
        source.columns()
    assert "s3cret" not in str(error.value)
    assert error.value.source == "sql $W table scores"


@pytest.mark.parametrize(
    ("url", "said"),
    [
        # A closed port: the driver names the host, never the password.
        ("postgresql+psycopg://u:s3cret@127.0.0.1:1/db?sslpassword=pw-xyzzy", "port 1 failed"),
        # libpq quotes a bad option value back: a query-string value, scrubbed.
        ("postgresql+psycopg://u:s3cret@127.0.0.1:1/db?sslmode=mode-xyzzy", "invalid sslmode"),
        ("postgresql+psycopg://u:s3cret@127.0.0.1:1/db?connect_timeout=t-xyzzy", "connect_time"),
        ("sqlite:///file:/nonexistent/x.db?mode=ro&uri=true&vfs=vfs-xyzzy", "no such vfs"),
        ("sqlite:////nonexistent/folder/x.db", "unable to open database file"),
        ("postgresql+psycopg://u:s3cret@127.0.0.1:nope/db?sslpassword=pw-xyzzy", "usable URL"),
    ],
)
def test_driver_messages_are_scrubbed_of_the_url_secrets(url: str, said: str) -> None:
    with pytest.raises(SourceError) as error:
        SqlSource(url_env="W", environ={"W": url}, table="scores").columns()
    message = str(error.value)
    assert said in message
    assert "s3cret" not in message and "xyzzy" not in message


def test_an_unknown_table_is_a_source_error(tmp_path: Path) -> None:
    source = SqlSource(url_env="W", environ={"W": f"sqlite:///{tmp_path / 'x.db'}"}, table="nope")
    with pytest.raises(SourceError, match="NoSuchTableError"):
        source.columns()


@pytest.mark.postgres
def test_timestamptz_columns_compare_in_utc(postgres: str) -> None:
    engine = sa.create_engine(postgres)
    with engine.begin() as connection:
        connection.execute(sa.text("SET TIME ZONE 'Europe/Berlin'"))
        connection.execute(sa.text("CREATE TABLE stamps (scored_at timestamptz, score float8)"))
        connection.execute(
            sa.text(
                "INSERT INTO stamps VALUES ('2024-07-01 01:30+02', 0.1),"
                " ('2024-07-01 02:30+02', 0.2), ('2024-07-02 01:59+02', 0.3),"
                " ('2024-07-02 02:00+02', 0.4)"
            )
        )
    engine.dispose()
    source = SqlSource(url_env="W", environ={"W": postgres}, table="stamps")
    report = ReadReport()
    (batch,) = source.batches(
        start=START,
        end=END,
        columns={},
        timestamp="scored_at",
        score="score",
        label=None,
        report=report,
    )
    assert batch["score"].tolist() == [0.2, 0.3]
    assert str(batch["scored_at"][0]) == "2024-07-01T00:30:00.000000000"
