"""A one-line progress bar for long CLI work (`handoff check --backfill`, a `register` that reads a
large baseline): done so far, the rate and the time left, redrawn on stderr at most a few times a
second, from one second in (quick work stays quiet). It draws only on a terminal: piped output,
`--json` and tests see nothing of it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

REDRAW_SECONDS = 0.2
QUIET_SECONDS = 1.0
WIDTH = 24


class ProgressBar:
    """`advance(n)` as work is done; `close()` ends the line. `total` None: no bar, no time left
    (rows of a baseline whose size is not known before it is read)."""

    def __init__(
        self,
        *,
        label: str,
        unit: str,
        total: int | None = None,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        quiet: float = QUIET_SECONDS,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label, self.unit, self.total = label, unit, total
        self.done = 0
        self._clock = clock
        self._quiet = quiet
        self._started = clock()
        self._drawn = -REDRAW_SECONDS
        self._width = 0

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = self._clock()
        if not self.enabled or now - self._started < self._quiet:
            return
        finished = self.total is not None and self.done >= self.total
        if finished or now - self._drawn >= REDRAW_SECONDS:
            self._drawn = now
            self._draw(self.line(now))

    def line(self, now: float) -> str:
        """What the bar says at `now`: e.g. ``backfill [######....] 36/90 days, 2.1 days/s, 26 s
        left``."""
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        parts = [self.label]
        if self.total:
            filled = min(WIDTH, WIDTH * self.done // self.total)
            parts.append(f"[{'#' * filled}{'.' * (WIDTH - filled)}]")
            parts.append(f"{self.done:,}/{self.total:,} {self.unit},")
        else:
            parts.append(f"{self.done:,} {self.unit},")
        parts.append(f"{_rate(rate)} {self.unit}/s")
        if self.total and rate > 0:
            parts[-1] += ","
            parts.append(f"{_duration(max(0, self.total - self.done) / rate)} left")
        return " ".join(parts)

    def close(self) -> None:
        if self.enabled and self._width:
            self._draw(self.line(self._clock()))
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, text: str) -> None:
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _rate(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.2g}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
