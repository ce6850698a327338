"""Reading a model's scored rows for a window: csv/parquet files, a SQL database, an HTTP endpoint.

`open_source(card.data.source, environ=..., base_dir=...)` gives a `Source` (see `base.py` for what
batches hold and how unusable rows are counted). Imports numpy, pyarrow, `jobs.stats`,
`jobs.errors` and the stdlib here; httpx only in web.py and sqlalchemy only in warehouse.py and
pushdown.py (its SQL expressions).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.errors import SourceError
from jobs.sources.base import Batch, ColumnKind, ReadReport, SchemaKind, Source
from jobs.sources.spans import FileIndex, FileSpan

if TYPE_CHECKING:
    import httpx

__all__ = [
    "Batch",
    "ColumnKind",
    "FileIndex",
    "FileSpan",
    "ReadReport",
    "SchemaKind",
    "Source",
    "open_source",
]


def open_source(
    spec: Any,
    *,
    environ: Mapping[str, str],
    base_dir: Path,
    http: httpx.Client | None = None,
    index: FileIndex | None = None,
) -> Source:
    """The source a card's `data.source` describes (`store.cards` FileSource/SqlSource/HttpSource).

    `environ` supplies the variables the card names (`url_env`, `headers_env`); `base_dir` is the
    card file's folder, against which relative file paths resolve; `http` is the client for http
    sources (one is made per read when None); `index` keeps what csv/parquet reads learn of
    their files (`jobs.sources.spans`), so later windows skip the files outside them; an http
    source's read ends within `spec.deadline` seconds when the card gives one (else 120).
    Raises SourceError for an unknown kind or a missing environment variable.
    """
    kind = getattr(spec, "kind", None)
    if kind in ("csv", "parquet"):
        from jobs.sources.files import FileSource

        return FileSource(kind=kind, path=spec.path, base_dir=base_dir, index=index)
    if kind == "sql":
        from jobs.sources.warehouse import SqlSource

        return SqlSource(
            url_env=spec.url_env,
            environ=environ,
            table=getattr(spec, "table", None),
            query=getattr(spec, "query", None),
        )
    if kind == "http":
        from jobs.sources.web import DEFAULT_DEADLINE, HttpSource

        return HttpSource(
            url=str(spec.url),
            environ=environ,
            headers_env=dict(getattr(spec, "headers_env", None) or {}),
            format=getattr(spec, "format", "json"),
            client=http,
            deadline=_seconds(getattr(spec, "deadline", None)) or DEFAULT_DEADLINE,
        )
    raise SourceError(f"{kind} source", "unknown kind: use csv, parquet, sql or http")


def _seconds(value: Any) -> float | None:
    """A card's duration (a timedelta) or a number of seconds, as seconds."""
    if value is None:
        return None
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)
