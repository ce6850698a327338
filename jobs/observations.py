"""Observations: the conditions a check run saw, and the pure rules that make them.

A Report (and the read report, the card) in, `Observation`s out. One observation per condition (a
feature's drift, the score's drift, performance, a segment), carrying the worst metric that passed
both gates; `jobs.findings` matches them to stored findings. Trends come from `jobs.series`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from jobs.sources.base import ReadReport
from jobs.stats import PERFORMANCE, MetricResult, Report, Severity, Status
from store.card_schema import Limitation
from store.cards import Card

KEYED_BY_METRIC = frozenset({"slow_trend", "data_quality", "stale_training_data"})


@dataclass(frozen=True)
class Observation:
    """One condition a check run saw, before it is matched to a stored finding.

    `severity` is info, warn or critical (an observation of nothing is not made).
    """

    kind: str
    severity: Severity
    summary: str
    metric: str | None = None
    feature: str | None = None
    segment: str | None = None
    value: float | None = None
    threshold: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        severity = Severity(self.severity)
        if severity == Severity.NONE:
            raise ValueError("an observation needs a severity of info, warn or critical")
        object.__setattr__(self, "severity", severity)

    @property
    def key(self) -> str:
        """The condition's identity: a drift whose worst metric changes is still the same drift."""
        metric = self.metric if self.kind in KEYED_BY_METRIC else None
        feature = None if self.kind == "segment_degradation" else self.feature
        return "|".join((self.kind, metric or "", feature or "", self.segment or ""))


DATA_QUALITY_METRICS = ("missing_rate_change",)
PREFERRED = ("psi", "accuracy_drop", "roc_auc_drop", "chi_square", "ks", "js_distance")
REJECTED_SHARE = {"warn": 0.05, "critical": 0.2}
TRAINING_AGE_DAYS = {"info": 365, "warn": 730}


def _worst(results: Iterable[MetricResult]) -> MetricResult | None:
    ok = [r for r in results if r.status == Status.OK and r.severity != Severity.NONE]
    if not ok:
        return None

    def rank(r: MetricResult) -> tuple[int, int]:
        preferred = PREFERRED.index(r.metric) if r.metric in PREFERRED else len(PREFERRED)
        return (r.severity.rank, -preferred)

    return max(ok, key=rank)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _segment_name(column: str, value: str) -> str:
    return f"{column}={value}"


def covering_limitation(card: Card, column: str, value: str) -> Limitation | None:
    """The card's limitation whose segment covers `column = value`, if it names one."""
    for limitation in card.limitations:
        segment = limitation.segment
        if segment is None or segment.column != column:
            continue
        if segment.in_ is not None and value in {str(v) for v in segment.in_}:
            return limitation
        if segment.in_ is None:
            try:
                number = float(value)
            except ValueError:
                continue
            below = segment.below is None or number < segment.below
            above = segment.above is None or number > segment.above
            if below and above:
                return limitation
    return None


def _drift(report: Report, segment: str | None, card: Card) -> list[Observation]:
    out = []
    for feature in report.features():
        if feature == PERFORMANCE:
            continue
        results = [
            r for r in report.feature(feature).values() if r.metric not in DATA_QUALITY_METRICS
        ]
        worst = _worst(results)
        if worst is None:
            continue
        is_score = feature == report.score_column
        kind = "score_drift" if is_score else "input_drift"
        what = "the score" if is_score else f"input {feature!r}"
        where = f" in {segment}" if segment else ""
        bearing = [
            x.text
            for x in card.limitations
            if x.segment is not None and x.segment.column == feature
        ]
        details: dict[str, object] = {"method": worst.method, "p_value": worst.p_value}
        details.update(worst.details)
        if bearing:
            details["limitations"] = bearing
        out.append(
            Observation(
                kind=kind,
                severity=worst.severity,
                summary=f"{what}{where} drifted: {worst.metric} {_fmt(worst.value)} "
                f"(threshold {_fmt(worst.threshold)}, {worst.n_window} rows)",
                metric=worst.metric,
                feature=feature,
                segment=segment,
                value=worst.value,
                threshold=worst.threshold,
                details=details,
            )
        )
        quality = _worst(
            r for r in report.feature(feature).values() if r.metric in DATA_QUALITY_METRICS
        )
        if quality is not None and segment is None:
            out.append(
                Observation(
                    kind="data_quality",
                    severity=quality.severity,
                    summary=f"missing values in {feature!r} changed by {_fmt(quality.value)}",
                    metric=quality.metric,
                    feature=feature,
                    value=quality.value,
                    threshold=quality.threshold,
                )
            )
    return out


