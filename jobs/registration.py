"""Registering a model: its card versions, and the baseline each version is compared with.

A new card version is stored only when the content changed, and what changed is said in words (a
changed limitation or threshold is exactly the context that gets lost at a handoff). Before
anything is stored, the card is checked against its data: every column it names must be in the
source (with the closest names when one is not), and the baseline window must hold enough rows.
The version and its baseline are then stored in one transaction: nothing half-done.

A baseline depends on part of the card only (its `basis`: the source, the columns, the baseline
window, the decision threshold); card versions that change thresholds, owners, intent,
limitations or the schedule keep the baseline they had, and the history pooled against it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from jobs.columns import watched_columns
from jobs.errors import CardError, CardProblem, NotFound
from jobs.file_index import StoredFileIndex
from jobs.fitting import BuiltBaseline, baseline_window, build_baseline
from jobs.sources import FileIndex, SchemaKind, Source, open_source
from store import repo
from store.card_schema import BaselineSource, HttpSource
from store.cards import Card, card_hash, card_to_dict, describe_changes
from store.models import Notification, StoredBaseline
from store.states import NotificationKind, NotificationStatus

__all__ = [
    "Loaded",
    "Registration",
    "baseline_basis",
    "check_columns",
    "ensure_baseline",
    "fit_for",
    "load",
    "register_card",
]


def baseline_basis(card: Card) -> str:
    """sha256 of what a baseline depends on in the card (see the module docstring)."""
    data = card_to_dict(card)["data"]
    basis = {
        "source": data["source"],
        "columns": [data["timestamp"], data["score"], data.get("label")],
        "features": data.get("features"),
        "segments": data.get("segments", []),
        "decision_threshold": data.get("decision_threshold"),
        "baseline": card_to_dict(card)["baseline"],
    }
    canonical = json.dumps(basis, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_columns(
    card: Card, schema: Mapping[str, SchemaKind], *, source: str, file: str, baseline: bool = False
) -> list[CardProblem]:
    """Problems for each column the card names that `schema` lacks, with the closest names.

    For a baseline's own source (`baseline=True`) the label may be absent (the baseline then has
    no labels to calibrate performance with).
    """
    data = card.data
    named: list[tuple[str, str]] = [("data.timestamp", data.timestamp), ("data.score", data.score)]
    if data.label is not None and not baseline:
        named.append(("data.label", data.label))
    named += [(f"data.features[{i}]", c) for i, c in enumerate(data.features or ())]
    named += [(f"data.segments[{i}]", c) for i, c in enumerate(data.segments)]
    named += [
        (f"limitations[{i}].segment.column", x.segment.column)
        for i, x in enumerate(card.limitations)
        if x.segment is not None
    ]
    problems = []
    where = f"the baseline source ({source})" if baseline else source
    for field, column in named:
        if column in schema:
            continue
        close = difflib.get_close_matches(column, list(schema), n=1, cutoff=0.6)
        fix = f"did you mean {close[0]!r}?" if close else f"its columns are {_listed(schema)}"
        problems.append(CardProblem(file, field, f"{column!r} is not a column of {where}: {fix}"))
    return problems


def _listed(schema: Mapping[str, SchemaKind]) -> str:
    names = list(schema)
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")


def _sources(
    card: Card, base_dir: Path, environ: Mapping[str, str], index: FileIndex | None
) -> tuple[Source, Source]:
    """The monitored source, and the one the baseline is read from (the same, or its own)."""
    monitored = open_source(card.data.source, environ=environ, base_dir=base_dir, index=index)
    if isinstance(card.baseline, BaselineSource):
        own = open_source(card.baseline.source, environ=environ, base_dir=base_dir, index=index)
        return monitored, own
    return monitored, monitored


def fit_for(
    card: Card,
    *,
    file: str,
    base_dir: Path,
    environ: Mapping[str, str],
    source: Source | None = None,
    index: FileIndex | None = None,
    progress: Callable[[int], None] | None = None,
) -> BuiltBaseline:
    """Check `card` against its data and fit its baseline; CardError naming the card's fields
    for columns the data lacks, SourceError when the data cannot be read or is too thin.

    The columns are checked against the source the baseline is read from, and against the
    monitored source too when that is another one whose schema is cheap to read (files, SQL; an
    HTTP endpoint would have to serve a page for it, so it is checked by its first check).
    `index` keeps what reading files learns of them (`jobs.file_index`); `progress` is told the
    rows of each batch of the baseline read.
    """
    monitored, reference = _sources(card, base_dir, environ, index)
    if source is not None:
        monitored = source
        reference = reference if isinstance(card.baseline, BaselineSource) else source
    schema = reference.columns()
    baseline_own = reference is not monitored
    problems = check_columns(
        card, schema, source=reference.describe(), file=file, baseline=baseline_own
    )
    if baseline_own and not isinstance(card.data.source, HttpSource):
        problems += check_columns(card, monitored.columns(), source=monitored.describe(), file=file)
    if problems:
        raise CardError(problems)
    watched = watched_columns(card, schema)
    start, end = baseline_window(card.baseline)
    return build_baseline(
        source=reference,
        watched=watched,
        spec=watched.spec(card),
        start=start,
        end=end,
        progress=progress,
    )


@dataclass(frozen=True)
class Registration:
    """What registering one card did: the version it is at, whether a new one was stored and what
    changed (in words), and the baseline it is compared with (None: not built yet)."""

    model_id: str
    version: int
    created: bool
    changes: tuple[str, ...]
    baseline: StoredBaseline | None = None
    baseline_reused: bool = False

    @property
    def first(self) -> bool:
        return self.created and self.version == 1


def needs_fit(session: Session, card: Card) -> bool:
    """Whether registering `card` needs its baseline fitted (no baseline of its basis yet)."""
    existing = repo.baseline_by_basis(
        session=session, model_id=card.model, basis=baseline_basis(card)
    )
    return existing is None


def register_card(
    *,
    session: Session,
    card: Card,
    source_file: str | Path,
    now: datetime,
    fitted: BuiltBaseline | None = None,
    by: str | None = None,
    told: Mapping[str, Any] | None = None,
) -> Registration:
    """Store `card` as its model's newest version unless it equals the newest one, with its
    baseline: the one of its basis when there is one, else `fitted` (when given).

    A card edited in Slack (jobs/checkins.py) is stored `by` the person who edited it, and the
    news of the new version carries `told` (where to say it, who to welcome) and is followed by
    the card's YAML, to commit back to the repository."""
    digest = card_hash(card)
    basis = baseline_basis(card)
    previous = repo.latest_card_version(session=session, model_id=card.model)
    existing = repo.baseline_by_basis(session=session, model_id=card.model, basis=basis)
    if previous is not None and previous.content_hash == digest:
        return Registration(card.model, previous.version, False, (), existing, True)
    changes: tuple[str, ...] = ()
    if previous is not None:
        changes = tuple(describe_changes(Card.model_validate(previous.content), card))
    stored = repo.add_card_version(
        session=session,
        model_id=card.model,
        name=card.name,
        content=card_to_dict(card),
        content_hash=digest,
        source_file=str(Path(source_file).resolve()),
        now=now,
        registered_by=by,
    )
    if changes:
        _announce(session, card, stored.version, changes, now, told=told)
    if existing is not None or fitted is None:
        return Registration(card.model, stored.version, True, changes, existing, True)
    row = _baseline_row(card, stored.id, basis, fitted, now)
    session.add(row)
    session.flush()
    return Registration(card.model, stored.version, True, changes, row, False)


