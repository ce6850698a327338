"""What every `handoff` command shares: settings and sessions from the environment, parsing of
times and durations, and the one translator of errors into words and exit codes.

Known errors (HandoffError) are printed to stderr as `file: field: message` lines or one
`error: ...` line, exit 1. A closed pipe (`handoff check ... | head -1`) is one line and exit 1.
Anything unexpected gets a correlation id, shown to the user, and its traceback goes to the error
log (`HANDOFF_ERROR_LOG`, default `~/.local/state/handoff/errors.log`), exit 2: never a
traceback on the terminal for a user's mistake.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from store import db
from store.card_schema import parse_duration
from store.errors import CardError, HandoffError

log = logging.getLogger("handoff")
F = TypeVar("F", bound=Callable[..., Any])


def settings() -> Settings:
    return Settings.from_env(os.environ)


@contextmanager
def sessions() -> Iterator[sessionmaker[Session]]:
    """Sessions on DATABASE_URL (migrated on SQLite); the engine is disposed at the end."""
    engine = db.prepare(settings().database_url)
    try:
        yield db.make_sessionmaker(engine)
    finally:
        engine.dispose()


def error_log() -> Path:
    configured = os.environ.get("HANDOFF_ERROR_LOG", "").strip()
    if configured:
        return Path(configured).expanduser()
    state = Path(os.environ.get("XDG_STATE_HOME", "~/.local/state")).expanduser()
    return state / "handoff" / "errors.log"


def _record(correlation: str) -> str:
    """Append the current traceback to the error log; where it went, or why it could not."""
    path = error_log()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {datetime.now(UTC).isoformat()} id {correlation}\n")
            handle.write(traceback.format_exc())
    except OSError as error:
        return f"(the error log {path} could not be written: {error.strerror})"
    return f"in {path}"


def translated(func: F) -> F:
    """Turn handoff's errors into stderr lines and exit codes (the CLI's one translator)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CardError as error:
            for problem in error.problems:
                click.echo(str(problem), err=True)
            raise SystemExit(1) from None
        except HandoffError as error:
            click.echo(f"error: {error}", err=True)
            raise SystemExit(1) from None
        except BrokenPipeError:
            _quiet_stdout()
            click.echo("handoff: the output was closed before the end (a closed pipe)", err=True)
            raise SystemExit(1) from None
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except Exception:
            correlation = uuid.uuid4().hex[:12]
            where = _record(correlation)
            log.debug("unexpected error (id %s)", correlation, exc_info=True)
            click.echo(
                f"error: unexpected failure (id {correlation}); the details are {where}",
                err=True,
            )
            raise SystemExit(2) from None

    return wrapper  # type: ignore[return-value]


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that flushing it at exit does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def parse_moment(value: str | None, *, option: str) -> datetime | None:
    """An ISO date (midnight UTC) or date-time (UTC when it has no offset)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date or time (e.g. 2026-11-20 or 2026-11-20T06:00+01:00)",
            param_hint=option,
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_until(value: str | None, *, now: datetime) -> datetime | None:
    """`--until`: a duration from now (2d, 4h, 1w) or an ISO date or time."""
    if value is None:
        return None
    try:
        return now + parse_duration(value)
    except ValueError:
        pass
    moment = parse_moment(value, option="--until")
    assert moment is not None
    return moment
