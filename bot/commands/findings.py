"""`handoff findings`, and `ack`, `snooze`, `resolve`: the lifecycle from the command line, through
the same jobs function the Slack buttons call (`jobs.episodes.act_on`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from bot.console import parse_until, sessions, translated
from jobs.episodes import act_on
from jobs.queries import EpisodeView, finding_views
from jobs.registration import load


@click.command()
@click.argument("model", required=False)
@click.option("--all", "show_all", is_flag=True, help="also the recovered findings")
@click.option("--json", "as_json", is_flag=True, help="print one JSON list")
@translated
def findings(model: str | None, show_all: bool, as_json: bool) -> None:
    """List findings (of MODEL, or of every model), newest first, with their episode and state."""
    with sessions() as made, made() as session:
        if model is not None:
            load(session, model)  # an unknown model is a clear error, with the closest names
        rows = finding_views(session=session, model_id=model, include_closed=show_all)
    if as_json:
        click.echo(json.dumps([row.to_json() for row in rows]))
        return
    if not rows:
        click.echo("no open findings" if not show_all else "no findings")
        return
    click.echo(
        f"{'ID':<6} {'EPISODE':<7} {'MODEL':<16} {'KIND':<20} {'SEVERITY':<8} {'STATE':<12} "
        f"{'SINCE':<16} {'LAST SEEN':<16} SUMMARY"
    )
    for row in rows:
        episode = row.episode.label if row.episode else "-"
        click.echo(
            f"{row.label:<6} {episode:<7} {row.model_id:<16} {row.kind:<20} {row.severity:<8} "
            f"{row.state:<12} {row.opened_at:%Y-%m-%d %H:%M} {row.last_seen_at:%Y-%m-%d %H:%M} "
            f"{row.summary}"
        )


def _act(action: str, target: str, actor: str, until: str | None, note: str | None) -> None:
    now = datetime.now(UTC)
    with sessions() as made, made.begin() as session:
        episode = act_on(
            session,
            target=target,
            action=action,
            actor=actor,
            now=now,
            until=parse_until(until, now=now),
            note=note,
        )
        view = EpisodeView.of(episode)
    done = {"acknowledge": "acknowledged", "snooze": "snoozed", "resolve": "resolved"}[action]
    detail = f" until {view.snoozed_until:%Y-%m-%d %H:%M} UTC" if view.snoozed_until else ""
    click.echo(f"{view.label} ({view.model_id}) {done} by {actor}{detail}")


_TARGET = click.argument("finding", metavar="FINDING")
_AS = click.option("--as", "actor", required=True, help="who acts (a Slack user ID or a name)")
_NOTE = click.option("--note", help="a note kept with the action")


@click.command()
@_TARGET
@_AS
@_NOTE
@translated
def ack(finding: str, actor: str, note: str | None) -> None:
    """Acknowledge FINDING's episode (F12, or E3 for an episode): escalation stops."""
    _act("acknowledge", finding, actor, None, note)


@click.command()
@_TARGET
@_AS
@click.option("--until", required=True, help="a duration (4h, 2d, 1w) or an ISO time")
@_NOTE
@translated
def snooze(finding: str, actor: str, until: str, note: str | None) -> None:
    """Snooze FINDING's episode until a time: escalation pauses until then."""
    _act("snooze", finding, actor, until, note)


@click.command()
@_TARGET
@_AS
@_NOTE
@translated
def resolve(finding: str, actor: str, note: str | None) -> None:
    """Resolve FINDING's episode, saying what was done (--note)."""
    _act("resolve", finding, actor, None, note)


COMMANDS = (findings, ack, snooze, resolve)
