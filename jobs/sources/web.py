"""The http source: GET a URL for the window (`start`/`end` query parameters, ISO 8601 UTC), JSON
records or CSV, following `next` links, with timeouts, retries and a deadline. The only module
importing httpx.

- Retries (at most `attempts` tries) follow connection errors, timeouts, 5xx and 429, waiting
  `backoff * 2**n` seconds (capped) or what `Retry-After` asks.
- A read of a window ends within `deadline` seconds, paging, redirects, retries and waits included:
  each request's socket timeouts are capped to the time left, and the deadline is checked between
  body chunks (`jobs.sources.transfers`), so an endpoint that trickles its body or never finishes
  it is cut off (a blocked socket read can outlast the deadline by at most its own timeout, which
  was no longer than the time left when the request started).
- Paging follows a `next` field of a JSON body (``{"data" | "records": [...], "next": url}``) or a
  ``Link: <url>; rel="next"`` header. A next page, or a redirect, that lacks the window parameters
  is given them.
- Requests go only to the *origin* (scheme, host, port) of the card's URL, which is where the
  `headers_env` headers (tokens) belong. A `next` link or a redirect to another origin is refused
  with a SourceError naming both origins, rather than followed with or without the headers: a
  different origin serving the next page is more likely a misconfiguration or an attack, and
  following it without the headers would fail or, worse, read someone else's rows. httpx would keep
  custom headers (all but Authorization) on a cross-origin redirect, so redirects are followed here,
  one by one, only within the origin.
- Rows outside the window, or with a bad timestamp, are rejected (``outside_window``,
  ``bad_timestamp``): the endpoint was asked for the window. So are csv rows that cannot be parsed
  (``malformed``).
- Error messages are scrubbed of the URL's password, query-string values and header values
  (`jobs.sources.secrets`) before they reach a SourceError.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
import pyarrow as pa
import pyarrow.csv as pcsv

from jobs.errors import SourceError
from jobs.sources.base import (
    DEFAULT_BATCH_ROWS,
    Batch,
    ColumnKind,
    ReadReport,
    SchemaKind,
    Window,
)
from jobs.sources.cells import kind_of
from jobs.sources.csvfiles import (
    TextError,
    convert_options,
    csv_stream_batches,
    max_row_bytes,
    read_header,
)
from jobs.sources.records import kinds_of_records, parse_records, record_batches
from jobs.sources.rows import Request
from jobs.sources.secrets import scrub, url_secrets
from jobs.sources.streams import replay
from jobs.sources.transfers import BodyStream, Transfer

__all__ = ["DEFAULT_DEADLINE", "DEFAULT_TIMEOUT", "HttpSource"]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_DEADLINE = 120.0
MAX_PAGES = 100_000
MAX_REDIRECTS = 10
RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class HttpSource:
    """Scored rows served over HTTP(S); `client` is injected (tests, proxies, connection reuse)."""

    def __init__(
        self,
        *,
        url: str,
        environ: Mapping[str, str],
        headers_env: Mapping[str, str] | None = None,
        format: Literal["json", "csv"] = "json",
        client: httpx.Client | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        attempts: int = 4,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.format = format
        self.timeout = httpx.Timeout(timeout)
        self.deadline = deadline
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock
        self._client = client
        self._origin = _origin(httpx.URL(url))
        self._headers = {}
        for header, variable in (headers_env or {}).items():
            if variable not in environ:
                reason = f"environment variable {variable} (for the {header} header) is not set"
                raise SourceError(self.describe(), reason)
            self._headers[header] = environ[variable]
        # Header values as sent, trimmed, and word by word ("Bearer <token>"), for `scrub`.
        words = [v for x in self._headers.values() for v in (x, x.strip(), *x.split())]
        self._secrets = [*url_secrets(url), *words]

    def describe(self) -> str:
        """The URL without credentials or query string."""
        parsed = httpx.URL(self.url)
        port = f":{parsed.port}" if parsed.port else ""
        return f"http {parsed.scheme}://{parsed.host}{port}{parsed.path}"

    def columns(self) -> dict[str, SchemaKind]:
        """Kinds inferred from the first page fetched without a window."""
        transfer = self._transfer()
        with ExitStack() as stack:
            client = self._use_client(stack)
            transfer.page()
            if self.format == "csv":
                response = stack.enter_context(closing(self._get(client, self.url, {}, transfer)))
                body = self._body(response, transfer)
                limit = max_row_bytes(DEFAULT_BATCH_ROWS)
                try:
                    header = read_header(body, limit=limit)
                    rest = replay(header.head, body)
                    readable = stack.enter_context(pa.PythonFile(rest, mode="r"))
                    with closing(pcsv.open_csv(readable, convert_options=convert_options())) as r:
                        return {f.name: kind_of(f.type) for f in r.schema}
                except TextError as error:
                    raise SourceError(self.describe(), f"the response {error.problem}") from None
                except pa.ArrowException as error:
                    raise self._error(f"cannot read the CSV body: {error}") from error
            _response, content = self._get_all(client, self.url, {}, transfer)
            records, _next = self._records(content)
            return kinds_of_records(records)

    def batches(
        self,
        *,
        start: datetime,
        end: datetime,
        columns: Mapping[str, ColumnKind],
        timestamp: str,
        score: str,
        label: str | None,
        report: ReadReport,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> Iterator[Batch]:
        """The window's rows, page after page, within the deadline (see the module's rules)."""
        window = Window.of(start, end)
        request = Request(window, dict(columns), timestamp, score, label, outside_rejected=True)
        params = {"start": _iso(start), "end": _iso(end)}
        url: str | None = self.url
        seen: set[str] = set()
        transfer = self._transfer()
        with ExitStack() as stack:
            client = self._use_client(stack)
            while url is not None:
                if url in seen or len(seen) >= MAX_PAGES:
                    raise self._error(f"paging does not end (at {url})")
                if seen:
                    self._check_origin(httpx.URL(url), "a next link leads to")
                page_url = _with_params(url, params) if seen else url
                page_params = None if seen else params
                seen.add(url)
                transfer.page()
                if self.format == "csv":
                    with closing(self._get(client, page_url, page_params, transfer)) as response:
                        next_url = _link_next(response)
                        yield from self._csv_page(response, transfer, request, report, batch_rows)
                else:
                    response, content = self._get_all(client, page_url, page_params, transfer)
                    records, body_next = self._records(content)
                    next_url = body_next or _link_next(response)
                    yield from record_batches(records, request, report, batch_rows)
                url = str(response.url.join(next_url)) if next_url else None
        report.finish(request.numeric_columns)

    def _transfer(self) -> Transfer:
        return Transfer(seconds=self.deadline, source=self.describe(), clock=self.clock)

    def _use_client(self, stack: ExitStack) -> httpx.Client:
        if self._client is not None:
            return self._client
        return stack.enter_context(httpx.Client(timeout=self.timeout))

    def _get_all(
        self, client: httpx.Client, url: str, params: Mapping[str, str] | None, transfer: Transfer
    ) -> tuple[httpx.Response, bytes]:
        """A successful response and its body (errors while reading it retried like others)."""
        return self._fetch(client, url, params, transfer, read=True)

    def _get(
        self, client: httpx.Client, url: str, params: Mapping[str, str] | None, transfer: Transfer
    ) -> httpx.Response:
        """A successful response whose body is still to be streamed, after retries."""
        return self._fetch(client, url, params, transfer, read=False)[0]

    def _fetch(
        self,
        client: httpx.Client,
        url: str,
        params: Mapping[str, str] | None,
        transfer: Transfer,
        *,
        read: bool,
    ) -> tuple[httpx.Response, bytes]:
        """A successful response (status 2xx) and, when `read`, its body, after retries."""
        problem = ""
        content = b""
        for attempt in range(self.attempts):
            wait = min(self.backoff * 2**attempt, self.max_wait)
            try:
                response = self._send(client, url, params, transfer)
                if read and response.is_success:
                    with closing(response):
                        content = _read_body(response, transfer)
            except RETRYABLE_ERRORS as error:
                problem = self._scrub(_name_error(error))
                transfer.check(problem)
            except httpx.HTTPError as error:
                raise self._error(f"{type(error).__name__}: {error}") from None
            else:
                if response.is_success:
                    return response, content
                response.close()
                status = response.status_code
                problem = f"HTTP {status} {response.reason_phrase}".rstrip()
                if status != 429 and status < 500:
                    raise SourceError(self.describe(), problem)
                wait = _retry_after(response, wait, self.max_wait)
            if attempt + 1 < self.attempts:
                self.sleep(transfer.wait(wait, problem))
        reason = f"gave up after {self.attempts} attempts: {problem}"
        raise SourceError(self.describe(), reason)

    def _send(
        self, client: httpx.Client, url: str, params: Mapping[str, str] | None, transfer: Transfer
    ) -> httpx.Response:
        """The response to GET `url` (body not read), redirects followed within the origin only."""
        target = httpx.URL(url).copy_merge_params(params) if params else httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            request = client.build_request(
                "GET", target, headers=self._headers, timeout=self._timeout(transfer)
            )
            response = client.send(request, stream=True, follow_redirects=False)
            if not response.is_redirect:
                return response
            response.close()
            target = request.url.join(response.headers["Location"])
            self._check_origin(target, f"the server redirects ({response.status_code}) to")
            if params:
                target = httpx.URL(_with_params(str(target), params))
        raise SourceError(self.describe(), f"more than {MAX_REDIRECTS} redirects")

    def _timeout(self, transfer: Transfer) -> httpx.Timeout:
        """The socket timeouts, none longer than the time left before the deadline."""
        left = max(transfer.left(), 0.001)
        parts = self.timeout.as_dict()
        capped = {k: left if v is None else min(v, left) for k, v in parts.items()}
        return httpx.Timeout(**capped)

    def _check_origin(self, target: httpx.URL, how: str) -> None:
        origin = _origin(target)
        if origin != self._origin:
            reason = (
                f"{how} {_show(origin)}, another origin than the card's URL ({_show(self._origin)})"
                ": refused, so that the source's headers are only ever sent where they belong"
                " (a next page on another origin is a misconfiguration or an attack; if that"
                " origin is meant, put its URL in the card)"
            )
            raise SourceError(self.describe(), reason)

    def _body(self, response: httpx.Response, transfer: Transfer) -> BodyStream:
        """The streamed body; a transport error while reading it becomes a SourceError (the
        deadline's when it has passed: a socket timeout capped to the time left)."""

        def cut_off(error: Exception) -> Exception:
            if not isinstance(error, httpx.HTTPError):
                return error
            problem = self._scrub(_name_error(error))
            if transfer.left() <= 0:
                return transfer.expired(problem)
            return SourceError(self.describe(), f"the response was cut off: {problem}")

        return BodyStream(response.iter_bytes(), transfer, cut_off)

    def _records(self, content: bytes) -> tuple[list[dict[str, Any]], str | None]:
        try:
            return parse_records(content)
        except ValueError as error:
            raise self._error(str(error)) from None

    def _csv_page(
        self,
        response: httpx.Response,
        transfer: Transfer,
        request: Request,
        report: ReadReport,
        batch_rows: int,
    ) -> Iterator[Batch]:
        body = self._body(response, transfer)
        try:
            yield from csv_stream_batches(body, request, report, batch_rows)
        except TextError as error:
            raise SourceError(self.describe(), f"the response body {error.problem}") from None
        except pa.ArrowException as error:
            raise self._error(f"cannot read the CSV body: {error}") from error

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def _error(self, reason: str) -> SourceError:
        """A SourceError whose reason is scrubbed of the URL's and headers' secrets."""
        return SourceError(self.describe(), self._scrub(reason))


def _read_body(response: httpx.Response, transfer: Transfer) -> bytes:
    """The body of a streamed `response`, the deadline checked between chunks."""
    chunks = []
    for chunk in response.iter_bytes():
        transfer.receive(len(chunk))
        chunks.append(chunk)
    return b"".join(chunks)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _with_params(url: str, params: Mapping[str, str]) -> str:
    """A `next` link with the window parameters it lacks (a link that has them is kept as is)."""
    parsed = httpx.URL(url)
    missing = {key: value for key, value in params.items() if key not in parsed.params}
    return str(parsed.copy_merge_params(missing)) if missing else url


def _link_next(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    return link.get("url") if link else None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def _show(origin: tuple[str, str, int | None]) -> str:
    scheme, host, port = origin
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + ("" if port == _DEFAULT_PORTS.get(scheme) else f":{port}")


def _name_error(error: Exception) -> str:
    return f"{type(error).__name__} ({error})" if str(error) else type(error).__name__


def _retry_after(response: httpx.Response, default: float, cap: float) -> float:
    value = response.headers.get("Retry-After")
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return default
    return min(max(seconds, 0.0), cap)
