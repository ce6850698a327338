"""check-ins: the card version a check-in showed and where its message is

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("slack_channel", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("slack_ts", sa.String(length=40), nullable=True))


def downgrade() -> None:  # pragma: no cover - handoff migrates forward only
    raise NotImplementedError("0004 cannot be undone: restore the database from a backup")
