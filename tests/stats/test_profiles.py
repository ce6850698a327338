"""Profiles: exact and associative merging, compact bytes, counts from elsewhere (SQL pushdown)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.stats.baselines import Baseline, fit_baseline
from jobs.stats.bins import MISSING_KEY, OTHER_KEY, BaselineSpec, Bins
from jobs.stats.profiles import Profile, merge, profile_batch, profile_groups

SPEC = BaselineSpec(
    numeric=["x", "z"],
    categorical=["c"],
    score="score",
    label="y",
    segments=["region"],
    max_segments=2,
    top_k=2,
)


def make_batch(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.05] = np.nan
    z = np.where(rng.random(n) < 0.3, 0.0, rng.exponential(size=n))
    z[rng.random(n) < 0.01] = np.inf
    score = rng.random(n)
    y = (rng.random(n) < score).astype(float)
    y[rng.random(n) < 0.2] = np.nan
    return {
        "x": x,
        "z": z,
        "c": np.array(["a", "b", "c", None, "d"], dtype=object)[rng.integers(0, 5, n)],
        "region": np.array(["EU", "US", "APAC", None], dtype=object)[rng.integers(0, 4, n)],
        "score": score,
        "y": y,
    }


def concat(a: dict, b: dict) -> dict:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


@pytest.fixture(name="bins", scope="module")
def _bins() -> Bins:
    return Bins.fit(make_batch(np.random.default_rng(0), 2000), SPEC)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sizes=st.tuples(*[st.integers(0, 60)] * 3))
def test_merge_is_exact_and_associative(bins, seed, sizes):
    rng = np.random.default_rng(seed)
    a, b, c = (make_batch(rng, n, shift=1.0) for n in sizes)
    pa, pb, pc = (profile_batch(part, bins) for part in (a, b, c))
    whole = profile_batch(concat(concat(a, b), c), bins)
    assert (pa + pb) + pc == whole
    assert pa + (pb + pc) == whole
    assert merge(pa, pb, pc) == whole
    assert pa + Profile.zeros(bins) == pa


def test_profile_contents(bins):
    batch = make_batch(np.random.default_rng(1), 500)
    profile = profile_batch(batch, bins)
    assert profile.rows == 500
    for name in bins.features:
        assert profile.features[name].sum() == 500
    assert profile.features["x"][-1] == np.count_nonzero(np.isnan(batch["x"]))
    labelled = ~np.isnan(batch["y"])
    assert profile.labelled == np.count_nonzero(labelled)
    assert profile.score_label[:, 1].sum() == np.count_nonzero(batch["y"] == 1.0)
    assert list(profile.segments["region"]) == [
        *bins.segments["region"].categories,
        OTHER_KEY,
        MISSING_KEY,
    ]
    parts = profile.segments["region"].values()
    assert sum(p.rows for p in parts) == 500
    missing = profile.segments["region"][MISSING_KEY]
    assert missing.rows == sum(v is None for v in batch["region"])
    assert missing.segments == {}


def test_groups_add_up_to_the_batch(bins):
    batch = make_batch(np.random.default_rng(2), 700)
    groups = np.random.default_rng(3).integers(0, 5, 700)
    parts = profile_groups(batch, bins, groups, 6)
    assert parts[5].rows == 0
    assert merge(*parts) == profile_batch(batch, bins)
    only = {k: v[groups == 2] for k, v in batch.items()}
    assert parts[2] == profile_batch(only, bins)


def test_bytes_round_trip_and_stay_small(bins):
    profile = profile_batch(make_batch(np.random.default_rng(4), 1000), bins)
    data = profile.to_bytes()
    assert Profile.from_bytes(data) == profile
    assert len(data) < 4000
    empty = Profile.zeros(bins)
    assert Profile.from_bytes(empty.to_bytes()) == empty


def test_a_year_of_daily_profiles_for_fifty_features_is_small():
    rng = np.random.default_rng(5)
    names = [f"f{i}" for i in range(50)]
    batch = {n: rng.normal(size=3000) for n in names} | {"score": rng.random(3000)}
    spec = BaselineSpec(numeric=names, score="score")
    bins = Bins.fit(batch, spec)
    day = profile_batch(batch, bins).to_bytes()
    assert 365 * len(day) < 2_000_000, len(day)


def test_from_counts_reproduces_a_counted_profile(bins):
    batch = make_batch(np.random.default_rng(6), 300)
    counted = profile_batch(batch, bins)
    segments = {
        "region": {
            key: Profile.from_counts(
                bins, rows=p.rows, features=p.features, score_label=p.score_label
            )
            for key, p in counted.segments["region"].items()
            if p.rows
        }
    }
    rebuilt = Profile.from_counts(
        bins,
        rows=300,
        features={k: v.tolist() for k, v in counted.features.items()},
        score_label=counted.score_label,
        segments=segments,
    )
    assert rebuilt == counted
    score_only = Profile.from_counts(bins, rows=300, features=counted.features, score=counted.score)
    assert score_only.labelled == 0 and np.array_equal(score_only.score, counted.score)


def test_from_counts_refuses_inconsistent_counts(bins):
    counted = profile_batch(make_batch(np.random.default_rng(7), 100), bins)
    with pytest.raises(ValueError, match="sum"):
        Profile.from_counts(
            bins, rows=99, features=counted.features, score_label=counted.score_label
        )
    with pytest.raises(ValueError, match="shape"):
        Profile.from_counts(
            bins,
            rows=100,
            features={**counted.features, "x": [100]},
            score_label=counted.score_label,
        )
    with pytest.raises(ValueError, match="features"):
        Profile.from_counts(bins, rows=100, features={}, score_label=counted.score_label)
    with pytest.raises(ValueError, match="segment"):
        Profile.from_counts(
            bins,
            rows=100,
            features=counted.features,
            score_label=counted.score_label,
            segments={"nope": {}},
        )
    with pytest.raises(ValueError, match="non-negative"):
        Profile.from_counts(
            bins,
            rows=100,
            features={**counted.features, "x": -counted.features["x"]},
            score_label=counted.score_label,
        )


def test_merge_refuses_other_layouts(bins):
    other = Bins.fit(make_batch(np.random.default_rng(8), 200), BaselineSpec(numeric=["x"]))
    with pytest.raises(ValueError):
        Profile.zeros(bins).merge(Profile.zeros(other))


def test_missing_columns_are_reported(bins):
    batch = make_batch(np.random.default_rng(9), 10)
    del batch["z"]
    with pytest.raises(KeyError, match="z"):
        profile_batch(batch, bins)


def test_baseline_bytes_round_trip():
    rng = np.random.default_rng(10)
    batch = make_batch(rng, 3000)
    baseline = fit_baseline(batch, SPEC, days=np.repeat(np.arange(10), 300))
    again = Baseline.from_bytes(baseline.to_bytes())
    assert again.reference == baseline.reference
    assert again.spreads == baseline.spreads and baseline.spreads
    assert again.days == 10
    assert again.bins.features == baseline.bins.features
    for name, bins in baseline.bins.numeric.items():
        assert np.array_equal(again.bins.numeric[name].edges, bins.edges)
    assert again.bins.categorical["c"].reference == baseline.bins.categorical["c"].reference
    assert again.bins.segments["region"].categories == baseline.bins.segments["region"].categories
    assert all(np.array_equal(again.sketches[k], v) for k, v in baseline.sketches.items())
    assert again.complete == baseline.complete
    assert profile_batch(batch, again) == baseline.reference


def test_baseline_from_chunks_equals_one_pass():
    rng = np.random.default_rng(11)
    batch = make_batch(rng, 4000)
    one = fit_baseline(batch, SPEC)
    chunks = [{k: v[i : i + 1000] for k, v in batch.items()} for i in range(0, 4000, 1000)]
    reference = merge(*(profile_batch(chunk, one.bins) for chunk in chunks))
    assert Baseline.from_profiles(one.bins, reference).reference == one.reference


def test_a_decoded_profile_is_shared_only_because_nothing_can_change_it(bins):
    """`jobs.trust.decoded_profile` hands one decoded profile to every trust question about the
    same stored window: that is safe only while profiles stay read-only."""
    from jobs.trust import decoded_profile

    data = profile_batch(make_batch(np.random.default_rng(9), 500), bins).to_bytes()
    first, again = decoded_profile(data), decoded_profile(bytes(data))
    assert first is again and first == Profile.from_bytes(data)
    vector = next(iter(first.features.values()))
    with pytest.raises(ValueError, match="read-only"):
        vector[0] += 1
    with pytest.raises(ValueError, match="read-only"):
        first.score_label[0, 0] = 7
