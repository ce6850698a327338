"""What handoff remembers: SQLAlchemy 2.0 typed models. Imports nothing of ours.

Every time is stored as UTC and read back tz-aware (`UTCDateTime`), on SQLite and PostgreSQL alike.
Uniqueness that the product relies on (one check run per model and window end, one outbox row per
idempotency key) is a database constraint, never a check in code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset; we restore it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: handoff stores only tz-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy's documented class attribute
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
        bytes: LargeBinary,
        float: Float,
    }


class Model(Base):
    """One monitored model, keyed by the card's `model` id."""

    __tablename__ = "models"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | retired
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CardVersion(Base):
    """A stored handoff card: the full content, its hash, and when and from which file it came."""

    __tablename__ = "card_versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    content: Mapped[dict[str, Any]]
    content_hash: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str] = mapped_column(String(1024))
    registered_at: Mapped[datetime]
    registered_by: Mapped[str | None] = mapped_column(String(200))


class StoredBaseline(Base):
    """A model's baseline as kept (bins, reference profile, day-to-day spread: `jobs.stats.Baseline`
    in `data`). `basis` is the hash of what the baseline depends on in the card (source, columns,
    baseline window, decision threshold): card versions that differ only in thresholds, owners,
    intent or schedule share one baseline, and two checks racing to build it store one row."""

    __tablename__ = "baselines"
    __table_args__ = (UniqueConstraint("model_id", "basis"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    card_version_id: Mapped[int] = mapped_column(ForeignKey("card_versions.id"))
    basis: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    rows: Mapped[int]
    data: Mapped[bytes]
    created_at: Mapped[datetime]


class CheckRun(Base):
    """One drift check of one window; unique per model and window end, so a rerun is harmless."""

    __tablename__ = "check_runs"
    __table_args__ = (UniqueConstraint("model_id", "window_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    baseline_id: Mapped[int | None] = mapped_column(ForeignKey("baselines.id"))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # completed | failed
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[dict[str, Any]] = mapped_column(default=dict)  # reason -> rows (sums to total)
    bad_cells: Mapped[dict[str, Any]] = mapped_column(default=dict)  # column reason -> cells
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class WindowProfile(Base):
    """The binned counts of one check run's window; daily profiles add up to any longer view."""

    __tablename__ = "window_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_run_id: Mapped[int] = mapped_column(
        ForeignKey("check_runs.id", ondelete="CASCADE"), unique=True
    )
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    baseline_id: Mapped[int | None] = mapped_column(ForeignKey("baselines.id"))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    rows: Mapped[int]
    data: Mapped[bytes]

    __table_args__ = (Index(None, "model_id", "window_end"),)


class Episode(Base):
    """A model's findings that overlap in time, told as one story: one root message in the card's
    channel (updated in place), its thread, one acknowledgement and one escalation timer.

    States (jobs/episodes.py): open, acknowledged, snoozed (until `snoozed_until`), resolved (by a
    person, with a note), recovered (every finding cleared). `revision` counts the root message's
    versions, so each update has its own outbox key.
    """

    __tablename__ = "episodes"
    __table_args__ = (Index(None, "model_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    worst_severity: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    snoozed_by: Mapped[str | None] = mapped_column(String(200))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    next_escalation_at: Mapped[datetime | None] = mapped_column(index=True)
    escalation_step: Mapped[int] = mapped_column(default=0)
    revision: Mapped[int] = mapped_column(default=0)
    slack_channel: Mapped[str | None] = mapped_column(String(40))
    slack_ts: Mapped[str | None] = mapped_column(String(40))


class Finding(Base):
    """One condition of a model (kind, metric, feature, segment: `key`), open while it is seen and
    recovered after enough clear runs of later windows. The same condition on later runs updates
    this row; if it returns within a week of recovering, this row reopens (`reopened` counts it).
    Findings at warn or above belong to an episode, which people act on.
    """

    __tablename__ = "findings"
    __table_args__ = (Index(None, "model_id", "key", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    episode_id: Mapped[int | None] = mapped_column(
        ForeignKey("episodes.id", ondelete="SET NULL"), index=True
    )
    key: Mapped[str] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(40))
    metric: Mapped[str | None] = mapped_column(String(80))
    feature: Mapped[str | None] = mapped_column(String(200))
    segment: Mapped[str | None] = mapped_column(String(400))
    severity: Mapped[str] = mapped_column(String(16))
    worst_severity: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None]
    worst_value: Mapped[float | None]
    threshold: Mapped[float | None]
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16))  # open | recovered
    clear_runs: Mapped[int] = mapped_column(default=0)
    reopened: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    last_window_end: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_window_end: Mapped[datetime | None]
    first_check_run_id: Mapped[int | None] = mapped_column(ForeignKey("check_runs.id"))
    last_check_run_id: Mapped[int | None] = mapped_column(ForeignKey("check_runs.id"))


class Notification(Base):
    """The outbox: every Slack message is first a row here, keyed for idempotent delivery.

    Status (store.states.NotificationStatus): pending, then sending while one deliverer holds its
    claim (`claimed_by` until `claimed_until`), then sent (with the channel ID and `slack_ts`),
    superseded (an edit overtaken by a newer one), or dead (`last_error` says why). `uncertain`
    marks a send whose outcome is unknown (a timeout, or a deliverer that died holding the claim):
    the next attempt first looks in Slack for the message by its idempotency key.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(400), unique=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    episode_id: Mapped[int | None] = mapped_column(
        ForeignKey("episodes.id", ondelete="CASCADE"), index=True
    )
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))  # store.states.NotificationKind
    channel: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    slack_channel: Mapped[str | None] = mapped_column(String(40))
    slack_ts: Mapped[str | None] = mapped_column(String(40))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None]
    uncertain: Mapped[bool] = mapped_column(default=False)


class SlackEvent(Base):
    """An Events API event already handled: Slack retries an event it thinks was missed (same
    `event_id`), and a retry must change nothing."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class AuditEvent(Base):
    """Everything said and clicked about a model or finding, in order."""

    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "model_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"))
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))  # a Slack user id, or "handoff"
    action: Mapped[str] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CheckIn(Base):
    """A weekly check-in with a model's builders, and whether anybody answered: `response` is
    `still_true`, `review` (a card edited in Slack) or `handed_over`; `ownerless` when every
    builder was found deactivated in Slack. `card_version` is the card the check-in showed."""

    __tablename__ = "check_ins"
    __table_args__ = (UniqueConstraint("model_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))  # ISO week, e.g. 2026-W48
    sent_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(200))
    response: Mapped[str | None] = mapped_column(String(40))
    ownerless: Mapped[bool] = mapped_column(default=False)
    card_version: Mapped[int | None]
    slack_channel: Mapped[str | None] = mapped_column(String(40))
    slack_ts: Mapped[str | None] = mapped_column(String(40))


class LeaderLease(Base):
    """A lease that lets one of several `handoff run` processes run the scheduler."""

    __tablename__ = "leader_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    renewed_at: Mapped[datetime]


class FileSpanRow(Base):
    """What a csv/parquet read learnt about one file: its size and modification time then, and the
    time span (ns since the epoch) of its rows by one timestamp column, so later windows skip it
    while it is unchanged (`jobs.sources.spans`). A cache: losing it costs one read per file."""

    __tablename__ = "file_spans"
    __table_args__ = (UniqueConstraint("path", "timestamp_column"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(1024))
    timestamp_column: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)
    first_ns: Mapped[int | None] = mapped_column(BigInteger)
    last_ns: Mapped[int | None] = mapped_column(BigInteger)
    unplaced: Mapped[dict[str, Any]] = mapped_column(default=dict)  # reason -> rows
    head_digest: Mapped[str | None] = mapped_column(String(64))  # of its first 64 KiB, hex
    indexed_at: Mapped[datetime]
