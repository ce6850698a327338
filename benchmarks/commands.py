"""`/model trust` under load: 1,000 registered models with 90 days of history each, and 50
concurrent clients sending signed `/model trust <model> <score>` requests to the running app for
60 seconds.

    .venv/bin/python benchmarks/commands.py [--models 1000] [--days 90] [--clients 50]
        [--seconds 60] [--rows 800] [--database-url URL] [--pause 0] [--profile FILE]

The history (benchmarks/histories.py): one model's real daily checks (`--days` of `--rows` rows
a day), its rows cloned with SQL into `--models - 1` more; cached under /tmp (a SQLite file, or
the `--database-url` database, which is EMPTIED and rebuilt when its cache marker is missing).
Before timing, the original and a sample of clones (the last and every tenth) are asked the
same questions, with and without a score: each clone must answer word for word as the original
does (its id swapped in).

The app runs as `handoff run` serves it (bot.slack.connect, bot.server.make_wsgi, waitress with
bot.runtime.SERVER_LIMITS), in its own process; the fake Slack and the clients are the other
process. Each client loops: mint a response URL, sign and POST the command to /slack/events,
take the HTTP answer as the ack, then wait for the answer to land at the fake's response URL
(the fake signals its arrival, stamped when the fake handled the post: nothing is polled or
subtracted), then the next request at once (`--pause` seconds of think time between them; the
goal is judged at 0). Prints the count, throughput, p50/p95/p99/max of ack and of answer, their
ratio to the goals (ack p99 < 50 ms, answer p99 < 300 ms), the verdicts answered, the load
average, and the CPU seconds each process used; and the same percentiles without the requests
sent in the first 5 s (the clients all start at once) to tell that burst from the steady state.
`--profile FILE` writes the app's cProfile (every thread's) to FILE and prints its top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import multiprocessing
import os
import pstats
import resource
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import make_url
from waitress.server import create_server

from benchmarks.histories import ORIGINAL, Shape, database
from bot import slack as slack_link
from bot.fakeslack import signing
from bot.runtime import SERVER_LIMITS
from bot.server import make_wsgi
from bot.settings import Settings
from store import db
from tests.slack_api import FakeSlack

TOKEN = "xoxb-benchmark"
SECRET = "benchmark-signing-secret"
BUILDER = "U024BE7LH"
ASKER = "U0ASKER"
CHANNEL = "credit-model-health"
ACK_GOAL, ANSWER_GOAL = 0.050, 0.300
STEADY_AFTER = 5.0
WAIT = 10.0  # seconds a client waits for an answer before counting it missing
VERDICTS = ("Trust it", "Use with caution", "Do not rely on it")


# the app, in its own process


class _ThreadProfiles:
    """A cProfile per thread (cProfile sees only the thread that enables it)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        threading.setprofile(self._first_call)

    def _first_call(self, _frame: Any, _event: str, _arg: Any) -> None:
        profile = cProfile.Profile()
        with self._lock:
            self.profiles.append(profile)
        profile.enable()  # replaces this hook for the rest of the thread's life

    def dump(self, path: str) -> None:
        threading.setprofile(None)
        with self._lock:
            found = [p for p in self.profiles if p.getstats()]
        stats = pstats.Stats(found[0])
        for profile in found[1:]:
            stats.add(profile)
        stats.dump_stats(path)


class _QueueDepth(logging.Filter):
    """Keeps the deepest waitress task queue it warned of (requests waiting for a thread),
    instead of a warning line per request."""

    def __init__(self) -> None:
        super().__init__()
        self.deepest = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Task queue depth is"):
            self.deepest = max(self.deepest, int(record.getMessage().rpartition(" ")[2]))
            return False
        return True


def _serve_app(url: str, api_url: str, ready: Any, stop: Any, profile: str | None) -> None:
    """The app as `handoff run` serves it in HTTP mode (without the scheduler), until `stop`."""
    logging.basicConfig(level=logging.WARNING, format="app %(levelname)s %(name)s: %(message)s")
    depth = _QueueDepth()
    logging.getLogger("waitress.queue").addFilter(depth)
    profiles = _ThreadProfiles()
    if profile:
        profiles.start()
    engine = db.prepare(url)
    sessions = db.make_sessionmaker(engine)
    settings = Settings(
        slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=api_url, port=0
    )
    link = slack_link.connect(settings, sessions, "benchmark")
    assert link is not None and link.wsgi is not None
    app = make_wsgi(health=lambda: {"ok": True}, metrics=lambda: b"", slack=link.wsgi)
    server = create_server(app, host="127.0.0.1", port=0, **SERVER_LIMITS)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    ready.put(f"http://127.0.0.1:{server.effective_port}/slack/events")
    stop.wait()
    if profile:
        profiles.dump(profile)
    ready.put(depth.deepest)
    server.close()
    link.stop()
    engine.dispose()


