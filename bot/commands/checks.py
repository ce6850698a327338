"""`handoff check`: one drift check of a model's window, or a backfill of several."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import click

from bot.commands.outbox import deliver_now, say_delivered
from bot.console import parse_moment, sessions, settings, translated
from bot.progress import ProgressBar
from jobs.checks import run_check
from jobs.results import CheckResult


@click.command()
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
    help="compute only: record no check run or finding, queue no message; report each "
    "condition's state as it stands (a missing baseline is still fitted)",
)
@translated
def check(
    model: str, as_of: str | None, backfill: int | None, as_json: bool, no_post: bool
) -> None:
    """Run one drift check of MODEL for the window ending at --as-of (default: everything since
    the previous check, at most a week, ending now)."""
    now = datetime.now(UTC)
    end = parse_moment(as_of, option="--as-of")
    ends: list[datetime | None] = [end]
    if backfill:
        last = end or now.replace(hour=0, minute=0, second=0, microsecond=0)
        ends = [*(last - timedelta(days=n) for n in range(backfill, 0, -1)), last]
    queued = 0
    # A backfill shows its days on a terminal's stderr (never with --json, never when piped); its
    # results are printed once the bar is done, not through it.
    enabled = None if len(ends) > 1 and not as_json else False
    bar = ProgressBar(label=f"{model} backfill", unit="days", total=len(ends), enabled=enabled)
    held: list[CheckResult] = []
    with sessions() as made:
        with bar:
            for window_end in ends:
                result = run_check(
                    sessions=made,
                    model_id=model,
                    window_end=window_end,
                    now=now,
                    environ=os.environ,
                    post=not no_post,
                )
                queued += result.queued
                if as_json:
                    click.echo(json.dumps(result.to_json(), default=str))
                elif bar.enabled:
                    held.append(result)
                else:
                    _print(result)
                bar.advance()
        for result in held:
            _print(result)
        if queued and not no_post and settings().slack_bot_token:
            report = deliver_now(made, budget=60.0, model_id=model)
            if not as_json:
                say_delivered(report)


def _print(result: CheckResult) -> None:
    again = " (already checked: stored result)" if result.reused else ""
    click.echo(
        f"{result.model}: {result.window_start:%Y-%m-%d %H:%M} to "
        f"{result.window_end:%Y-%m-%d %H:%M} UTC, {result.rows_read:,} rows read, "
        f"{result.rows_rejected:,} rejected{again}"
    )
    for reason, count in sorted(result.rejected.items()):
        click.echo(f"  rejected {count:,}: {reason}")
    for cell, count in sorted(result.bad_cells.items()):
        column = cell.removeprefix("wrong_type:")
        click.echo(f"  unreadable cells made missing: {count:,} in {column}")
    for finding in result.findings:
        click.echo(f"  [{finding.severity:>8}] {finding.state:<9} {finding.summary}")
    if not result.findings:
        click.echo("  no findings")
    if result.queued:
        click.echo(f"  queued {result.queued} Slack message(s) in the outbox")


COMMANDS = (check,)
