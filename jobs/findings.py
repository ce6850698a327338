"""Findings with a lifecycle: one row per condition, updated while it lasts, recovered after.

The state machine is pure (`transition`); `reconcile` applies one check run's observations to the
stored findings and queues outbox notifications (jobs never speaks to Slack).

    states:  open ──acknowledge──▶ acknowledged ──resolve──▶ resolved
               │  ╲──snooze(until)──▶ snoozed ──(until passes, still seen)──▶ open
               └──(clear for N runs)──▶ recovered        (from any state but recovered)

A notification is queued once per finding for: the first time it reaches `warn`, each rise in
severity above the worst already told, and its recovery if anybody was told about it. `info`
findings are stored and shown, never pushed. What was told is derived from `worst_severity`: a
finding has been told its worst severity once that reached `warn`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from jobs.errors import InvalidTransition
from jobs.observations import Observation
from jobs.stats import Severity
from store import repo
from store.models import AuditEvent, Finding, Notification
from store.states import FindingState, NotificationKind, NotificationStatus

NOTIFY_FROM = Severity.WARN


@dataclass(frozen=True)
class Standing:
    """What a person's action can change: the state, and until when a snooze lasts."""

    state: FindingState
    snoozed_until: datetime | None = None


@dataclass(frozen=True)
class Change:
    """What a check run did to one finding: for `handoff check --json` and the outbox."""

    finding_id: int
    observation: Observation | None
    state: Literal["new", "ongoing", "recovered"]
    notified: NotificationKind | None  # the notification kind queued, if any


_ALLOWED = {
    "acknowledge": (FindingState.OPEN, FindingState.SNOOZED),
    "snooze": (FindingState.OPEN, FindingState.ACKNOWLEDGED, FindingState.SNOOZED),
    "resolve": (FindingState.OPEN, FindingState.ACKNOWLEDGED, FindingState.SNOOZED),
    "reopen": (FindingState.RESOLVED, FindingState.ACKNOWLEDGED, FindingState.SNOOZED),
}
_TARGET = {
    "acknowledge": FindingState.ACKNOWLEDGED,
    "resolve": FindingState.RESOLVED,
    "reopen": FindingState.OPEN,
}


def transition(current: Standing, event: str, *, until: datetime | None = None) -> Standing:
    """Move a finding by a person's action: acknowledge, snooze (until), resolve, reopen."""
    if event not in _ALLOWED or current.state not in _ALLOWED[event]:
        raise InvalidTransition(current.state, event)
    if event == "snooze":
        if until is None:
            raise InvalidTransition(current.state, "snoozed without an end time")
        return replace(current, state=FindingState.SNOOZED, snoozed_until=until)
    return replace(current, state=_TARGET[event], snoozed_until=None)


def told(finding: Finding) -> Severity:
    """The highest severity people were told of (NONE while it never reached `warn`)."""
    worst = Severity(finding.worst_severity)
    return worst if worst.rank >= NOTIFY_FROM.rank else Severity.NONE


def _notify(
    session: Session,
    finding: Finding,
    kind: NotificationKind,
    *,
    channel: str,
    now: datetime,
    suffix: str,
) -> NotificationKind:
    session.add(
        Notification(
            idempotency_key=f"finding:{finding.id}:{suffix}",
            model_id=finding.model_id,
            finding_id=finding.id,
            kind=kind,
            channel=channel,
            payload={"finding_id": finding.id, "severity": finding.severity},
            status=NotificationStatus.PENDING,
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
    live = {f.key: f for f in repo.live_findings(session=session, model_id=model_id)}
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
            if obs.severity.rank >= NOTIFY_FROM.rank:
                notified = _notify(
                    session,
                    finding,
                    NotificationKind.FINDING_NEW,
                    channel=channel,
                    now=now,
                    suffix="new",
                )
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
        was_resolved = finding.state == FindingState.RESOLVED
        finding.state = FindingState.RECOVERED
        finding.closed_at = now
        finding.next_escalation_at = None
        _audit(session, finding, "recovered", now, clear_runs=finding.clear_runs)
        notified = None
        if told(finding) != Severity.NONE and not was_resolved:
            notified = _notify(
                session,
                finding,
                NotificationKind.FINDING_RECOVERED,
                channel=channel,
                now=now,
                suffix="recovered",
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
    pushed = obs.severity.rank >= NOTIFY_FROM.rank
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
        state=FindingState.OPEN,
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
    was_told = told(finding)
    finding.severity = obs.severity
    finding.value = obs.value
    finding.threshold = obs.threshold
    finding.summary = obs.summary
    finding.details = dict(obs.details)  # p-values, limitations: as of this sighting
    finding.last_seen_at = now
    finding.last_check_run_id = check_run_id
    finding.clear_runs = 0
    if obs.value is not None and (
        finding.worst_value is None or abs(obs.value) > abs(finding.worst_value)
    ):
        finding.worst_value = obs.value
    if obs.severity.rank > Severity(finding.worst_severity).rank:
        finding.worst_severity = obs.severity
    if (
        finding.state == FindingState.SNOOZED
        and finding.snoozed_until
        and finding.snoozed_until <= now
    ):
        finding.state, finding.snoozed_until = FindingState.OPEN, None
        finding.next_escalation_at = now + acknowledge_within
        _audit(session, finding, "snooze_ended", now)
    notified = None
    if obs.severity.rank >= NOTIFY_FROM.rank and obs.severity.rank > was_told.rank:
        kind = (
            NotificationKind.FINDING_NEW
            if was_told == Severity.NONE
            else NotificationKind.FINDING_ESCALATED
        )
        notified = _notify(
            session, finding, kind, channel=channel, now=now, suffix=f"severity:{obs.severity}"
        )
        if finding.state == FindingState.RESOLVED:  # worse than when a person resolved it: reopen
            finding.state = FindingState.OPEN
            _audit(session, finding, "reopened", now, severity=obs.severity)
        if finding.state == FindingState.OPEN:
            finding.next_escalation_at = now + acknowledge_within
    return Change(finding.id, obs, "ongoing", notified)
