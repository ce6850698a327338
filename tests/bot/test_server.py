"""`handoff run` as a platform runs it: answers under idle connections, stops within seconds."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from jobs import schedule
from jobs.simulation import stable
from store import db
from tests.replays import card_yaml, write_days
from tests.sources.scores_server import Reply, running_server

HANDOFF = str(Path(sys.executable).with_name("handoff"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(port: int, path: str, timeout: float = 5) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as reply:
        return reply.status, reply.read()


@contextmanager
def _handoff_run(
    database: str, log: Path, **env: str
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = _free_port()
    variables = {**os.environ, "DATABASE_URL": database, "PORT": str(port), "HOST": "127.0.0.1"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [HANDOFF, "run"], env={**variables, **env}, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(port, "/healthz", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield port, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_the_server_answers_with_a_hundred_idle_connections_held_open(tmp_path: Path) -> None:
    """Before, waitress's default limit of 100 connections let idle ones time /healthz out."""
    database = f"sqlite:///{tmp_path / 'handoff.db'}"
    with _handoff_run(database, tmp_path / "run.log") as (port, _process):
        held = []
        try:
            for i in range(120):
                held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                if i % 2:  # half-open: a request that never ends
                    held[-1].sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Len")
            time.sleep(0.5)
            started = time.monotonic()
            status, body = _get(port, "/healthz", timeout=5)
            assert status == 200 and json.loads(body)["ok"] is True
            assert time.monotonic() - started < 2
            status, _ = _get(port, "/metrics", timeout=5)
            assert status == 200
        finally:
            for connection in held:
                connection.close()


def test_run_stops_within_seconds_of_sigterm_with_a_check_stuck(tmp_path: Path) -> None:
    """Before, about four minutes: the scheduler waited for a check stuck in a read."""
    database = f"sqlite:///{tmp_path / 'handoff.db'}"
    write_days(tmp_path / "reference", stable, days=14, rows=300, seed=2)
    content = card_yaml()
    content["baseline"] = {"source": {"kind": "csv", "path": "reference/*.csv"}}
    with running_server() as server:
        url = server.script("/scores", Reply(200, b"[]", delay=120))
        content["data"]["source"] = {"kind": "http", "url": url}  # type: ignore[index]
        card = tmp_path / "card.yaml"
        card.write_text(yaml.safe_dump(content))
        env = {**os.environ, "DATABASE_URL": database}
        subprocess.run([HANDOFF, "register", str(card)], env=env, check=True, timeout=120)
        _schedule_a_missed_check(database)
        with _handoff_run(database, tmp_path / "run.log") as (_port, process):
            deadline = time.monotonic() + 30
            while "/scores" not in server.paths():
                assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
                time.sleep(0.1)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            took = time.monotonic() - started
    assert took < 10, took
    assert "Traceback" not in (tmp_path / "run.log").read_text()


def _schedule_a_missed_check(database: str) -> None:
    """The model's cron job as a restarted `handoff run` finds it: due since yesterday."""
    engine = db.make_engine(database)
    sessions = db.make_sessionmaker(engine)
    scheduler = schedule.build_scheduler(engine)
    scheduler.start(paused=True)
    schedule.sync_check_jobs(scheduler, sessions)
    scheduler.shutdown(wait=False)
    store = SQLAlchemyJobStore(engine=engine)
    job = store.lookup_job("check:credit-risk")
    job.next_run_time = datetime.now(UTC) - timedelta(days=1)
    store.update_job(job)
    engine.dispose()
