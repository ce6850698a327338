"""Episodes: a model's findings that overlap in time, told as one story (design decision 6).

An episode owns one root message in the card's channel (posted once, then edited in place), its
thread, the acknowledgement and the escalation timer; its findings open, update and recover on
their own (jobs/findings.py). What people do goes through `act`, for the CLI and the Slack buttons
alike; the moves are a pure function, `transition`:

    open ──acknowledge──▶ acknowledged ──resolve──▶ resolved
      │ ╲──snooze(until)──▶ snoozed ──(until passes, findings still open)──▶ open
      └──(every finding recovered)──▶ recovered             (from any state but resolved)
    resolved, recovered ──(a finding worse than told, or back within a week)──▶ open

A finding at warn or above joins the model's active episode, or starts one. Everything said is a
row in the outbox: the root (`episode.root`), its edits (`episode.update`, one per revision), and
thread replies that carry what happened when it happened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from jobs.errors import HandoffError, InvalidTransition, NotFound
from jobs.stats import Severity
from store import repo
from store.cards import Card
from store.models import AuditEvent, Episode, Finding, Notification
from store.states import (
    ACTIVE_EPISODE_STATES,
    EpisodeState,
    NotificationKind,
    NotificationStatus,
)

REOPEN_WITHIN = timedelta(days=7)
"""An episode that ended this recently reopens when one of its findings comes back."""
ACTIONS = ("acknowledge", "snooze", "resolve")


@dataclass(frozen=True)
class Standing:
    """Where an episode stands with people: its state and, when snoozed, until when."""

    state: EpisodeState
    snoozed_until: datetime | None = None


_ALLOWED = {
    "acknowledge": (EpisodeState.OPEN, EpisodeState.SNOOZED),
    "snooze": (EpisodeState.OPEN, EpisodeState.ACKNOWLEDGED, EpisodeState.SNOOZED),
    "resolve": (EpisodeState.OPEN, EpisodeState.ACKNOWLEDGED, EpisodeState.SNOOZED),
    "reopen": (EpisodeState.RESOLVED, EpisodeState.RECOVERED),
    "wake": (EpisodeState.SNOOZED,),
    "recover": (EpisodeState.OPEN, EpisodeState.ACKNOWLEDGED, EpisodeState.SNOOZED),
}
_TARGET = {
    "acknowledge": EpisodeState.ACKNOWLEDGED,
    "resolve": EpisodeState.RESOLVED,
    "reopen": EpisodeState.OPEN,
    "wake": EpisodeState.OPEN,
    "recover": EpisodeState.RECOVERED,
}


def transition(current: Standing, event: str, *, until: datetime | None = None) -> Standing:
    """The episode's standing after `event` (see the module docstring), or InvalidTransition."""
    if event not in _ALLOWED or current.state not in _ALLOWED[event]:
        raise InvalidTransition(current.state, event)
    if event == "snooze":
        if until is None:
            raise InvalidTransition(current.state, "snoozed without an end time")
        return replace(current, state=EpisodeState.SNOOZED, snoozed_until=until)
    return replace(current, state=_TARGET[event], snoozed_until=None)


def is_active(episode: Episode) -> bool:
    return episode.state in ACTIVE_EPISODE_STATES


