"""`handoff validate`, `register` and `models`: the cards, and the models they describe."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.orm import Session, sessionmaker

from bot.console import sessions, translated
from bot.progress import ProgressBar
from jobs.file_index import StoredFileIndex
from jobs.fitting import BuiltBaseline
from jobs.queries import model_views
from jobs.registration import Registration, fit_for, needs_fit, register_card
from store.cards import Card, load_cards


@click.command()
@click.argument("cards", nargs=-1, required=True, type=click.Path(path_type=Path))
@translated
def validate(cards: tuple[Path, ...]) -> None:
    """Check handoff cards; print every problem as `file: field: message`."""
    for path, card in zip(cards, load_cards(cards), strict=True):
        click.echo(f"{path}: ok ({card.model})")


@click.command()
@click.argument("cards", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--skip-data-check",
    is_flag=True,
    help="store the cards without reading their data (the first check fits the baseline)",
)
@translated
def register(cards: tuple[Path, ...], skip_data_check: bool) -> None:
    """Validate cards, check them against their data, and store each card that changed with its
    baseline. All or nothing: a card that is broken, names a column its data lacks or whose data
    cannot be read stops the whole batch before anything is stored."""
    loaded = load_cards(cards)
    now = datetime.now(UTC)
    with sessions() as made:
        pairs = list(zip(cards, loaded, strict=True))
        fitted = [None if skip_data_check else _fit(made, card, path) for path, card in pairs]
        with made.begin() as session:
            results = [
                register_card(session=session, card=card, source_file=path, now=now, fitted=fit)
                for path, card, fit in zip(cards, loaded, fitted, strict=True)
            ]
    for result in results:
        _say(result)


def _fit(made: sessionmaker[Session], card: Card, path: Path) -> BuiltBaseline | None:
    with made() as session:
        if not needs_fit(session, card):
            return None  # its baseline is kept: nothing it depends on changed
    with ProgressBar(label=f"{card.model} baseline", unit="rows") as bar:
        return fit_for(
            card,
            file=str(path),
            base_dir=path.resolve().parent,
            environ=os.environ,
            index=StoredFileIndex(made),
            progress=bar.advance,
        )


def _say(result: Registration) -> None:
    if not result.created:
        click.echo(f"{result.model_id}: unchanged (version {result.version})")
    elif result.first:
        click.echo(f"{result.model_id}: registered (version 1)")
    else:
        click.echo(f"{result.model_id}: version {result.version}, changed:")
        for change in result.changes:
            click.echo(f"  - {change}")
    baseline = result.baseline
    if baseline is None:
        click.echo(f"{result.model_id}: data not read (--skip-data-check); the first check fits")
    elif result.created:
        kept = " (kept: nothing it depends on changed)" if result.baseline_reused else ""
        click.echo(
            f"{result.model_id}: baseline of {baseline.rows:,} rows, "
            f"{baseline.window_start:%Y-%m-%d %H:%M} to {baseline.window_end:%Y-%m-%d %H:%M} UTC"
            f"{kept}"
        )


@click.command()
@translated
def models() -> None:
    """List registered models with their health."""
    with sessions() as made, made.begin() as session:
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


COMMANDS = (validate, register, models)
