"""The http source: GET a URL for the window (`start`/`end` query parameters, ISO 8601 UTC), JSON
records or CSV, following `next` links, with timeouts and retries. The only module importing httpx.

Retries (at most `attempts` tries) follow connection errors, timeouts, 5xx and 429, waiting
`backoff * 2**n` seconds (capped) or what `Retry-After` asks. Paging follows a `next` field of a
JSON body (``{"data" | "records": [...], "next": url}``) or a ``Link: <url>; rel="next"`` header.
Rows outside the window are rejected (``outside_window``): the endpoint was asked for the window.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
import numpy as np
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
from jobs.sources.rows import Request, shape
from jobs.sources.streams import replay

__all__ = ["DEFAULT_TIMEOUT", "HttpSource"]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_PAGES = 100_000
RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


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
        attempts: int = 4,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.format = format
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self._client = client
        self._headers = {}
        for header, variable in (headers_env or {}).items():
            if variable not in environ:
                reason = f"environment variable {variable} (for the {header} header) is not set"
                raise SourceError(self.describe(), reason)
            self._headers[header] = environ[variable]

    def describe(self) -> str:
        """The URL without credentials or query string."""
        parsed = httpx.URL(self.url)
        port = f":{parsed.port}" if parsed.port else ""
        return f"http {parsed.scheme}://{parsed.host}{port}{parsed.path}"

    def columns(self) -> dict[str, SchemaKind]:
        """Kinds inferred from the first page fetched without a window."""
        with ExitStack() as stack:
            client = self._use_client(stack)
            stream = self.format == "csv"
            response = stack.enter_context(closing(self._get(client, self.url, {}, stream=stream)))
            if stream:
                body = _ResponseStream(response)
                try:
                    header = read_header(body, limit=max_row_bytes(DEFAULT_BATCH_ROWS))
                except TextError as error:
                    raise SourceError(self.describe(), f"the response {error.problem}") from None
                readable = stack.enter_context(pa.PythonFile(replay(header.head, body), mode="r"))
                with closing(pcsv.open_csv(readable, convert_options=convert_options())) as reader:
                    return {f.name: kind_of(f.type) for f in reader.schema}
            records, _next = self._records(response)
            return _kinds_of_records(records)

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
        window = Window.of(start, end)
        request = Request(window, dict(columns), timestamp, score, label, outside_rejected=True)
        params = {"start": _iso(start), "end": _iso(end)}
        url: str | None = self.url
        seen: set[str] = set()
        with ExitStack() as stack:
            client = self._use_client(stack)
            while url is not None:
                if url in seen or len(seen) >= MAX_PAGES:
                    raise SourceError(self.describe(), f"paging does not end (at {url})")
                page_url = _with_params(url, params) if seen else url
                page_params = None if seen else params
                seen.add(url)
                stream = self.format == "csv"
                with closing(self._get(client, page_url, page_params, stream=stream)) as response:
                    next_url = _link_next(response)
                    if stream:
                        yield from self._csv_page(response, request, report, batch_rows)
                    else:
                        records, body_next = self._records(response)
                        next_url = body_next or next_url
                        yield from _record_batches(records, request, report, batch_rows)
                url = str(response.url.join(next_url)) if next_url else None
        report.finish(request.numeric_columns)

    def _use_client(self, stack: ExitStack) -> httpx.Client:
        if self._client is not None:
            return self._client
        return stack.enter_context(httpx.Client(timeout=self.timeout, follow_redirects=True))

    def _get(
        self, client: httpx.Client, url: str, params: Mapping[str, str] | None, *, stream: bool
    ) -> httpx.Response:
        """A successful response (status 2xx, body not yet read when streaming), after retries."""
        problem = ""
        for attempt in range(self.attempts):
            wait = min(self.backoff * 2**attempt, self.max_wait)
            try:
                request = client.build_request(
                    "GET", url, params=params, headers=self._headers, timeout=self.timeout
                )
                response = client.send(request, stream=stream)
            except RETRYABLE_ERRORS as error:
                problem = _name_error(error)
            except httpx.HTTPError as error:
                raise SourceError(self.describe(), f"{type(error).__name__}: {error}") from error
            else:
                if response.is_success:
                    return response
                response.close()
                status = response.status_code
                problem = f"HTTP {status} {response.reason_phrase}".rstrip()
                if status != 429 and status < 500:
                    raise SourceError(self.describe(), problem)
                wait = _retry_after(response, wait, self.max_wait)
            if attempt + 1 < self.attempts:
                self.sleep(wait)
        reason = f"gave up after {self.attempts} attempts: {problem}"
        raise SourceError(self.describe(), reason)

    def _records(self, response: httpx.Response) -> tuple[list[Any], str | None]:
        try:
            body = json.loads(response.content)
        except ValueError as error:
            raise SourceError(self.describe(), f"the response is not JSON: {error}") from error
        next_url = None
        if isinstance(body, dict):
            next_url = body.get("next") if isinstance(body.get("next"), str) else None
            body = body.get("data", body.get("records"))
        if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
            reason = 'expected a list of records, or {"data": [...]} or {"records": [...]}'
            raise SourceError(self.describe(), reason)
        return body, next_url

    def _csv_page(
        self, response: httpx.Response, request: Request, report: ReadReport, batch_rows: int
    ) -> Iterator[Batch]:
        try:
            yield from csv_stream_batches(_ResponseStream(response), request, report, batch_rows)
        except TextError as error:
            raise SourceError(self.describe(), f"the response body {error.problem}") from None
        except (httpx.HTTPError, pa.ArrowException) as error:
            raise SourceError(self.describe(), f"cannot read the CSV body: {error}") from error


def _record_batches(
    records: list[dict[str, Any]], request: Request, report: ReadReport, batch_rows: int
) -> Iterator[Batch]:
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


def _kinds_of_records(records: list[dict[str, Any]]) -> dict[str, SchemaKind]:
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


class _ResponseStream(io.RawIOBase):
    """A streaming response body as a readable file."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.iter_bytes()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
