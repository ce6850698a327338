"""Weekly check-ins: what keeps a model's builders connected after the handoff.

On each card's `schedule.check_in` (read in its time zone) the sweep (a job of the scheduler
leader, `sweep`) makes one check-in per model and ISO week: the week in numbers (jobs/recap.py),
the card as it stands and the question "Is this still true?". A check-in missed while handoff was
down is made once when it is back (within `LOOK_BACK`), never once per missed week; a model is
not checked in on before it was registered.

The answers, for the Slack buttons (bot/listeners/checkins.py):

- `answer(..., "still_true")`: recorded with who and when; the check-in message says so.
- `revise`: the intent and limitations edited in a modal become a new card version (registered
  like any other; its baseline is kept), announced in the check-in's thread with what changed,
  followed by the card's YAML to commit back to the repository.
- `hand_over`: new builders make a new card version, announced, the new builders tagged and
  welcomed with the card.

**The business digest.** Where the card has a `business_channel`, the check-in also queues a
short weekly note there in plain words (`business_digest`): can this week's scores be trusted
(jobs/trust.py), for whom not (the limitations that bite now), and who to ask.

**The orphaned-model alarm.** A model nobody understands any more is a risk in itself. When
nobody answered the last `UNANSWERED_IN_A_ROW` check-ins, or every builder is gone from Slack
(deactivated, or not in the workspace: the `Roster` the bot passes in says), the check-in opens
an `ownership` finding (warn, or critical when the builders are gone) that joins an episode and
climbs the escalation ladder like any other. It is judged on its own (`findings.stand`): checks
neither see nor clear it. Any answer ends it when only silence caused it; a hand-over always.
Anyone who may act on the model (builders, its ladder, admins) may answer: somebody vouching
for the card is what the alarm wants to hear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from jobs import findings
from jobs.errors import NotFound
from jobs.observations import Observation
from jobs.outbox import check_in_key
from jobs.recap import recap
from jobs.registration import register_card
from jobs.schedule import last_fire
from jobs.stats import Severity
from jobs.trust import assess_trust
from store import repo
from store.card_schema import Limitation
from store.cards import Card, card_to_dict
from store.models import AuditEvent, CheckIn, Notification
from store.states import NotificationKind, NotificationStatus

log = logging.getLogger(__name__)

LOOK_BACK = timedelta(days=8)
UNANSWERED_IN_A_ROW = 2
FIRST_AFTER = timedelta(days=1)
"""No check-in on the day a model is registered: its card was just written, and no check has run.
The first one comes at the first slot at least this long after the handoff."""
OWNERSHIP = "ownership"
OWNERSHIP_KEY = f"{OWNERSHIP}|||"
RESPONSES = ("still_true", "review", "handed_over")
DIGEST_REASONS = 4

Roster = Callable[[Sequence[str]], Sequence[str] | None]
"""Of a card's builders (as the card names them), those gone from Slack: deactivated, or not in
the workspace. None when Slack could not be asked (the cause is then not judged this week)."""


class CardEditError(ValueError):
    """An edit made in Slack that would not be a valid card: `field` says which input, `message`
    says what to fix (shown under that input of the modal)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Revision:
    """A card version made from Slack: its number and what changed, in words."""

    model_id: str
    version: int
    changes: tuple[str, ...]


