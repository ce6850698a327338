"""Can I trust this score? One model's assessment, from what the store holds, as plain data that
`/model trust`, the weekly check-in, the business digest, the App Home and the demo all word.
The parts (score meaning, accuracy, limitations, freshness) are in `jobs/trust_evidence.py`.

The verdict is the loudest rule that holds; each rule that holds is a reason, loudest first:

- **do_not_rely**: no completed check within twice the usual time between checks (or none yet);
  the last check read no rows; an open critical finding; realized accuracy (the labelled rows of
  the latest `LABELLED_RUNS` labelled runs, pooled) below the baseline's by the card's critical
  `performance_drop` or more, beyond the noise of both.
- **caution**: an open warn finding; the label-free estimate cannot be believed (below); realized
  accuracy below the baseline's by the warn level; the asked segment covered by a card
  limitation; a thin last window (under `THIN_SHARE` of the baseline's rows for as long a
  window); training data older than a year; a score whose band held too few past cases, or whose
  recent outcomes differ from the baseline's (95% intervals apart).
- **trust** otherwise, with the facts that support it. Never while realized labels disagree with
  the estimate: that is a caution at least.

The estimate (the baseline's calibration applied to the latest scores) is blind when the relation
between inputs and labels moves: on a slow drift it can rise while true accuracy falls 14 points.
It is not believed when realized accuracy on the same scored windows disagrees with it (beyond
the 95% band of both, and by the card's warn level of `performance_drop` or more), or when the
inputs left what the calibration was fitted on: an open input or score drift finding at warn or
above, or a share of the latest window's values outside the baseline's range (or of unseen
categories) at the card's warn level of `out_of_range` (`unseen`) or more.

What one call reads, all of one model, in six to eight indexed queries: its model row, newest
card version and baseline (one blob, ~60 KB); its open findings with their episodes; the window
and rows of its completed runs of the last `RECENT` days (not their metrics JSON; only its latest
run when none is that recent); with a label delay on the card, the matured window's accuracy
entry in the metrics of the latest `RECENT_RUNS` runs; and the window profiles of those runs
(and of their matured windows), decoding only those it uses: the latest few with labels, the
latest run's, and with a score all `RECENT_RUNS` of them. Realized and estimated accuracy are
computed from those counts: the numbers the runs keep as `accuracy@realized` and
`accuracy@estimated`, and the estimate's band besides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

import numpy as np
from sqlalchemy.orm import Session

from jobs.checks import thresholds_of
from jobs.errors import HandoffError
from jobs.phrases import number, percent
from jobs.queries import LOUDEST_FIRST, FindingView, finding_views
from jobs.registration import load
from jobs.stats import Baseline, Profile, Severity, Thresholds, realized_performance
from jobs.trust_evidence import (
    Freshness,
    LimitationNote,
    Limitations,
    Performance,
    Rate,
    ScoreMeaning,
    ago,
    calibrated,
    freshness,
    limitations,
    outcome_words,
    performance,
    real_drop,
    score_meaning,
    sentence,
    value_text,
)
from store import repo
from store.cards import Card
from store.models import StoredBaseline
from store.repo import RunDigest
from store.states import EpisodeState

__all__ = [
    "Freshness",
    "Health",
    "LimitationNote",
    "Limitations",
    "Performance",
    "Rate",
    "ScoreMeaning",
    "TrustAssessment",
    "Verdict",
    "assess_trust",
    "trust_summary",
]

RECENT = timedelta(days=28)
"""How far back runs and window profiles are read."""
RECENT_RUNS = 14
"""The recent evidence: these latest runs' profiles give the recent outcomes of a score band..."""
LABELLED_RUNS = 7
"""... and, pooled, the realized accuracy of the latest this many of them with labels."""
THIN_SHARE = 0.25
OLD_TRAINING_DAYS = 365
SHOWN_FINDINGS = 3
"""Findings named one by one among the reasons; the rest are counted."""


class Verdict(StrEnum):
    """Whether to rely on the model's scores; `label` says it in words."""

    TRUST = "trust"
    CAUTION = "caution"
    DO_NOT_RELY = "do_not_rely"

    @property
    def label(self) -> str:
        return {"trust": "Trust it", "caution": "Use with caution"}.get(self, "Do not rely on it")

    @property
    def rank(self) -> int:
        return list(Verdict).index(self)


