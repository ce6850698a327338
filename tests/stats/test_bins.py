"""Bins: quantile edges, ties, constants, NaN/inf, categories, and the documented counting rule."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jobs.stats.bins import MISSING_KEY, OTHER_KEY, CategoricalBins, NumericBins


def sql_like_bin(edges: np.ndarray, x: float) -> int:
    """The CASE WHEN a SQL pushdown writes, evaluated by hand."""
    if x is None or math.isnan(x):
        return len(edges) + 1
    for i, edge in enumerate(edges):
        if x < edge:
            return i
    return len(edges)


floats = hnp.arrays(
    np.float64,
    st.integers(0, 200),
    elements=st.floats(allow_nan=True, allow_infinity=True, width=64)
    | st.sampled_from([0.0, 1.0, -1.0, 1.5]),
)


@settings(max_examples=150, deadline=None)
@given(reference=floats, window=floats, n_bins=st.integers(1, 12))
def test_codes_follow_the_documented_rule_and_counts_match(reference, window, n_bins):
    bins = NumericBins.fit(reference, n_bins)
    # strictly increasing (compared, not subtracted: edges near ±1.8e308 overflow a difference)
    assert (bins.edges[1:] > bins.edges[:-1]).all() and np.isfinite(bins.edges[:-1]).all()
    codes = bins.codes(window)
    expected = [sql_like_bin(bins.edges, float(x)) for x in window]
    assert codes.tolist() == expected
    counts = bins.counts(window)
    assert counts.tolist() == np.bincount(codes, minlength=bins.size).tolist()
    assert counts.sum() == window.size


@settings(max_examples=60, deadline=None)
@given(reference=floats)
def test_reference_never_lands_outside_its_own_range(reference):
    bins = NumericBins.fit(reference)
    counts = bins.counts(reference)
    finite = reference[np.isfinite(reference)]
    if bins.has_range:
        assert counts[0] == np.count_nonzero(reference == -np.inf)
        assert counts[bins.size - 2] == np.count_nonzero(reference == np.inf)
    assert counts[bins.missing_index] == np.count_nonzero(np.isnan(reference))
    assert counts[:-1].sum() == finite.size + np.count_nonzero(np.isinf(reference))


def test_deciles_of_a_continuous_column_hold_a_tenth_each():
    x = np.random.default_rng(1).normal(size=100_000)
    bins = NumericBins.fit(x)
    counts = bins.counts(x)
    assert counts[0] == 0 and counts[-2] == 0 and counts[-1] == 0
    assert np.allclose(counts[1:-2] / x.size, 0.1, atol=0.002)
    assert bins.scale == pytest.approx(1.0, rel=0.03)


def test_a_point_mass_gets_a_bin_of_its_own():
    rng = np.random.default_rng(2)
    x = np.where(rng.random(10_000) < 0.6, 0.0, rng.exponential(size=10_000))
    bins = NumericBins.fit(x)
    zero_bin = bins.codes(np.array([0.0]))[0]
    counts = bins.counts(x)
    assert counts[zero_bin] == np.count_nonzero(x == 0.0)
    assert bins.codes(np.array([1e-300]))[0] != zero_bin


def test_constant_column():
    bins = NumericBins.fit(np.full(50, 3.0))
    assert bins.edges.tolist() == [3.0, np.nextafter(3.0, np.inf)]
    assert bins.counts(np.array([2.0, 3.0, 3.0, 4.0, np.nan])).tolist() == [1, 2, 1, 1]
    assert bins.scale == 0.0


def test_all_missing_column_has_one_value_bin():
    bins = NumericBins.fit(np.full(10, np.nan))
    assert bins.size == 2 and not bins.has_range and math.isnan(bins.scale)
    assert bins.counts(np.array([1.0, np.nan, np.inf])).tolist() == [2, 1]


def test_infinities_go_to_the_outer_bins():
    bins = NumericBins.fit(np.array([0.0, 1.0, 2.0, np.inf, -np.inf]))
    assert bins.edges[0] == 0.0 and bins.edges[-1] == np.nextafter(2.0, np.inf)
    assert bins.codes(np.array([-np.inf, np.inf]))[0] == 0
    assert bins.codes(np.array([np.inf]))[0] == len(bins.edges)


def test_extra_edges_are_kept_and_searchsorted_path_agrees():
    x = np.random.default_rng(3).random(5000)
    bins = NumericBins.fit(x, 100, extra_edges=[0.5])
    assert 0.5 in bins.edges.tolist() and len(bins.edges) > 64
    assert bins.codes(x).tolist() == [sql_like_bin(bins.edges, v) for v in x]
    assert bins.counts(x).sum() == x.size


def test_categorical_top_k_other_unseen_missing():
    reference = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"] + [None], dtype=object)
    bins = CategoricalBins.fit(reference, top_k=2)
    assert bins.categories == ("a", "b")
    assert bins.reference == frozenset({"a", "b", "c", "d"})
    window = np.array(["a", "c", "zz", None, float("nan"), "b", "d"], dtype=object)
    assert bins.codes(window).tolist() == [0, 2, 3, 4, 4, 1, 2]
    assert bins.counts(window).tolist() == [1, 1, 2, 1, 2]
    assert bins.segment_codes(window).tolist() == [0, 2, 2, 3, 3, 1, 2]
    assert bins.segment_keys() == ("a", "b", OTHER_KEY, MISSING_KEY)


def test_categorical_matches_non_strings_by_str_and_ties_by_name():
    bins = CategoricalBins.fit(np.array([2, 1, 1, 2, 3]), top_k=2)
    assert bins.categories == ("1", "2")
    assert bins.codes(np.array([1, 2, 3, 4], dtype=object)).tolist() == [0, 1, 2, 3]
    assert bins.codes(np.array([1.0, np.nan])).tolist() == [3, 4]  # "1.0" was never seen
    assert bins.counts(np.array(["1", "2"])).tolist() == [1, 1, 0, 0, 0]


def test_empty_inputs():
    assert NumericBins.fit(np.empty(0)).counts(np.empty(0)).tolist() == [0, 0]
    bins = CategoricalBins.fit(np.empty(0, dtype=object))
    assert bins.counts(np.empty(0, dtype=object)).tolist() == [0, 0, 0]
