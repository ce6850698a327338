"""Every query handoff makes, as functions with a keyword-only session.

The caller owns the transaction (`with sessions.begin() as session:`); nothing here commits. No
other module builds a `select()`: a newcomer looking for how something is read finds it here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    ColumnElement,
    and_,
    delete,
    func,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from store.models import (
    AuditEvent,
    CardVersion,
    CheckIn,
    CheckRun,
    Episode,
    FileSpanRow,
    Finding,
    LeaderLease,
    Model,
    Notification,
    SlackEvent,
    StoredBaseline,
    WindowProfile,
)
from store.states import (
    ACTIVE_EPISODE_STATES,
    CheckStatus,
    EpisodeState,
    FindingState,
    NotificationKind,
    NotificationStatus,
)

# --- models and card versions


def get_model(*, session: Session, model_id: str) -> Model | None:
    return session.get(Model, model_id)


def list_models(*, session: Session, ids: Sequence[str] | None = None) -> Sequence[Model]:
    """Every model (or those with these ids), by id."""
    query = select(Model).order_by(Model.id)
    if ids is not None:
        query = query.where(Model.id.in_(ids))
    return session.scalars(query).all()


def model_ids(*, session: Session) -> list[str]:
    return list(session.scalars(select(Model.id).order_by(Model.id)))


def latest_card_version(*, session: Session, model_id: str) -> CardVersion | None:
    return session.scalars(
        select(CardVersion)
        .where(CardVersion.model_id == model_id)
        .order_by(CardVersion.version.desc())
        .limit(1)
    ).first()


def add_card_version(
    *,
    session: Session,
    model_id: str,
    name: str,
    content: dict[str, Any],
    content_hash: str,
    source_file: str,
    now: datetime,
    registered_by: str | None = None,
) -> CardVersion:
    """Store a new version of a model's card, creating the model on its first card."""
    model = session.get(Model, model_id, with_for_update=True)
    if model is None:
        model = Model(id=model_id, name=name, current_version=0, created_at=now, updated_at=now)
        session.add(model)
        session.flush()  # the model row must exist before its first card version
    model.current_version += 1
    model.name = name
    model.updated_at = now
    version = CardVersion(
        model_id=model_id,
        version=model.current_version,
        content=content,
        content_hash=content_hash,
        source_file=source_file,
        registered_at=now,
        registered_by=registered_by,
    )
    session.add(version)
    session.flush()
    return version


# --- baselines and window profiles


def baseline_by_basis(*, session: Session, model_id: str, basis: str) -> StoredBaseline | None:
    """The model's baseline fitted for this basis (what it depends on in the card), if any."""
    return session.scalars(
        select(StoredBaseline).where(
            StoredBaseline.model_id == model_id, StoredBaseline.basis == basis
        )
    ).first()


def profile_data(
    *, session: Session, model_id: str, baseline_id: int, since: datetime, until: datetime
) -> list[bytes]:
    """Stored window profiles (bytes) of this baseline with `since <= window_end < until`,
    oldest first."""
    return list(
        session.scalars(
            select(WindowProfile.data)
            .where(
                WindowProfile.model_id == model_id,
                WindowProfile.baseline_id == baseline_id,
                WindowProfile.window_end < until,
                WindowProfile.window_end >= since,
            )
            .order_by(WindowProfile.window_end)
        )
    )


# --- check runs


def last_check_run(*, session: Session, model_id: str) -> CheckRun | None:
    """The completed run of the model with the latest window end."""
    return session.scalars(
        select(CheckRun)
        .where(CheckRun.model_id == model_id, CheckRun.status == CheckStatus.COMPLETED)
        .order_by(CheckRun.window_end.desc())
        .limit(1)
    ).first()


def check_run_at(*, session: Session, model_id: str, window_end: datetime) -> CheckRun | None:
    """The run of this model's window ending at `window_end` (at most one: a unique constraint)."""
    return session.scalars(
        select(CheckRun).where(CheckRun.model_id == model_id, CheckRun.window_end == window_end)
    ).first()