@dataclass(frozen=True)
class Health:
    """Open findings that want attention (not in a resolved episode), loudest first (those on the
    asked segment first among equals), their count by severity, and a sentence each."""

    findings: tuple[FindingView, ...]
    counts: dict[str, int]
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class TrustAssessment:
    """The answer to "can I trust this score?" for one model as of `assessed_at`: the verdict, a
    one-sentence `headline`, the `reasons` (plain sentences, most important first) and each part
    with its data and sentences. `builders` are as the card writes them (Slack IDs or e-mails)."""

    model_id: str
    name: str
    intent: str
    assessed_at: datetime
    score: float | None
    segment: tuple[tuple[str, str], ...]
    verdict: Verdict
    headline: str
    reasons: tuple[str, ...]
    health: Health
    performance: Performance
    limitations: Limitations
    freshness: Freshness
    score_meaning: ScoreMeaning | None
    builders: tuple[str, ...]
    channel: str


def trust_summary(assessment: TrustAssessment) -> str:
    """Plain text for the CLI and the demo: the verdict line, the headline, the reasons, who to
    ask."""
    a = assessment
    lines = [f"{a.name} ({a.model_id}): {a.verdict.label}", a.headline]
    lines += [f"- {reason}" for reason in a.reasons]
    lines.append(f"Ask {', '.join(a.builders)} in {a.channel}.")
    return "\n".join(lines)


def assess_trust(
    session: Session,
    *,
    model_id: str,
    now: datetime,
    score: float | None = None,
    segment: Mapping[str, str | float] | None = None,
) -> TrustAssessment:
    """Assess `model_id` as of `now` (the rules, and what is read: the module docstring).

    `score` (a probability) adds what such a score has meant; `segment` ({column: value}, such as
    {"region": "APAC"} or {"history_months": 8}) the card's limitations for those rows, and the
    score's meaning within a segment the profiles count. NotFound for an unknown model;
    HandoffError for a score outside [0, 1] or a non-number against a numeric limitation.
    """
    if score is not None and not (math.isfinite(score) and 0.0 <= score <= 1.0):
        raise HandoffError(f"{score} is not a score: give a probability between 0 and 1")
    asked = tuple((str(column), value_text(v)) for column, v in (segment or {}).items())
    loaded = load(session, model_id)
    card = loaded.card
    thresholds = thresholds_of(card)
    on_segment = {f"{c}={v}" for c, v in asked}
    findings = tuple(
        sorted(
            (f for f in finding_views(session=session, model_id=model_id) if _wants(f)),
            key=lambda f: (-Severity(f.severity).rank, f.segment not in on_segment),
        )
    )
    runs = repo.run_digests(session=session, model_id=model_id, since=now - RECENT, until=now)
    latest = (
        runs[-1] if runs else repo.latest_run_digest(session=session, model_id=model_id, until=now)
    )
    evidence = _Evidence(session, model_id, card, loaded.baseline)
    evidence.read(runs, latest, now, thresholds)
    last = evidence.profile(latest.window_end) if latest is not None else None
    drifted = sorted(
        {
            f.feature or card.data.score
            for f in findings
            if f.kind in ("input_drift", "score_drift") and _rank(f) >= Severity.WARN.rank
        }
    )
    perf = performance(
        evidence.baseline,
        labelled=evidence.labelled,
        compared=evidence.compared,
        latest=last,
        drifted=drifted,
        thresholds=thresholds,
    )
    fresh = freshness(card, runs, latest, now)
    limits = limitations(card, asked)
    meaning = evidence.meaning(score, asked, last) if score is not None else None
    stop, care = _concerns(
        findings=findings,
        fresh=fresh,
        perf=perf,
        limits=limits,
        meaning=meaning,
        latest=latest,
        evidence=evidence,
        thresholds=thresholds,
    )
    verdict = Verdict.DO_NOT_RELY if stop else Verdict.CAUTION if care else Verdict.TRUST
    reasons = stop + care if stop or care else _support(findings, perf, fresh, limits)
    return TrustAssessment(
        model_id=model_id,
        name=card.name,
        intent=card.intent.problem,
        assessed_at=now,
        score=score,
        segment=asked,
        verdict=verdict,
        headline=_headline(card.name, verdict, reasons),
        reasons=tuple(sentence(r) for r in reasons),
        health=Health(findings, _counts(findings), tuple(_said(f) for f in findings)),
        performance=perf,
        limitations=limits,
        freshness=fresh,
        score_meaning=meaning,
        builders=tuple(card.builders),
        channel=card.channel,
    )