def period_of(moment: datetime, timezone: str) -> str:
    """The ISO week of `moment` in the card's time zone, e.g. `2026-W49`."""
    from zoneinfo import ZoneInfo

    year, week, _ = moment.astimezone(ZoneInfo(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def due(card: Card, *, now: datetime, since: datetime) -> datetime | None:
    """When the card's latest check-in was due, if in `(max(now - LOOK_BACK, since), now]`."""
    return last_fire(
        card.schedule.check_in, card.schedule.timezone, after=max(now - LOOK_BACK, since), until=now
    )


def week_end(fire: datetime, card: Card) -> datetime:
    """The end of the week a check-in looks back on: the midnight (in the card's time zone)
    that starts the day it is due, so the week is seven whole days."""
    local = fire.astimezone(card.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


def sweep(
    sessions: sessionmaker[Session], *, now: datetime, roster: Roster | None = None
) -> list[int]:
    """Make every check-in that is due and not made yet; their ids. One model's failure is
    logged and leaves the others (and that model's next sweep) to go on."""
    made: list[int] = []
    with sessions() as session:
        models = [
            (m.id, m.created_at) for m in repo.list_models(session=session) if m.status == "active"
        ]
    for model_id, created_at in models:
        try:
            with sessions.begin() as session:
                check_in = make(
                    session,
                    model_id=model_id,
                    now=now,
                    since=created_at + FIRST_AFTER,
                    roster=roster,
                )
                if check_in is not None:
                    made.append(check_in.id)
        except IntegrityError:  # another replica made it first: it stands
            log.info("check-in of %s was made by another process", model_id)
        except Exception:
            log.exception("check-in of %s failed; the next sweep tries again", model_id)
    return made


def make(
    session: Session,
    *,
    model_id: str,
    now: datetime,
    since: datetime | None = None,
    roster: Roster | None = None,
) -> CheckIn | None:
    """The model's check-in for the week now, if one is due and not made yet (else None)."""
    version = repo.latest_card_version(session=session, model_id=model_id)
    if version is None:
        return None
    card = Card.model_validate(version.content)
    fire = due(card, now=now, since=since or now - LOOK_BACK)
    if fire is None:
        return None
    period = period_of(fire, card.schedule.timezone)
    if repo.check_in_for(session=session, model_id=model_id, period=period) is not None:
        return None
    earlier = repo.check_ins_before(
        session=session, model_id=model_id, before=now, limit=UNANSWERED_IN_A_ROW
    )
    gone = _gone(card, roster)
    check_in = CheckIn(
        model_id=model_id,
        period=period,
        sent_at=now,
        ownerless=gone is not None and len(gone) == len(card.builders),
        card_version=version.version,
    )
    session.add(check_in)
    session.flush()
    week = recap(session, card=card, end=week_end(fire, card))
    payload = {
        "check_in_id": check_in.id,
        "period": period,
        "card_version": version.version,
        "recap": week.to_payload(),
        "unanswered_before": _unanswered(earlier),
    }
    _queue(
        session,
        check_in,
        NotificationKind.CHECK_IN,
        "post",
        channel=card.channel,
        payload=payload,
        now=now,
    )
    if any(len(m.values) >= 2 for m in week.metrics):
        chart = {"check_in_id": check_in.id, "period": period}
        kind = NotificationKind.CHECK_IN_CHART
        _queue(session, check_in, kind, "chart", channel=card.channel, payload=chart, now=now)
    _judge_ownership(session, card, check_in, earlier=earlier, gone=gone, now=now)
    if card.business_channel:
        digest = business_digest(session, card, week_to=week.end, now=now)
        kind = NotificationKind.BUSINESS_DIGEST
        _queue(
            session,
            check_in,
            kind,
            "digest",
            channel=card.business_channel,
            payload=digest,
            now=now,
        )
    return check_in


def business_digest(session: Session, card: Card, *, week_to: str, now: datetime) -> dict[str, Any]:
    """The weekly note for the business channel, as data: can this week's scores be trusted (the
    trust assessment's verdict and reasons), for whom not (the card's limitations that bite now:
    those on a column or segment an open finding is about, then those that always hold), and who
    to ask (the builders, rendered by the bot)."""
    assessment = assess_trust(session, model_id=card.model, now=now)
    columns = {
        part
        for f in assessment.health.findings
        for part in (f.feature, (f.segment or "").split("=", 1)[0])
        if part
    }
    notes = [*assessment.limitations.other, *assessment.limitations.covering]
    biting = [n.text for n in notes if n.column in columns]
    always = [n.text for n in assessment.limitations.general]
    last_day = datetime.fromisoformat(week_to) - timedelta(microseconds=1)
    return {
        "verdict": str(assessment.verdict),
        "headline": assessment.headline,
        "reasons": list(assessment.reasons[:DIGEST_REASONS]),
        "limitations": biting + always,
        "week_to": f"{last_day:%a %d %b}",
    }


def _gone(card: Card, roster: Roster | None) -> list[str] | None:
    if roster is None:
        return None
    try:
        found = roster(card.builders)
    except Exception:
        log.warning("could not ask Slack who of %s's builders is still there", card.model)
        return None
    return list(found) if found is not None else None


def _unanswered(earlier: Sequence[CheckIn]) -> int:
    """How many check-ins in a row, newest first, nobody answered."""
    count = 0
    for check_in in earlier:
        if check_in.answered_at is not None:
            break
        count += 1
    return count


def _judge_ownership(
    session: Session,
    card: Card,
    check_in: CheckIn,
    *,
    earlier: Sequence[CheckIn],
    gone: list[str] | None,
    now: datetime,
) -> None:
    live = repo.live_finding(session=session, model_id=card.model, key=OWNERSHIP_KEY)
    silent = len(earlier) >= UNANSWERED_IN_A_ROW and _unanswered(earlier) >= UNANSWERED_IN_A_ROW
    if gone is None and live is not None and live.details.get("cause") == "gone":
        return  # Slack could not be asked: the builders are as gone as last week
    if check_in.ownerless:
        names = ", ".join(gone or ())
        observation = Observation(
            kind=OWNERSHIP,
            severity=Severity.CRITICAL,
            summary=(
                f"Every builder of this model is gone from Slack ({names}): nobody is left who "
                "knows what it is for and where it fails. Hand it over to someone who does."
            ),
            details={"cause": "gone", "builders": list(gone or ())},
        )
    elif silent:
        weeks = ", ".join(c.period for c in reversed(earlier[:UNANSWERED_IN_A_ROW]))
        observation = Observation(
            kind=OWNERSHIP,
            severity=Severity.WARN,
            summary=(
                f"Nobody answered the last {UNANSWERED_IN_A_ROW} weekly check-ins ({weeks}): "
                "this model may have nobody left who understands it. Answer the check-in, or "
                "hand the model over."
            ),
            details={"cause": "unanswered", "weeks": weeks},
        )
    else:
        observation = None
    findings.stand(
        session,
        model_id=card.model,
        key=OWNERSHIP_KEY,
        observation=observation,
        now=now,
        channel=card.channel,
        acknowledge_within=card.escalation.acknowledge_within,
    )


def _queue(
    session: Session,
    check_in: CheckIn,
    kind: NotificationKind,
    what: str,
    *,
    channel: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    session.add(
        Notification(
            idempotency_key=check_in_key(check_in.model_id, check_in.period, what),
            model_id=check_in.model_id,
            kind=kind,
            channel=channel,
            payload=payload,
            status=NotificationStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


# --- answers


def get(session: Session, check_in_id: int) -> tuple[CheckIn, Card]:
    """The check-in and its model's newest card; NotFound when either is gone."""
    check_in = repo.get_check_in(session=session, check_in_id=check_in_id)
    version = (
        repo.latest_card_version(session=session, model_id=check_in.model_id)
        if check_in is not None
        else None
    )
    if check_in is None or version is None:
        raise NotFound("check-in", str(check_in_id), [])
    return check_in, Card.model_validate(version.content)


def answer(
    session: Session,
    *,
    check_in_id: int,
    actor: str,
    response: str,
    now: datetime,
    **detail: Any,
) -> CheckIn:
    """Record an answer to a check-in (the latest answer is the one shown), edit its message,
    and end an ownership alarm that only silence caused."""
    if response not in RESPONSES:
        raise ValueError(f"unknown check-in response {response!r}")
    check_in, card = get(session, check_in_id)
    check_in.answered_at = now
    check_in.answered_by = actor
    check_in.response = response
    session.add(
        AuditEvent(
            model_id=check_in.model_id,
            at=now,
            actor=actor,
            action=f"check_in.{response}",
            detail={"check_in_id": check_in.id, "period": check_in.period, **detail},
        )
    )
    _queue(
        session,
        check_in,
        NotificationKind.CHECK_IN_UPDATE,
        f"answer:{now.isoformat()}:{actor}",
        channel=card.channel,
        payload={"check_in_id": check_in.id, "period": check_in.period},
        now=now,
    )
    live = repo.live_finding(session=session, model_id=card.model, key=OWNERSHIP_KEY)
    ends = live is not None and (response == "handed_over" or live.details.get("cause") != "gone")
    if ends:
        findings.stand(
            session,
            model_id=card.model,
            key=OWNERSHIP_KEY,
            observation=None,
            now=now,
            channel=card.channel,
            acknowledge_within=card.escalation.acknowledge_within,
        )
    session.flush()
    return check_in


def revise(
    session: Session,
    *,
    check_in_id: int,
    actor: str,
    now: datetime,
    problem: str,
    good_outcome: str | None,
    decisions: str | None,
    limitations: Sequence[str],
) -> Revision:
    """The card with its intent and limitations as edited in Slack, as a new version (see the
    module docstring). A limitation keeps the segment it had at its place in the list (segments
    are edited in the YAML); an emptied one is removed. CardEditError when the edit would not be
    a valid card, naming the input."""
    check_in, card = get(session, check_in_id)
    texts = [t.strip() for t in limitations]
    kept: list[Limitation] = []
    for i, text in enumerate(texts):
        if not text:
            continue
        old = card.limitations[i] if i < len(card.limitations) else None
        kept.append(Limitation(text=text, segment=old.segment if old else None))
    content = card_to_dict(card)
    content["intent"] = {
        k: v
        for k, v in {
            "problem": problem.strip(),
            "good_outcome": (good_outcome or "").strip() or None,
            "decisions": (decisions or "").strip() or None,
        }.items()
        if v is not None
    }
    content["limitations"] = [
        x.model_dump(mode="json", by_alias=True, exclude_none=True) for x in kept
    ]
    edited = _valid(content, "intent")
    revision = _store(session, check_in, card, edited, actor=actor, now=now, welcome=())
    answer(
        session,
        check_in_id=check_in_id,
        actor=actor,
        response="review",
        now=now,
        version=revision.version,
    )
    return revision


def hand_over(
    session: Session,
    *,
    check_in_id: int,
    actor: str,
    now: datetime,
    builders: Sequence[str],
) -> Revision:
    """The card with new builders (Slack member IDs), as a new version, the new builders
    welcomed with the card in the check-in's thread."""
    check_in, card = get(session, check_in_id)
    chosen = list(dict.fromkeys(b.strip() for b in builders if b.strip()))
    if not chosen:
        raise CardEditError("builders", "pick at least one person to hand the model over to")
    content = card_to_dict(card)
    content["builders"] = chosen
    edited = _valid(content, "builders")
    welcome = tuple(b for b in chosen if b not in card.builders)
    revision = _store(session, check_in, card, edited, actor=actor, now=now, welcome=welcome)
    answer(
        session,
        check_in_id=check_in_id,
        actor=actor,
        response="handed_over",
        now=now,
        version=revision.version,
        builders=chosen,
    )
    return revision


def _valid(content: dict[str, Any], field: str) -> Card:
    try:
        return Card.model_validate(content)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise CardEditError(field, f"{where}: {first['msg']}") from None


def _store(
    session: Session,
    check_in: CheckIn,
    card: Card,
    edited: Card,
    *,
    actor: str,
    now: datetime,
    welcome: Sequence[str],
) -> Revision:
    current = repo.latest_card_version(session=session, model_id=card.model)
    assert current is not None
    registration = register_card(
        session=session,
        card=edited,
        source_file=current.source_file,
        now=now,
        by=actor,
        told={"check_in_id": check_in.id, "by": actor, "welcome": list(welcome)},
    )
    return Revision(card.model, registration.version, registration.changes)
