"""Running checks under `handoff run`: a bounded pool, a time limit per check, and a record of each.

A scheduled check is handed to `CheckWorkers.submit`, which queues it and returns at once (the
scheduler's own threads are never held by a slow source). At most `size` checks run at a time
(`HANDOFF_CHECK_WORKERS`, default 4), each in its own transaction; a model whose previous check is
still waiting or running is not checked twice at once (the run is skipped and said in the log).
A check that passes its `limit` is abandoned: its slot is freed for the others, the run is
recorded as failed with a `source_error` finding saying so, and the check, which looks at its
`Guard` between batches and before it writes, stops without writing anything. `stop` cancels what
runs and returns within its grace period; a check still blocked in a read then dies with the
process, which its one-transaction write makes harmless.

Counts of checks due, waiting, running, done, failed and abandoned are kept for /metrics, in
total and for the current *sweep* (the checks due together, as at a morning's shared cron
minute), so an operator sees a late morning coming.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
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
    """Checks since the process started, for /metrics (`waiting` and `running` are gauges, the
    rest counters)."""

    due: int = 0
    waiting: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    abandoned: int = 0
    skipped: int = 0


@dataclass
class Sweep:
    """The checks of one sweep: from a check due while none was due or running, until every check
    due since has ended (a morning's shared cron minute is one sweep). `ended` is None while it
    runs; `slowest` is the longest check's seconds and model."""

    started: datetime
    due: int = 0
    done: int = 0
    failed: int = 0
    abandoned: int = 0
    ended: datetime | None = None
    slowest: tuple[float, str] = (0.0, "")

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.abandoned


@dataclass
class Progress:
    """What /metrics shows of the workers: the totals, the current (or last) sweep, the pool."""

    counts: Counts
    sweep: Sweep | None
    size: int


Check = Callable[..., Any]
Abandon = Callable[[Guard], None]


class CheckWorkers:
    """Runs checks in the background, `size` at a time, each within `limit` (module docstring).

    Checks due wait in a queue (first due, first run) for one of `size` worker threads, so a
    thousand checks due at one minute cost a thousand queue entries, not a thousand threads. A
    worker whose check is abandoned is replaced at once; the stuck thread ends when its read does.
    """

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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self._environ = environ
        self._check = check
        self._abandon = abandon
        self._clock = clock
        self.size = size
        self.limit = limit
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: deque[Guard] = deque()
        self._waiting: set[str] = set()
        self._running: dict[str, Guard] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._serial = 0
        self.counts = Counts()
        self.sweep: Sweep | None = None
        for _ in range(size):
            self._add_worker()
        self._watchdog = threading.Thread(
            target=self._watch, args=(tick,), name="handoff-check-watchdog", daemon=True
        )
        self._watchdog.start()

    def submit(self, model_id: str) -> bool:
        """Queue a check of `model_id`, unless one is waiting or running; False when skipped."""
        with self._lock:
            if self._stopping.is_set():
                return False
            if model_id in self._running or model_id in self._waiting:
                self.counts.skipped += 1
                log.warning("check of %s skipped: the previous one is still running", model_id)
                return False
            if self.sweep is None or self.sweep.ended is not None:
                self.sweep = Sweep(started=self._clock())
            self.sweep.due += 1
            self._queue.append(Guard(model_id, self.limit))
            self._waiting.add(model_id)
            self.counts.due += 1
            self.counts.waiting += 1
            self._wake.notify()
        return True

    def running(self) -> list[str]:
        with self._lock:
            return sorted(self._running)

    def progress(self) -> Progress:
        """A consistent copy of the counts and the current sweep, for /metrics."""
        with self._lock:
            sweep = replace(self.sweep) if self.sweep is not None else None
            return Progress(replace(self.counts), sweep, self.size)

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until no check waits or runs (at most `timeout` seconds); True when idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._queue or self._running:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._wake.wait(0.1 if left is None else min(left, 0.1))
            return True

    def _add_worker(self) -> None:
        self._serial += 1
        thread = threading.Thread(
            target=self._work, name=f"handoff-check-{self._serial}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stopping.is_set():
                    self._wake.wait()
                if self._stopping.is_set():
                    return
                guard = self._queue.popleft()
                self._waiting.discard(guard.model_id)
                self.counts.waiting -= 1
                guard.started = time.monotonic()  # the limit counts from here, not from the wait
                self._running[guard.model_id] = guard
                self.counts.running += 1
            outcome = self._run(guard)
            with self._lock:
                if self._running.get(guard.model_id) is not guard:
                    return  # abandoned: a new worker took this one's place
                del self._running[guard.model_id]
                self.counts.running -= 1
                self._end(guard, outcome)
                self._wake.notify_all()
                stopping = self._stopping.is_set()
            if outcome == "abandoned" and not stopping:
                # It saw its own limit pass before the watchdog did: recorded as the watchdog does.
                self._record_abandoned(guard)

    def _run(self, guard: Guard) -> str:
        try:
            self._check(
                sessions=self._sessions,
                model_id=guard.model_id,
                window_end=None,
                now=self._clock(),
                environ=self._environ,
                guard=guard,
            )
        except CheckAbandoned:
            return "abandoned"  # recorded by the watchdog (or cancelled at shutdown)
        except HandoffError as error:  # recorded as a failed run and a finding; no traceback
            log.warning("check of %s failed: %s", guard.model_id, error)
            return "failed"
        except Exception:
            log.exception("check of %s failed unexpectedly", guard.model_id)
            return "failed"
        return "done"

    def _end(self, guard: Guard, outcome: str) -> None:
        """Count a check that ended (under the lock), in the totals and in its sweep."""
        seconds = time.monotonic() - guard.started
        if outcome == "done":
            self.counts.done += 1
        elif outcome == "failed":
            self.counts.failed += 1
        elif outcome == "abandoned":
            self.counts.abandoned += 1
        sweep = self.sweep
        if sweep is None:
            return
        if outcome in ("done", "failed", "abandoned"):
            setattr(sweep, outcome, getattr(sweep, outcome) + 1)
        if seconds > sweep.slowest[0]:
            sweep.slowest = (seconds, guard.model_id)
        if not self._queue and not self._running:
            sweep.ended = self._clock()

    def _watch(self, tick: float) -> None:
        while not self._stopping.wait(tick):
            with self._lock:
                overdue = [g for g in self._running.values() if g.overdue]
                for guard in overdue:
                    del self._running[guard.model_id]
                    guard.cancelled.set()
                    self.counts.running -= 1
                    self._end(guard, "abandoned")
                    self._add_worker()  # the stuck thread keeps its read; the pool keeps its size
                if overdue:
                    self._wake.notify_all()
            for guard in overdue:
                self._record_abandoned(guard)

    def _record_abandoned(self, guard: Guard) -> None:
        log.warning("check of %s abandoned after %s", guard.model_id, self.limit)
        try:
            self._abandon(guard)
        except Exception:  # the record is best effort; the next run retries the window
            log.exception("could not record the abandoned check of %s", guard.model_id)

    def stop(self, grace: float = 5.0) -> None:
        """Cancel every check (waiting ones are dropped) and wait at most `grace` seconds for the
        running ones to end."""
        with self._lock:
            self._stopping.set()
            self.counts.waiting -= len(self._queue)
            self._queue.clear()
            self._waiting.clear()
            for guard in self._running.values():
                guard.cancelled.set()
            threads = list(self._threads)
            self._wake.notify_all()
        deadline = time.monotonic() + grace
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._watchdog.join(timeout=1)