def run_series(
    *, session: Session, model_id: str, since: datetime, until: datetime
) -> list[tuple[datetime, dict[str, Any]]]:
    """(window end, headline series) of completed runs with `since <= window_end < until`. Only
    the series (a few hundred bytes) is read out of each run's stored metrics (tens of KB), inside
    the database."""
    series = type_coerce(CheckRun.metrics, JSON)[("metrics", "series")]
    rows = session.execute(
        select(CheckRun.window_end, series).where(
            CheckRun.model_id == model_id,
            CheckRun.status == CheckStatus.COMPLETED,
            CheckRun.window_end < until,
            CheckRun.window_end >= since,
        )
    ).all()
    return [(end, values if isinstance(values, dict) else {}) for end, values in rows]


# --- findings and episodes


def live_findings(*, session: Session, model_id: str) -> list[Finding]:
    """The model's open findings: those later runs update, clear or recover."""
    return list(
        session.scalars(
            select(Finding).where(Finding.model_id == model_id, Finding.state == FindingState.OPEN)
        )
    )


def recovered_findings(*, session: Session, model_id: str, since: datetime) -> list[Finding]:
    """Findings of the model that recovered in a window ending at `since` or later, the most
    recently recovered last (so that, by key, the newest wins in a dict)."""
    return list(
        session.scalars(
            select(Finding)
            .where(
                Finding.model_id == model_id,
                Finding.state == FindingState.RECOVERED,
                Finding.closed_window_end >= since,
            )
            .order_by(Finding.closed_window_end, Finding.id)
        )
    )


def findings_of_run(*, session: Session, check_run_id: int) -> list[Finding]:
    """Findings first or last seen by this check run."""
    return list(
        session.scalars(
            select(Finding).where(
                or_(
                    Finding.first_check_run_id == check_run_id,
                    Finding.last_check_run_id == check_run_id,
                )
            )
        )
    )


def list_findings(
    *, session: Session, model_id: str | None = None, include_closed: bool = False
) -> list[tuple[Finding, Episode | None]]:
    """Findings with their episodes, newest first: the open ones, or all with `include_closed`."""
    query = select(Finding, Episode).outerjoin(Episode, Finding.episode_id == Episode.id)
    if model_id is not None:
        query = query.where(Finding.model_id == model_id)
    if not include_closed:
        query = query.where(Finding.state == FindingState.OPEN)
    rows = session.execute(query.order_by(Finding.last_seen_at.desc(), Finding.id.desc())).all()
    return [(finding, episode) for finding, episode in rows]


def get_finding(*, session: Session, finding_id: int) -> Finding | None:
    return session.get(Finding, finding_id)


def get_episode(*, session: Session, episode_id: int) -> Episode | None:
    return session.get(Episode, episode_id)


def active_episode(*, session: Session, model_id: str) -> Episode | None:
    """The model's newest episode that is not over (new findings join it)."""
    return session.scalars(
        select(Episode)
        .where(Episode.model_id == model_id, Episode.state.in_(ACTIVE_EPISODE_STATES))
        .order_by(Episode.id.desc())
        .limit(1)
    ).first()


def episode_findings(*, session: Session, episode_id: int) -> list[Finding]:
    return list(
        session.scalars(
            select(Finding).where(Finding.episode_id == episode_id).order_by(Finding.id)
        )
    )


def snoozed_episodes(*, session: Session, model_id: str | None, until: datetime) -> list[Episode]:
    """Snoozed episodes whose snooze ended at `until` or before (of one model, or all)."""
    query = select(Episode).where(
        Episode.state == EpisodeState.SNOOZED, Episode.snoozed_until <= until
    )
    if model_id is not None:
        query = query.where(Episode.model_id == model_id)
    return list(session.scalars(query.order_by(Episode.id)))


def open_finding_counts(*, session: Session, model_id: str | None = None) -> dict[str, int]:
    """Findings that want attention, by severity: open, and not in a resolved (accepted) episode;
    of one model, or of all."""
    query = (
        select(Finding.severity, func.count())
        .outerjoin(Episode, Finding.episode_id == Episode.id)
        .where(
            Finding.state == FindingState.OPEN,
            or_(Episode.id.is_(None), Episode.state != EpisodeState.RESOLVED),
        )
    )
    if model_id is not None:
        query = query.where(Finding.model_id == model_id)
    rows = session.execute(query.group_by(Finding.severity)).all()
    return {severity: count for severity, count in rows}