def _wants(finding: FindingView) -> bool:
    """Open (the views are of open findings) and not in a resolved, accepted, episode."""
    return finding.state != EpisodeState.RESOLVED


def _rank(finding: FindingView) -> int:
    return Severity(finding.severity).rank


def _counts(findings: tuple[FindingView, ...]) -> dict[str, int]:
    counts = {str(s): sum(f.severity == s for f in findings) for s in LOUDEST_FIRST}
    return {s: n for s, n in counts.items() if n}


def _said(f: FindingView) -> str:
    where = f" ({f.state}, {f.episode.label})" if f.episode is not None else ""
    return sentence(f"{f.severity}: {f.summary}, since {f.opened_at:%Y-%m-%d}{where}")


DECODED_PROFILES = 512
"""Window profiles kept decoded between trust questions (a few MB): decoding a stored profile is
most of an answer's CPU (about 2 ms of ~20), and people ask about the same models' same recent
windows again and again. Keyed by the stored bytes, so a rewritten profile is decoded afresh;
safe to share because profiles are immutable (their arrays are read-only)."""


@lru_cache(maxsize=DECODED_PROFILES)
def decoded_profile(data: bytes) -> Profile:
    """`Profile.from_bytes`, remembered (see `DECODED_PROFILES`)."""
    return Profile.from_bytes(data)


class _Evidence:
    """The model's recent window profiles (their bytes read once, each decoded only when used)
    and the runs whose labels have arrived."""

    def __init__(
        self, session: Session, model_id: str, card: Card, stored: StoredBaseline | None
    ) -> None:
        self.session, self.model_id, self.card = session, model_id, card
        self.baseline = Baseline.from_bytes(stored.data) if stored is not None else None
        self.baseline_id = stored.id if stored is not None else None
        self.labelled: list[tuple[datetime, float, int]] = []  # scored window end, accuracy, n
        self.compared: tuple[Rate, np.ndarray] | None = None  # realized, and the scores of its rows
        self.recent: list[RunDigest] = []
        self._bytes: dict[datetime, bytes] = {}
        self._profiles: dict[datetime, Profile] = {}

    def read(
        self, runs: list[RunDigest], latest: RunDigest | None, now: datetime, limits: Thresholds
    ) -> None:
        """The profiles of the latest `RECENT_RUNS` runs (and of their matured windows, one label
        delay earlier), and their realized accuracy: from a run's own window when it has
        `min_labels` labels, else from its matured window, as the check's `accuracy@realized`."""
        mine = [r for r in runs if r.baseline_id == self.baseline_id][-RECENT_RUNS:]
        self.recent = mine or ([latest] if latest is not None else [])
        if self.baseline is None or self.baseline_id is None or not self.recent:
            return
        delay = self.card.data.label_delay or timedelta(0)
        rows = repo.window_profile_rows(
            session=self.session,
            model_id=self.model_id,
            baseline_id=self.baseline_id,
            since=self.recent[0].window_end - delay,
            until=now,
        )
        self._bytes = dict(rows)
        if self.card.data.label is None or not calibrated(self.baseline) or not mine:
            return
        late = {}
        if delay:
            late = repo.matured_accuracy(
                session=self.session, model_id=self.model_id, since=mine[0].window_end, until=now
            )
        table, bins = self.baseline.reference.score_label, self.baseline.bins
        base = realized_performance(table, bins.threshold_bin)["accuracy"] or 0.0
        found: list[tuple[datetime, float, int, Profile | None]] = []
        for run in reversed(mine):
            own = self.profile(run.window_end)
            labels = int(own.score_label[:-1, :2].sum()) if own is not None else 0
            matured = late.get(run.window_end, {})
            if own is not None and labels >= limits.min_labels:
                accuracy = realized_performance(own.score_label, bins.threshold_bin)["accuracy"]
                found.append((run.window_end, accuracy or 0.0, labels, own))
            elif matured.get("method") == "realized":
                scored = run.window_end - delay
                entry = (scored, base - float(matured["value"]), int(matured["n"][0]))
                found.append((*entry, self.profile(scored)))
            if len(found) == LABELLED_RUNS:
                break
        found.reverse()
        self.labelled = [(end, accuracy, n) for end, accuracy, n, _ in found]
        stored = [(accuracy, n, p) for _, accuracy, n, p in found if p is not None]
        scores = _summed([p.score_label for _, _, p in stored])
        if scores is not None:
            realized = Rate(sum(a * n for a, n, _ in stored), sum(n for _, n, _ in stored))
            self.compared = (realized, scores)

    def profile(self, end: datetime) -> Profile | None:
        if end not in self._profiles and end in self._bytes:
            self._profiles[end] = decoded_profile(self._bytes[end])
        return self._profiles.get(end)

    def meaning(
        self, score: float, asked: tuple[tuple[str, str], ...], last: Profile | None
    ) -> ScoreMeaning | None:
        """The score's meaning within the first asked segment the profiles count, else overall;
        its recent outcomes are those of the latest `RECENT_RUNS` runs' windows."""
        if self.baseline is None:
            return None
        reference = self.baseline.reference
        recent = [p for r in self.recent if (p := self.profile(r.window_end)) is not None]
        part = next(((c, v) for c, v in asked if v in reference.segments.get(c, {})), None)
        if part is not None:
            column, value = part
            reference = reference.segments[column][value]
            recent = [p.segments[column][value] for p in recent]
            last = last.segments[column][value] if last is not None else None
        return score_meaning(
            self.baseline.bins,
            score,
            reference=reference,
            recent=_summed([p.score_label for p in recent]),
            latest=last,
            recent_since=self.recent[0].window_start if self.recent else None,
            outcome=outcome_words(self.card.data.label),
            part=f"{part[0]}={part[1]}" if part else None,
        )

    def expected_rows(self, hours: float) -> float | None:
        """The baseline's rows for a window of `hours` (None without daily baseline profiles)."""
        if self.baseline is None or self.baseline.days <= 0:
            return None
        return self.baseline.reference.rows / self.baseline.days * hours / 24


