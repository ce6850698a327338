"""Property: on any rows, bad text included, the pushdown counts equal numpy's counts of the same
rows, on SQLite (text kept in REAL columns), PostgreSQL and DuckDB (numbers as text in text
columns)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.sources.base import ReadReport
from jobs.sources.warehouse import SqlSource
from jobs.stats import Bins, CategoricalBins, NumericBins, profile_batch

EDGES = [-1.0, 0.0, 0.5, 2.0]
START = datetime(2024, 7, 1, tzinfo=UTC)
END = datetime(2024, 7, 2, tzinfo=UTC)

texts = st.sampled_from(["n/a", "", "1,5", " 0.5 ", "inf", "-Infinity", "nan", "1e400", "2.", "x1"])
incomes = st.one_of(
    st.none(),
    st.sampled_from([*EDGES, math.inf, -math.inf, math.nan]),
    st.floats(-3, 3, allow_nan=False),
    texts,
)
scores = st.one_of(
    st.none(),
    st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5]),
    st.floats(0, 1),
    st.sampled_from(["high", "0.25", " 1 ", "nan", "2", ""]),
)
regions = st.one_of(st.none(), st.sampled_from(["DE", "FR", "NL", "new", ""]))
labels = st.one_of(st.none(), st.sampled_from([0, 1, 2, "yes", "1", "0.0"]))
minutes = st.integers(-120, 1440 + 120)
row = st.tuples(minutes, scores, incomes, regions, labels)

BINS = Bins(
    numeric={"income": NumericBins(np.array(EDGES))},
    categorical={"region": CategoricalBins(("DE",), frozenset({"DE", "FR", "NL"}))},
    score=NumericBins(np.array([0.25, 0.5, 0.75])),
    score_column="score",
    label_column="label",
    decision_threshold=0.5,
    segments={"region": CategoricalBins(("FR",), frozenset({"DE", "FR"}))},
)


def test_pushdown_matches_numpy_on_any_rows(url: str) -> None:
    postgres = url.startswith(("postgresql", "duckdb"))  # typed: numbers-as-text in text columns
    number = sa.Text if postgres else sa.Float
    table = sa.Table(
        "scores",
        sa.MetaData(),
        sa.Column("scored_at", sa.DateTime),
        sa.Column("score", number),
        sa.Column("income", number),
        sa.Column("region", sa.String),
        sa.Column("label", sa.Text if postgres else sa.Integer),
    )
    # Numbers inserted as they are (a Float column would turn text into a float, or fail).
    untyped = sa.table(
        "scores",
        sa.column("scored_at", sa.DateTime),
        *(sa.column(name) for name in ("score", "income", "region", "label")),
    )
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    table.drop(engine, checkfirst=True)
    table.create(engine)
    source = SqlSource(url_env="W", environ={"W": url}, table="scores")

    def stored(value: object) -> object:
        if postgres and value is not None:
            return str(value)
        return None if isinstance(value, float) and math.isnan(value) else value

    # DuckDB (through duckdb_engine) inserts row by row: fewer examples keep the test quick.
    examples = 12 if url.startswith("duckdb") else 30

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(row, min_size=1, max_size=40))
    def check(data: list[tuple[int, object, object, str | None, object]]) -> None:
        with engine.begin() as connection:
            connection.execute(table.delete())
            connection.execute(
                untyped.insert(),
                [
                    {
                        "scored_at": datetime(2024, 7, 1) + timedelta(minutes=m),
                        "score": stored(s),
                        "income": stored(x),
                        "region": r,
                        "label": stored(y),
                    }
                    for m, s, x, r, y in data
                ],
            )
        memory_report, pushed_report = ReadReport(), ReadReport()
        batches = list(
            source.batches(
                start=START,
                end=END,
                columns={"income": "numeric", "region": "categorical"},
                timestamp="scored_at",
                score="score",
                label="label",
                report=memory_report,
            )
        )
        pushed = source.profile(
            start=START, end=END, bins=BINS, timestamp="scored_at", report=pushed_report
        )
        assert pushed_report.rejected == memory_report.rejected
        assert pushed_report.rows_read == memory_report.rows_read
        assert pushed_report.bad_cells == memory_report.bad_cells
        assert pushed_report.type_changes == memory_report.type_changes
        assert pushed_report.duplicate_rows == memory_report.duplicate_rows
        if not batches:
            assert pushed.rows == 0
            return
        batch = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
        assert pushed == profile_batch(batch, BINS)

    try:
        check()
    finally:
        engine.dispose()
