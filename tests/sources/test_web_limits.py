"""The http source's limits, against real servers on loopback: a read ends by its deadline, headers
go only to the card URL's origin, and error messages carry no secret."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from jobs.errors import SourceError
from jobs.sources.secrets import scrub
from jobs.sources.web import HttpSource
from tests.sources.scores_server import Reply, ScoresServer, running_server
from tests.sources.test_web import Sleeps, read, record, source

TOKEN = {"headers_env": {"Authorization": "TOKEN"}, "environ": {"TOKEN": "Bearer s3cret-token"}}


@pytest.fixture(name="server")
def _server() -> Iterator[ScoresServer]:
    before = set(threading.enumerate())
    with running_server() as server:
        yield server
    assert set(threading.enumerate()) <= before  # the server's threads all ended


@pytest.fixture(name="other")
def _other() -> Iterator[ScoresServer]:
    with running_server() as other:
        yield other


@pytest.fixture(name="client")
def _client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as client:
        yield client


def timed_read(src: HttpSource) -> tuple[SourceError, float]:
    started = time.monotonic()
    with pytest.raises(SourceError) as error:
        read(src)
    return error.value, time.monotonic() - started


def test_a_body_that_trickles_is_cut_off_by_the_deadline(server: ScoresServer) -> None:
    body = json.dumps([record(1)] * 40)
    page = {"data": [record(2)], "next": "/p2"}
    url = server.script("/p1", Reply(body=json.dumps(page)))
    server.script("/p2", Reply(body=json.dumps({"data": [record(3)], "next": "/p3"})))
    server.script("/p3", Reply(body=body, trickle=0.1))  # 40 s to send it all
    # A socket timeout alone would never fire: a byte arrives every 0.1 s.
    src = HttpSource(url=url, environ={}, timeout=30.0, deadline=1.5)

    error, seconds = timed_read(src)

    assert 1.5 <= seconds < 3.0
    assert "the endpoint did not finish sending the window within 1.5 s" in error.reason
    assert "(stopped after 3 pages, " in error.reason and " bytes" in error.reason


def test_a_body_that_never_comes_is_cut_off_by_the_deadline(
    server: ScoresServer, client: httpx.Client
) -> None:
    url = server.script("/hang", Reply(body=json.dumps([record(1)]), hang=True))
    sleeps = Sleeps()
    src = source(url, client, timeout=30.0, deadline=1.0, sleep=sleeps)
    error, seconds = timed_read(src)
    assert 1.0 <= seconds < 2.5
    assert "within 1 s (stopped after 1 page, 0 bytes; last problem: ReadTimeout" in error.reason
    assert sleeps == []  # no retry once the time is up


def test_a_csv_body_that_trickles_is_cut_off(server: ScoresServer) -> None:
    rows = "".join(f"2024-07-01T{h:02d}:00:00,0.5\n" for h in range(24))
    url = server.script("/s.csv", Reply(body="scored_at,score\n" + rows, trickle=0.05))
    src = HttpSource(url=url, environ={}, format="csv", deadline=1.0)
    error, seconds = timed_read(src)
    assert seconds < 2.5 and "did not finish sending the window within 1 s" in error.reason


def test_retries_do_not_wait_past_the_deadline(server: ScoresServer, client: httpx.Client) -> None:
    url = server.script("/busy", Reply(503, headers={"Retry-After": "30"}))
    sleeps = Sleeps()
    error, _ = timed_read(source(url, client, deadline=5.0, sleep=sleeps))
    assert sleeps == []
    assert "within 5 s (stopped after 1 page, 0 bytes; last problem: HTTP 503" in error.reason


def test_each_request_gets_no_more_than_the_time_left(server: ScoresServer) -> None:
    url = server.script("/slow", Reply(body=json.dumps([record(1)]), delay=5.0))
    src = HttpSource(url=url, environ={}, timeout=30.0, deadline=0.8, sleep=Sleeps())
    error, seconds = timed_read(src)
    assert seconds < 2.0 and "within 0.8 s" in error.reason


@pytest.mark.parametrize("how", ["json next", "link header"])
def test_a_next_page_on_another_origin_is_refused(
    server: ScoresServer, other: ScoresServer, client: httpx.Client, how: str
) -> None:
    elsewhere = other.script("/steal", Reply(body=json.dumps([record(2)])))
    if how == "json next":
        first = Reply(body=json.dumps({"data": [record(1)], "next": elsewhere}))
    else:
        first = Reply(body=json.dumps([record(1)]), headers={"Link": f'<{elsewhere}>; rel="next"'})
    url = server.script("/scores", first)

    with pytest.raises(SourceError) as error:
        read(source(url, client, **TOKEN))

    reason = error.value.reason
    assert (
        f"a next link leads to {other.url}, another origin than the card's URL ({server.url})"
        in (reason)
    )
    assert "refused" in reason
    assert other.requests == []  # never asked, so it never saw the token


def test_a_redirect_to_another_origin_is_refused(
    server: ScoresServer, other: ScoresServer, client: httpx.Client
) -> None:
    elsewhere = other.script("/steal", Reply(body=json.dumps([record(2)])))
    url = server.script("/scores", Reply(302, headers={"Location": elsewhere}))
    follows = httpx.Client(timeout=2.0, follow_redirects=True)  # the source overrides it
    with follows, pytest.raises(SourceError, match="the server redirects \\(302\\) to") as error:
        read(source(url, follows, headers_env={"X-Api-Key": "KEY"}, environ={"KEY": "k-123"}))
    assert other.url in error.value.reason
    assert other.requests == []
    with pytest.raises(SourceError):
        read(source(url, client, **TOKEN))
    assert other.requests == []


def test_a_redirect_within_the_origin_is_followed_with_the_headers(
    server: ScoresServer, client: httpx.Client
) -> None:
    url = server.script("/old", Reply(301, headers={"Location": "/new?v=2"}))
    server.script("/new", Reply(body=json.dumps([record(1)])))
    batch, _ = read(source(url, client, **TOKEN))
    assert len(batch["score"]) == 1
    assert server.paths() == ["/old", "/new"]
    assert server.requests[1].headers["Authorization"] == "Bearer s3cret-token"
    assert server.requests[1].query["start"] == ["2024-07-01T00:00:00Z"]


def test_paging_that_never_ends_is_reported_without_the_query(
    server: ScoresServer, client: httpx.Client
) -> None:
    looping = {"data": [record(1)], "next": "/scores?token=abc123"}
    url = server.script("/scores", Reply(body=json.dumps(looping)))
    with pytest.raises(SourceError, match="paging does not end") as error:
        read(source(url + "?token=abc123", client))
    assert "abc123" not in str(error.value)


def test_a_header_value_in_an_http_error_is_scrubbed(client: httpx.Client) -> None:
    # A token read from a file keeps its newline: httpx refuses it, quoting the value.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/x?token=abc123"
        environ = {"TOKEN": "Bearer s3cret-token\n"}
        src = source(url, client, headers_env={"Authorization": "TOKEN"}, environ=environ)
        with pytest.raises(SourceError, match="LocalProtocolError") as error:
            read(src)
    assert "s3cret" not in str(error.value) and "abc123" not in str(error.value)


def test_an_httpx_status_error_is_scrubbed(server: ScoresServer, client: httpx.Client) -> None:
    url = server.script("/p", Reply(404))
    response = client.get(url + "?token=abc")
    with pytest.raises(httpx.HTTPStatusError) as error:
        response.raise_for_status()
    assert "abc" in str(error.value)
    assert "abc" not in scrub(str(error.value)) and "/p?token=***" in scrub(str(error.value))


def test_csv_rows_that_cannot_be_parsed_are_rejected_as_malformed(
    server: ScoresServer, client: httpx.Client
) -> None:
    body = "scored_at,score\n2024-07-01T01:00:00,0.5\n2024-07-01T02:00:00,0.5,x\nnot a time,0.5\n"
    url = server.script("/s.csv", Reply(body=body))
    batch, report = read(source(url, client, format="csv"), income="numeric")
    assert len(batch["score"]) == 1
    assert report.rejected == {"malformed": 1, "bad_timestamp": 1}  # served for this window
    assert report.rows_read == 3 and report.unplaced == {}


def test_a_csv_body_that_is_not_utf8_is_a_source_error(
    server: ScoresServer, client: httpx.Client
) -> None:
    url = server.script("/s.csv", Reply(body=b"scored_at,score\n" + b"\x1f\x8b\x08"))
    server.script("/z.csv", Reply(body=b"\x1f\x8b\x08\x00"))
    with pytest.raises(SourceError, match="the response body is not UTF-8 text"):
        read(source(url, client, format="csv"))
    with pytest.raises(SourceError, match="a gzip file"):
        read(source(server.url + "/z.csv", client, format="csv"))