def _summed(tables: list[np.ndarray]) -> np.ndarray | None:
    """The sum of score-band x label tables (a merge of their profiles' scores), None if none."""
    return np.sum(tables, axis=0) if tables else None


def _findings(findings: tuple[FindingView, ...], severity: Severity) -> list[str]:
    found = [f.summary for f in findings if f.severity == severity and f.kind != "no_data"]
    more = len(found) - SHOWN_FINDINGS
    return found[:SHOWN_FINDINGS] + ([f"and {more} more {severity} findings"] if more > 0 else [])


def _concerns(
    *,
    findings: tuple[FindingView, ...],
    fresh: Freshness,
    perf: Performance,
    limits: Limitations,
    meaning: ScoreMeaning | None,
    latest: RunDigest | None,
    evidence: _Evidence,
    thresholds: Thresholds,
) -> tuple[list[str], list[str]]:
    """The rules that hold (module docstring), as sentences: do_not_rely's, caution's."""
    stop: list[str] = []
    care: list[str] = []
    if latest is None:
        stop.append("handoff has not completed a check of it yet, so nothing vouches for it")
    elif fresh.stale and fresh.hours_since is not None:
        stop.append(
            f"no check has completed for {_span(fresh.hours_since)}, more than twice the "
            "usual time between checks: its data may have stopped arriving"
        )
    if latest is not None and latest.rows_read == 0:
        stop.append(
            f"the last check found no rows scored between {latest.window_start:%Y-%m-%d %H:%M} "
            f"and {latest.window_end:%Y-%m-%d %H:%M} UTC"
        )
    stop += _findings(findings, Severity.CRITICAL)
    if perf.doubts:
        care.append(f"its label-free accuracy estimate cannot be believed: {perf.doubts[0]}")
    drop = _drop(findings, perf, thresholds)
    if drop is not None:
        (stop if drop[0] == Severity.CRITICAL else care).append(drop[1])
    care += _findings(findings, Severity.WARN)
    named = ", ".join(f"{c}={v}" for c, v in limits.segment)
    care += [f"for {named} the card warns: {n.text}" for n in limits.covering]
    if meaning is not None and meaning.baseline is not None:
        cases = f"past {meaning.part} cases" if meaning.part else "past cases"
        if not meaning.baseline.enough:
            care.append(
                f"only {meaning.baseline.cases:,.0f} {cases} were scored like "
                f"{number(meaning.score)}: too few cases to say what such a score means"
            )
        if meaning.differs and meaning.recent is not None:
            care.append(
                f"lately, scores like {number(meaning.score)} turned out differently: "
                f"{percent(meaning.recent.rate or 0.0)} {meaning.outcome} in the latest checks, "
                f"against {percent(meaning.baseline.rate or 0.0)} at baseline"
            )
    if latest is not None and latest.rows_read > 0:
        hours = (latest.window_end - latest.window_start).total_seconds() / 3600
        expected = evidence.expected_rows(hours)
        kept = latest.rows_read - latest.rows_rejected
        if expected is not None and kept < THIN_SHARE * expected:
            care.append(
                f"the last check had only {kept:,} usable rows, against about {expected:,.0f} "
                "for as long a window at baseline"
            )
    aged = any(f.kind == "stale_training_data" and _rank(f) >= Severity.WARN.rank for f in findings)
    if (fresh.training_age_days or 0) > OLD_TRAINING_DAYS and not aged:
        care.append(
            f"it was trained on data up to {fresh.trained_to}, more than a year ago "
            f"({fresh.training_age_days:,} days)"
        )
    return stop, care


