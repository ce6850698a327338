"""KS (exact equals scipy, binned within its bound), chi-square against scipy, noise quantiles."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from jobs.stats.bins import NumericBins
from jobs.stats.distances import psi
from jobs.stats.significance import (
    chi_square,
    divergence_noise,
    ks_binned,
    ks_exact,
    ks_noise,
    sampling_factor,
)

samples = hnp.arrays(
    np.float64,
    st.integers(1, 120),
    elements=st.floats(-1e9, 1e9) | st.sampled_from([0.0, 1.0, np.inf, -np.inf]),
)


@settings(max_examples=200, deadline=None)
@given(a=samples, b=samples)
def test_exact_ks_equals_scipy(a, b):
    ours = ks_exact(a, b)
    with np.errstate(all="ignore"):  # scipy divides by zero for two single values
        theirs = stats.ks_2samp(b, a, method="asymp")
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
    if round(a.size * b.size / (a.size + b.size)) >= 1:
        assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-6, abs=1e-12)
    assert 0.0 <= ours.p_value <= 1.0
    assert ours.method == "exact" and ours.bound == 0.0


def test_exact_ks_on_large_samples_and_nan():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=30_000), rng.normal(0.05, 1, 20_000)
    ours = ks_exact(a, b)
    theirs = stats.ks_2samp(b, a, method="asymp")
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=0.05)
    with_nan = np.concatenate([b, [np.nan, np.nan]])
    assert ks_exact(a, with_nan).statistic == ours.statistic
    with pytest.raises(ValueError):
        ks_exact(a, np.array([np.nan]))


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shift=st.floats(-1, 1),
    scale=st.floats(0.5, 2),
    n_bins=st.integers(2, 30),
    ties=st.booleans(),
)
def test_binned_ks_is_within_its_stated_bound(seed, shift, scale, n_bins, ties):
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=2000)
    window = rng.normal(shift, scale, 1500)
    if ties:
        reference, window = np.round(reference, 1), np.round(window, 1)
    bins = NumericBins.fit(reference, n_bins)
    binned = ks_binned(bins.counts(reference)[:-1], bins.counts(window)[:-1])
    exact = stats.ks_2samp(window, reference).statistic
    assert binned.statistic <= exact + 1e-12
    assert exact <= binned.statistic + binned.bound + 1e-12
    assert binned.method == "binned"


@settings(max_examples=200, deadline=None)
@given(
    a=hnp.arrays(np.int64, st.integers(2, 15), elements=st.integers(0, 500)),
    data=st.data(),
)
def test_chi_square_equals_scipy(a, data):
    b = data.draw(hnp.arrays(np.int64, a.size, elements=st.integers(0, 500)))
    table = np.vstack([a, b])
    table = table[:, table.sum(axis=0) > 0]
    if (table.sum(axis=1) == 0).any() or table.shape[1] < 2:
        with pytest.raises(ValueError):
            chi_square(a, b)
        return
    ours = chi_square(a, b)
    theirs = stats.chi2_contingency(table, correction=False)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-9, abs=1e-9)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-7, abs=1e-12)
    assert ours.dof == theirs.dof


def test_noise_cutoffs_hold_their_false_alarm_rate():
    rng = np.random.default_rng(1)
    q = np.array([0.1] * 10)
    n, big_n, alpha = 2000, 200_000, 0.01
    reference = np.round(q * big_n)
    factor = sampling_factor(n, big_n)
    psi_cut = divergence_noise(9, factor, alpha).cutoff
    ks_cut = ks_noise(factor, alpha).cutoff
    windows = rng.multinomial(n, q, size=3000)
    psis = np.array([psi(reference, w) for w in windows])
    kss = np.array([ks_binned(reference, w, p_value=False).statistic for w in windows])
    assert np.mean(psis > psi_cut) < 2.5 * alpha
    assert np.mean(kss > ks_cut) < 2.5 * alpha
    assert psis.mean() == pytest.approx(divergence_noise(9, factor, alpha).mean, rel=0.15)
