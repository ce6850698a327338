"""file spans: each csv/parquet file's size, modification time and time span, to skip it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_spans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("timestamp_column", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("first_ns", sa.BigInteger(), nullable=True),
        sa.Column("last_ns", sa.BigInteger(), nullable=True),
        sa.Column("unplaced", sa.JSON(), nullable=False),
        sa.Column("head_digest", sa.String(length=64), nullable=True),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_spans")),
        sa.UniqueConstraint(
            "path", "timestamp_column", name=op.f("uq_file_spans_path_timestamp_column")
        ),
    )


def downgrade() -> None:  # pragma: no cover - handoff migrates forward only
    raise NotImplementedError("0005 cannot be undone: restore the database from a backup")
