"""Byte streams for csv input: what is read from (`Readable`), a stream replayed after peeking at
its start, and a guard that cuts over-long lines out of a stream. Imports the stdlib only.
"""

from __future__ import annotations

import io
from typing import Any, Protocol

__all__ = ["LineGuard", "Readable", "first_line_end", "replay"]

_MIB = 1 << 20
_LINE_ENDS = (b"\n", b"\r")


class Readable(Protocol):
    """What csv input is read from: a binary file or stream (``read`` returning b"" at the end)."""

    def read(self, size: int = -1, /) -> bytes | None: ...


class LineGuard(io.RawIOBase):
    """A byte stream with every line longer than `limit` bytes cut out (line end included); the
    lines cut are counted in `dropped`. Holds at most `limit` bytes plus one read."""

    def __init__(self, raw: Readable, limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self._ready = memoryview(b"")
        self._partial = bytearray()
        self._dropping = False
        self._eof = False
        self.dropped = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._ready:
            if self._eof:
                return 0
            self._fill()
        size = min(len(view), len(self._ready))
        view[:size] = self._ready[:size]
        self._ready = self._ready[size:]
        return size

    def _fill(self) -> None:
        data = self._raw.read(min(_MIB, self._limit)) or b""
        if not data:
            self._eof = True
            self._ready = memoryview(bytes(self._partial))
            self._partial = bytearray()
            return
        if self._dropping:
            end = first_line_end(data)
            if end < 0:
                return
            self._dropping = False
            data = data[end + 1 :]
        first = first_line_end(data)
        if first < 0:
            self._partial += data
            if len(self._partial) > self._limit:
                self._partial, self._dropping = bytearray(), True
                self.dropped += 1
            return
        if len(self._partial) + first > self._limit:
            self._partial = bytearray()
            self.dropped += 1
            data = data[first + 1 :]
            last = _last_line_end(data)
        else:
            last = _last_line_end(data)
        if last < 0:
            self._partial += data
            return
        ready = bytes(self._partial) + data[: last + 1]
        self._partial = bytearray(data[last + 1 :])
        self._ready = memoryview(ready)


class _Replay(io.RawIOBase):
    """`head` (already read from `stream`) followed by the rest of `stream`."""

    def __init__(self, head: bytes, stream: Readable) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            size = min(len(view), len(self._head))
            view[:size], self._head = self._head[:size], self._head[size:]
            return size
        data = self._stream.read(len(view)) or b""
        view[: len(data)] = data
        return len(data)


def replay(head: bytes, stream: Readable) -> io.BufferedReader:
    """`stream` as it was before `head` was read from it."""
    return io.BufferedReader(_Replay(head, stream))


def first_line_end(data: bytes | bytearray) -> int:
    """The index of the first line end (``\\n`` or ``\\r``) in `data`, -1 when there is none."""
    ends = [i for i in (data.find(end) for end in _LINE_ENDS) if i >= 0]
    return min(ends) if ends else -1


def _last_line_end(data: bytes | bytearray) -> int:
    return max(data.rfind(end) for end in _LINE_ENDS)
