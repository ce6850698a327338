"""Distances against scipy and their properties (PSI >= 0, 0 for identical; JS; Wasserstein)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats
from scipy.spatial.distance import jensenshannon

from jobs.stats.bins import NumericBins
from jobs.stats.distances import jensen_shannon, psi, total_variation, wasserstein_binned

counts = hnp.arrays(np.int64, st.integers(1, 30), elements=st.integers(0, 10_000))


def pair(data, size=None):
    a = data.draw(
        counts if size is None else hnp.arrays(np.int64, size, elements=st.integers(0, 10_000))
    )
    b = data.draw(hnp.arrays(np.int64, a.size, elements=st.integers(0, 10_000)))
    a[0] += 1
    b[-1] += 1
    return a, b


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_psi_is_non_negative_symmetric_and_zero_for_identical_counts(data):
    a, b = pair(data)
    value = psi(a, b)
    assert np.isfinite(value) and value >= 0.0
    assert value == pytest.approx(psi(b, a), rel=1e-9, abs=1e-12)
    assert psi(a, a) == 0.0


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_jensen_shannon_equals_scipy(data):
    a, b = pair(data)
    expected = jensenshannon(b / b.sum(), a / a.sum(), base=2)
    assert jensen_shannon(a, b) == pytest.approx(expected, abs=1e-7)
    assert 0.0 <= jensen_shannon(a, b) <= 1.0
    assert 0.0 <= total_variation(a, b) <= 1.0


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_binned_wasserstein_equals_scipy_on_the_atoms(data):
    a, b = pair(data)
    atoms = np.sort(data.draw(hnp.arrays(np.float64, a.size, elements=st.floats(-1e6, 1e6))))
    expected = stats.wasserstein_distance(atoms, atoms, b, a)
    assert wasserstein_binned(atoms, a, b) == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_binned_wasserstein_is_within_its_bound_of_the_raw_distance():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=20_000)
    bins = NumericBins.fit(reference, 20)
    for shift, scale in [(0.0, 1.0), (0.3, 1.0), (0.0, 1.2), (-0.5, 0.8)]:
        window = np.clip(rng.normal(shift, scale, 20_000), reference.min(), reference.max())
        r, w = bins.counts(reference)[:-1], bins.counts(window)[:-1]
        binned = wasserstein_binned(bins.atoms(), r, w)
        widths = np.diff(bins.edges)
        bound = np.sum((r[1:-1] / r.sum() + w[1:-1] / w.sum()) * widths) / 2
        exact = stats.wasserstein_distance(window, reference)
        assert abs(binned - exact) <= bound + 1e-9


def test_psi_of_known_shifts_on_decile_bins():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=400_000)
    bins = NumericBins.fit(reference)
    r = bins.counts(reference)
    assert psi(r, bins.counts(rng.normal(0.3, 1.0, 400_000))) == pytest.approx(0.086, abs=0.006)
    assert psi(r, bins.counts(rng.normal(0.0, 1.2, 400_000))) == pytest.approx(0.044, abs=0.005)
    assert psi(r, bins.counts(rng.normal(0.1, 1.0, 400_000))) == pytest.approx(0.0096, abs=0.002)


@pytest.mark.parametrize("fn", [psi, jensen_shannon, total_variation])
def test_empty_sides_are_refused(fn):
    with pytest.raises(ValueError):
        fn(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError):
        fn(np.ones(3), np.ones(4))
