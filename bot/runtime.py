"""`handoff run`: the composition root of a long-running process.

Builds engine → sessions → the scheduler leader (which runs checks only while it holds the lease) →
the HTTP server (waitress) for Slack, /healthz and /metrics. Nothing here is built at import.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Mapping
from datetime import timedelta
from types import FrameType
from typing import Any

from waitress.server import create_server

from bot.metrics import metrics_registry
from bot.server import make_wsgi
from bot.settings import Settings
from jobs import schedule
from jobs.vitals import read_vitals
from store import db

log = logging.getLogger("handoff.run")


def serve(settings: Settings, environ: Mapping[str, str]) -> None:
    """Run until SIGTERM/SIGINT: HTTP on settings.port, and the scheduler while leader."""
    from jobs.checks import run_check

    engine = db.prepare(settings.database_url)
    sessions = db.make_sessionmaker(engine)
    ttl = timedelta(seconds=float(environ.get("HANDOFF_LEADER_TTL_SECONDS", "30")))
    leader = schedule.Leader(
        engine=engine,
        sessions=sessions,
        holder=f"{socket.gethostname()}:{os.getpid()}",
        context=schedule.Context(sessions=sessions, environ=environ, check=run_check),
        ttl=ttl,
        renew_every=ttl / 3,
    )

    def health() -> dict[str, Any]:
        vitals = read_vitals(sessions)
        return {"ok": vitals.database_ok, "leader": leader.leading, "holder": leader.holder}

    app = make_wsgi(health=health, metrics=metrics_registry(sessions, lambda: leader.leading))
    server = create_server(
        app, host="0.0.0.0", port=settings.port, threads=8
    )  # all interfaces: a PaaS routes to $PORT

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signum)
        raise SystemExit(0)  # waitress's loop ends on SystemExit and closes its sockets

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    leader.start()
    log.info("handoff serving on port %s as %s", settings.port, leader.holder)
    try:
        server.run()
    finally:
        leader.stop()
        engine.dispose()
