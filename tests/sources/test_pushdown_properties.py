"""Property: on any rows, the SQLite pushdown counts equal numpy's counts of the same rows."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.sources.base import ReadReport
from jobs.sources.warehouse import SqlSource
from jobs.stats import Bins, CategoricalBins, NumericBins, profile_batch

EDGES = [-1.0, 0.0, 0.5, 2.0]
START = datetime(2024, 7, 1, tzinfo=UTC)
END = datetime(2024, 7, 2, tzinfo=UTC)

incomes = st.one_of(
    st.none(),
    st.sampled_from([*EDGES, math.inf, -math.inf, math.nan]),
    st.floats(-3, 3, allow_nan=False),
)
scores = st.one_of(st.none(), st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5]), st.floats(0, 1))
regions = st.one_of(st.none(), st.sampled_from(["DE", "FR", "NL", "new", ""]))
labels = st.one_of(st.none(), st.sampled_from([0, 1, 2]))
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


def test_pushdown_matches_numpy_on_any_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    table = sa.Table(
        "scores",
        sa.MetaData(),
        sa.Column("scored_at", sa.DateTime),
        sa.Column("score", sa.Float),
        sa.Column("income", sa.Float),
        sa.Column("region", sa.String),
        sa.Column("label", sa.Integer),
    )
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    table.create(engine)
    source = SqlSource(url_env="W", environ={"W": url}, table="scores")

    @settings(max_examples=30, deadline=None)
    @given(st.lists(row, min_size=1, max_size=40))
    def check(data: list[tuple[int, float | None, float | None, str | None, int | None]]) -> None:
        with engine.begin() as connection:
            connection.execute(table.delete())
            connection.execute(
                table.insert(),
                [
                    {
                        "scored_at": datetime(2024, 7, 1) + timedelta(minutes=m),
                        "score": s,
                        "income": x,
                        "region": r,
                        "label": y,
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
        if not batches:
            assert pushed.rows == 0
            return
        batch = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
        assert pushed == profile_batch(batch, BINS)

    try:
        check()
    finally:
        engine.dispose()
