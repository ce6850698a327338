"""A baseline fitted inside the warehouse (quantile edges from ranks, category counts, daily
profiles by GROUP BY) equals the one fitted in memory from the same rows: on SQLite, PostgreSQL
and DuckDB, with NULL, NaN, ±inf, text in numeric columns, ties and unseen categories."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from jobs.columns import Watched
from jobs.fitting import build_baseline
from jobs.pushed_fits import fit_in_database, positions
from jobs.sources.base import ReadReport
from jobs.sources.warehouse import SqlSource
from jobs.stats import BaselineSpec
from tests.sources.test_warehouse import create, create_with_text, rows

START = datetime(2024, 6, 30, tzinfo=UTC)
END = datetime(2024, 7, 3, tzinfo=UTC)
SPEC = BaselineSpec(
    numeric=["income", "age"],
    categorical=["region"],
    score="score",
    label="label",
    segments=["region"],
    ks_sketch=50,
)
WATCHED = Watched(
    {"income": "numeric", "age": "numeric", "region": "categorical"},
    ("income", "age", "region"),
    "scored_at",
    "score",
    "label",
    ("region",),
)


def both(url: str) -> tuple[Any, Any]:
    source = SqlSource(url_env="W", environ={"W": url}, table="scores")
    kw: dict[str, Any] = {"source": source, "watched": WATCHED, "spec": SPEC}
    memory = build_baseline(**kw, start=START, end=END, pushdown=False)
    pushed = build_baseline(**kw, start=START, end=END)
    return memory, pushed


def test_a_baseline_fitted_in_the_database_equals_the_one_fitted_in_memory(url: str) -> None:
    data = rows(500, seed=5)
    data += [{**data[0], "income": 0.25} for _ in range(250)]  # a point mass: a bin of its own
    create(url, data)
    memory, pushed = both(url)

    assert pushed.baseline.to_bytes() == memory.baseline.to_bytes()
    assert (pushed.rows, pushed.first, pushed.last) == (memory.rows, memory.first, memory.last)
    assert pushed.report.rows_kept == memory.report.rows_kept == memory.rows
    assert pushed.report.rejected == memory.report.rejected
    edges = pushed.baseline.bins.numeric["income"].edges
    assert 0.25 in edges and np.nextafter(0.25, 1) in edges
    assert pushed.baseline.days == 3


def test_text_cells_and_a_flat_column_fit_alike(url: str) -> None:
    data = [{**r, "age": 40} for r in rows(400, seed=8)]  # age: IQR 0, scale is the std
    create_with_text(url, data)
    memory, pushed = both(url)
    got, want = pushed.baseline.bins, memory.baseline.bins
    assert got.numeric["age"].scale == pytest.approx(want.numeric["age"].scale, rel=1e-12)
    for name in ("income", "age"):
        assert np.array_equal(got.numeric[name].edges, want.numeric[name].edges)
    assert np.array_equal(got.score.edges, want.score.edges)
    assert got.categorical["region"].categories == want.categorical["region"].categories
    assert got.categorical["region"].reference == want.categorical["region"].reference
    assert pushed.baseline.reference == memory.baseline.reference
    for name, values in memory.baseline.sketches.items():
        assert np.array_equal(pushed.baseline.sketches[name], values), name


def test_only_counts_and_ranks_leave_the_database(url: str) -> None:
    create(url, rows(1200, seed=2))
    source = SqlSource(url_env="W", environ={"W": url}, table="scores")
    baseline, facts = fit_in_database(
        source, spec=SPEC, timestamp="scored_at", start=START, end=END, report=ReadReport()
    )
    values = sum(len(f.at) for f in facts.numeric.values())
    assert facts.rows > 1000 and values < 3 * (SPEC.ks_sketch + SPEC.score_bins + 4)
    assert baseline.reference.rows == facts.rows


def test_ranks_follow_numpys_inverted_cdf() -> None:
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 10, 97, 1000):
        values = np.sort(rng.normal(size=n))
        levels = np.arange(1, 10) / 10
        want = np.quantile(values, levels, method="inverted_cdf")
        assert values[positions(n, levels)].tolist() == want.tolist()
    assert positions(0, np.array([0.5])) == []
    assert not math.isnan(float(positions(5, (0.25, 0.75))[0]))


def test_a_window_without_rows_is_refused_alike(url: str) -> None:
    create(url, rows(50))
    source = SqlSource(url_env="W", environ={"W": url}, table="scores")
    late = {"start": END + timedelta(days=30), "end": END + timedelta(days=31)}
    with pytest.raises(Exception, match="no usable rows") as pushed:
        build_baseline(source=source, watched=WATCHED, spec=SPEC, **late)
    with pytest.raises(Exception, match="no usable rows") as memory:
        build_baseline(source=source, watched=WATCHED, spec=SPEC, pushdown=False, **late)
    assert type(pushed.value) is type(memory.value)
