"""episodes: a model's overlapping findings told as one story; findings keep their own lifecycle

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Findings lose the person-facing state (acknowledged, snoozed, resolved), the escalation timer and
the Slack message: those move to `episodes`. Existing findings at warn or above that were not
recovered each get an episode in the state they had. Findings remember the window they were last
seen in (`last_window_end`), so that an older window can never clear them. Baselines get a `basis`
(what in the card they depend on) and are unique per model and basis; check runs keep bad cells
apart from rejected rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("worst_severity", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snoozed_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_step", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("slack_channel", sa.String(length=40), nullable=True),
        sa.Column("slack_ts", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.id"],
            name=op.f("fk_episodes_model_id_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episodes")),
    )
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_episodes_model_id"), ["model_id", "state"])
        batch_op.create_index(batch_op.f("ix_episodes_next_escalation_at"), ["next_escalation_at"])

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("episode_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_events_episode_id_episodes"),
            "episodes",
            ["episode_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("baselines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("basis", sa.String(length=64), nullable=True))
    op.execute("UPDATE baselines SET basis = 'version:' || CAST(card_version_id AS VARCHAR(20))")
    with op.batch_alter_table("baselines", schema=None) as batch_op:
        batch_op.alter_column("basis", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_baselines_model_id_basis"), ["model_id", "basis"]
        )

    with op.batch_alter_table("check_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bad_cells", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    with op.batch_alter_table("check_runs", schema=None) as batch_op:
        batch_op.alter_column("bad_cells", existing_type=sa.JSON(), server_default=None)

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("episode_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_notifications_episode_id"), ["episode_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_episode_id_episodes"),
            "episodes",
            ["episode_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("episode_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("reopened", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(sa.Column("last_window_end", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("closed_window_end", sa.DateTime(timezone=True), nullable=True)
        )
    _move_person_states_to_episodes()
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.alter_column("reopened", existing_type=sa.Integer(), server_default=None)
        batch_op.alter_column(
            "last_window_end", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.drop_index(batch_op.f("ix_findings_next_escalation_at"))
        batch_op.create_index(batch_op.f("ix_findings_episode_id"), ["episode_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_findings_episode_id_episodes"),
            "episodes",
            ["episode_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_column("snoozed_until")
        batch_op.drop_column("slack_channel")
        batch_op.drop_column("escalation_step")
        batch_op.drop_column("next_escalation_at")
        batch_op.drop_column("slack_ts")


def _move_person_states_to_episodes() -> None:
    """Give every live finding at warn or above an episode in the state the finding had."""
    bind = op.get_bind()
    meta = sa.MetaData()
    findings = sa.Table("findings", meta, autoload_with=bind)
    runs = sa.Table("check_runs", meta, autoload_with=bind)
    episodes = sa.Table("episodes", meta, autoload_with=bind)
    last_window = (
        sa.select(runs.c.window_end)
        .where(runs.c.id == findings.c.last_check_run_id)
        .scalar_subquery()
    )
    bind.execute(
        findings.update().values(
            last_window_end=sa.func.coalesce(last_window, findings.c.last_seen_at)
        )
    )
    bind.execute(
        findings.update()
        .where(findings.c.state == "recovered")
        .values(closed_window_end=findings.c.last_window_end)
    )
    live = bind.execute(
        sa.select(findings).where(
            findings.c.state != "recovered",
            findings.c.worst_severity.in_(("warn", "critical")),
        )
    ).all()
    for row in live:
        inserted = bind.execute(
            episodes.insert().values(
                model_id=row.model_id,
                state=row.state,
                severity=row.severity,
                worst_severity=row.worst_severity,
                opened_at=row.opened_at,
                updated_at=row.last_seen_at,
                snoozed_until=row.snoozed_until,
                next_escalation_at=row.next_escalation_at,
                escalation_step=row.escalation_step,
                revision=0,
                slack_channel=row.slack_channel,
                slack_ts=row.slack_ts,
            )
        )
        episode_id = inserted.inserted_primary_key[0]  # type: ignore[index]
        bind.execute(
            findings.update()
            .where(findings.c.id == row.id)
            .values(episode_id=episode_id, state="open")
        )
    bind.execute(findings.update().where(findings.c.state != "recovered").values(state="open"))


def downgrade() -> None:  # pragma: no cover - handoff migrates forward only
    raise NotImplementedError("0002 cannot be undone: restore the database from a backup")