def _performance(report: Report, segment: str | None) -> list[Observation]:
    worst = _worst(r for r in report.feature(PERFORMANCE).values() if r.metric.endswith("_drop"))
    if worst is None:
        return []
    how = "realized" if worst.method == "realized" else "estimated (no labels yet)"
    base = worst.details.get("baseline")
    where = f" in {segment}" if segment else ""
    metric = worst.metric.removesuffix("_drop")
    return [
        Observation(
            kind="performance_drop",
            severity=worst.severity,
            summary=f"{metric}{where} fell {_fmt(worst.value)} below the baseline"
            + (f" ({_fmt(base)})" if base is not None else "")
            + f", {how}",
            metric=worst.metric,
            segment=segment,
            value=worst.value,
            threshold=worst.threshold,
            details={"method": worst.method, **worst.details},
        )
    ]


def _segments(report: Report, card: Card, whole: list[Observation]) -> list[Observation]:
    """Segments doing worse than the whole: a drift or drop the whole window does not show."""
    shown = {(o.kind, o.feature): o.severity.rank for o in whole}
    out = []
    for column, parts in report.segments.items():
        for value, part in parts.items():
            if value.startswith("__"):
                continue  # pooled "other" and "missing" segments are not a population to name
            name = _segment_name(column, value)
            found = [
                o
                for o in _performance(part, name) + _drift(part, name, card)
                if o.severity.rank > shown.get((o.kind, o.feature), 0)
            ]
            worst = max(found, key=lambda o: o.severity.rank, default=None)
            if worst is None or Severity(worst.severity).rank < Severity.WARN.rank:
                continue
            limitation = covering_limitation(card, column, value)
            details = dict(worst.details)
            summary = f"segment {name}: {worst.summary}"
            if limitation is not None:
                details["limitation"] = limitation.text
                summary += f" (known limitation: {limitation.text})"
            out.append(
                Observation(
                    kind="segment_degradation",
                    severity=worst.severity,
                    summary=summary,
                    metric=worst.metric,
                    feature=worst.feature,
                    segment=name,
                    value=worst.value,
                    threshold=worst.threshold,
                    details=details,
                )
            )
    return out


def _reading(read: ReadReport, expected_rows: bool) -> list[Observation]:
    out: list[Observation] = []
    if read.rows_read == 0 and expected_rows:
        out.append(
            Observation(
                kind="no_data",
                severity=Severity.CRITICAL,
                summary="no rows arrived in this window: has the pipeline stopped?",
            )
        )
    for column in read.missing_columns:
        out.append(
            Observation(
                kind="schema_change",
                severity=Severity.WARN,
                feature=column,
                summary=f"column {column!r} is missing from the data",
            )
        )
    for column, change in read.type_changes.items():
        out.append(
            Observation(
                kind="schema_change",
                severity=Severity.WARN,
                feature=column,
                summary=f"column {column!r} changed type: {change}",
            )
        )
    if read.rows_read:
        share = read.rows_rejected / read.rows_read
        severity = next((s for s in ("critical", "warn") if share >= REJECTED_SHARE[s]), None)
        if severity is not None:
            out.append(
                Observation(
                    kind="data_quality",
                    severity=Severity(severity),
                    metric="rejected_share",
                    value=share,
                    threshold=REJECTED_SHARE[severity],
                    summary=f"{share:.1%} of rows were rejected ({read.summary()})",
                )
            )
    return out


def _training_age(card: Card, today: date) -> list[Observation]:
    trained = card.context.trained_on
    if trained is None:
        return []
    age = (today - trained.to).days
    severity = next((s for s in ("warn", "info") if age >= TRAINING_AGE_DAYS[s]), None)
    if severity is None:
        return []
    return [
        Observation(
            kind="stale_training_data",
            severity=Severity(severity),
            metric="training_age_days",
            value=float(age),
            threshold=float(TRAINING_AGE_DAYS[severity]),
            summary=f"the model was trained on data up to {trained.to}, {age} days ago",
        )
    ]


def matured_observations(report: Report, *, since: datetime, until: datetime) -> list[Observation]:
    """Realized performance of an earlier window whose labels have arrived since."""
    period = f"scores of {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC, labels now in"
    out = []
    for o in _performance(report, None):
        if o.details.get("method") == "realized":
            out.append(
                replace(
                    o,
                    summary=f"{o.summary} ({period})",
                    details={**o.details, "since": since.isoformat(), "until": until.isoformat()},
                )
            )
    return out


def observe(
    *, report: Report | None, read: ReadReport, card: Card, today: date, expected_rows: bool = True
) -> list[Observation]:
    """Every observation of one check run (trends are added by the caller from the history)."""
    out = _reading(read, expected_rows) + _training_age(card, today)
    if report is not None and report.rows:
        whole = _drift(report, None, card) + _performance(report, None)
        out += whole + _segments(report, card, whole)
    return out
