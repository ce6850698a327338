"""open_source: one entry point from a card's `data.source` to a Source."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jobs.errors import SourceError
from jobs.sources import open_source
from jobs.sources.files import FileSource
from jobs.sources.warehouse import SqlSource
from jobs.sources.web import HttpSource


@dataclass
class Spec:
    kind: str
    path: str | None = None
    url_env: str | None = None
    table: str | None = None
    query: str | None = None
    url: str | None = None
    headers_env: dict[str, str] = field(default_factory=dict)
    format: str = "json"


def test_dispatches_on_kind(tmp_path: Path) -> None:
    files = open_source(Spec("parquet", path="d/*.parquet"), environ={}, base_dir=tmp_path)
    assert isinstance(files, FileSource) and files.describe() == "parquet d/*.parquet"
    sql = open_source(
        Spec("sql", url_env="W", table="t"), environ={"W": "sqlite://"}, base_dir=tmp_path
    )
    assert isinstance(sql, SqlSource) and sql.describe() == "sql $W table t"
    web = open_source(
        Spec("http", url="https://x.test/s", headers_env={"X-Key": "K"}, format="csv"),
        environ={"K": "v"},
        base_dir=tmp_path,
    )
    assert isinstance(web, HttpSource) and web.format == "csv"
    assert web.deadline == 120.0


def test_an_http_deadline_from_the_card(tmp_path: Path) -> None:
    spec = Spec("http", url="https://x.test/s")
    spec.deadline = 30  # type: ignore[attr-defined]
    web = open_source(spec, environ={}, base_dir=tmp_path)
    assert isinstance(web, HttpSource) and web.deadline == 30.0


def test_card_source_models(tmp_path: Path) -> None:
    card_schema = pytest.importorskip("store.card_schema")
    spec = card_schema.FileSource(kind="csv", path="data/*.csv")
    source = open_source(spec, environ={}, base_dir=tmp_path)
    assert isinstance(source, FileSource) and source.base_dir == tmp_path


def test_unknown_kind_and_missing_variable(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="unknown kind"):
        open_source(Spec("ftp"), environ={}, base_dir=tmp_path)
    with pytest.raises(SourceError, match="WAREHOUSE_URL"):
        open_source(Spec("sql", url_env="WAREHOUSE_URL", table="t"), environ={}, base_dir=tmp_path)