def notification_count(*, session: Session, model_id: str) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Notification).where(Notification.model_id == model_id)
        )
        or 0
    )


# --- the outbox and numbers about handoff itself


def ping(*, session: Session) -> None:
    """Raise if the database does not answer."""
    session.execute(text("SELECT 1"))


def model_count(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Model)) or 0


def outbox_counts(*, session: Session) -> dict[str, int]:
    """Outbox rows by status."""
    rows = session.execute(
        select(Notification.status, func.count()).group_by(Notification.status)
    ).all()
    return {status: count for status, count in rows}


def failed_check_count(*, session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(CheckRun).where(CheckRun.status == CheckStatus.FAILED)
        )
        or 0
    )


# --- the leader lease


def renew_lease(
    *, session: Session, name: str, holder: str, now: datetime, expires_at: datetime
) -> bool:
    """Take or renew lease `name` for `holder` if it is theirs or has expired: one conditional
    UPDATE, so the database serialises competing writers. False when nobody ever held it too."""
    taken = session.execute(
        update(LeaderLease)
        .where(
            LeaderLease.name == name,
            or_(LeaderLease.holder == holder, LeaderLease.expires_at < now),
        )
        .values(holder=holder, expires_at=expires_at, renewed_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def get_lease(*, session: Session, name: str) -> LeaderLease | None:
    return session.get(LeaderLease, name)


def expire_lease(*, session: Session, name: str, holder: str, now: datetime) -> None:
    """End `holder`'s lease at `now` (a clean shutdown)."""
    session.execute(
        update(LeaderLease)
        .where(LeaderLease.name == name, LeaderLease.holder == holder)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )


# --- the outbox: claims, outcomes, and what `handoff outbox` shows

_CLAIMABLE = (NotificationStatus.PENDING, NotificationStatus.SENDING)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            Notification.status == NotificationStatus.PENDING, Notification.next_attempt_at <= now
        ),
        and_(Notification.status == NotificationStatus.SENDING, Notification.claimed_until < now),
    )


def claim_notifications(
    *,
    session: Session,
    holder: str,
    now: datetime,
    until: datetime,
    limit: int,
    model_id: str | None = None,
) -> list[Notification]:
    """Claim up to `limit` deliverable rows for `holder`, oldest first: pending ones that are due,
    and ones whose previous claimer let its claim expire (those become `uncertain`: it may have
    posted before it died). Each row is taken by one conditional UPDATE, so two deliverers never
    hold the same row."""
    query = select(Notification.id).where(_claimable(now))
    if model_id is not None:
        query = query.where(Notification.model_id == model_id)
    ids = list(session.scalars(query.order_by(Notification.id).limit(limit)))
    claimed = []
    for notification_id in ids:
        taken = session.execute(
            update(Notification)
            .where(Notification.id == notification_id, _claimable(now))
            .values(
                status=NotificationStatus.SENDING,
                claimed_by=holder,
                claimed_until=until,
                attempts=Notification.attempts + 1,
                uncertain=or_(
                    Notification.uncertain, Notification.status == NotificationStatus.SENDING
                ),
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(notification_id)
    if not claimed:
        return []
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.id.in_(claimed))
            .order_by(Notification.id)
            .execution_options(populate_existing=True)
        )
    )


def get_notification(*, session: Session, notification_id: int) -> Notification | None:
    return session.get(Notification, notification_id)


def pending_updates(*, session: Session, episode_id: int) -> list[Notification]:
    """An episode's root edits not yet sent (pending, or claimed by a deliverer)."""
    return list(
        session.scalars(
            select(Notification).where(
                Notification.episode_id == episode_id,
                Notification.kind == NotificationKind.EPISODE_UPDATE,
                Notification.status.in_(_CLAIMABLE),
            )
        )
    )


