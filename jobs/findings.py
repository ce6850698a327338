"""Findings with a lifecycle: one row per condition, updated while it lasts, recovered after.

The state machine is pure (`transition`); `reconcile` applies one check run's observations to the
stored findings and queues outbox notifications (jobs never speaks to Slack).

    states:  open ──acknowledge──▶ acknowledged ──resolve──▶ resolved
               │  ╲──snooze(until)──▶ snoozed ──(until passes, still seen)──▶ open
               └──(clear for N runs)──▶ recovered        (from any state but recovered)

A notification is queued once per finding for: the first time it reaches `warn`, each rise in
severity above the worst already told, and its recovery if anybody was told about it. `info`
findings are stored and shown, never pushed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.errors import InvalidTransition
from store.models import AuditEvent, Finding, Notification

Severity = Literal["info", "warn", "critical"]
SEVERITY_RANK: dict[str, int] = {"none": 0, "info": 1, "warn": 2, "critical": 3}
LIVE_STATES = ("open", "acknowledged", "snoozed", "resolved")
SEVERITIES = ("info", "warn", "critical")
NOTIFY_FROM = "warn"
KEYED_BY_METRIC = frozenset({"slow_trend", "data_quality", "stale_training_data"})


def severity_named(name: str) -> Severity:
    """A severity from its name (a finding has no "none" severity)."""
    if name not in SEVERITIES:
        raise ValueError(f"{name!r} is not a finding severity ({', '.join(SEVERITIES)})")
    return cast(Severity, name)


@dataclass(frozen=True)
class Observation:
    """One condition a check run saw, before it is matched to a stored finding."""

    kind: str
    severity: Severity
    summary: str
    metric: str | None = None
    feature: str | None = None
    segment: str | None = None
    value: float | None = None
    threshold: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The condition's identity: a drift whose worst metric changes is still the same drift."""
        metric = self.metric if self.kind in KEYED_BY_METRIC else None
        feature = None if self.kind == "segment_degradation" else self.feature
        return "|".join((self.kind, metric or "", feature or "", self.segment or ""))


@dataclass(frozen=True)
class FindingState:
    """What a person's action can change: the state, and until when a snooze lasts."""

    state: str
    snoozed_until: datetime | None = None


@dataclass(frozen=True)
class Change:
    """What a check run did to one finding: for `handoff check --json` and the outbox."""

    finding_id: int
    observation: Observation | None
    state: Literal["new", "ongoing", "recovered"]
    notified: str | None  # the notification kind queued, if any


def transition(current: FindingState, event: str, *, until: datetime | None = None) -> FindingState:
    """Move a finding by a person's action: acknowledge, snooze (until), resolve, reopen."""
    allowed = {
        "acknowledge": ("open", "snoozed"),
        "snooze": ("open", "acknowledged", "snoozed"),
        "resolve": ("open", "acknowledged", "snoozed"),
        "reopen": ("resolved", "acknowledged", "snoozed"),
    }
    if event not in allowed or current.state not in allowed[event]:
        raise InvalidTransition(current.state, event)
    if event == "snooze":
        if until is None:
            raise InvalidTransition(current.state, "snoozed without an end time")
        return replace(current, state="snoozed", snoozed_until=until)
    target = {"acknowledge": "acknowledged", "resolve": "resolved", "reopen": "open"}[event]
    return replace(current, state=target, snoozed_until=None)


def _worse(a: str, b: str) -> bool:
    return SEVERITY_RANK[a] > SEVERITY_RANK[b]


