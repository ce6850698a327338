"""Engines, sessions and migrations. Nothing is built at import time; callers pass the URL.

`prepare(url)` is what every command but `handoff db upgrade` calls: it applies migrations to a
SQLite database (so a newcomer never runs one by hand) and, on any other backend, refuses to run
against a schema that is behind, naming the command that fixes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store.errors import DatabaseError, HandoffError
from store.models import Base

DEFAULT_DATABASE_URL = "sqlite:///handoff.db"
MIGRATIONS = Path(__file__).with_name("migrations")


# Tables that other libraries own in our database (APScheduler's job store creates its own).
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    """Alembic's filter: compare and migrate our tables only."""
    return not (type_ == "table" and name in FOREIGN_TABLES)


class SchemaBehind(HandoffError):
    """The database is not at the newest migration."""


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL and a busy timeout for concurrent use."""
    if make_url(url).get_backend_name() != "sqlite":
        timeout = (
            {"connect_timeout": 10} if make_url(url).get_backend_name() == "postgresql" else {}
        )
        return create_engine(url, pool_pre_ping=True, connect_args=timeout)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (the `handoff db upgrade` command)."""
    command.upgrade(alembic_config(engine), revision)


def head_revision() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_differences(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match the models (empty when equal)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        return list(compare_metadata(context, Base.metadata))


def open_engine(url: str) -> Engine:
    """An engine on `url` that has answered once; DatabaseError naming DATABASE_URL, what is wrong
    and the fix when the URL is not one, its driver is missing, or the database does not answer."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"DATABASE_URL is not a database URL ({url[:60]!r}): write one like "
            "sqlite:///handoff.db or postgresql+psycopg://user@host:5432/handoff"
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    try:
        engine = make_engine(url)
    except NoSuchModuleError:
        raise DatabaseError(
            f"DATABASE_URL names a kind of database SQLAlchemy does not know "
            f"({parsed.drivername!r}): use sqlite:///PATH or postgresql+psycopg://..."
        ) from None
    except ImportError as error:
        raise DatabaseError(
            f"DATABASE_URL needs the Python driver {error.name or parsed.drivername!r}, which is "
            "not installed: install it, or use postgresql+psycopg:// (installed with handoff)"
        ) from None
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as error:
        engine.dispose()
        raise DatabaseError(_unreachable(parsed, shown, error)) from None
    return engine


def _unreachable(url: URL, shown: str, error: SQLAlchemyError) -> str:
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    if url.get_backend_name() == "sqlite" and url.database:
        folder = Path(url.database).expanduser().resolve().parent
        if not folder.is_dir():
            return (
                f"DATABASE_URL points at a SQLite file in {folder}, a folder that does not "
                "exist: create it, or set DATABASE_URL to a file in an existing folder"
            )
        return f"DATABASE_URL: cannot open the SQLite file {url.database}: {detail}"
    password = url.password
    if password:
        detail = detail.replace(str(password), "***")
    return (
        f"DATABASE_URL: cannot reach the database at {shown}: {detail} (is the server running, "
        "and are host, port, user and database right?)"
    )


def prepare(url: str) -> Engine:
    """An engine whose schema is current: migrated in place on SQLite, checked elsewhere."""
    engine = open_engine(url)
    if engine.dialect.name == "sqlite":
        if current_revision(engine) != head_revision():
            upgrade(engine)
    elif current_revision(engine) != head_revision():
        engine.dispose()
        raise SchemaBehind(
            f"the database at {make_url(url).render_as_string(hide_password=True)} is not at the "
            "newest schema: run `handoff db upgrade`"
        )
    return engine
