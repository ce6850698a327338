"""The evidence of a trust assessment, part by part, as plain data with its sentences: what a score
has meant (`ScoreMeaning`), accuracy realized and estimated and whether the estimate can be
believed (`Performance`), the card's limitations for a segment (`Limitations`), and how fresh the
data is (`Freshness`). `jobs/trust.py` reads the store and judges; this module only computes and
words: profiles, baselines and card in, frozen dataclasses out, no session.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from jobs.errors import HandoffError
from jobs.phrases import number, percent
from jobs.stats import (
    LABEL_POSITIVE,
    Baseline,
    Bins,
    Estimate,
    Profile,
    Thresholds,
    estimate_performance,
    realized_performance,
)
from store.card_schema import Segment
from store.cards import Card
from store.repo import RunDigest

Z95 = 1.959963984540054
"""The normal quantile of a two-sided 95% interval."""
MIN_CASES = 30
"""Below this many cases a rate is "too few cases to say" (the engine's `min_labels`)."""
STALE_FACTOR = 2
"""No completed check for this many times the usual time between checks: the data is stale."""


def sentence(text: str) -> str:
    """A clause as a sentence: capitalised, with a full stop."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def ago(hours: float) -> str:
    if hours < 1:
        return "less than an hour ago"
    return f"{hours:.0f} hours ago" if hours < 48 else f"{hours / 24:.0f} days ago"


@dataclass(frozen=True)
class Rate:
    """`positives` among `cases` with its 95% Wilson score interval `[low, high]`: it stays inside
    [0, 1] and near 95% coverage for small counts and rates near 0 or 1, where p ± 1.96 sd fails.
    Without cases the rate and interval are None; below `MIN_CASES` it is not `enough` to say."""

    positives: float
    cases: float

    @property
    def rate(self) -> float | None:
        return self.positives / self.cases if self.cases > 0 else None

    @property
    def enough(self) -> bool:
        return self.cases >= MIN_CASES

    @property
    def sd(self) -> float:
        """Binomial standard deviation of the rate (0 without cases)."""
        p = self.rate
        return math.sqrt(p * (1 - p) / self.cases) if p is not None else 0.0

    @property
    def low(self) -> float | None:
        return self._wilson()[0]

    @property
    def high(self) -> float | None:
        return self._wilson()[1]

    def _wilson(self) -> tuple[float | None, float | None]:
        n, p = self.cases, self.rate
        if p is None:
            return None, None
        z2 = Z95 * Z95
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        return max(0.0, centre - half), min(1.0, centre + half)

    def overlaps(self, other: Rate) -> bool:
        """Whether the two 95% intervals overlap (True when either is undefined)."""
        if None in (self.low, self.high, other.low, other.high):
            return True
        return (self.low or 0.0) <= (other.high or 0.0) and (other.low or 0.0) <= (self.high or 0.0)

    def interval(self) -> str:
        """ "30 to 32%"."""
        return f"{percent(self.low or 0.0).removesuffix('%')} to {percent(self.high or 0.0)}"


# --- what a score has meant


def band_index(bins: Bins, score: float) -> int:
    """The score bin holding `score`: the number of score edges <= score (NumericBins' rule)."""
    return int(np.searchsorted(bins.score.edges, score, side="right"))


def band_bounds(bins: Bins, index: int) -> tuple[float, float]:
    """[low, high) of a score bin; the open outer bins end at 0 and 1 (a score is a probability)."""
    edges = bins.score.edges
    low = 0.0 if index == 0 else float(edges[index - 1])
    return low, max(low, 1.0 if index >= len(edges) else float(edges[index]))


def share_below(bins: Bins, counts: np.ndarray, score: float) -> float | None:
    """Share of scored rows below `score` from counts over the score bins (the missing bin left
    out): the bins wholly below, plus the score's own bin in proportion to where the score lies in
    it (rows taken as spread evenly inside a bin). None when there are no rows."""
    values = np.asarray(counts, dtype=np.float64)[: bins.score.missing_index]
    total = float(values.sum())
    if total <= 0:
        return None
    index = band_index(bins, score)
    low, high = band_bounds(bins, index)
    inside = min(max((score - low) / (high - low), 0.0), 1.0) if high > low else 0.5
    return (float(values[:index].sum()) + float(values[index]) * inside) / total


@dataclass(frozen=True)
class ScoreMeaning:
    """What `score` has meant: of the cases in its band (`band_low` to `band_high`, the baseline's
    score bin holding it), the share with label 1 (`outcome`, in words) at baseline and in the
    latest checks' windows, scored since `recent_since` (`recent` None: no labels); whether they
    differ (95% intervals apart, both with enough cases); and the share of the latest window's
    and of the baseline's scores below it. `part` names the segment the numbers are of
    ("region=APAC"), None for all rows."""

    score: float
    band_low: float
    band_high: float
    outcome: str
    part: str | None
    baseline: Rate | None
    recent: Rate | None
    recent_since: datetime | None
    differs: bool
    above_latest: float | None
    above_baseline: float | None
    sentences: tuple[str, ...]


def _band_rate(table: np.ndarray, index: int) -> Rate:
    row = np.asarray(table)[index]
    return Rate(float(row[LABEL_POSITIVE]), float(row[: LABEL_POSITIVE + 1].sum()))


def _band(low: float, high: float) -> str:
    digits = 2
    while digits < 5 and f"{low:.{digits}f}" == f"{high:.{digits}f}":
        digits += 1
    return f"{low:.{digits}f} to {high:.{digits}f}"


def score_meaning(
    bins: Bins,
    score: float,
    *,
    reference: Profile,
    recent: np.ndarray | None,
    latest: Profile | None,
    recent_since: datetime | None,
    outcome: str,
    part: str | None = None,
) -> ScoreMeaning:
    """The meaning of `score` from the baseline's score-band x label table (`reference`), the
    summed table of the recent windows (`recent`), and the `latest` window's scores; all of the
    same part (the whole, or one segment)."""
    index = band_index(bins, score)
    low, high = band_bounds(bins, index)
    base = _band_rate(reference.score_label, index) if reference.labelled else None
    now = _band_rate(recent, index) if recent is not None and recent[:, :2].sum() else None
    differs = bool(base and now and base.enough and now.enough and not base.overlaps(now))
    above_latest = share_below(bins, latest.score, score) if latest and latest.rows else None
    above_baseline = share_below(bins, reference.score, score)
    cases, band = f"{part} cases" if part else "cases", _band(low, high)
    lately = f"since {recent_since:%Y-%m-%d}" if recent_since is not None else "lately"
    if base is None:
        said = [f"the baseline has no labels to say how often such scores {outcome}"]
    elif base.cases == 0:
        said = [
            f"no case at baseline was scored {band}: too few cases to say what such a score means"
        ]
    elif not base.enough:
        said = [
            f"only {base.cases:,.0f} of the baseline's {cases} were scored {band}: too few "
            f"cases to say how often such a score {outcome} (95% interval {base.interval()})"
        ]
    else:
        said = [
            f"of the baseline's {cases} scored {band}, {percent(base.rate or 0.0)} {outcome} "
            f"(n = {base.cases:,.0f}; 95% interval {base.interval()})"
        ]
    if now is None or now.rate is None:
        said.append(f"no labels of such {cases} have arrived in the latest checks")
    elif not now.enough:
        said.append(
            f"{lately} only {now.cases:,.0f} labelled {cases} were scored {band}: "
            "too few cases to compare"
        )
    elif differs and base is not None and base.rate is not None:
        said.append(
            f"lately such a score means something else: {lately} "
            f"{percent(now.rate)} of these {cases} {outcome} (n = {now.cases:,.0f}; 95% interval "
            f"{now.interval()}), against {percent(base.rate)} at baseline"
        )
    else:
        said.append(
            f"recent cases agree: {percent(now.rate)} {lately} "
            f"(n = {now.cases:,.0f}; 95% interval {now.interval()})"
        )
    if above_latest is not None and above_baseline is not None:
        said.append(
            f"a score of {number(score)} is higher than {percent(above_latest)} of the latest "
            f"check's scores ({percent(above_baseline)} at baseline)"
        )
    elif above_baseline is not None:
        said.append(
            f"a score of {number(score)} is higher than {percent(above_baseline)} of the "
            "baseline's scores"
        )
    return ScoreMeaning(
        score,
        low,
        high,
        outcome,
        part,
        base,
        now,
        recent_since,
        differs,
        above_latest,
        above_baseline,
        tuple(sentence(s) for s in said),
    )


_WITHIN = re.compile(r"(\d+)([dwmy])")
_UNITS = {"d": "day", "w": "week", "m": "month", "y": "year"}


def outcome_words(label: str | None) -> str:
    """What label 1 means, in words: `defaulted` -> "defaulted", `churned_90d` -> "churned within
    90 days"; a column that is not a past-tense verb -> "had is_fraud = 1"."""
    if not label:
        return "had label 1"
    words = [w.lower() for w in re.split(r"[_\s]+", label.strip()) if w]
    within = ""
    if len(words) > 1 and (match := _WITHIN.fullmatch(words[-1])):
        count, unit = match.groups()
        within = f" within {count} {_UNITS[unit]}{'' if count == '1' else 's'}"
        words = words[:-1]
    return " ".join(words) + within if words[0].endswith("ed") else f"had {label} = 1"


# --- accuracy: realized, estimated, and whether the estimate can be believed


@dataclass(frozen=True)
class Performance:
    """Accuracy of the baseline; `realized` on the labelled rows of the latest `labelled_runs`
    runs (scored `realized_since` to `realized_until`); `estimate_for_realized`, the estimate for
    those rows (of the windows whose profile is stored); the label-free estimate of the latest
    window with its 95% band; whether it can be believed and why not (`doubts`); sentences. The
    numbers are those the runs store as `accuracy@realized`, `accuracy@estimated` and
    `accuracy@baseline`, computed again from the same counts (which also give the band)."""

    baseline: Rate | None
    realized: Rate | None
    labelled_runs: int
    realized_since: datetime | None
    realized_until: datetime | None
    estimate_for_realized: float | None
    estimated: float | None
    estimated_low: float | None
    estimated_high: float | None
    estimate_believable: bool
    doubts: tuple[str, ...]
    sentences: tuple[str, ...]

    @property
    def drop(self) -> float | None:
        """Baseline accuracy minus realized (positive: worse), when both are known."""
        if self.baseline is None or self.realized is None:
            return None
        if self.baseline.rate is None or self.realized.rate is None:
            return None
        return self.baseline.rate - self.realized.rate


def calibrated(baseline: Baseline | None) -> bool:
    """Whether the baseline has labelled rows of both classes (a calibration, an accuracy)."""
    if baseline is None:
        return False
    return bool(baseline.reference.score_label[:-1, :2].sum(axis=0).min() > 0)


def disagrees(realized: Rate, estimate: Estimate, floor: float) -> bool:
    """Realized accuracy and the estimate for the same rows disagree: the gap is beyond the 95%
    band of both uncertainties (real) and at least `floor` (relevant: with a million rows every
    gap is outside the band)."""
    if realized.rate is None:
        return False
    gap = abs(realized.rate - estimate.value)
    return gap > Z95 * math.hypot(realized.sd, estimate.sd) and gap >= floor


def real_drop(realized: Rate, baseline: Rate, floor: float) -> bool:
    """Realized accuracy fell below the baseline's by `floor` or more, beyond both noises."""
    if realized.rate is None or baseline.rate is None:
        return False
    drop = baseline.rate - realized.rate
    return drop >= floor and drop > Z95 * math.hypot(realized.sd, baseline.sd)


def outside_shares(bins: Bins, profile: Profile) -> dict[str, float]:
    """Per numeric feature and the score, the share of a window's present values outside the
    range seen at baseline (the two open outer bins, empty at baseline); per categorical feature,
    the share of categories never seen at baseline. Columns without values are left out."""
    out: dict[str, float] = {}
    for name, numbers in {**bins.numeric, bins.score_column: bins.score}.items():
        counts = profile.score if name == bins.score_column else profile.features[name]
        present = float(counts[: numbers.missing_index].sum())
        if numbers.has_range and present > 0:
            out[name] = float(counts[0] + counts[len(numbers.edges)]) / present
    for name, categories in bins.categorical.items():
        counts = profile.features[name]
        present = float(counts[: categories.missing_index].sum())
        if present > 0:
            out[name] = float(counts[categories.unseen_index]) / present
    return out


def performance(
    baseline: Baseline | None,
    *,
    labelled: Sequence[tuple[datetime, float, int]],
    compared: tuple[Rate, np.ndarray] | None,
    latest: Profile | None,
    drifted: Sequence[str],
    thresholds: Thresholds,
) -> Performance:
    """Accuracy from the `labelled` runs ((scored window end, realized accuracy, labelled rows));
    `compared`: the realized accuracy of those whose scored window's profile is stored, with the
    summed score-band x label table of those windows (the estimate for the same rows); the
    `latest` window profile; and the features with open drift findings at warn or above."""
    if baseline is None or not calibrated(baseline):
        no = ("The baseline has no labels of both kinds, so handoff cannot measure accuracy.",)
        return Performance(None, None, 0, None, None, None, None, None, None, False, (), no)
    table, bins = baseline.reference.score_label, baseline.bins
    n_base = float(table[:-1, :2].sum())
    base = Rate(
        (realized_performance(table, bins.threshold_bin)["accuracy"] or 0.0) * n_base, n_base
    )
    realized = Rate(sum(a * n for _, a, n in labelled), sum(n for _, _, n in labelled))
    same = None
    if compared is not None:
        same = estimate_performance(table, compared[1], bins.threshold_bin)["accuracy"]
    estimate = None
    if latest is not None and latest.rows:
        estimate = estimate_performance(table, latest.score_label, bins.threshold_bin)["accuracy"]
    doubts: list[str] = []
    if compared and same and disagrees(compared[0], same, thresholds.performance_drop.warn):
        doubts.append(
            f"the labels that have arrived disagree with it (accuracy "
            f"{number(compared[0].rate or 0.0)} on {compared[0].cases:,.0f} labelled rows of "
            f"the latest checks, where the estimate for the same rows said {number(same.value)})"
        )
    if drifted:
        doubts.append(
            "the inputs have moved away from those its calibration was fitted on "
            f"({', '.join(drifted)} drifted)"
        )
    for column, share in outside_shares(bins, latest).items() if latest and latest.rows else ():
        categorical = column in bins.categorical
        if share >= (thresholds.unseen if categorical else thresholds.out_of_range).warn:
            what = "scores" if column == bins.score_column else f"{column} values"
            where = "are categories never seen" if categorical else "lie outside the range seen"
            doubts.append(f"{percent(share)} of the latest {what} {where} at baseline")
    base_text = number(base.rate or 0.0)
    since = labelled[0][0] if labelled else None
    until = labelled[-1][0] if labelled else None
    if realized.rate is not None and since is not None and until is not None:
        said = [
            f"accuracy was {number(realized.rate)} (95% interval {number(realized.low or 0.0)} "
            f"to {number(realized.high or 0.0)}) on the {realized.cases:,.0f} labelled rows of "
            f"the latest {len(labelled)} checks (scored {since:%Y-%m-%d} to {until:%Y-%m-%d}), "
            f"against {base_text} at baseline"
        ]
    else:
        said = [
            "no labels have arrived for the latest checks, so accuracy is known only "
            f"as an estimate (it was {base_text} at baseline)"
        ]
    if estimate is not None and not doubts:
        said.append(
            f"estimated from the latest scores alone, accuracy is {number(estimate.value)} "
            f"(95% band {number(estimate.low)} to {number(estimate.high)})"
        )
    elif estimate is not None:
        said.append(
            f"the label-free estimate ({number(estimate.value)}) cannot be believed, so do not "
            f"lean on it: {'; '.join(doubts)}"
        )
    return Performance(
        base,
        realized if labelled else None,
        len(labelled),
        since,
        until,
        same.value if same else None,
        estimate.value if estimate else None,
        estimate.low if estimate else None,
        estimate.high if estimate else None,
        estimate is not None and not doubts,
        tuple(doubts),
        tuple(sentence(s) for s in said),
    )


# --- the card's limitations for a segment


@dataclass(frozen=True)
class LimitationNote:
    """One limitation of the card: its text and, for a segment's, the `column` and the `rule` in
    words ("below 12", "in APAC")."""

    text: str
    column: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class Limitations:
    """The card's limitations against the asked `segment`: `general` ones (no segment: they always
    apply), `covering` (their rows hold the asked ones) and `other` (segment limitations that do
    not cover it; all of them when no segment was asked)."""

    segment: tuple[tuple[str, str], ...]
    general: tuple[LimitationNote, ...]
    covering: tuple[LimitationNote, ...]
    other: tuple[LimitationNote, ...]
    sentences: tuple[str, ...]


def _rule(segment: Segment) -> str:
    if segment.in_ is not None:
        return "in " + ", ".join(str(v) for v in segment.in_)
    if segment.below is not None and segment.above is not None:
        return f"between {number(segment.above)} and {number(segment.below)}"
    if segment.below is not None:
        return f"below {number(segment.below)}"
    return f"above {number(segment.above or 0.0)}"


def value_text(value: str | float) -> str:
    """A segment value as text (8.0 -> "8", as a card's `in: [8]` reads)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def covers(segment: Segment, column: str, value: str) -> bool:
    """Whether `column = value` is among the limitation's rows, by the rule of
    `jobs.observations.covering_limitation` (numbers strictly below/above; values by text).
    HandoffError for a value that is not a number against below/above."""
    if segment.column != column:
        return False
    if segment.in_ is not None:
        return value in {str(v) for v in segment.in_} | {value_text(v) for v in segment.in_}
    try:
        x = float(value)
    except ValueError:
        raise HandoffError(
            f"{column} is compared with numbers ({_rule(segment)}): give a number, not {value!r}"
        ) from None
    return (segment.below is None or x < segment.below) and (
        segment.above is None or x > segment.above
    )


def limitations(card: Card, asked: tuple[tuple[str, str], ...]) -> Limitations:
    """The card's limitations sorted against the asked segment (`(column, value)` pairs)."""
    general: list[LimitationNote] = []
    covering: list[LimitationNote] = []
    other: list[LimitationNote] = []
    for x in card.limitations:
        if x.segment is None:
            general.append(LimitationNote(x.text))
            continue
        note = LimitationNote(x.text, x.segment.column, _rule(x.segment))
        hit = any(covers(x.segment, column, value) for column, value in asked)
        (covering if hit else other).append(note)
    named = ", ".join(f"{c}={v}" for c, v in asked)
    said = [f"for {named} the card warns: {n.text}" for n in covering]
    if asked and not covering:
        said.append(f"no limitation of the card covers {named}")
    said += [f"known limitation: {n.text}" for n in general]
    listed = "; ".join(f"{n.column} {n.rule} ({n.text.rstrip('.')})" for n in other)
    if other:
        said.append(f"{'other segments' if asked else 'segments'} with limitations: {listed}")
    return Limitations(
        asked, tuple(general), tuple(covering), tuple(other), tuple(sentence(s) for s in said)
    )


# --- how fresh the data is


@dataclass(frozen=True)
class Freshness:
    """The last completed check (window, rows), how long ago its window ended, the usual time
    between checks, whether the data is `stale`, and the age of the training data."""

    last_window_start: datetime | None
    last_window_end: datetime | None
    rows_read: int | None
    rows_rejected: int | None
    hours_since: float | None
    check_every_hours: float
    stale: bool
    trained_to: date | None
    training_age_days: int | None
    sentences: tuple[str, ...]


def freshness(
    card: Card, runs: Sequence[RunDigest], latest: RunDigest | None, now: datetime
) -> Freshness:
    """Each check covers the time since the previous one, so the longest window of the latest
    seven runs is the usual time between checks (a weekday schedule's weekend included); stale
    when no completed window ended within `STALE_FACTOR` times that (or none ever did)."""
    lengths = [(r.window_end - r.window_start).total_seconds() / 3600 for r in runs[-7:]]
    every = max([1.0, *lengths]) if lengths else 24.0
    trained_to = card.context.trained_on.to if card.context.trained_on else None
    age = (now.date() - trained_to).days if trained_to is not None else None
    hours = (now - latest.window_end).total_seconds() / 3600 if latest is not None else None
    stale = hours is None or hours > STALE_FACTOR * every
    if latest is None or hours is None:
        said = ["handoff has not completed a check of this model yet"]
    else:
        start, end = f"{latest.window_start:%Y-%m-%d %H:%M}", f"{latest.window_end:%Y-%m-%d %H:%M}"
        said = [
            f"the last check read {latest.rows_read:,} rows scored {start} to {end} UTC, "
            f"a window that ended {ago(hours)}"
        ]
        if stale:
            usual = f"{every:.0f} hours" if every < 48 else f"{every / 24:.0f} days"
            said.append(f"that is more than twice the usual {usual} between checks")
    if trained_to is not None:
        said.append(f"it was trained on data up to {trained_to}, {age:,} days ago")
    return Freshness(
        latest.window_start if latest else None,
        latest.window_end if latest else None,
        latest.rows_read if latest else None,
        latest.rows_rejected if latest else None,
        hours,
        every,
        stale,
        trained_to,
        age,
        tuple(sentence(s) for s in said),
    )
