"""Alembic environment: runs on the engine that store.db passes in (no alembic.ini, no URL here).

On SQLite, foreign keys are switched off while migrating: batch operations rebuild a table by
copying it, which a table that others reference would not survive with them on.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from store.db import include_name
from store.models import Base

engine: Engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.execute(text("PRAGMA foreign_keys=OFF"))
        connection.commit()
    with connection.begin():
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
            include_name=include_name,
        )
        context.run_migrations()
    if sqlite:
        connection.execute(text("PRAGMA foreign_keys=ON"))
        connection.commit()