def say(
    session: Session,
    episode: Episode,
    kind: NotificationKind,
    *,
    now: datetime,
    key: str,
    channel: str,
    finding: Finding | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Queue one message about the episode in `channel` (the card's; resolved at delivery)."""
    session.add(
        Notification(
            idempotency_key=f"episode:{episode.id}:{key}",
            model_id=episode.model_id,
            episode_id=episode.id,
            finding_id=finding.id if finding is not None else None,
            kind=kind,
            channel=channel,
            payload=payload or {},
            status=NotificationStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def audit(
    session: Session,
    episode: Episode,
    action: str,
    now: datetime,
    *,
    actor: str = "handoff",
    finding: Finding | None = None,
    **detail: Any,
) -> None:
    """Keep what happened to an episode (and which finding), by whom, in the audit trail."""
    session.add(
        AuditEvent(
            model_id=episode.model_id,
            episode_id=episode.id,
            finding_id=finding.id if finding else None,
            at=now,
            actor=actor,
            action=action,
            detail=detail,
        )
    )


def finding_payload(finding: Finding) -> dict[str, Any]:
    """What a thread reply about a finding says, as of now (it is not re-rendered later)."""
    return {
        "finding_id": finding.id,
        "kind": finding.kind,
        "severity": finding.severity,
        "summary": finding.summary,
        "feature": finding.feature,
        "segment": finding.segment,
        "value": finding.value,
        "threshold": finding.threshold,
    }


def attach(
    session: Session,
    finding: Finding,
    *,
    channel: str,
    now: datetime,
    acknowledge_within: timedelta,
    returned: bool = False,
    fresh: frozenset[int] = frozenset(),
) -> Episode:
    """Put a finding that reached warn into an episode, and queue what that means:

    - in an active episode already: nothing to do;
    - its own episode ended less than `REOPEN_WITHIN` ago: that episode reopens (broadcast);
    - else the model's active episode, if any, takes it in (a thread reply, unless that episode
      is one of `fresh`, opened by this same run: its root, still to be posted, shows it);
    - else a new episode starts (its root message).
    """
    own = session.get(Episode, finding.episode_id) if finding.episode_id else None
    if own is not None and is_active(own):
        return own
    if own is not None and own.closed_at is not None and now - own.closed_at <= REOPEN_WITHIN:
        reopen(session, own, finding, channel=channel, now=now, ack=acknowledge_within)
        return own
    episode = repo.active_episode(session=session, model_id=finding.model_id)
    if episode is not None and episode.id in fresh:
        finding.episode_id = episode.id
        return episode
    if episode is not None:
        finding.episode_id = episode.id
        kind = NotificationKind.FINDING_RETURNED if returned else NotificationKind.FINDING_JOINED
        say(
            session,
            episode,
            kind,
            now=now,
            key=f"finding:{finding.id}:{finding.reopened}:joined",
            finding=finding,
            channel=channel,
            payload=finding_payload(finding),
        )
        audit(session, episode, "joined", now, finding=finding, severity=finding.severity)
        return episode
    episode = Episode(
        model_id=finding.model_id,
        state=EpisodeState.OPEN,
        severity=finding.severity,
        worst_severity=finding.severity,
        opened_at=now,
        updated_at=now,
        next_escalation_at=now + acknowledge_within,
        escalation_step=0,
        revision=0,
    )
    session.add(episode)
    session.flush()
    finding.episode_id = episode.id
    say(session, episode, NotificationKind.EPISODE_ROOT, now=now, key="root", channel=channel)
    audit(session, episode, "opened", now, finding=finding, severity=finding.severity)
    return episode


def reopen(
    session: Session,
    episode: Episode,
    finding: Finding,
    *,
    channel: str,
    now: datetime,
    ack: timedelta,
) -> None:
    """An ended episode opens again because `finding` got worse or came back (said in the thread,
    broadcast: the channel has moved on since the root message)."""
    was = episode.state
    standing = transition(Standing(EpisodeState(episode.state)), "reopen")
    episode.state = standing.state
    episode.closed_at = None
    episode.acknowledged_by = episode.acknowledged_at = None
    episode.next_escalation_at = now + ack
    episode.escalation_step = 0
    finding.episode_id = episode.id
    episode.revision += 1
    say(
        session,
        episode,
        NotificationKind.EPISODE_REOPENED,
        now=now,
        key=f"reopened:{episode.revision}",
        finding=finding,
        channel=channel,
        payload={"was": was, **finding_payload(finding)},
    )
    audit(session, episode, "reopened", now, finding=finding, was=was)


def refresh(
    session: Session, episode: Episode, *, channel: str, now: datetime, changed: bool = True
) -> None:
    """After a run touched the episode: its severity from its open findings; recovered once every
    finding has; and the root message edited (one outbox row per revision) unless nothing it
    shows changed (`changed=False`: an episode whose root is still to be posted)."""
    findings = repo.episode_findings(session=session, episode_id=episode.id)
    open_ = [f for f in findings if f.state == "open"]
    severity = max(
        (Severity(f.severity) for f in open_), key=lambda s: s.rank, default=Severity.NONE
    )
    if severity != Severity.NONE:
        episode.severity = severity
        if severity.rank > Severity(episode.worst_severity).rank:
            episode.worst_severity = severity
    if not open_ and episode.state in _ALLOWED["recover"]:
        episode.state = transition(Standing(EpisodeState(episode.state)), "recover").state
        episode.closed_at = now
        episode.next_escalation_at = None
        episode.snoozed_until = None
        say(
            session,
            episode,
            NotificationKind.EPISODE_RECOVERED,
            now=now,
            key=f"recovered:{episode.revision}",
            channel=channel,
            payload={"findings": len(findings)},
        )
        audit(session, episode, "recovered", now)
        changed = True
    if changed:
        episode.updated_at = now
        update_root(session, episode, channel=channel, now=now)


def update_root(session: Session, episode: Episode, *, channel: str, now: datetime) -> None:
    """Queue an edit of the root message to show the episode as it is (when it has one queued)."""
    episode.revision += 1
    say(
        session,
        episode,
        NotificationKind.EPISODE_UPDATE,
        now=now,
        key=f"update:{episode.revision}",
        channel=channel,
        payload={"revision": episode.revision},
    )


def wake_due(
    session: Session, *, model_id: str, channel: str, now: datetime, ack: timedelta
) -> None:
    """Snoozed episodes whose snooze has ended are open again, and said so."""
    for episode in repo.snoozed_episodes(session=session, model_id=model_id, until=now):
        episode.state = transition(Standing(EpisodeState.SNOOZED), "wake").state
        until, episode.snoozed_until = episode.snoozed_until, None
        episode.next_escalation_at = now + ack
        say(
            session,
            episode,
            NotificationKind.EPISODE_WOKE,
            now=now,
            key=f"woke:{episode.revision}",
            channel=channel,
            payload={"snoozed_until": _iso(until)},
        )
        audit(session, episode, "snooze_ended", now)
        update_root(session, episode, channel=channel, now=now)


def act(
    session: Session,
    *,
    episode: Episode,
    action: str,
    actor: str,
    now: datetime,
    channel: str,
    until: datetime | None = None,
    note: str | None = None,
) -> Episode:
    """A person acknowledges, snoozes (until) or resolves (with a note) an episode: the state
    machine moves it (InvalidTransition if it cannot), the audit trail keeps who and when, a
    thread reply says it (a resolution is broadcast) and the root message is edited."""
    if action not in ACTIONS:
        raise InvalidTransition(episode.state, action)
    if action == "snooze" and (until is None or until <= now):
        raise InvalidTransition(episode.state, "snoozed until a time that has passed")
    standing = transition(
        Standing(EpisodeState(episode.state), episode.snoozed_until), action, until=until
    )
    episode.state = standing.state
    episode.snoozed_until = standing.snoozed_until
    episode.next_escalation_at = None  # acknowledged, snoozed (paused) or resolved: no escalation
    if action == "acknowledge":
        episode.acknowledged_by, episode.acknowledged_at = actor, now
    elif action == "snooze":
        episode.snoozed_by = actor
    else:
        episode.resolved_by, episode.resolved_at, episode.resolution = actor, now, note
        episode.closed_at = now
    episode.updated_at = now
    audit(session, episode, action, now, actor=actor, until=_iso(until), note=note)
    say(
        session,
        episode,
        NotificationKind.EPISODE_ACTION,
        now=now,
        key=f"action:{action}:{episode.revision}:{now.isoformat()}",
        channel=channel,
        payload={"action": action, "actor": actor, "until": _iso(until), "note": note},
    )
    update_root(session, episode, channel=channel, now=now)
    return episode


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def act_on(
    session: Session,
    *,
    target: str,
    action: str,
    actor: str,
    now: datetime,
    until: datetime | None = None,
    note: str | None = None,
) -> Episode:
    """`act` on the episode named by `target`: an episode id (`E3`) or a finding id (`F12`, or
    `12`), whose episode is meant. NotFound, or a HandoffError saying why there is nothing to act
    on, otherwise."""
    episode = episode_of(session, target)
    version = repo.latest_card_version(session=session, model_id=episode.model_id)
    channel = Card.model_validate(version.content).channel if version else ""
    return act(
        session,
        episode=episode,
        action=action,
        actor=actor,
        now=now,
        channel=channel,
        until=until,
        note=note,
    )


def episode_of(session: Session, target: str) -> Episode:
    """The episode `target` names (see `act_on`)."""
    text = target.strip()
    kind = "episode" if text[:1] in "eE" else "finding"
    number = text[1:] if text[:1] in "eEfF" else text
    if not number.isdigit():
        raise HandoffError(
            f"{target!r} is not a finding or an episode: write F12 (a finding, as `handoff "
            "findings` lists them) or E3 (an episode)"
        )
    if kind == "episode":
        episode = repo.get_episode(session=session, episode_id=int(number))
        if episode is None:
            raise NotFound("episode", f"E{number}")
        return episode
    finding = repo.get_finding(session=session, finding_id=int(number))
    if finding is None:
        raise NotFound("finding", f"F{number}")
    if finding.episode_id is None:
        raise HandoffError(
            f"F{number} is an info finding nobody was told of: it has no episode to act on"
        )
    found = repo.get_episode(session=session, episode_id=finding.episode_id)
    assert found is not None  # the foreign key holds
    return found


def explain(session: Session, *, episode: Episode, actor: str, now: datetime, channel: str) -> None:
    """Queue a plain-language note about the episode in the card's business channel (Explain
    for business), linked to its thread at delivery; audited."""
    say(
        session,
        episode,
        NotificationKind.BUSINESS_NOTE,
        now=now,
        key=f"business:{now.isoformat()}",
        channel=channel,
        payload={"actor": actor},
    )
    audit(session, episode, "explained", now, actor=actor, channel=channel)


def refused(session: Session, *, episode: Episode, actor: str, action: str, now: datetime) -> None:
    """Keep a refused action (someone not allowed to act on the episode) in the audit trail."""
    audit(session, episode, "refused", now, actor=actor, wanted=action)


def replied(
    session: Session, *, episode: Episode, actor: str, text: str, ts: str, now: datetime
) -> None:
    """Keep a person's reply in the episode's thread in the audit trail."""
    audit(session, episode, "replied", now, actor=actor, text=text[:4000], ts=ts)
