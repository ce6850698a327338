"""Real databases for tests: a SQLite file, and scratch PostgreSQL databases when configured.

PostgreSQL runs when HANDOFF_TEST_POSTGRES_URL is set (CI sets it). If it is set and the server does
not answer, tests fail: CI must never pass by skipping the database it promised to test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL_ENV = "HANDOFF_TEST_POSTGRES_URL"


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_ENV) or None


@contextmanager
def scratch_postgres(base_url: str) -> Iterator[str]:
    """Create an empty database next to `base_url`'s, yield its URL, and drop it afterwards."""
    url = make_url(base_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"handoff_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
