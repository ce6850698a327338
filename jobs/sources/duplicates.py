"""Counting a window's duplicate rows in bounded memory: one 64-bit hash per row, kept only as
counts per distinct hash, thinned by a hash sample once there are too many. Imports numpy, pyarrow.

Two rows are duplicates when they are identical in every column read (after conversion: a missing
value equals a missing value, ``-0.0`` equals ``0.0``). ``duplicates`` counts the rows identical
to an earlier row of the same read. Up to `cap` distinct rows the count is exact; beyond, only rows
whose hash falls in the first ``1 / 2**level`` of the hash range are kept (identical rows have equal
hashes, so they are kept or dropped together) and the count found among them is scaled up by
``2**level``: an unbiased estimate, and ``exact`` is then False.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DuplicateCounter"]

DEFAULT_CAP = 1 << 19
"""Distinct row hashes kept before sampling starts (16 bytes each: ~8 MB, ~30 MB while merging)."""

_MAX_LEVEL = 16
_ODD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32))
_HIGH = np.uint64(0xFFFF << 48)
_LOW = np.uint64((1 << 48) - 1)
_NONE = np.uint64(hash(None) & ((1 << 64) - 1))


class DuplicateCounter:
    """Duplicate rows among the batches `add`ed, exact up to `cap` distinct rows, then estimated."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap
        self.rows = 0
        self._level = 0
        self._hashes = np.zeros(0, np.uint64)
        self._counts = np.zeros(0, np.int64)
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0

    @property
    def exact(self) -> bool:
        """False once the count is estimated from a sample of the hashes."""
        self._compact()
        return self._level == 0

    @property
    def duplicates(self) -> int:
        """Rows identical to an earlier row (estimated when not `exact`)."""
        self._compact()
        return (int(self._counts.sum()) - len(self._hashes)) << self._level

    def add(self, columns: Sequence[Any]) -> None:
        """Count one batch's rows, given its columns: equal-length numpy arrays; a text column may
        instead be a pyarrow string or dictionary array (faster to hash), or None when all its
        values are missing. Fixed-width columns come first (they decide the sample)."""
        rows = next((len(c) for c in columns if c is not None), 0)
        if not rows:
            return
        self.rows += rows
        fixed = [c for c in columns if isinstance(c, np.ndarray) and c.dtype.kind in "fiubmM"]
        texts = [c for c in columns if not (isinstance(c, np.ndarray) and c.dtype.kind in "fiubmM")]
        with np.errstate(over="ignore"):
            hashes = np.full(rows, _ODD, dtype=np.uint64)
            for column in fixed:
                word = _words(column)
                mixed = word >> _SHIFTS[3]
                mixed ^= word
                hashes ^= mixed
                hashes *= _ODD
            hashes = _mix(hashes)
            keep = None
            if self._level:
                keep = hashes < self._limit()
                hashes = hashes[keep]
            if texts and len(hashes):
                text = np.zeros(len(hashes), np.uint64)
                for column in texts:
                    text ^= _text_words(column, keep)
                    text *= _ODD
                # The top 16 bits stay those of the fixed-width hash, which decides the sample.
                hashes = (hashes & _HIGH) | (_mix(hashes ^ text) & _LOW)
        self._pending.append(hashes)
        self._pending_rows += len(hashes)
        if self._pending_rows > self.cap:
            self._compact()

    def _limit(self) -> np.uint64:
        return np.uint64(1 << (64 - self._level))

    def _compact(self) -> None:
        """Merge pending hashes into the distinct ones; raise the sampling level while too many.
        Linear but for sorting the pending hashes (numpy's argsort is much slower than sort)."""
        if not self._pending:
            return
        pending = np.concatenate(self._pending)
        self._pending, self._pending_rows = [], 0
        if self._level:
            pending = pending[pending < self._limit()]
        pending.sort()
        starts = np.flatnonzero(np.concatenate(([True], pending[1:] != pending[:-1])))
        hashes = pending[starts]
        counts = np.diff(np.append(starts, len(pending))).astype(np.int64)
        if len(self._hashes):
            at = np.searchsorted(self._hashes, hashes)
            found = at < len(self._hashes)
            found[found] = self._hashes[at[found]] == hashes[found]
            self._counts[at[found]] += counts[found]
            new = ~found
            self._hashes = np.insert(self._hashes, at[new], hashes[new])
            self._counts = np.insert(self._counts, at[new], counts[new])
        else:
            self._hashes, self._counts = hashes, counts
        while len(self._hashes) > self.cap and self._level < _MAX_LEVEL:
            self._level += 1
            keep = self._hashes < self._limit()
            self._hashes, self._counts = self._hashes[keep], self._counts[keep]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: every output bit depends on every input bit."""
    x = (x ^ (x >> _SHIFTS[0])) * _M1
    x = (x ^ (x >> _SHIFTS[1])) * _M2
    out: np.ndarray = x ^ (x >> _SHIFTS[2])
    return out


def _words(column: np.ndarray) -> np.ndarray:
    """The 64 bits of each value; floats normalised so that equal values have equal bits."""
    if column.dtype.kind == "f":
        values = column.astype(np.float64, copy=False) + 0.0  # -0.0 becomes 0.0
        nan = np.isnan(values)
        if nan.any():
            values[nan] = np.nan
        return values.view(np.uint64)
    if column.dtype.kind == "b":
        return column.astype(np.uint64)
    return column.astype(np.int64, copy=False).view(np.uint64)


def _text_words(column: Any, keep: np.ndarray | None) -> np.ndarray | np.uint64:
    """Python's hash of each text (or None), via the distinct values when arrow has them."""
    if column is None:
        return _NONE
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if isinstance(column, pa.Array):
        if keep is not None:
            column = column.filter(pa.array(keep, type=pa.bool_()))
        if not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column)
        table = np.fromiter(
            (hash(v) for v in column.dictionary.to_pylist()),
            dtype=np.int64,
            count=len(column.dictionary),
        ).view(np.uint64)
        table = np.append(table, _NONE)
        codes = column.indices.fill_null(len(table) - 1).to_numpy(zero_copy_only=False)
        words: np.ndarray = table[codes]
        return words
    if keep is not None:
        column = column[keep]
    hashes = np.fromiter(map(hash, column), dtype=np.int64, count=len(column))
    return hashes.view(np.uint64)