def outbox(*, session: Session, statuses: Sequence[str], limit: int = 200) -> list[Notification]:
    """Rows in these statuses, oldest first."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.status.in_(statuses))
            .order_by(Notification.id)
            .limit(limit)
        )
    )


def dead_notifications(*, session: Session, model_id: str | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.status == NotificationStatus.DEAD)
    if model_id is not None:
        query = query.where(Notification.model_id == model_id)
    return list(session.scalars(query.order_by(Notification.id)))


def dead_counts(*, session: Session) -> dict[str, int]:
    """Dead outbox rows per model."""
    rows = session.execute(
        select(Notification.model_id, func.count())
        .where(Notification.status == NotificationStatus.DEAD)
        .group_by(Notification.model_id)
    ).all()
    return {model: count for model, count in rows}


# --- Slack events already handled


def remember_event(*, session: Session, event_id: str, now: datetime) -> None:
    """Record an Events API event as handled (a unique key: a second insert raises)."""
    session.add(SlackEvent(event_id=event_id, received_at=now))
    session.flush()


def forget_events(*, session: Session, before: datetime) -> None:
    """Drop handled events older than `before` (Slack retries within minutes)."""
    session.execute(delete(SlackEvent).where(SlackEvent.received_at < before))


# --- escalation


def due_escalations(*, session: Session, now: datetime) -> list[Episode]:
    """Open episodes whose escalation timer has run out, oldest first."""
    return list(
        session.scalars(
            select(Episode)
            .where(Episode.state == EpisodeState.OPEN, Episode.next_escalation_at <= now)
            .order_by(Episode.next_escalation_at)
        )
    )


def models_with_snoozes_due(*, session: Session, now: datetime) -> list[str]:
    return list(
        session.scalars(
            select(Episode.model_id)
            .where(Episode.state == EpisodeState.SNOOZED, Episode.snoozed_until <= now)
            .distinct()
        )
    )


def episode_by_message(*, session: Session, channel: str, ts: str) -> Episode | None:
    """The episode whose root message is `ts` in `channel` (a thread's parent)."""
    return session.scalars(
        select(Episode).where(Episode.slack_channel == channel, Episode.slack_ts == ts)
    ).first()


def live_finding(*, session: Session, model_id: str, key: str) -> Finding | None:
    """The model's open finding of condition `key`, if any."""
    return session.scalars(
        select(Finding).where(
            Finding.model_id == model_id, Finding.key == key, Finding.state == FindingState.OPEN
        )
    ).first()


# --- check-ins and the week they look back on


def check_in_for(*, session: Session, model_id: str, period: str) -> CheckIn | None:
    return session.scalars(
        select(CheckIn).where(CheckIn.model_id == model_id, CheckIn.period == period)
    ).first()


def get_check_in(*, session: Session, check_in_id: int) -> CheckIn | None:
    return session.get(CheckIn, check_in_id)


def check_ins_before(
    *, session: Session, model_id: str, before: datetime, limit: int
) -> list[CheckIn]:
    """The model's check-ins sent before `before`, newest first."""
    return list(
        session.scalars(
            select(CheckIn)
            .where(CheckIn.model_id == model_id, CheckIn.sent_at < before)
            .order_by(CheckIn.sent_at.desc(), CheckIn.id.desc())
            .limit(limit)
        )
    )


def findings_opened(
    *, session: Session, model_id: str, since: datetime, until: datetime
) -> list[Finding]:
    """Findings first opened in `[since, until)`, oldest first."""
    return list(
        session.scalars(
            select(Finding)
            .where(
                Finding.model_id == model_id,
                Finding.opened_at >= since,
                Finding.opened_at < until,
            )
            .order_by(Finding.opened_at, Finding.id)
        )
    )


def audit_events(
    *,
    session: Session,
    model_id: str,
    actions: Sequence[str],
    since: datetime,
    until: datetime,
) -> list[AuditEvent]:
    """The model's audit events of these `actions` in `[since, until)`, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.model_id == model_id,
                AuditEvent.action.in_(actions),
                AuditEvent.at >= since,
                AuditEvent.at < until,
            )
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


def episodes_in(*, session: Session, model_id: str, states: Sequence[str]) -> list[Episode]:
    """The model's episodes in one of `states`, oldest first."""
    return list(
        session.scalars(
            select(Episode)
            .where(Episode.model_id == model_id, Episode.state.in_(states))
            .order_by(Episode.opened_at, Episode.id)
        )
    )


def notification_by_key(*, session: Session, key: str) -> Notification | None:
    return session.scalars(select(Notification).where(Notification.idempotency_key == key)).first()


def run_statuses(
    *, session: Session, model_id: str, since: datetime, until: datetime
) -> dict[str, int]:
    """The model's check runs of windows ending in `[since, until)`, counted by status."""
    rows = session.execute(
        select(CheckRun.status, func.count())
        .where(
            CheckRun.model_id == model_id,
            CheckRun.window_end >= since,
            CheckRun.window_end < until,
        )
        .group_by(CheckRun.status)
    ).all()
    return {status: count for status, count in rows}


def card_version(*, session: Session, model_id: str, version: int) -> CardVersion | None:
    return session.scalars(
        select(CardVersion).where(CardVersion.model_id == model_id, CardVersion.version == version)
    ).first()


# --- the trust assessment (jobs/trust.py) ------------------------------------------------------
# One section, appended, so that a merge is easy. Run metrics (~35 KB of JSON a run: every
# feature's report) are read only where nothing else holds the number: the matured window's.


class RunDigest(NamedTuple):
    """What the trust assessment reads of a completed check run: its baseline, window and rows."""

    baseline_id: int | None
    window_start: datetime
    window_end: datetime
    rows_read: int
    rows_rejected: int


_DIGEST = (
    CheckRun.baseline_id,
    CheckRun.window_start,
    CheckRun.window_end,
    CheckRun.rows_read,
    CheckRun.rows_rejected,
)


def run_digests(
    *, session: Session, model_id: str, since: datetime, until: datetime
) -> list[RunDigest]:
    """The model's completed runs with `since <= window_end <= until`, oldest first."""
    rows = session.execute(
        select(*_DIGEST)
        .where(
            CheckRun.model_id == model_id,
            CheckRun.status == CheckStatus.COMPLETED,
            CheckRun.window_end >= since,
            CheckRun.window_end <= until,
        )
        .order_by(CheckRun.window_end)
    ).all()
    return [RunDigest(*row) for row in rows]


def latest_run_digest(*, session: Session, model_id: str, until: datetime) -> RunDigest | None:
    """The model's completed run with the latest window end at or before `until`."""
    row = session.execute(
        select(*_DIGEST)
        .where(
            CheckRun.model_id == model_id,
            CheckRun.status == CheckStatus.COMPLETED,
            CheckRun.window_end <= until,
        )
        .order_by(CheckRun.window_end.desc())
        .limit(1)
    ).first()
    return RunDigest(*row) if row is not None else None


def matured_accuracy(
    *, session: Session, model_id: str, since: datetime, until: datetime
) -> dict[datetime, dict[str, Any]]:
    """Window end -> the `accuracy_drop` entry (`{value, method, n: [labelled, reference], ...}`)
    of the matured window's report (labels that arrived after the card's delay) of the model's
    completed runs with `since <= window_end <= until` that have one. Only that fragment of the
    metrics JSON is returned."""
    entry = CheckRun.metrics[("metrics", "matured", "features", "performance", "accuracy_drop")]
    rows = session.execute(
        select(CheckRun.window_end, entry).where(
            CheckRun.model_id == model_id,
            CheckRun.status == CheckStatus.COMPLETED,
            CheckRun.window_end >= since,
            CheckRun.window_end <= until,
        )
    ).all()
    return {end: value for end, value in rows if isinstance(value, dict)}


def window_profile_rows(
    *, session: Session, model_id: str, baseline_id: int, since: datetime, until: datetime
) -> list[tuple[datetime, bytes]]:
    """(window end, data) of the model's window profiles of this baseline with
    `since <= window_end <= until`, oldest first."""
    rows = session.execute(
        select(WindowProfile.window_end, WindowProfile.data)
        .where(
            WindowProfile.model_id == model_id,
            WindowProfile.baseline_id == baseline_id,
            WindowProfile.window_end >= since,
            WindowProfile.window_end <= until,
        )
        .order_by(WindowProfile.window_end)
    ).all()
    return [(end, data) for end, data in rows]


# --- model health for GET /metrics (jobs/vitals.py, bot/metrics.py)
#
# Each function reads every model at once, so a scrape makes the same few queries whatever the
# number of models. JSON is cut down inside the database (the card's channel and score column, a
# run's headline `series`): a scrape does not load whole cards or reports.


def model_labels(*, session: Session) -> list[tuple[str, str, str | None, str | None]]:
    """(model id, name, channel, score column) of every model, by id, from its current card."""
    content = type_coerce(CardVersion.content, JSON)
    rows = session.execute(
        select(
            Model.id,
            Model.name,
            content["channel"].as_string(),
            content[("data", "score")].as_string(),
        )
        .outerjoin(
            CardVersion,
            and_(CardVersion.model_id == Model.id, CardVersion.version == Model.current_version),
        )
        .order_by(Model.id)
    ).all()
    return [(model, name, channel, score) for model, name, channel, score in rows]


def latest_run_series(
    *, session: Session
) -> list[tuple[str, datetime, datetime | None, dict[str, Any]]]:
    """(model id, window end, finished at, headline series) of each model's completed run with the
    latest window end: one GROUP BY joined back on the (model, window end) unique key."""
    completed = CheckRun.status == CheckStatus.COMPLETED
    latest = (
        select(CheckRun.model_id, func.max(CheckRun.window_end).label("window_end"))
        .where(completed)
        .group_by(CheckRun.model_id)
        .subquery()
    )
    series = type_coerce(CheckRun.metrics, JSON)[("metrics", "series")]
    rows = session.execute(
        select(CheckRun.model_id, CheckRun.window_end, CheckRun.finished_at, series)
        .join(
            latest,
            and_(
                CheckRun.model_id == latest.c.model_id, CheckRun.window_end == latest.c.window_end
            ),
        )
        .where(completed)
    ).all()
    return [
        (model, end, finished, values if isinstance(values, dict) else {})
        for model, end, finished, values in rows
    ]


def open_finding_counts_by_model(*, session: Session) -> dict[tuple[str, str], int]:
    """Findings that want attention (as `open_finding_counts`), by (model id, severity)."""
    rows = session.execute(
        select(Finding.model_id, Finding.severity, func.count())
        .outerjoin(Episode, Finding.episode_id == Episode.id)
        .where(
            Finding.state == FindingState.OPEN,
            or_(Episode.id.is_(None), Episode.state != EpisodeState.RESOLVED),
        )
        .group_by(Finding.model_id, Finding.severity)
    ).all()
    return {(model, severity): count for model, severity, count in rows}


def last_check_in_answers(*, session: Session) -> dict[str, datetime]:
    """When each model's check-ins were last answered (models never answered are absent)."""
    rows = session.execute(
        select(CheckIn.model_id, func.max(CheckIn.answered_at))
        .where(CheckIn.answered_at.is_not(None))
        .group_by(CheckIn.model_id)
    ).all()
    return {model: answered for model, answered in rows if answered is not None}


# --- the file index (csv/parquet files' time spans)

_PATHS_PER_QUERY = 500


class IndexedSpan(NamedTuple):
    path: str
    size: int
    mtime_ns: int
    rows: int
    first_ns: int | None
    last_ns: int | None
    unplaced: dict[str, Any]
    head_digest: str | None


def file_spans(
    *, session: Session, timestamp_column: str, paths: Sequence[str]
) -> list[IndexedSpan]:
    """The indexed spans of `paths` by `timestamp_column` (paths never indexed are absent)."""
    out: list[IndexedSpan] = []
    columns = [getattr(FileSpanRow, name) for name in IndexedSpan._fields]
    for i in range(0, len(paths), _PATHS_PER_QUERY):
        rows = session.execute(
            select(*columns).where(
                FileSpanRow.timestamp_column == timestamp_column,
                FileSpanRow.path.in_(paths[i : i + _PATHS_PER_QUERY]),
            )
        )
        out += [IndexedSpan(*row) for row in rows]
    return out


def save_file_span(
    *,
    session: Session,
    path: str,
    timestamp_column: str,
    values: dict[str, Any],
    now: datetime,
) -> None:
    """Index one file's span: `values` (size, mtime_ns, rows, first_ns, last_ns, unplaced,
    head_digest) replace what was known of `path` by `timestamp_column`."""
    row = session.scalars(
        select(FileSpanRow).where(
            FileSpanRow.path == path, FileSpanRow.timestamp_column == timestamp_column
        )
    ).one_or_none()
    if row is None:
        row = FileSpanRow(path=path, timestamp_column=timestamp_column)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.indexed_at = now
