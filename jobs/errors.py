"""The error tree of jobs/, rooted in store.errors.HandoffError.

    HandoffError (store.errors)
    ├── CardError, NotFound (store.errors)
    ├── SourceError          a model's data source cannot be read (names the source and why)
    └── InvalidTransition    a finding cannot move from its state by that event

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
]


class SourceError(HandoffError):
    """A model's data source could not be read."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class InvalidTransition(HandoffError):
    """A finding was asked to move in a way its state does not allow."""

    def __init__(self, state: str, event: str) -> None:
        self.state = state
        self.event = event
        super().__init__(f"a finding that is {state} cannot be {event}")
