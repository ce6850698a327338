"""Performance: ROC AUC against a pairwise reference, exact confusion, label-free calibration."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jobs.stats.bins import BaselineSpec, Bins
from jobs.stats.performance import (
    estimate_performance,
    realized_performance,
    roc_auc,
    roc_auc_binned,
)
from jobs.stats.profiles import profile_batch


def pairwise_auc(scores, labels):
    """Straightforward reference: compare every positive with every negative."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    if not pos or not neg:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@settings(max_examples=150, deadline=None)
@given(
    scores=hnp.arrays(
        np.float64,
        st.integers(0, 60),
        elements=st.sampled_from([0.1, 0.2, 0.5, 0.9]) | st.floats(0, 1),
    ),
    data=st.data(),
)
def test_roc_auc_equals_the_pairwise_reference(scores, data):
    labels = data.draw(hnp.arrays(np.float64, scores.size, elements=st.sampled_from([0.0, 1.0])))
    expected = pairwise_auc(scores, labels)
    assert roc_auc(scores, labels) == (pytest.approx(expected) if expected is not None else None)
    bands = np.searchsorted([0.25, 0.5, 0.75], scores, side="right")
    pos = np.bincount(bands[labels == 1], minlength=4)
    neg = np.bincount(bands[labels == 0], minlength=4)
    binned = roc_auc_binned(pos, neg)
    banded = pairwise_auc(bands, labels)
    assert binned == (pytest.approx(banded) if banded is not None else None)


def test_roc_auc_ignores_unknown_labels_and_missing_scores():
    scores = np.array([0.1, 0.4, np.nan, 0.8, 0.3])
    labels = np.array([0.0, 1.0, 1.0, np.nan, 0.0])
    assert roc_auc(scores, labels) == pytest.approx(1.0)


def make(rng, n, shift=0.0, link=lambda s: s):
    z = rng.normal(-0.5 + shift, 1.2, n)
    score = 1 / (1 + np.exp(-z))
    y = (rng.random(n) < link(score)).astype(float)
    return {"score": score, "y": y}


SPEC = BaselineSpec(score="score", label="y", decision_threshold=0.4, score_bins=20)


def test_realized_confusion_is_exact_at_the_threshold():
    rng = np.random.default_rng(0)
    reference = make(rng, 5000)
    bins = Bins.fit(reference, SPEC)
    window = make(rng, 3000, 0.4)
    window["score"][:50] = 0.4  # exactly at the threshold: predicted positive
    window["y"][50:80] = np.nan
    got = realized_performance(profile_batch(window, bins).score_label, bins.threshold_bin)
    known = ~np.isnan(window["y"])
    y, predicted = window["y"][known], window["score"][known] >= 0.4
    tp = np.sum(predicted & (y == 1))
    assert got["accuracy"] == pytest.approx(np.mean(predicted == (y == 1)))
    assert got["precision"] == pytest.approx(tp / predicted.sum())
    assert got["recall"] == pytest.approx(tp / (y == 1).sum())
    assert got["prevalence"] == pytest.approx(y.mean())
    assert got["positive_rate"] == pytest.approx(np.mean(window["score"] >= 0.4))


@pytest.mark.parametrize("shift", [0.0, 0.5, -0.4])
def test_label_free_estimate_is_within_its_band_when_calibration_holds(shift):
    """P(label | score) is unchanged (a miscalibrated model, on purpose), the score distribution
    shifts; the estimate must cover the realized value on >= 90% of windows."""
    rng = np.random.default_rng(7)

    def link(s):
        return np.clip(0.8 * s**1.5 + 0.05, 0, 1)

    bins = Bins.fit(make(rng, 40_000, link=link), SPEC)
    reference = profile_batch(make(rng, 40_000, link=link), bins).score_label
    hits = {k: 0 for k in ("accuracy", "precision", "recall", "roc_auc")}
    windows = 150
    for _ in range(windows):
        window = profile_batch(make(rng, 1500, shift, link), bins).score_label
        estimated = estimate_performance(reference, window, bins.threshold_bin)
        realized = realized_performance(window, bins.threshold_bin)
        for name in hits:
            estimate, value = estimated[name], realized[name]
            assert estimate is not None and value is not None
            hits[name] += estimate.low <= value <= estimate.high
    for name, count in hits.items():
        assert count / windows >= 0.9, (name, count / windows)


def test_estimate_handles_empty_windows_and_needs_labels():
    rng = np.random.default_rng(1)
    bins = Bins.fit(make(rng, 1000), SPEC)
    reference = profile_batch(make(rng, 1000), bins).score_label
    empty = np.zeros_like(reference)
    assert all(
        v is None for v in estimate_performance(reference, empty, bins.threshold_bin).values()
    )
    unlabelled = reference.copy()
    unlabelled[:, 2] += unlabelled[:, 0] + unlabelled[:, 1]
    unlabelled[:, :2] = 0
    with pytest.raises(ValueError):
        estimate_performance(unlabelled, reference, bins.threshold_bin)
