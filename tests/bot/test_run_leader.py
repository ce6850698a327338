"""Two real `handoff run` processes on one PostgreSQL database: one leads, a survivor takes over."""

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
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from store import db
from tests.databases import postgres_url, scratch_postgres

pytestmark = pytest.mark.postgres
TTL_SECONDS = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _health(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
            return dict(json.load(reply))
    except OSError:
        return None


def _metrics(port: int) -> dict[str, float]:
    """Unlabelled samples of /metrics, parsed by prometheus_client's own parser."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    families = list(text_string_to_metric_families(text))
    assert all(family.documentation for family in families), "every metric has HELP"
    return {s.name: s.value for f in families for s in f.samples if not s.labels}


def _leaders(ports: list[int]) -> list[int]:
    return [p for p in ports if (_health(p) or {}).get("leader") is True]


def _wait(condition: object, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture(name="database")
def _database() -> Iterator[str]:
    base = postgres_url()
    assert base is not None
    with scratch_postgres(base) as url:
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        yield url


def test_one_leader_and_a_survivor_takes_over(database: str, tmp_path: Path) -> None:
    handoff = str(Path(sys.executable).with_name("handoff"))
    ports = [_free_port(), _free_port()]
    processes = {}
    for port in ports:
        env = {
            **os.environ,
            "DATABASE_URL": database,
            "PORT": str(port),
            "HANDOFF_LEADER_TTL_SECONDS": str(TTL_SECONDS),
        }
        log = (tmp_path / f"run-{port}.log").open("w")
        processes[port] = subprocess.Popen([handoff, "run"], env=env, stdout=log, stderr=log)
        log.close()
    try:
        _wait(lambda: all(_health(p) is not None for p in ports), 30)
        _wait(lambda: len(_leaders(ports)) == 1, 30)
        for _ in range(10):  # never two leaders, across several renewals
            assert len(_leaders(ports)) == 1
            time.sleep(TTL_SECONDS / 5)
        leading = [_metrics(p)["handoff_scheduler_leader"] for p in ports]
        assert sorted(leading) == [0.0, 1.0]  # /metrics agrees with /healthz
        (leader,) = _leaders(ports)
        (survivor,) = [p for p in ports if p != leader]
        processes[leader].send_signal(signal.SIGKILL)  # dies without releasing the lease
        processes[leader].wait(timeout=10)
        took = _wait(lambda: _leaders([survivor]) == [survivor], 60)
        assert took < 60
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
    logs = "".join(p.read_text() for p in tmp_path.glob("run-*.log"))
    assert "Traceback" not in logs, logs