# Slack's side: the fake, and the clients


class _Slack(FakeSlack):
    """The fake Slack, signalling each response URL's first answer the moment it handles it."""

    def __init__(self) -> None:
        super().__init__()
        self._waiting: dict[str, _Arrival] = {}
        self._guard = threading.Lock()

    def expect(self, response_url: str) -> _Arrival:
        arrival = _Arrival()
        with self._guard:
            self._waiting[response_url.rpartition("/")[2]] = arrival
        return arrival

    def _route(self, verb: str, target: str, headers: dict[str, str], body: bytes) -> Any:
        reply = super()._route(verb, target, headers, body)
        if verb == "POST" and target.startswith("/response/"):
            with self._guard:
                arrival = self._waiting.pop(target.rpartition("/")[2], None)
            if arrival is not None:
                arrival.land(body, reply.status)
        return reply


@dataclass
class _Arrival:
    at: float = 0.0
    text: str = ""
    status: int = 0
    event: threading.Event = field(default_factory=threading.Event)

    def land(self, body: bytes, status: int) -> None:
        self.at = time.monotonic()
        self.status = status
        try:
            self.text = str(json.loads(body).get("text", ""))
        except ValueError:
            self.text = ""
        self.event.set()


@dataclass
class _Tally:
    acks: list[float] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)
    steady: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    """The acks and answers of requests sent after the first `STEADY_AFTER` seconds."""
    verdicts: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _verdict(answer: str) -> str:
    return next((v for v in VERDICTS if v in answer), "other: " + answer[:80])


def _ask(slack: _Slack, app_url: str, channel_id: str, command: str) -> tuple[float, _Arrival]:
    """One signed `/model` request; the ack time and the arrival (waited for up to WAIT)."""
    response_url = slack.response_url(channel=CHANNEL, user=ASKER)
    arrival = slack.expect(response_url)
    request = signing.slash_command(
        "/model", command, secret=SECRET, user_id=ASKER, channel_id=channel_id,
        response_url=response_url,
    )  # fmt: skip
    started = time.monotonic()
    status, _headers, _body = signing.post(app_url, request.body, request.headers, timeout=WAIT)
    acked = time.monotonic() - started
    if status != 200:
        arrival.status = status
        return acked, arrival
    arrival.event.wait(WAIT)
    arrival.at = arrival.at - started if arrival.event.is_set() else float("nan")
    return acked, arrival


def _client(
    *,
    ask: Callable[[str], tuple[float, _Arrival]],
    ids: list[str],
    until: float,
    seconds: float,
    pause: float,
    seed: int,
    tally: _Tally,
) -> None:
    rng = np.random.default_rng(seed)
    steady = until - seconds + STEADY_AFTER
    while (sent := time.monotonic()) < until:
        model = ids[int(rng.integers(len(ids)))]
        acked, arrival = ask(f"trust {model} {rng.uniform(0.01, 0.99):.2f}")
        with tally.lock:
            tally.acks.append(acked)
            if sent >= steady:
                tally.steady[0].append(acked)
            if arrival.status != 200 or not arrival.event.is_set():
                tally.failures[f"HTTP {arrival.status}" if arrival.status else "no answer"] += 1
            else:
                tally.answers.append(arrival.at)
                if sent >= steady:
                    tally.steady[1].append(arrival.at)
                tally.verdicts[_verdict(arrival.text)] += 1
        if pause:
            time.sleep(pause)


