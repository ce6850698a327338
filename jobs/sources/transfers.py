"""One HTTP read's deadline and the bytes it received, and a response body as a readable stream that
checks the deadline between chunks. Imports the stdlib and `jobs.errors` (httpx stays in web.py).

The deadline covers the whole read of a window: every page, redirect, retry and wait. Each request
is given no more time than is left (its socket timeouts are capped, see `HttpSource`), and the
deadline is checked after every chunk of a body, so a body that trickles in is cut off too.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

from jobs.errors import SourceError

__all__ = ["BodyStream", "Transfer"]


class Transfer:
    """The budget and the account of one read: pages requested and body bytes received."""

    def __init__(
        self, *, seconds: float, source: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.source = source
        self.clock = clock
        self.pages = 0
        self.received = 0
        self._end = clock() + seconds

    def left(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self._end - self.clock())

    def page(self) -> None:
        """Count a page about to be requested (after checking the deadline)."""
        self.check()
        self.pages += 1

    def receive(self, size: int) -> None:
        """Count `size` body bytes; a SourceError when the deadline has passed."""
        self.received += size
        self.check()

    def check(self, problem: str = "") -> None:
        """A SourceError once the deadline has passed (`problem`: the last thing gone wrong)."""
        if self.left() <= 0:
            raise self.expired(problem)

    def wait(self, seconds: float, problem: str) -> float:
        """`seconds` to wait before a retry; a SourceError when that would pass the deadline."""
        if seconds >= self.left():
            raise self.expired(problem)
        return seconds

    def expired(self, problem: str = "") -> SourceError:
        """The SourceError of a read past its deadline: how long, how far it got, and the fix."""
        pages = f"{self.pages:,} page{'' if self.pages == 1 else 's'}"
        reason = (
            f"the endpoint did not finish sending the window within {self.seconds:g} s "
            f"(stopped after {pages}, {_size(self.received)}"
            + (f"; last problem: {problem}" if problem else "")
            + "): make the endpoint faster or its pages smaller, or raise the deadline"
        )
        return SourceError(self.source, reason)


class BodyStream(io.RawIOBase):
    """A response body (its chunks) as a readable binary file; counts bytes into `transfer`, which
    raises once the deadline has passed. `errors` maps a transport error to a SourceError."""

    def __init__(
        self,
        chunks: Iterator[bytes],
        transfer: Transfer,
        errors: Callable[[Exception], Exception] | None = None,
    ) -> None:
        self._chunks = chunks
        self._transfer = transfer
        self._errors = errors
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            chunk = self._next()
            if chunk is None:
                return 0
            self._transfer.receive(len(chunk))
            self._pending = chunk
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _next(self) -> bytes | None:
        try:
            return next(self._chunks, None)
        except Exception as error:
            if self._errors is None:
                raise
            raise self._errors(error) from error


def _size(n: int) -> str:
    if n < 1000:
        return f"{n:,} bytes" if n != 1 else "1 byte"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"
