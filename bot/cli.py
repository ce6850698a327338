"""The `handoff` console script: parses arguments, builds settings and the database, calls jobs.

The one place (with bot/app.py) that turns HandoffError into words and exit codes: known errors are
printed to stderr as `file: field: message` lines (exit 1); anything unexpected is logged with a
correlation id (exit 2), never a bare traceback for a user's mistake.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from jobs.checks import run_check
from jobs.queries import model_views
from jobs.registration import ensure_baseline, load, register_card
from jobs.results import CheckResult
from store import db
from store.cards import Card, load_cards
from store.errors import CardError, HandoffError

log = logging.getLogger("handoff")
F = TypeVar("F", bound=Callable[..., Any])


def _settings() -> Settings:
    return Settings.from_env(os.environ)


@contextmanager
def _sessions() -> Iterator[sessionmaker[Session]]:
    """Sessions on DATABASE_URL (migrated on SQLite); the engine is disposed at the end."""
    engine = db.prepare(_settings().database_url)
    try:
        yield db.make_sessionmaker(engine)
    finally:
        engine.dispose()


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
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception:
            correlation = uuid.uuid4().hex[:12]
            log.exception("unexpected error (id %s)", correlation)
            click.echo(f"error: unexpected failure; details logged with id {correlation}", err=True)
            raise SystemExit(2) from None

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """handoff: keep a model's builders, operators and business users connected."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )


@cli.command()
@click.argument("cards", nargs=-1, required=True, type=click.Path(path_type=Path))
@translated
def validate(cards: tuple[Path, ...]) -> None:
    """Check handoff cards; print every problem as `file: field: message`."""
    for path, card in zip(cards, load_cards(cards), strict=True):
        click.echo(f"{path}: ok ({card.model})")


@cli.command()
@click.argument("cards", nargs=-1, required=True, type=click.Path(path_type=Path))
@translated
def register(cards: tuple[Path, ...]) -> None:
    """Validate cards and store a new version of each card whose content changed."""
    loaded = load_cards(cards)  # all or nothing: a broken card stops the whole batch
    with _sessions() as sessions:
        _register(sessions, cards, loaded)


def _register(sessions: sessionmaker[Session], cards: tuple[Path, ...], loaded: list[Card]) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        results = [
            register_card(session=session, card=card, source_file=path, now=now)
            for path, card in zip(cards, loaded, strict=True)
        ]
    for result in results:
        _build_baseline(sessions, result.model_id, now)
        if not result.created:
            click.echo(f"{result.model_id}: unchanged (version {result.version})")
        elif result.first:
            click.echo(f"{result.model_id}: registered (version 1)")
        else:
            click.echo(f"{result.model_id}: version {result.version}, changed:")
            for change in result.changes:
                click.echo(f"  - {change}")


def _build_baseline(sessions: sessionmaker[Session], model_id: str, now: datetime) -> None:
    """Build the baseline of a newly registered card; a source not reachable yet is not fatal."""
    try:
        with sessions() as session:
            loaded = load(session, model_id)
        row = ensure_baseline(sessions=sessions, loaded=loaded, now=now, environ=os.environ)
    except HandoffError as error:
        click.echo(
            f"{model_id}: baseline not built yet ({error}); the first check builds it", err=True
        )
        return
    click.echo(
        f"{model_id}: baseline of {row.rows:,} rows "
        f"({row.window_start:%Y-%m-%d} to {row.window_end:%Y-%m-%d})"
    )


def _parse_as_of(value: str | None) -> datetime | None:
    """An ISO date (midnight UTC) or date-time (UTC when it has no offset)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date or time (e.g. 2026-11-20 or 2026-11-20T06:00+01:00)",
            param_hint="--as-of",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@cli.command()
@click.argument("model")
@click.option("--as-of", "as_of", help="end of the window (ISO date or time); default now")
@click.option(
    "--backfill",
    type=click.IntRange(min=1, max=366),
    default=None,
    help="also check each of the DAYS days before --as-of (oldest first)",
)
@click.option("--json", "as_json", is_flag=True, help="print the result as one JSON object")
@click.option(
    "--no-post",
    is_flag=True,
    help="compute only: record no check run or finding, queue no message "
    "(a missing baseline is still built)",
)
@translated
def check(
    model: str, as_of: str | None, backfill: int | None, as_json: bool, no_post: bool
) -> None:
    """Run one drift check of MODEL for the window ending at --as-of."""
    now = datetime.now(UTC)
    end = _parse_as_of(as_of)
    ends: list[datetime | None] = [end]
    if backfill:
        last = end or now.replace(hour=0, minute=0, second=0, microsecond=0)
        ends = [*(last - timedelta(days=n) for n in range(backfill, 0, -1)), last]
    with _sessions() as sessions:
        for window_end in ends:
            result = run_check(
                sessions=sessions,
                model_id=model,
                window_end=window_end,
                now=now,
                environ=os.environ,
                post=not no_post,
            )
            if as_json:
                click.echo(json.dumps(result.to_json(), default=str))
            else:
                _print_check(result)


def _print_check(result: CheckResult) -> None:
    again = " (already checked: stored result)" if result.reused else ""
    click.echo(
        f"{result.model}: {result.window_start:%Y-%m-%d %H:%M} to "
        f"{result.window_end:%Y-%m-%d %H:%M} UTC, {result.rows_read:,} rows read, "
        f"{result.rows_rejected:,} rejected{again}"
    )
    for reason, count in sorted(result.rejected.items()):
        click.echo(f"  rejected {count:,}: {reason}")
    for finding in result.findings:
        click.echo(f"  [{finding.severity:>8}] {finding.state:<9} {finding.summary}")
    if not result.findings:
        click.echo("  no findings")
    if result.queued:
        click.echo(f"  queued {result.queued} Slack message(s) in the outbox")


@cli.command()
@translated
def models() -> None:
    """List registered models with their health."""
    with _sessions() as sessions, sessions.begin() as session:
        rows = model_views(session=session)
    if not rows:
        click.echo("no models registered yet: run `handoff register CARD.yaml`")
        return
    click.echo(f"{'MODEL':<24} {'HEALTH':<10} {'VER':>3}  {'LAST CHECK':<17} {'OPEN':<14} CHANNEL")
    for row in rows:
        last = f"{row.last_check.window_end:%Y-%m-%d %H:%M}" if row.last_check else "never"
        counts = ", ".join(f"{n} {s}" for s, n in sorted(row.open_findings.items())) or "-"
        click.echo(
            f"{row.model_id:<24} {row.health:<10} {row.version:>3}  {last:<17} {counts:<14} "
            f"{row.channel}"
        )


@cli.command()
@translated
def run() -> None:
    """Serve Slack (HTTP on $PORT) and run the scheduler; several replicas elect one leader."""
    from bot.runtime import serve

    logging.getLogger().setLevel(logging.INFO)
    serve(_settings(), os.environ)


@cli.group(name="db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command()
@translated
def upgrade() -> None:
    """Apply the database migrations (the Procfile's release step)."""
    settings = _settings()
    engine = db.make_engine(settings.database_url)
    try:
        db.upgrade(engine)
        revision = db.current_revision(engine)
    finally:
        engine.dispose()
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    click.echo(f"database at {shown} is at revision {revision}")


def main() -> None:
    cli(prog_name="handoff")


if __name__ == "__main__":  # pragma: no cover
    main()
