"""The `handoff` console script: the command group, `run` and `db`; the other commands live in
`bot.commands`, one module per noun, and are added here explicitly.

Errors are translated in one place, `bot.console.translated`: known ones become
`file: field: message` lines (exit 1), unexpected ones a correlation id (exit 2).
"""

from __future__ import annotations

import logging
import os

import click
from sqlalchemy.engine import make_url

from bot.commands import cards, checks, demo, findings, outbox
from bot.console import settings, translated
from store import db


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """handoff: keep a model's builders, operators and business users connected."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )


for module in (cards, checks, findings, outbox, demo):
    for command in module.COMMANDS:
        cli.add_command(command)


@cli.command()
@translated
def run() -> None:
    """Serve Slack (HTTP on $PORT) and run the scheduler; several replicas elect one leader."""
    from bot.runtime import serve

    logging.getLogger().setLevel(logging.INFO)
    serve(settings(), os.environ)


@cli.group(name="db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command()
@translated
def upgrade() -> None:
    """Apply the database migrations (the Procfile's release step)."""
    url = settings().database_url
    engine = db.open_engine(url)
    try:
        db.upgrade(engine)
        revision = db.current_revision(engine)
    finally:
        engine.dispose()
    shown = make_url(url).render_as_string(hide_password=True)
    click.echo(f"database at {shown} is at revision {revision}")


@cli.command()
@click.option("--socket-mode", is_flag=True, help="for Socket Mode (no request URLs)")
@click.option(
    "--url",
    default="https://handoff.example.com",
    show_default=True,
    help="where `handoff run` is reachable from Slack (HTTP mode)",
)
def manifest(socket_mode: bool, url: str) -> None:
    """Print the Slack app manifest (YAML): create the app from it at api.slack.com/apps."""
    from bot.manifest import manifest_yaml

    click.echo(manifest_yaml(url=url, socket_mode=socket_mode), nl=False)


def main() -> None:
    cli(prog_name="handoff")


if __name__ == "__main__":  # pragma: no cover
    main()