def _announce(
    session: Session,
    card: Card,
    version: int,
    changes: tuple[str, ...],
    now: datetime,
    *,
    told: Mapping[str, Any] | None = None,
) -> None:
    """Queue the news of a new card version in the model's channel, tagging its builders (and,
    for a card edited in Slack, its YAML in the same thread)."""
    payload = {"version": version, "changes": list(changes), "name": card.name, **(told or {})}
    kinds = [(f"card:{card.model}:{version}", NotificationKind.CARD_CHANGED)]
    if told is not None:
        kinds.append((f"card:{card.model}:{version}:yaml", NotificationKind.CARD_FILE))
    for key, kind in kinds:
        session.add(
            Notification(
                idempotency_key=key,
                model_id=card.model,
                kind=kind,
                channel=card.channel,
                payload=payload,
                status=NotificationStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


def _baseline_row(
    card: Card, card_version_id: int, basis: str, fitted: BuiltBaseline, now: datetime
) -> StoredBaseline:
    return StoredBaseline(
        model_id=card.model,
        card_version_id=card_version_id,
        basis=basis,
        window_start=fitted.first or fitted.start,
        window_end=fitted.last or fitted.end,
        rows=fitted.rows,
        data=fitted.baseline.to_bytes(),
        created_at=now,
    )


@dataclass(frozen=True)
class Loaded:
    """A model's newest card (validated once), its version's id and file, and its baseline."""

    card: Card
    card_version_id: int
    source_file: str
    baseline: StoredBaseline | None

    @property
    def base_dir(self) -> Path:
        """The card's folder, against which relative data paths resolve."""
        return Path(self.source_file).parent


def load(session: Session, model_id: str) -> Loaded:
    """The model's newest card version and its baseline, if built; NotFound for an unknown model."""
    model = repo.get_model(session=session, model_id=model_id)
    version = repo.latest_card_version(session=session, model_id=model_id)
    if model is None or version is None:
        raise NotFound("model", model_id, repo.model_ids(session=session))
    card = Card.model_validate(version.content)
    stored = repo.baseline_by_basis(session=session, model_id=model_id, basis=baseline_basis(card))
    return Loaded(card, version.id, version.source_file, stored)


def ensure_baseline(
    *,
    sessions: sessionmaker[Session],
    loaded: Loaded,
    now: datetime,
    environ: Mapping[str, str],
    source: Source | None = None,
) -> StoredBaseline:
    """The baseline of the loaded card, fitted from its data if it does not exist yet. Two
    processes racing to fit it store one: the loser's insert collides and it takes the winner's."""
    if loaded.baseline is not None:
        return loaded.baseline
    card = loaded.card
    fitted = fit_for(
        card,
        file=loaded.source_file,
        base_dir=loaded.base_dir,
        environ=environ,
        source=source,
        index=StoredFileIndex(sessions),
    )
    basis = baseline_basis(card)
    row = _baseline_row(card, loaded.card_version_id, basis, fitted, now)
    try:
        with sessions.begin() as session:
            session.add(row)
    except IntegrityError:
        with sessions() as session:
            won = repo.baseline_by_basis(session=session, model_id=card.model, basis=basis)
        assert won is not None  # the row whose insert collided with ours
        return won
    return row
