"""From raw cells to a `Batch`: keep the window, reject unusable rows, convert the features.

Every source reads its raw chunks its own way and hands them to `shape`; the rules of
`jobs.sources.base` (what is rejected, skipped, charged to a file or made missing, which columns are
missing, which rows are hashed for duplicates) live here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from jobs.sources import cells
from jobs.sources.base import Batch, ColumnKind, ReadReport, Window
from jobs.sources.spans import TimeSpan

__all__ = ["Request", "charge_malformed", "shape"]


@dataclass(frozen=True)
class Request:
    """What a read asks for: the window and the columns, and how rows that miss it count.

    `outside_rejected`: the source was asked for the window (http, sql), so a row outside it, or
    with a bad timestamp, is rejected. Otherwise (files) `file` names the file the rows come from:
    rows outside the window are skipped, and rows that cannot be placed in time are charged to it.
    `span`, when given, is widened by every timestamp placed (for the file index).
    """

    window: Window
    columns: Mapping[str, ColumnKind]
    timestamp: str
    score: str
    label: str | None
    outside_rejected: bool = False
    file: str | None = None
    span: TimeSpan | None = None

    @property
    def names(self) -> list[str]:
        """Every column to read, the timestamp, score and label first, without repeats."""
        wanted = [self.timestamp, self.score, *([self.label] if self.label else []), *self.columns]
        return list(dict.fromkeys(wanted))

    @property
    def numeric_columns(self) -> list[str]:
        """The numeric features and the label: the columns judged for type changes."""
        kinds = {name: kind for name, kind in self.columns.items() if kind == "numeric"}
        if self.label:
            kinds[self.label] = "numeric"
        return list(kinds)


def shape(
    raw: Mapping[str, cells.Cells], rows: int, request: Request, report: ReadReport
) -> Batch | None:
    """The usable in-window rows of one raw chunk, or None when none are left.

    `raw` holds the chunk's cells by column; a requested column absent from it is missing, and noted
    as such only when the chunk contributed rows to the window (any row, for an asked source).
    """
    if rows == 0:
        return None
    stamps, chunk = _in_window(raw, rows, request, report)
    if request.outside_rejected or len(stamps):
        for name in request.names:
            if name not in raw:
                report.note_missing(name)
    if not len(stamps):
        return None
    scores, good = _usable_scores(chunk, len(stamps), request, report)
    if not good.any():
        return None
    if not good.all():
        stamps, scores = stamps[good], scores[good]
        chunk = {name: cells.take(values, good) for name, values in chunk.items()}
    batch: Batch = {request.timestamp: stamps.view("datetime64[ns]"), request.score: scores}
    kinds: dict[str, ColumnKind] = dict(request.columns)
    if request.label:
        kinds[request.label] = "numeric"
    for name, kind in kinds.items():
        if name not in batch:
            batch[name] = _feature(chunk.get(name), kind, name, len(scores), report)
    report.count_rows([_hashable(batch[name], chunk.get(name)) for name in request.names])
    return batch


def _in_window(
    raw: Mapping[str, cells.Cells], rows: int, request: Request, report: ReadReport
) -> tuple[np.ndarray, dict[str, cells.Cells]]:
    """Timestamps (ns) and cells of the rows inside the window; the others counted."""
    if request.timestamp in raw:
        stamps, valid = cells.timestamps(raw[request.timestamp])
    else:
        stamps, valid = np.zeros(rows, dtype=np.int64), np.zeros(rows, dtype=bool)
    unplaced = int(rows - np.count_nonzero(valid))
    if request.span is not None:
        request.span.see(stamps[valid] if unplaced else stamps)
    if request.file is None:
        report.reject("bad_timestamp", unplaced)
    elif request.timestamp in raw:
        report.unplace(request.file, "bad_timestamp", unplaced)
    else:
        report.unplace(request.file, f"missing_column:{request.timestamp}", unplaced)
    inside = valid & (stamps >= request.window.start_ns) & (stamps < request.window.end_ns)
    outside = int(np.count_nonzero(valid) - np.count_nonzero(inside))
    if request.outside_rejected:
        report.reject("outside_window", outside)
    else:
        report.skip(outside)
    if inside.all():
        return stamps, dict(raw)
    return stamps[inside], {name: cells.take(values, inside) for name, values in raw.items()}


def _usable_scores(
    chunk: Mapping[str, cells.Cells], rows: int, request: Request, report: ReadReport
) -> tuple[np.ndarray, np.ndarray]:
    """Scores as float64 and the mask of rows kept; rejected rows counted by reason."""
    if request.score in chunk:
        scores, _seen, _bad = cells.numeric(chunk[request.score])
        absent = cells.missing(chunk[request.score])
    else:
        scores, absent = np.full(rows, np.nan), np.ones(rows, dtype=bool)
    nan = np.isnan(scores)
    with np.errstate(invalid="ignore"):
        out_of_range = ~nan & ((scores < 0.0) | (scores > 1.0))
    report.reject("nan_score", int(np.count_nonzero(nan & absent)))
    report.reject(f"wrong_type:{request.score}", int(np.count_nonzero(nan & ~absent)))
    report.reject("score_out_of_range", int(np.count_nonzero(out_of_range)))
    good = ~(nan | out_of_range)
    report.keep(int(np.count_nonzero(good)))
    return scores, good


def _feature(
    values: cells.Cells | None, kind: ColumnKind, name: str, rows: int, report: ReadReport
) -> np.ndarray:
    if values is None:
        return np.full(rows, np.nan) if kind == "numeric" else np.full(rows, None, dtype=object)
    if kind == "numeric":
        numbers, seen, bad = cells.numeric(values)
        report.note_cells(name, seen=seen, bad=bad)
        return numbers
    labels, bad = cells.categorical(values)
    report.note_cells(name, seen=int(np.count_nonzero(labels != None)), bad=bad)  # noqa: E711
    return labels


def _hashable(values: np.ndarray, raw: cells.Cells | None) -> cells.Cells | None:
    """The column to hash for duplicates: the batch's values; for text, None when it is absent
    (all missing), or its raw arrow cells when they are the same texts (faster to hash)."""
    if values.dtype != object or isinstance(raw, np.ndarray):
        return values
    if raw is None:
        return None
    kind = raw.type.value_type if pa.types.is_dictionary(raw.type) else raw.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return raw
    return values


def charge_malformed(request: Request, report: ReadReport, rows: int) -> None:
    """Rows that cannot be parsed have no usable timestamp: they are charged to their file
    (``unplaced``), or rejected as ``malformed`` when the source was asked for the window."""
    if request.file is not None:
        report.unplace(request.file, "malformed", rows)
    else:
        report.reject("malformed", rows)