def _notify(
    session: Session, finding: Finding, kind: str, *, channel: str, now: datetime, suffix: str
) -> str:
    session.add(
        Notification(
            idempotency_key=f"finding:{finding.id}:{suffix}",
            model_id=finding.model_id,
            finding_id=finding.id,
            kind=kind,
            channel=channel,
            payload={"finding_id": finding.id, "severity": finding.severity},
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return kind


def _audit(session: Session, finding: Finding, action: str, now: datetime, **detail: Any) -> None:
    session.add(
        AuditEvent(
            model_id=finding.model_id,
            finding_id=finding.id,
            at=now,
            actor="handoff",
            action=action,
            detail=detail,
        )
    )


def reconcile(
    *,
    session: Session,
    model_id: str,
    check_run_id: int,
    observations: list[Observation],
    channel: str,
    now: datetime,
    acknowledge_within: timedelta,
    recover_after: int = 2,
    complete: bool = True,
) -> list[Change]:
    """Apply one check run's observations to the model's findings; queue what must be said.

    `complete=False` (a run that could not read its data) only applies the observations given:
    a condition it could not look at is not counted as cleared.
    """
    live = {
        f.key: f
        for f in session.scalars(
            select(Finding).where(Finding.model_id == model_id, Finding.state.in_(LIVE_STATES))
        )
    }
    changes: list[Change] = []
    seen: set[str] = set()
    for obs in observations:
        if obs.key in seen:
            continue
        seen.add(obs.key)
        finding = live.get(obs.key)
        if finding is None:
            finding = _open(
                session,
                model_id=model_id,
                check_run_id=check_run_id,
                obs=obs,
                now=now,
                acknowledge_within=acknowledge_within,
            )
            notified = None
            if SEVERITY_RANK[obs.severity] >= SEVERITY_RANK[NOTIFY_FROM]:
                notified = _notify(
                    session, finding, "finding.new", channel=channel, now=now, suffix="new"
                )
                finding.details = {**finding.details, "told": obs.severity}
            changes.append(Change(finding.id, obs, "new", notified))
            continue
        changes.append(
            _update(
                session,
                finding,
                check_run_id=check_run_id,
                obs=obs,
                now=now,
                channel=channel,
                acknowledge_within=acknowledge_within,
            )
        )
    for key, finding in live.items():
        if key in seen or not complete:
            continue
        finding.clear_runs += 1
        if finding.clear_runs < recover_after:
            continue
        told = str(finding.details.get("told", "none"))
        was_resolved = finding.state == "resolved"
        finding.state = "recovered"
        finding.closed_at = now
        finding.next_escalation_at = None
        _audit(session, finding, "recovered", now, clear_runs=finding.clear_runs)
        notified = None
        if told != "none" and not was_resolved:
            notified = _notify(
                session, finding, "finding.recovered", channel=channel, now=now, suffix="recovered"
            )
        changes.append(Change(finding.id, None, "recovered", notified))
    return changes


def _open(
    session: Session,
    *,
    model_id: str,
    check_run_id: int,
    obs: Observation,
    now: datetime,
    acknowledge_within: timedelta,
) -> Finding:
    pushed = SEVERITY_RANK[obs.severity] >= SEVERITY_RANK[NOTIFY_FROM]
    finding = Finding(
        model_id=model_id,
        key=obs.key,
        kind=obs.kind,
        metric=obs.metric,
        feature=obs.feature,
        segment=obs.segment,
        severity=obs.severity,
        worst_severity=obs.severity,
        value=obs.value,
        worst_value=obs.value,
        threshold=obs.threshold,
        summary=obs.summary,
        details=dict(obs.details),
        state="open",
        clear_runs=0,
        opened_at=now,
        last_seen_at=now,
        first_check_run_id=check_run_id,
        last_check_run_id=check_run_id,
        next_escalation_at=now + acknowledge_within if pushed else None,
        escalation_step=0,
    )
    session.add(finding)
    session.flush()
    _audit(session, finding, "opened", now, severity=obs.severity, value=obs.value)
    return finding


def _update(
    session: Session,
    finding: Finding,
    *,
    check_run_id: int,
    obs: Observation,
    now: datetime,
    channel: str,
    acknowledge_within: timedelta,
) -> Change:
    finding.severity = obs.severity
    finding.value = obs.value
    finding.threshold = obs.threshold
    finding.summary = obs.summary
    finding.last_seen_at = now
    finding.last_check_run_id = check_run_id
    finding.clear_runs = 0
    if obs.value is not None and (
        finding.worst_value is None or abs(obs.value) > abs(finding.worst_value)
    ):
        finding.worst_value = obs.value
    if _worse(obs.severity, finding.worst_severity):
        finding.worst_severity = obs.severity
    if finding.state == "snoozed" and finding.snoozed_until and finding.snoozed_until <= now:
        finding.state, finding.snoozed_until = "open", None
        finding.next_escalation_at = now + acknowledge_within
        _audit(session, finding, "snooze_ended", now)
    told = str(finding.details.get("told", "none"))
    notified = None
    if SEVERITY_RANK[obs.severity] >= SEVERITY_RANK[NOTIFY_FROM] and _worse(obs.severity, told):
        kind = "finding.new" if told == "none" else "finding.escalated"
        notified = _notify(
            session, finding, kind, channel=channel, now=now, suffix=f"severity:{obs.severity}"
        )
        finding.details = {**finding.details, "told": obs.severity}
        if finding.state == "resolved":  # worse than when a person resolved it: reopen
            finding.state = "open"
            _audit(session, finding, "reopened", now, severity=obs.severity)
        if finding.state == "open":
            finding.next_escalation_at = now + acknowledge_within
    return Change(finding.id, obs, "ongoing", notified)
