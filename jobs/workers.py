"""Running checks under `handoff run`: a bounded pool, a time limit per check, and a record of each.

A scheduled check is handed to `CheckWorkers.submit`, which returns at once (the scheduler's own
threads are never held by a slow source). At most `size` checks run at a time; a model whose
previous check is still running is not checked twice at once (the run is skipped and said in the
log). A check that passes its `limit` is abandoned: its slot is freed for the others, the run is
recorded as failed with a `source_error` finding saying so, and the check, which looks at its
`Guard` between batches and before it writes, stops without writing anything. `stop` cancels what
runs and returns within its grace period; a check still blocked in a read then dies with the
process, which its one-transaction write makes harmless.

Counts of checks due, running, done, failed and abandoned are kept for /metrics.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from jobs.errors import HandoffError, SourceError

log = logging.getLogger(__name__)

DEFAULT_SIZE = 4
DEFAULT_LIMIT = timedelta(minutes=10)


class CheckAbandoned(SourceError):
    """A check that passed its time limit (or was cancelled at shutdown) and stopped unwritten."""


@dataclass
class Guard:
    """What a running check consults: when it must be done by, and whether it was cancelled. The
    check sets `window` as soon as it knows it, so an abandonment can be recorded against it."""

    model_id: str
    limit: timedelta
    started: float = field(default_factory=time.monotonic)
    cancelled: threading.Event = field(default_factory=threading.Event)
    window: tuple[datetime, datetime] | None = None
    source: str = "the data source"

    @property
    def overdue(self) -> bool:
        return time.monotonic() - self.started > self.limit.total_seconds()

    def check(self) -> None:
        """Raise CheckAbandoned once the check was cancelled or passed its limit."""
        if self.cancelled.is_set() or self.overdue:
            raise self.abandoned()

    def abandoned(self) -> CheckAbandoned:
        """The error that says this check was abandoned."""
        minutes = self.limit.total_seconds() / 60
        return CheckAbandoned(
            self.source,
            f"the check took longer than its limit of {minutes:g} min and was abandoned "
            "(a source that answers too slowly or never finishes?)",
        )


@dataclass
class Counts:
    """Checks since the process started, for /metrics (`running` is a gauge, the rest counters)."""

    due: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    abandoned: int = 0
    skipped: int = 0


@dataclass
class _Slot:
    guard: Guard
    thread: threading.Thread
    holds_slot: bool = False


Check = Callable[..., Any]
Abandon = Callable[[Guard], None]


class CheckWorkers:
    """Runs checks in the background, `size` at a time, each within `limit` (module docstring)."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        environ: Mapping[str, str],
        check: Check,
        abandon: Abandon,
        size: int = DEFAULT_SIZE,
        limit: timedelta = DEFAULT_LIMIT,
        tick: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._environ = environ
        self._check = check
        self._abandon = abandon
        self.size = size
        self.limit = limit
        self._slots = threading.Semaphore(size)
        self._lock = threading.Lock()
        self._running: dict[str, _Slot] = {}
        self._stopping = threading.Event()
        self.counts = Counts()
        self._watchdog = threading.Thread(
            target=self._watch, args=(tick,), name="handoff-check-watchdog", daemon=True
        )
        self._watchdog.start()

    def submit(self, model_id: str) -> bool:
        """Start a check of `model_id` now, unless one is still running; False when skipped."""
        with self._lock:
            if self._stopping.is_set():
                return False
            if model_id in self._running:
                self.counts.skipped += 1
                log.warning("check of %s skipped: the previous one is still running", model_id)
                return False
            guard = Guard(model_id, self.limit)
            thread = threading.Thread(
                target=self._run, args=(guard,), name=f"check:{model_id}", daemon=True
            )
            self._running[model_id] = _Slot(guard, thread)
            self.counts.due += 1
        thread.start()
        return True

    def running(self) -> list[str]:
        with self._lock:
            return sorted(self._running)

    def _run(self, guard: Guard) -> None:
        while not self._slots.acquire(timeout=0.5):
            if guard.cancelled.is_set():
                self._finish(guard, outcome=None)
                return
        with self._lock:
            slot = self._running.get(guard.model_id)
            if slot is None or slot.guard is not guard:  # abandoned while it waited
                self._slots.release()
                return
            slot.holds_slot = True
            guard.started = time.monotonic()  # the limit counts from here, not from the wait
            self.counts.running += 1
        outcome: str | None = "done"
        try:
            self._check(
                sessions=self._sessions,
                model_id=guard.model_id,
                window_end=None,
                now=datetime.now(UTC),
                environ=self._environ,
                guard=guard,
            )
        except CheckAbandoned:
            outcome = None  # recorded by the watchdog
        except HandoffError as error:  # recorded as a failed run and a finding; no traceback
            log.warning("check of %s failed: %s", guard.model_id, error)
            outcome = "failed"
        except Exception:
            log.exception("check of %s failed unexpectedly", guard.model_id)
            outcome = "failed"
        self._finish(guard, outcome=outcome)

    def _finish(self, guard: Guard, *, outcome: str | None) -> None:
        with self._lock:
            slot = self._running.get(guard.model_id)
            if slot is None or slot.guard is not guard:
                return  # abandoned: the watchdog already freed the slot and counted it
            del self._running[guard.model_id]
            if slot.holds_slot:
                self._slots.release()
                self.counts.running -= 1
            if outcome == "done":
                self.counts.done += 1
            elif outcome == "failed":
                self.counts.failed += 1

    def _watch(self, tick: float) -> None:
        while not self._stopping.wait(tick):
            with self._lock:
                overdue = [s for s in self._running.values() if s.holds_slot and s.guard.overdue]
                for slot in overdue:
                    del self._running[slot.guard.model_id]
                    slot.guard.cancelled.set()
                    if slot.holds_slot:
                        self._slots.release()
                        self.counts.running -= 1
                    self.counts.abandoned += 1
            for slot in overdue:
                log.warning("check of %s abandoned after %s", slot.guard.model_id, self.limit)
                try:
                    self._abandon(slot.guard)
                except Exception:  # the record is best effort; the next run retries the window
                    log.exception("could not record the abandoned check of %s", slot.guard.model_id)

    def stop(self, grace: float = 5.0) -> None:
        """Cancel every check and wait at most `grace` seconds for them to end."""
        self._stopping.set()
        with self._lock:
            slots = list(self._running.values())
        for slot in slots:
            slot.guard.cancelled.set()
        deadline = time.monotonic() + grace
        for slot in slots:
            slot.thread.join(max(0.0, deadline - time.monotonic()))
        self._watchdog.join(timeout=1)
