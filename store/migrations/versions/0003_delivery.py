"""delivery: claims and certainty on outbox rows; events already handled

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

An outbox row is claimed by one deliverer at a time (`claimed_by`, `claimed_until`), remembers
the channel ID it went to, and whether its last send has an unknown outcome (`uncertain`: look
in Slack before posting again). `slack_events` keeps the Events API events already handled, so a
retried event changes nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_slack_events")),
    )
    with op.batch_alter_table("slack_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_events_received_at"), ["received_at"])
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slack_channel", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("uncertain", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column("uncertain", existing_type=sa.Boolean(), server_default=None)


def downgrade() -> None:  # pragma: no cover - handoff migrates forward only
    raise NotImplementedError("0003 cannot be undone: restore the database from a backup")
