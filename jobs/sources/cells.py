"""Turning raw cells into the typed arrays of a `Batch`, counting what does not convert.

Cells arrive either as pyarrow arrays (csv, parquet, http csv) or as numpy object arrays of Python
values (sql rows, http json records). Each function has a fast vectorised path and falls back to
a slower one only for chunks that hold unreadable cells. Imports numpy, pyarrow and the stdlib.

A numeric cell is a number (int, float, decimal, boolean), or text that, trimmed of ASCII
whitespace (`SPACE`), matches `NUMBER`: a decimal with ASCII digits and an optional sign, fraction
and exponent (``1``, ``-2.5``, ``.5``, ``1e-3``), or inf/infinity/nan in any case with an optional
sign. It is *missing* when null, NaN or nan text; anything else present (``n/a``, ``1,5``,
``1_000``, a date, bytes) is *unreadable*: made missing and counted. The sql pushdown applies the
same rule inside the database (`jobs.sources.numbers`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.sources.base import SchemaKind, to_ns

__all__ = [
    "NUMBER",
    "SPACE",
    "Cells",
    "categorical",
    "kind_of",
    "missing",
    "number_of",
    "numeric",
    "take",
    "timestamps",
]

Cells: TypeAlias = Any
"""A column's raw cells: ``pa.Array | pa.ChunkedArray | np.ndarray`` (pyarrow has no type hints)."""

SPACE = " \t\n\r\x0b\x0c"
NUMBER = r"^[+-]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|inf|infinity|nan)$"
_NUMBER = re.compile(NUMBER, re.IGNORECASE)
_NAN_TEXT = rf"^[{SPACE}]*[+-]?nan[{SPACE}]*$"
_NS_TYPE = pa.timestamp("ns")
_NS_UTC_TYPE = pa.timestamp("ns", "UTC")
_MISSING_NS = np.iinfo(np.int64).min


def take(values: Cells, mask: np.ndarray) -> Cells:
    """The cells where `mask` is true."""
    if isinstance(values, np.ndarray):
        return values[mask]
    return values.filter(pa.array(mask, type=pa.bool_()))


def number_of(text: str) -> float | None:
    """The number a text cell holds by the rule above (NaN for nan text), None when unreadable."""
    trimmed = text.strip(SPACE)
    return float(trimmed) if _NUMBER.match(trimmed) else None


def numeric(values: Cells) -> tuple[np.ndarray, int, int]:
    """Float64 values (NaN where missing or unreadable), non-missing cells, and unreadable cells."""
    if isinstance(values, np.ndarray):
        return _numeric_objects(values)
    kind = values.type
    if pa.types.is_dictionary(kind):
        return numeric(pc.cast(values, kind.value_type))
    if pa.types.is_null(kind):
        return np.full(len(values), np.nan), 0, 0
    if (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_boolean(kind)
    ):
        return _counted(_to_float(values), 0)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        seen = len(values) - values.null_count
        return np.full(len(values), np.nan), seen, seen
    try:
        return _counted(_to_float(pc.cast(values, pa.float64())), 0)
    except pa.ArrowInvalid:
        pass
    trimmed = pc.utf8_trim(values, characters=SPACE)
    ok = pc.match_substring_regex(trimmed, NUMBER, ignore_case=True)
    good = pc.if_else(ok, trimmed, pa.scalar(None, type=trimmed.type))
    bad = (len(values) - values.null_count) - (len(good) - good.null_count)
    return _counted(_to_float(pc.cast(good, pa.float64())), bad)


def _counted(out: np.ndarray, bad: int) -> tuple[np.ndarray, int, int]:
    """`out` with its non-missing cells (numbers that are not NaN, plus the unreadable ones)."""
    return out, int(np.count_nonzero(~np.isnan(out))) + bad, bad


