"""Scripted outages: failures (429 + ``Retry-After``, 5xx, any error), hangs, a rate limiter.

Faults apply in the order they were scripted, each for its ``times`` calls; ``method="*"`` matches
every Web API method. The rate limiter mimics ``chat.postMessage``'s special limit (about one
message per second per channel, short bursts allowed) with a token bucket per channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

ERRORS_BY_STATUS = {
    429: "ratelimited",
    500: "internal_error",
    502: "internal_error",
    503: "service_unavailable",
    504: "request_timeout",
}


@dataclass
class Failure:
    """Answer ``status`` (with ``error`` in the body) instead of handling the call."""

    method: str
    status: int
    error: str
    retry_after: int | None
    times: int

    def headers(self) -> dict[str, str]:
        if self.status == 429 and self.retry_after is not None:
            return {"Retry-After": str(self.retry_after)}
        return {}


@dataclass
class Hang:
    """Wait ``seconds`` before handling the call (then handle it as usual)."""

    method: str
    seconds: float
    times: int


@dataclass
class Faults:
    failures: list[Failure] = field(default_factory=list)
    hangs: list[Hang] = field(default_factory=list)
    stalls: list[Hang] = field(default_factory=list)

    def take_failure(self, method: str) -> Failure | None:
        for failure in self.failures:
            if failure.times > 0 and failure.method in (method, "*"):
                failure.times -= 1
                return failure
        return None

    def take_hang(self, method: str) -> float:
        return _take(self.hangs, method)

    def take_stall(self, method: str) -> float:
        return _take(self.stalls, method)


def _take(hangs: list[Hang], method: str) -> float:
    for hang in hangs:
        if hang.times > 0 and hang.method in (method, "*"):
            hang.times -= 1
            return hang.seconds
    return 0.0


@dataclass
class RateLimiter:
    """A token bucket per key: ``per_second`` refill, ``burst`` capacity."""

    per_second: float
    burst: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key → (tokens, at)

    def retry_after(self, key: str, now: float) -> int | None:
        """Seconds to wait when the call is over the limit; None when it may go (and is counted)."""
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return None
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.per_second))