def _drop(
    findings: tuple[FindingView, ...], perf: Performance, thresholds: Thresholds
) -> tuple[Severity, str] | None:
    """Realized accuracy below the baseline's by the critical or warn level, unless an open
    performance finding already says so as loudly."""
    realized, base, levels = perf.realized, perf.baseline, thresholds.performance_drop
    if realized is None or base is None or not realized.enough or perf.drop is None:
        return None
    if real_drop(realized, base, levels.critical):
        severity, level = Severity.CRITICAL, levels.critical
    elif real_drop(realized, base, levels.warn):
        severity, level = Severity.WARN, levels.warn
    else:
        return None
    if any(f.kind == "performance_drop" and _rank(f) >= severity.rank for f in findings):
        return None
    return severity, (
        f"accuracy on the {realized.cases:,.0f} rows whose labels arrived was "
        f"{number(realized.rate or 0.0)}, against {number(base.rate or 0.0)} at baseline: a drop "
        f"of {number(perf.drop)}, past the {severity} level of {number(level)}"
    )


def _support(
    findings: tuple[FindingView, ...], perf: Performance, fresh: Freshness, limits: Limitations
) -> list[str]:
    """Why `trust`: what was checked and found sound."""
    notes = f" (only {len(findings)} notes, none pushed)" if findings else ""
    out = [f"no problem wants attention{notes}"]
    realized, base = perf.realized, perf.baseline
    if realized is not None and realized.rate is not None and base is not None:
        out.append(
            f"accuracy on the {realized.cases:,.0f} rows whose labels arrived was "
            f"{number(realized.rate)}, against {number(base.rate or 0.0)} at baseline, and the "
            "label-free estimate agrees"
        )
    elif perf.estimated is not None and base is not None:
        out.append(
            f"accuracy is estimated at {number(perf.estimated)} from the latest scores, against "
            f"{number(base.rate or 0.0)} at baseline (no labels yet to confirm it)"
        )
    if fresh.hours_since is not None:
        out.append(
            f"its last check read {fresh.rows_read or 0:,} rows, in a window that ended "
            f"{ago(fresh.hours_since)}"
        )
    if limits.segment and not limits.covering:
        named = ", ".join(f"{c}={v}" for c, v in limits.segment)
        out.append(f"no limitation of the card covers {named}")
    return out


def _span(hours: float) -> str:
    """A time since, as people say it: "30 hours", "3.5 days", "300 days"."""
    if hours < 48:
        return f"{hours:.0f} hours"
    days = hours / 24
    return f"{days:.1f} days" if days < 10 else f"{days:.0f} days"


def _headline(name: str, verdict: Verdict, reasons: list[str]) -> str:
    """One sentence a business reader understands: the verdict and its first reason."""
    lead = {
        Verdict.TRUST: f"You can rely on {name} for now",
        Verdict.CAUTION: f"Use {name} with caution",
        Verdict.DO_NOT_RELY: f"Do not rely on {name} for now",
    }[verdict]
    return sentence(f"{lead}: {reasons[0]}")
