"""`handoff outbox`: the Slack messages waiting or given up on; re-queue the dead; deliver now."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

import click
from sqlalchemy.orm import Session, sessionmaker

from bot.console import sessions, settings, translated
from bot.delivery import Deliverer, DeliveryReport, make_client
from jobs import outbox as rows


@click.command()
@click.option("--retry-dead", is_flag=True, help="give every dead message a fresh start")
@click.option("--deliver", is_flag=True, help="deliver what is due now (needs SLACK_BOT_TOKEN)")
@translated
def outbox(retry_dead: bool, deliver: bool) -> None:
    """List the Slack messages waiting or given up on (with why), re-queue or deliver them."""
    with sessions() as made:
        if retry_dead:
            count = rows.requeue_dead(made, now=datetime.now(UTC))
            click.echo(f"re-queued {count} dead message(s)")
        if deliver:
            say_delivered(deliver_now(made, budget=60.0))
        items = rows.waiting(made)
    if not items:
        click.echo("the outbox is empty: every message was delivered")
        return
    click.echo(f"{'ID':<6} {'STATUS':<8} {'TRIES':>5}  {'MODEL':<16} {'KIND':<18} WHY")
    for item in items:
        why = item.last_error or ("due" if item.status == "pending" else "being sent")
        click.echo(
            f"{item.id:<6} {item.status:<8} {item.attempts:>5}  {item.model_id:<16} "
            f"{item.kind.value:<18} {why}"
        )


def deliver_now(
    made: sessionmaker[Session], *, budget: float, model_id: str | None = None
) -> DeliveryReport:
    """Deliver what is due, as this process (for `check` and `outbox --deliver`)."""
    current = settings()
    if not current.slack_bot_token:
        raise click.ClickException("SLACK_BOT_TOKEN is not set: nothing can be delivered")
    client = make_client(token=current.slack_bot_token, base_url=current.slack_api_url)
    holder = f"{socket.gethostname()}:{os.getpid()}:cli"
    deliverer = Deliverer(sessions=made, client=client, holder=holder)
    return deliverer.deliver(budget=budget, model_id=model_id)


def say_delivered(report: DeliveryReport) -> None:
    parts = [f"delivered {report.sent} message(s) to Slack"]
    if report.waiting or report.retried:
        parts.append(f"{report.waiting + report.retried} left for later")
    if report.dead:
        parts.append(f"{report.dead} given up on (see `handoff outbox`)")
    click.echo("; ".join(parts))


COMMANDS = (outbox,)