def _same_answers(ask: Callable[[str], tuple[float, _Arrival]], ids: list[str]) -> int:
    """Clones answer exactly as the original (its id swapped in), with and without a score."""
    asked = list(dict.fromkeys([ids[-1], *ids[1 : len(ids) : max(1, len(ids) // 10)]]))
    for question in ("trust {} 0.72", "trust {}"):
        _, original = ask(question.format(ORIGINAL))
        assert original.event.is_set() and original.status == 200, "the original answered"
        for model in asked:
            _, clone = ask(question.format(model))
            assert clone.event.is_set(), f"{model} answered"
            want = original.text.replace(f"`{ORIGINAL}`", f"`{model}`")
            if clone.text != want:
                raise SystemExit(f"{model} answers unlike {ORIGINAL}:\n{clone.text}\n---\n{want}")
    print(f"  {ORIGINAL} answers: {_verdict(original.text)!r}; {len(asked)} clones the same")
    return len(asked)


def _percentiles(name: str, values: list[float], goal: float | None) -> str:
    if not values:
        return f"  {name}: none"
    ms = np.asarray(values) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    verdict = ""
    if goal is not None:
        ratio = p99 / (goal * 1000)
        met = "met" if ratio < 1 else "MISSED"
        verdict = f"; p99 {ratio:.2f}x the goal ({goal * 1000:.0f} ms): {met}"
    return (
        f"  {name:<7} p50 {p50:7.1f} ms  p95 {p95:7.1f}  p99 {p99:7.1f}  max {ms.max():7.1f}"
        f"{verdict}"
    )


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process `pid`, all its threads (Linux: /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rows", type=int, default=800, help="rows a day of the original model")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--pause", type=float, default=0.0, help="think time between requests")
    parser.add_argument("--database-url", default=None, help="default: a cached SQLite file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", default=None, help="write the app's cProfile here")
    options = parser.parse_args()
    shape = Shape(
        options.models, options.days, options.rows, options.seed, datetime.now(UTC).date()
    )
    url = database(options.database_url, shape)
    shown = make_url(url).render_as_string(hide_password=True)
    ids = shape.model_ids()
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    with _Slack() as slack:
        slack.add_user("maria", user_id=BUILDER, real_name="Maria Builder")
        slack.add_user("asker", user_id=ASKER)
        channel_id = slack.add_channel(CHANNEL, members=[BUILDER, ASKER])
        app = context.Process(
            target=_serve_app, args=(url, slack.url, ready, stop, options.profile), name="app"
        )
        app.start()
        try:
            app_url = ready.get(timeout=60)

            def ask(command: str) -> tuple[float, _Arrival]:
                return _ask(slack, app_url, channel_id, command)

            checked = _same_answers(ask, ids)
            tally = _Tally()
            before = _load()
            mine = resource.getrusage(resource.RUSAGE_SELF)
            app_before = _cpu_seconds(app.pid)
            started = time.monotonic()
            until = started + options.seconds
            clients = [
                threading.Thread(
                    target=_client,
                    kwargs={
                        "ask": ask,
                        "ids": ids,
                        "until": until,
                        "seconds": options.seconds,
                        "pause": options.pause,
                        "seed": options.seed * 1000 + n,
                        "tally": tally,
                    },
                    name=f"client-{n}",
                )
                for n in range(options.clients)
            ]
            for client in clients:
                client.start()
            for client in clients:
                client.join()
            took = time.monotonic() - started
            after = _load()
            used = resource.getrusage(resource.RUSAGE_SELF)
            app_cpu = _cpu_seconds(app.pid) - app_before
            stop.set()
            deepest = int(ready.get(timeout=120))
        finally:
            stop.set()
            app.join(timeout=30)
            if app.is_alive():
                app.terminate()
    ours = used.ru_utime + used.ru_stime - mine.ru_utime - mine.ru_stime
    done = len(tally.acks)
    print(
        f"{options.models} models x {options.days} days on {shown}; {options.clients} clients "
        f"for {options.seconds:.0f} s, pause {options.pause} s (clones checked first: {checked})"
    )
    print(f"  load average before {before}, after {after}")
    print(
        f"  {done} requests in {took:.1f} s: {done / took:.1f} a second; "
        f"answered {len(tally.answers)}"
    )
    print(_percentiles("ack", tally.acks, ACK_GOAL))
    print(_percentiles("answer", tally.answers, ANSWER_GOAL))
    print(f"  the same without the requests sent in the first {STEADY_AFTER:.0f} s (the clients")
    print("  all start at once), to tell the start-up burst from the steady state:")
    print(_percentiles("ack", tally.steady[0], ACK_GOAL))
    print(_percentiles("answer", tally.steady[1], ANSWER_GOAL))
    print(f"  verdicts: {dict(tally.verdicts)}; failures: {dict(tally.failures) or 'none'}")
    print(f"  deepest waitress task queue (requests waiting for a server thread): {deepest}")
    print(
        f"  CPU during the run: app process {app_cpu:.1f} s ({app_cpu / took:.2f} cores), "
        f"clients + fake Slack {ours:.1f} s ({ours / took:.2f} cores)"
    )
    if options.profile:
        stats = pstats.Stats(options.profile)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
    if tally.failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
