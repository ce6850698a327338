"""`handoff run`: the composition root of a long-running process.

Builds engine → sessions → the link to Slack (bot/slack.py) → the check workers and the scheduler
leader (checks, the escalation sweep and outbox delivery run only while it holds the lease) → the
HTTP server (waitress) for Slack, /healthz and /metrics. Nothing here is built at import.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from waitress.server import create_server

from bot import slack
from bot.app import forget_old_events
from bot.metrics import metrics_registry
from bot.server import make_wsgi
from bot.settings import Settings
from jobs import checkins, escalation, schedule
from jobs.vitals import read_vitals
from jobs.workers import CheckWorkers
from store import db

log = logging.getLogger("handoff.run")

SERVER_LIMITS: dict[str, Any] = {
    # Slack needs an answer within 3 s; a listener acks before any slow work, so a few threads
    # serve many requests. Connections are cheap in waitress's event loop, and idle or half-open
    # ones (a load balancer's keep-alives, a slow client) must never starve /healthz or
    # /slack/events: room for 1,000 of them, and any idle for 30 s is closed (waitress's
    # defaults, 100 and 120 s, let a hundred idle connections block every new request).
    "threads": 8,
    "connection_limit": 1000,
    "channel_timeout": 30,
    "cleanup_interval": 5,
    "backlog": 1024,
}
STOP_GRACE_SECONDS = 5.0
DELIVER_EVERY = timedelta(seconds=2)
SWEEP_EVERY = timedelta(seconds=30)
CHECK_IN_EVERY = timedelta(seconds=60)
FORGET_EVERY = timedelta(hours=1)
DELIVER_BUDGET_SECONDS = 20.0


def serve(settings: Settings, environ: Mapping[str, str]) -> None:
    """Run until SIGTERM/SIGINT: HTTP on settings.host:port, Slack (HTTP or Socket Mode), and
    the scheduler while leader (checks, the escalation sweep, and delivery of the outbox)."""
    from jobs.checks import record_abandoned, run_check

    engine = db.prepare(settings.database_url)
    sessions = db.make_sessionmaker(engine)
    holder = f"{socket.gethostname()}:{os.getpid()}"
    link = slack.connect(settings, sessions, holder)
    workers = CheckWorkers(
        sessions=sessions,
        environ=environ,
        check=run_check,
        abandon=lambda guard: record_abandoned(sessions, guard, now=datetime.now(UTC)),
        size=settings.check_workers,
        limit=settings.check_limit,
    )

    def sweep() -> None:
        escalation.sweep(sessions, now=datetime.now(UTC))

    roster = link.directory.gone if link is not None else None

    def check_in() -> None:
        checkins.sweep(sessions, now=datetime.now(UTC), roster=roster)

    def forget_events() -> None:
        forget_old_events(sessions, now=datetime.now(UTC))

    jobs = [
        schedule.IntervalJob("escalation:sweep", sweep, SWEEP_EVERY),
        schedule.IntervalJob("checkins:sweep", check_in, CHECK_IN_EVERY),
        schedule.IntervalJob("slack:forget-events", forget_events, FORGET_EVERY),
    ]
    if link is not None:
        deliver = link.deliverer.deliver
        jobs.append(
            schedule.IntervalJob("outbox:deliver", lambda: _quietly(deliver), DELIVER_EVERY)
        )
    leader = schedule.Leader(
        engine=engine,
        sessions=sessions,
        holder=holder,
        context=schedule.Context(workers=workers),
        interval_jobs=jobs,
        ttl=settings.leader_ttl,
        renew_every=settings.leader_ttl / 3,
    )

    def health() -> dict[str, Any]:
        vitals = read_vitals(sessions)
        return {"ok": vitals.database_ok, "leader": leader.leading, "holder": leader.holder}

    app = make_wsgi(
        health=health,
        metrics=metrics_registry(sessions, lambda: leader.leading, progress=workers.progress),
        slack=link.wsgi if link is not None else None,
        slack_off=_slack_off(settings, link),
    )
    server = create_server(app, host=settings.host, port=settings.port, **SERVER_LIMITS)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signum)
        raise SystemExit(0)  # waitress's loop ends on SystemExit and closes its sockets

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if link is not None:
        link.start()
    leader.start()
    log.info("handoff serving on %s:%s as %s", settings.host, settings.port, leader.holder)
    try:
        server.run()
    finally:
        leader.stop(grace=STOP_GRACE_SECONDS)
        if link is not None:
            link.stop()
        engine.dispose()


def _quietly(deliver: Callable[..., Any]) -> None:
    """One delivery round; a failure is logged and the next round tries again."""
    try:
        deliver(budget=DELIVER_BUDGET_SECONDS)
    except Exception:
        log.exception("delivery of the outbox failed; retrying in the next round")


def _slack_off(settings: Settings, link: slack.SlackLink | None) -> str:
    if link is not None and link.socket is not None:
        return "Slack talks to handoff over Socket Mode here (SLACK_APP_TOKEN is set)"
    return f"Slack is off: {slack.off_reason(settings) or 'not connected'}"
