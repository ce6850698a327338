"""The HTTP surface: POST /slack/events, GET /healthz, GET /metrics (design.md's HTTP contract).

A plain WSGI router served by waitress; the Slack route is bolt's WSGI handler in HTTP mode, and
a clear 503 saying why when Slack is off (or talks over Socket Mode).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _reply(
    start_response: StartResponse, status: str, body: bytes, content_type: str
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def make_wsgi(
    *,
    health: Callable[[], dict[str, Any]],
    metrics: Callable[[], bytes],
    slack: WSGIApp | None = None,
    slack_off: str = "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET",
) -> WSGIApp:
    """Route requests; `health` returns a JSON-able dict with `ok`, `metrics` exposition bytes."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        if path == "/healthz" and method == "GET":
            report = health()
            status = "200 OK" if report.get("ok") else "503 Service Unavailable"
            return _reply(start_response, status, json.dumps(report).encode(), "application/json")
        if path == "/metrics" and method == "GET":
            return _reply(start_response, "200 OK", metrics(), METRICS_CONTENT_TYPE)
        if path == "/slack/events" and method == "POST":
            if slack is None:
                body = slack_off.encode()
                return _reply(start_response, "503 Service Unavailable", body, "text/plain")
            return slack(environ, start_response)
        return _reply(start_response, "404 Not Found", b"not found", "text/plain")

    return app
