"""The http source against a real server on loopback: paging, CSV, timeouts, retries, headers."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pytest

from jobs.errors import SourceError
from jobs.sources.base import Batch, ReadReport
from jobs.sources.web import HttpSource
from tests.sources.scores_server import Reply, ScoresServer, running_server

START = datetime(2024, 7, 1, tzinfo=UTC)
END = datetime(2024, 7, 2, tzinfo=UTC)


@pytest.fixture(name="server")
def _server() -> Iterator[ScoresServer]:
    with running_server() as server:
        yield server


@pytest.fixture(name="client")
def _client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as client:
        yield client


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def record(hour: int, score: Any = 0.5, **more: Any) -> dict[str, Any]:
    return {"scored_at": f"2024-07-01T{hour:02d}:00:00Z", "score": score, **more}


def source(url: str, client: httpx.Client, **options: Any) -> HttpSource:
    options.setdefault("sleep", Sleeps())
    return HttpSource(url=url, environ=options.pop("environ", {}), client=client, **options)


def read(src: HttpSource, **columns: Any) -> tuple[Batch, ReadReport]:
    report = ReadReport()
    batches = list(
        src.batches(
            start=START,
            end=END,
            columns=columns or {"income": "numeric"},
            timestamp="scored_at",
            score="score",
            label=None,
            report=report,
        )
    )
    if not batches:
        return {}, report
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}, report


def test_json_pages_follow_the_next_link(server: ScoresServer, client: httpx.Client) -> None:
    first = {"data": [record(1, income=10), record(2, income="lots")], "next": "/scores/2?c=x"}
    url = server.script("/scores", Reply(body=json.dumps(first)))
    server.script(
        "/scores/2",
        Reply(body=json.dumps({"records": [record(3, 0.7, income=30)], "next": "/scores/3"})),
    )
    late = {"scored_at": "2024-07-02T00:00:00+00:00", "score": 0.1}
    server.script("/scores/3", Reply(body=json.dumps([record(4, None), late])))

    batch, report = read(source(url, client))

    assert batch["score"].tolist() == [0.5, 0.5, 0.7]
    assert batch["income"][0] == 10 and np.isnan(batch["income"][1])
    assert report.rejected == {"nan_score": 1, "outside_window": 1}
    assert report.bad_cells == {"wrong_type:income": 1}
    assert server.paths() == ["/scores", "/scores/2", "/scores/3"]
    first_query = server.requests[0].query
    assert first_query == {"start": ["2024-07-01T00:00:00Z"], "end": ["2024-07-02T00:00:00Z"]}
    assert server.requests[1].query["c"] == ["x"] and "start" in server.requests[1].query


def test_link_header_paging_and_headers_from_the_environment(
    server: ScoresServer, client: httpx.Client
) -> None:
    url = server.script(
        "/a",
        Reply(body=json.dumps([record(1)]), headers={"Link": f'<{server.url}/b>; rel="next"'}),
    )
    server.script("/b", Reply(body=json.dumps([record(2)])))
    src = source(url, client, headers_env={"Authorization": "TOKEN"}, environ={"TOKEN": "Bearer s"})
    batch, _ = read(src)
    assert len(batch["score"]) == 2
    assert [r.headers["Authorization"] for r in server.requests] == ["Bearer s", "Bearer s"]


def test_a_missing_header_variable_is_named(client: httpx.Client) -> None:
    with pytest.raises(SourceError, match="SCORES_TOKEN"):
        source("http://127.0.0.1:9/x", client, headers_env={"Authorization": "SCORES_TOKEN"})


def test_csv_format_streams_the_body(server: ScoresServer, client: httpx.Client) -> None:
    rows = "".join(f"2024-07-01T{h:02d}:00:00,0.{h % 10},{h},R{h % 3}\n" for h in range(24))
    url = server.script("/s.csv", Reply(body="scored_at,score,income,region\n" + rows))
    src = source(url, client, format="csv")
    batch, report = read(src, income="numeric", region="categorical", label="numeric")
    assert batch["score"][:3].tolist() == [0.0, 0.1, 0.2]
    assert report.rows_read == 24 and report.rows_rejected == 0
    assert report.missing_columns == ["label"]
    assert batch["region"][:4].tolist() == ["R0", "R1", "R2", "R0"]
    assert batch["income"][-1] == 23
    assert src.columns() == {
        "scored_at": "timestamp",
        "score": "numeric",
        "income": "numeric",
        "region": "categorical",
    }


def test_a_timeout_is_retried(server: ScoresServer, client: httpx.Client) -> None:
    body = json.dumps([record(1)])
    url = server.script("/slow", Reply(body=body, delay=1.0), Reply(body=body))
    sleeps = Sleeps()
    batch, _ = read(source(url, client, timeout=0.2, sleep=sleeps))
    assert len(batch["score"]) == 1
    assert sleeps == [0.5]
    assert server.paths() == ["/slow", "/slow"]


def test_a_500_that_succeeds_on_retry(server: ScoresServer, client: httpx.Client) -> None:
    url = server.script("/flaky", Reply(500), Reply(502), Reply(body=json.dumps([record(1)])))
    sleeps = Sleeps()
    batch, _ = read(source(url, client, sleep=sleeps))
    assert len(batch["score"]) == 1
    assert sleeps == [0.5, 1.0]  # exponential backoff


def test_429_honours_retry_after(server: ScoresServer, client: httpx.Client) -> None:
    url = server.script(
        "/busy", Reply(429, headers={"Retry-After": "3"}), Reply(body=json.dumps([record(1)]))
    )
    sleeps = Sleeps()
    read(source(url, client, sleep=sleeps))
    assert sleeps == [3.0]


def test_exhausted_retries_are_a_source_error(server: ScoresServer, client: httpx.Client) -> None:
    url = server.script("/down", Reply(503))
    sleeps = Sleeps()
    with pytest.raises(SourceError, match="gave up after 3 attempts: HTTP 503") as error:
        read(source(url, client, attempts=3, sleep=sleeps))
    assert sleeps == [0.5, 1.0]
    assert error.value.source == f"http {url}"


def test_a_connection_refused_is_retried_then_reported(client: httpx.Client) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SourceError, match="gave up after 2 attempts: ConnectError"):
        read(source(f"http://127.0.0.1:{port}/x", client, attempts=2))


def test_a_404_is_not_retried(server: ScoresServer, client: httpx.Client) -> None:
    url = server.script("/gone", Reply(404))
    with pytest.raises(SourceError, match="HTTP 404"):
        read(source(url, client))
    assert server.paths() == ["/gone"]


def test_a_body_that_is_not_records_is_a_source_error(
    server: ScoresServer, client: httpx.Client
) -> None:
    url = server.script("/odd", Reply(body=json.dumps({"rows": 3})))
    with pytest.raises(SourceError, match="expected a list of records"):
        read(source(url, client))


def test_describe_hides_credentials_and_query() -> None:
    src = HttpSource(url="https://user:pw@example.com/scores?token=abc", environ={})
    assert src.describe() == "http https://example.com/scores"


def test_columns_from_the_first_json_page(server: ScoresServer, client: httpx.Client) -> None:
    url = server.script("/c", Reply(body=json.dumps([record(1, income=3, region="DE", flag=True)])))
    assert source(url, client).columns() == {
        "scored_at": "timestamp",
        "score": "numeric",
        "income": "numeric",
        "region": "categorical",
        "flag": "categorical",
    }


def test_without_an_injected_client_one_is_made_per_read(server: ScoresServer) -> None:
    url = server.script("/own", Reply(body=json.dumps([record(1)])))
    batch, _ = read(HttpSource(url=url, environ={}))
    assert len(batch["score"]) == 1
