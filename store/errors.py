"""The root of handoff's error tree and the errors the store raises. Imports nothing of ours.

    HandoffError                 every error handoff means to show a user
    ├── CardError                one or more problems in handoff cards (file, field, message each)
    ├── NotFound                 a model, finding or card version that does not exist
    ├── DatabaseError            DATABASE_URL cannot be used (not a URL, unreachable, no driver)
    └── (jobs.errors)            SourceError, InvalidTransition, ... extend the tree in jobs/

Translators (bot/cli.py, bot/app.py) turn these into `file: field: message` lines, exit codes and
ephemeral Slack messages; nothing else catches them.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass


class HandoffError(Exception):
    """Base class of every error handoff shows to a user instead of a traceback."""


@dataclass(frozen=True)
class CardProblem:
    """One problem in one card: where it is and how to fix it."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class CardError(HandoffError):
    """A card (or several) failed validation; `problems` lists every problem at once."""

    def __init__(self, problems: list[CardProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class NotFound(HandoffError):
    """Something asked for by id does not exist; `known` (the ids that do) gives a did-you-mean."""

    def __init__(self, kind: str, key: str, known: Sequence[str] = ()) -> None:
        self.kind = kind
        self.key = key
        close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.5)
        hint = ""
        if close:
            hint = ": did you mean " + " or ".join(repr(c) for c in close) + "?"
        elif known:
            shown = ", ".join(list(known)[:10]) + (", ..." if len(known) > 10 else "")
            hint = f" (known: {shown})"
        elif kind == "model":
            hint = ": no model is registered yet; run `handoff register CARD.yaml`"
        super().__init__(f"no {kind} named {key!r}{hint}")


class DatabaseError(HandoffError):
    """DATABASE_URL names a database handoff cannot use; the message says what and the fix."""
