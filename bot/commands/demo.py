"""`handoff demo`: eight weeks of a credit model's life, told as Slack would show it (bot/demo.py).

Needs no Slack account, no database and no settings: it writes everything into `--out`.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.console import translated


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("handoff-demo"),
    show_default=True,
    help="where the data, the card, the database, the charts and transcript.html go",
)
@click.option("--quiet", is_flag=True, help="print only the ending, not the conversation")
@translated
def demo(out: Path, quiet: bool) -> None:
    """See handoff work: a model drifts for weeks; handoff says so in Slack (a fake one, here)."""
    from bot.demo import ending, run_demo

    def say(line: str) -> None:
        click.echo(line)

    outcome = run_demo(out, say=(lambda _line: None) if quiet else say)
    if quiet:
        for line in ending(outcome):
            say(line)
    click.echo(f"({outcome.seconds:.0f} s)")


COMMANDS = (demo,)
