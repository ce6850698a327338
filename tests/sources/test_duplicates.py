"""DuplicateCounter: exact up to its cap, an unbiased estimate beyond, equal values hash equally."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from jobs.sources.duplicates import DuplicateCounter


def columns(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        np.datetime64("2024-07-01", "ns") + rng.integers(0, 10**12, n).astype("timedelta64[ns]"),
        rng.random(n),
        rng.choice(["DE", "FR", None], n).astype(object),
    ]


def test_counts_rows_identical_to_an_earlier_row_across_batches() -> None:
    counter = DuplicateCounter()
    first = columns(1000, 1)
    counter.add(first)
    counter.add([c[:10] for c in first])  # ten rows again
    counter.add([c[:3] for c in first])  # three of them a third time
    assert counter.duplicates == 13 and counter.exact
    assert counter.rows == 1013


def test_rows_differing_in_one_column_are_not_duplicates() -> None:
    stamps, scores, regions = columns(500, 2)
    counter = DuplicateCounter()
    counter.add([stamps, scores, regions])
    other = regions.copy()
    other[other == "DE"] = "FR"
    counter.add([stamps, scores, other])
    assert counter.duplicates == int(np.count_nonzero(regions != "DE"))


def test_missing_equals_missing_and_minus_zero_equals_zero() -> None:
    counter = DuplicateCounter()
    nan_bits = np.array([0x7FF8000000000001, 0xFFF8000000000000], dtype=np.uint64)
    counter.add([np.array([np.nan, 0.0]), np.array([None, "a"], dtype=object)])
    counter.add([np.concatenate([nan_bits[:1].view(np.float64), [-0.0]]), np.array([None, "a"])])
    counter.add([nan_bits[1:].view(np.float64), None])  # None: a text column all missing
    assert counter.duplicates == 3


def test_arrow_text_hashes_as_the_same_python_texts() -> None:
    counter = DuplicateCounter()
    texts = ["DE", "FR", None, "DE"]
    counter.add([np.arange(4.0), np.array(texts, dtype=object)])
    counter.add([np.arange(4.0), pa.array(texts)])
    counter.add([np.arange(4.0), pa.array(texts).dictionary_encode()])
    assert counter.duplicates == 8


def test_beyond_the_cap_the_count_is_an_estimate_close_to_the_truth() -> None:
    counter = DuplicateCounter(cap=2000)
    base = columns(20_000, 3)
    for start in range(0, 20_000, 4000):
        counter.add([c[start : start + 4000] for c in base])
    counter.add([c[:5000] for c in base])  # 5,000 duplicates among 25,000 rows
    assert not counter.exact
    assert 3500 < counter.duplicates < 6500
    assert counter.rows == 25_000


def test_an_empty_batch_changes_nothing() -> None:
    counter = DuplicateCounter()
    counter.add([np.zeros(0), np.zeros(0, dtype=object)])
    counter.add([])
    assert (counter.rows, counter.duplicates, counter.exact) == (0, 0, True)


def test_merging_pending_hashes_into_the_distinct_ones_keeps_the_count_exact() -> None:
    counter = DuplicateCounter(cap=100)
    base = columns(80, 4)
    for repeat in range(10):  # 800 rows, 80 distinct: pending passes the cap and is merged
        counter.add([c[repeat % 3 :] for c in base])
    assert counter.exact
    assert counter.duplicates == counter.rows - 80
