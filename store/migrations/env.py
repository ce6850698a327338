"""Alembic environment: runs on the engine that store.db passes in (no alembic.ini, no URL here)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from store.db import include_name
from store.models import Base

engine: Engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
