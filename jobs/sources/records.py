"""JSON pages of the http source: the records of a body, as raw cells for `shape`, and the kinds of
their columns. Imports numpy and the stdlib.

A body is a list of records (objects), or ``{"data": [...]}`` / ``{"records": [...]}`` with an
optional ``"next"`` URL. A key absent from every record of a batch is a missing column.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np

from jobs.sources.base import Batch, ReadReport, SchemaKind
from jobs.sources.rows import Request, shape

__all__ = ["kinds_of_records", "parse_records", "record_batches"]


def parse_records(content: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """The records of a JSON body and its ``next`` link; ValueError (a plain reason) otherwise."""
    try:
        body = json.loads(content)
    except ValueError as error:
        raise ValueError(f"the response is not JSON: {error}") from None
    next_url = None
    if isinstance(body, dict):
        next_url = body.get("next") if isinstance(body.get("next"), str) else None
        body = body.get("data", body.get("records"))
    if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
        raise ValueError('expected a list of records, or {"data": [...]} or {"records": [...]}')
    return body, next_url


def record_batches(
    records: list[dict[str, Any]], request: Request, report: ReadReport, batch_rows: int
) -> Iterator[Batch]:
    """Batches of `batch_rows` records, each column an object array of the records' values."""
    for first in range(0, len(records), batch_rows):
        part = records[first : first + batch_rows]
        keys = {key for record in part for key in record}
        raw = {}
        for name in request.names:
            if name in keys:
                cells = (record.get(name) for record in part)
                raw[name] = np.fromiter(cells, dtype=object, count=len(part))
        batch = shape(raw, len(part), request, report)
        if batch is not None:
            yield batch


def kinds_of_records(records: list[dict[str, Any]]) -> dict[str, SchemaKind]:
    """Kinds from the values: numbers numeric, ISO times timestamps, anything else categorical."""
    kinds: dict[str, SchemaKind] = {}
    for record in records:
        for key, value in record.items():
            if kinds.get(key, "categorical") != "categorical" or value is None:
                kinds.setdefault(key, "categorical")
                continue
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                kinds[key] = "categorical"
            elif isinstance(value, int | float):
                kinds[key] = "numeric"
            else:
                kinds[key] = "timestamp" if _is_iso_time(value) else "categorical"
    return kinds


def _is_iso_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return len(text) >= 10
