"""The error tree of jobs/, rooted in store.errors.HandoffError.

    HandoffError (store.errors)
    ├── CardError, NotFound (store.errors)
    ├── SourceError          a model's data source cannot be read (names the source and why)
    ├── WindowError          a check window that cannot be run (in the future, already covered)
    └── InvalidTransition    an episode cannot move from its state by that action

Raised with fields; translated only in bot/cli.py and bot/app.py.
"""

from __future__ import annotations

from store.errors import CardError, CardProblem, HandoffError, NotFound

__all__ = [
    "CardError",
    "CardProblem",
    "HandoffError",
    "InvalidTransition",
    "NotFound",
    "SourceError",
    "WindowError",
]


class SourceError(HandoffError):
    """A model's data source could not be read."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class WindowError(HandoffError):
    """A check window that cannot be run: it ends in the future, or is already covered."""


_PAST = {"acknowledge": "acknowledged", "snooze": "snoozed", "resolve": "resolved"}


class InvalidTransition(HandoffError):
    """An episode was asked to move in a way its state does not allow."""

    def __init__(self, state: str, event: str, *, what: str = "an episode") -> None:
        self.state = state
        self.event = event
        done = _PAST.get(event, event)
        super().__init__(f"{what} that is {state} cannot be {done}")
