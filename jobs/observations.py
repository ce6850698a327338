"""Observations: the conditions a check run saw, and the pure rules that make them.

A Report (and the read report, the card) in, `Observation`s out. One observation per condition (a
feature's drift, the score's drift, performance, a segment), carrying the worst metric that passed
both gates; `jobs.findings` matches them to stored findings. Trends come from `jobs.series`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from jobs.phrases import (
    drift_phrase,
    missing_phrase,
    percent,
    performance_phrase,
    rejection_phrase,
)
from jobs.sources.base import ReadReport
from jobs.stats import PERFORMANCE, MetricResult, Report, Severity, Status
from store.card_schema import Limitation
from store.cards import Card

KEYED_BY_METRIC = frozenset({"slow_trend", "data_quality", "stale_training_data"})


@dataclass(frozen=True)
class Observation:
    """One condition a check run saw, before it is matched to a stored finding.

    `severity` is info, warn or critical (an observation of nothing is not made). A `held`
    observation says the condition is still there but another finding now shows it (a segment
    whose drift the whole window has caught up with): its finding is neither updated nor cleared.
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
    held: bool = False

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


def _unusable(read: ReadReport) -> set[str]:
    """Columns the window lacks or whose type changed: a schema change, and nothing else."""
    return {*read.missing_columns, *read.type_changes}


def _drift(
    report: Report, segment: str | None, card: Card, skip: set[str], where: str
) -> list[Observation]:
    out = []
    for feature in report.features():
        if feature == PERFORMANCE or feature in skip:
            continue
        results = [
            r for r in report.feature(feature).values() if r.metric not in DATA_QUALITY_METRICS
        ]
        worst = _worst(results)
        is_score = feature == report.score_column
        if worst is not None:
            bearing = [
                x.text
                for x in card.limitations
                if x.segment is not None and x.segment.column == feature
            ]
            details: dict[str, Any] = {"method": worst.method, "p_value": worst.p_value}
            details.update(worst.details)
            if bearing:
                details["limitations"] = bearing
            phrase = drift_phrase(feature, report.shifts.get(feature), worst, score=is_score)
            out.append(
                Observation(
                    kind="score_drift" if is_score else "input_drift",
                    severity=worst.severity,
                    summary=f"{where}{phrase}",
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
                    summary=f"{where}{missing_phrase(feature, quality)}",
                    metric=quality.metric,
                    feature=feature,
                    value=quality.value,
                    threshold=quality.threshold,
                    details=dict(quality.details),
                )
            )
    return out


def _performance(report: Report, segment: str | None, where: str) -> list[Observation]:
    worst = _worst(r for r in report.feature(PERFORMANCE).values() if r.metric.endswith("_drop"))
    if worst is None:
        return []
    phrase = performance_phrase(worst, report.performance, rows=report.rows)
    return [
        Observation(
            kind="performance_drop",
            severity=worst.severity,
            summary=f"{where}{phrase}",
            metric=worst.metric,
            segment=segment,
            value=worst.value,
            threshold=worst.threshold,
            details={"method": worst.method, **worst.details},
        )
    ]


def _segments(
    report: Report, card: Card, whole: list[Observation], skip: set[str], where: str
) -> list[Observation]:
    """Segments doing worse than the whole: a drift or drop the whole window does not show. A
    segment as loud as before but no louder than the whole is `held` (see `Observation`): the
    whole's finding says it now, and the segment's finding neither flaps nor recovers."""
    shown = {(o.kind, o.feature): o.severity.rank for o in whole}
    out = []
    for column, parts in report.segments.items():
        if column in skip:
            continue
        for value, part in parts.items():
            if value.startswith("__"):
                continue  # pooled "other" and "missing" segments are not a population to name
            name = _segment_name(column, value)
            inside = f"{where}in {name}, "
            loud = [
                o
                for o in _performance(part, name, inside) + _drift(part, name, card, skip, inside)
                if o.severity.rank >= Severity.WARN.rank
            ]
            found = [o for o in loud if o.severity.rank > shown.get((o.kind, o.feature), 0)]
            worst = max(found, key=lambda o: o.severity.rank, default=None)
            if worst is None:
                if loud:
                    out.append(replace(loud[0], kind="segment_degradation", held=True))
                continue
            limitation = covering_limitation(card, column, value)
            details = dict(worst.details)
            summary = worst.summary
            if limitation is not None:
                details["limitation"] = limitation.text
                summary += f"; a known limitation: {limitation.text}"
            out.append(replace(worst, kind="segment_degradation", summary=summary, details=details))
    return out


RESERVED_MISSING = Severity.CRITICAL
"""A missing timestamp or score column: no row of the window can be used."""