def _to_float(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    floats = pc.cast(values, pa.float64(), safe=False)
    if isinstance(floats, pa.ChunkedArray):
        floats = floats.combine_chunks() if floats.num_chunks else pa.array([], pa.float64())
    out: np.ndarray = floats.to_numpy(zero_copy_only=False)
    return out.astype(np.float64, copy=False)


def _numeric_objects(values: np.ndarray) -> tuple[np.ndarray, int, int]:
    if values.dtype.kind in "fiub":
        return _counted(values.astype(np.float64), 0)
    try:
        # All numbers, or all texts (with None): pyarrow converts them by the same rule, faster.
        return numeric(pa.array(values, from_pandas=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    out = np.full(len(values), np.nan, dtype=np.float64)
    bad = 0
    for i, cell in enumerate(values):
        if cell is None:
            continue
        number = _number_cell(cell)
        if number is None:
            bad += 1
        else:
            out[i] = number
    return _counted(out, bad)


def _number_cell(cell: Any) -> float | None:
    """One Python value by the rule: a number, a number in text, or None when unreadable."""
    if isinstance(cell, str):
        return number_of(cell)
    if isinstance(cell, bool | int | float | Decimal):
        return float(cell)
    return None


def missing(values: Cells) -> np.ndarray:
    """True where a cell is missing: null/None, a float NaN, or nan text (not unreadable)."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "f":
            return np.isnan(values)
        return np.fromiter(
            (
                v is None
                or (isinstance(v, float | Decimal) and math.isnan(v))
                or (isinstance(v, str) and v.strip(SPACE).lower() in ("nan", "+nan", "-nan"))
                for v in values
            ),
            dtype=bool,
            count=len(values),
        )
    absent = pc.is_null(values, nan_is_null=True)
    if isinstance(absent, pa.ChunkedArray):
        absent = absent.combine_chunks() if absent.num_chunks else pa.array([], pa.bool_())
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        nan_text = pc.match_substring_regex(values, _NAN_TEXT, ignore_case=True)
        absent = pc.or_(absent, pc.fill_null(nan_text, False))
    out: np.ndarray = absent.to_numpy(zero_copy_only=False)
    return out


def _is_nan(cell: Any) -> bool:
    return isinstance(cell, float) and math.isnan(cell)


def categorical(values: Cells) -> tuple[np.ndarray, int]:
    """Object array of str (None where missing) and the count of unreadable cells."""
    if isinstance(values, np.ndarray):
        return _categorical_objects(values)
    kind = values.type
    if pa.types.is_dictionary(kind):
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks() if values.num_chunks else values.cast(kind.value_type)
        if pa.types.is_dictionary(values.type):
            # The distinct values once, then one object per row shared among equal values.
            labels, bad_labels = categorical(values.dictionary)
            codes = values.indices.fill_null(len(labels)).to_numpy(zero_copy_only=False)
            table = np.empty(len(labels) + 1, dtype=object)
            table[:-1], table[-1] = labels, None
            rows = table[codes]
            if not bad_labels:
                return rows, 0
            # Dictionary values that did not convert: count the rows that hold one.
            unreadable = np.zeros(len(table), dtype=bool)
            valid = values.dictionary.is_valid().to_numpy(zero_copy_only=False)
            unreadable[:-1] = (labels == None) & valid  # noqa: E711
            return rows, int(np.count_nonzero(unreadable[codes]))
    if pa.types.is_null(kind):
        return np.full(len(values), None, dtype=object), 0
    bad = 0
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        if pa.types.is_floating(kind):
            values = pc.if_else(pc.is_nan(values), pa.scalar(None, kind), values)
        try:
            values = pc.cast(values, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = len(values) - values.null_count
            return np.full(len(values), None, dtype=object), bad
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    out: np.ndarray = values.to_numpy(zero_copy_only=False)
    return out.astype(object, copy=False), bad


def _categorical_objects(values: np.ndarray) -> tuple[np.ndarray, int]:
    out = np.empty(len(values), dtype=object)
    bad = 0
    for i, cell in enumerate(values):
        if cell is None or _is_nan(cell):
            out[i] = None
        elif isinstance(cell, str):
            out[i] = cell
        elif isinstance(cell, bool):
            out[i] = "true" if cell else "false"
        elif isinstance(cell, int | float):
            out[i] = str(int(cell)) if float(cell).is_integer() else str(cell)
        else:
            out[i] = None
            bad += 1
    return out, bad


def timestamps(values: Cells) -> tuple[np.ndarray, np.ndarray]:
    """Int64 nanoseconds since the epoch (UTC), and a mask of the valid timestamps."""
    if isinstance(values, np.ndarray):
        try:
            values = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return _timestamps_objects(values)
    kind = values.type
    if pa.types.is_dictionary(kind):
        return timestamps(pc.cast(values, kind.value_type))
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        target = _NS_UTC_TYPE if getattr(kind, "tz", None) else _NS_TYPE
        return _ns_of(pc.cast(values, target, safe=False))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        for target in (_NS_TYPE, _NS_UTC_TYPE):
            try:
                return _ns_of(pc.cast(values, target))
            except pa.ArrowInvalid:
                continue
        return _timestamps_objects(np.asarray(values.to_pylist(), dtype=object))
    return np.full(len(values), _MISSING_NS, dtype=np.int64), np.zeros(len(values), dtype=bool)


def _ns_of(stamps: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    ints = pc.cast(stamps, pa.int64())
    if isinstance(ints, pa.ChunkedArray):
        ints = ints.combine_chunks() if ints.num_chunks else pa.array([], pa.int64())
    valid = ints.is_valid().to_numpy(zero_copy_only=False)
    out = ints.fill_null(_MISSING_NS).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return out, valid


def _timestamps_objects(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = np.full(len(values), _MISSING_NS, dtype=np.int64)
    valid = np.zeros(len(values), dtype=bool)
    for i, cell in enumerate(values):
        moment = _moment(cell)
        if moment is not None:
            out[i] = to_ns(moment)
            valid[i] = True
    return out, valid


def _moment(cell: Any) -> datetime | None:
    if isinstance(cell, datetime):
        return cell if cell.tzinfo is None else cell.astimezone(UTC)
    if isinstance(cell, date):
        return datetime(cell.year, cell.month, cell.day)
    if isinstance(cell, str):
        try:
            return _moment(datetime.fromisoformat(cell.strip()))
        except ValueError:
            return None
    return None


def kind_of(arrow_type: pa.DataType) -> SchemaKind:
    """The kind of a column of this arrow type: numbers are numeric, times are timestamps."""
    if pa.types.is_dictionary(arrow_type):
        return kind_of(arrow_type.value_type)
    if (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
    ):
        return "numeric"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "timestamp"
    return "categorical"