def _reading(
    read: ReadReport, card: Card, window: tuple[datetime, datetime] | None
) -> list[Observation]:
    out: list[Observation] = []
    data = card.data
    reserved = {data.timestamp, data.score}
    missing = list(read.missing_columns)
    for column in missing:
        role = {data.timestamp: "timestamp", data.score: "score", data.label: "label"}.get(column)
        what = f"the {role} column {column!r}" if role else f"column {column!r}"
        out.append(
            Observation(
                kind="schema_change",
                severity=RESERVED_MISSING if column in reserved else Severity.WARN,
                feature=column,
                summary=f"{what} is missing from the data: was it renamed or dropped upstream?",
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
    blind = reserved & set(missing)  # no row can be judged: the schema change says why
    if read.rows_read == 0 and not blind:
        span = ""
        if window is not None:
            span = f" between {window[0]:%Y-%m-%d %H:%M} and {window[1]:%Y-%m-%d %H:%M} UTC"
        out.append(
            Observation(
                kind="no_data",
                severity=Severity.CRITICAL,
                summary=f"no rows arrived{span}: has the pipeline stopped?",
            )
        )
    if read.rows_read and not blind:
        share = read.rows_rejected / read.rows_read
        severity = next((s for s in ("critical", "warn") if share >= REJECTED_SHARE[s]), None)
        if severity is not None:
            why = ", ".join(rejection_phrase(r, n) for r, n in read.rejected.most_common())
            out.append(
                Observation(
                    kind="data_quality",
                    severity=Severity(severity),
                    metric="rejected_share",
                    value=share,
                    threshold=REJECTED_SHARE[severity],
                    summary=f"{percent(share)} of the window's {read.rows_read:,} rows were "
                    f"rejected: {why}",
                    details={"rejected": dict(read.rejected)},
                )
            )
    return out


DUPLICATE_SHARE = {"info": 0.01, "warn": 0.05, "critical": 0.2}
UNPLACED_WORDS = {
    "bad_timestamp": "with a missing or unreadable timestamp",
    "malformed": "that could not be parsed",
    "no_timestamp_column": "in a file without the timestamp column",
}


def _file_notes(read: ReadReport) -> list[Observation]:
    """Notes about files rather than windows: rows that belong to no window (once per file: one
    info finding per file, open while the file has them), copies of a file (read once), and
    duplicate rows in the window (a data-quality finding past 5%)."""
    out = []
    for file, rows in sorted(read.unplaced.items()):
        reasons: Mapping[str, int] = read.unplaced_reasons.get(file, {})
        why = ", ".join(
            f"{n:,} {UNPLACED_WORDS.get(r, r.replace('_', ' '))}" for r, n in reasons.items()
        )
        out.append(
            Observation(
                kind="data_quality",
                severity=Severity.INFO,
                metric=f"unplaced_rows:{file}",
                value=float(rows),
                summary=f"{file} has {rows:,} rows that belong to no window"
                + (f" ({why})" if why else "")
                + ": every check leaves them out",
                details={"file": file, "reasons": dict(reasons)},
            )
        )
    for copy, original in read.duplicate_files:
        out.append(
            Observation(
                kind="data_quality",
                severity=Severity.INFO,
                metric=f"duplicate_file:{copy}",
                summary=f"{copy} is a copy of {original}: it was read once",
                details={"copy": copy, "original": original},
            )
        )
    if read.duplicate_rows and read.rows_kept:
        share = read.duplicate_rows / read.rows_kept
        level = next((s for s in ("critical", "warn", "info") if share >= DUPLICATE_SHARE[s]), None)
        if level is not None:
            about = "" if read.duplicate_rows_exact else "about "
            out.append(
                Observation(
                    kind="data_quality",
                    severity=Severity(level),
                    metric="duplicate_rows",
                    value=share,
                    threshold=DUPLICATE_SHARE[level],
                    summary=f"{about}{percent(share)} of the window's rows "
                    f"({about}{read.duplicate_rows:,}) are exact copies of others in it: "
                    "a pipeline that writes twice?",
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
    for o in _performance(report, None, ""):
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
    *,
    report: Report | None,
    read: ReadReport,
    card: Card,
    today: date,
    window: tuple[datetime, datetime] | None = None,
    pooled: bool = False,
) -> list[Observation]:
    """Every observation of one check run (trends are added by the caller from the history).

    One cause, one finding: a column the window lacks (or whose type changed) is a schema change
    and nothing else, so it gets no drift, missing-rate or segment finding; a missing timestamp or
    score column hides every row, so it is not also "no data" or "rows rejected". `pooled` marks
    the comparison of the last seven days pooled ("over the last 7 days, ..."): it adds drift and
    performance only, the day's `read` still saying which columns to leave out.
    """
    out = [] if pooled else _reading(read, card, window) + _file_notes(read)
    out += [] if pooled else _training_age(card, today)
    if report is not None and report.rows:
        skip = _unusable(read)
        where = "over the last 7 days, " if pooled else ""
        whole = _drift(report, None, card, skip, where) + _performance(report, None, where)
        segments = _segments(report, card, whole, skip, where)
        out += _worst_in(whole, segments, card) + segments
    return out


def _worst_in(
    whole: list[Observation], segments: list[Observation], card: Card
) -> list[Observation]:
    """The whole window's findings, each naming the segment it is worst in when that segment's
    own finding is held (as loud as the whole, so not a finding of its own) and a limitation of
    the card covers it: a drift that is all in APAC must still say APAC, and the APAC caveat."""
    worst: dict[tuple[str, str | None], tuple[float, str, str]] = {}
    for o in segments:
        if not o.held or o.segment is None or "=" not in o.segment:
            continue
        column, value = o.segment.split("=", 1)
        limitation = covering_limitation(card, column, value)
        if limitation is None:
            continue
        for w in whole:  # the same drift (by feature), or a performance drop (no feature)
            drop = o.feature is None and w.kind == "performance_drop"
            same = w.feature == o.feature and (o.feature is not None or drop)
            if not same or w.severity.rank < Severity.WARN.rank:
                continue
            size = abs(o.value or 0.0)
            key = (w.kind, w.feature)
            if key not in worst or size > worst[key][0]:
                worst[key] = (size, o.segment, limitation.text)
    out = []
    for w in whole:
        found = worst.get((w.kind, w.feature))
        if found is None:
            out.append(w)
            continue
        _, segment, text = found
        details = {**w.details, "limitation": text, "worst_segment": segment}
        summary = f"{w.summary}; worst in {segment}, a known limitation: {text}"
        out.append(replace(w, summary=summary, details=details))
    return out
