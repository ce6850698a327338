"""`/model trust` under load: 1,000 registered models with 90 days of history each, and 50
concurrent clients sending signed `/model trust <model> <score>` requests to the running app for
60 seconds.

    .venv/bin/python benchmarks/commands.py [--models 1000] [--days 90] [--clients 50]
        [--seconds 60] [--rows 800] [--database-url URL] [--pause 0] [--profile FILE]

The history: one model (the credit-risk replay, a slow drift from day 60 of its checks, labels
on the day) gets `--days` real daily checks of `--rows` rows a day after its 14 baseline days,
ending last midnight (UTC) so that it is fresh now; its rows (card version, baseline, check runs,
window profiles, episodes, findings, notifications, audit events) are then cloned with SQL into
`--models - 1` more models, ids remapped. Before timing, every clone asked is checked to answer
exactly as the original does. The database is cached under /tmp keyed by the parameters and the
day (SQLite: a file; `--database-url postgresql+psycopg://...`: that database, which is EMPTIED
and rebuilt when its cache marker is missing).

The app runs as `handoff run` serves it (bot.slack.connect, bot.server.make_wsgi, waitress with
bot.runtime.SERVER_LIMITS), in its own process; the fake Slack and the clients are the other
process. Each client loops: mint a response URL, sign and POST the command to /slack/events,
take the HTTP answer as the ack, then wait for the answer to land at the fake's response URL
(the fake signals its arrival, stamped when the fake handled the post: nothing is polled or
subtracted), then the next request at once (`--pause` seconds of think time between them; the
goal is judged at 0). Prints the count, throughput, p50/p95/p99/max of ack and of answer, their
ratio to the goals (ack p99 < 50 ms, answer p99 < 300 ms), the verdicts answered, the load
average, and the CPU seconds each process used. `--profile FILE` writes the app's cProfile
(every thread's) to FILE and prints its top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import logging
import multiprocessing
import os
import pstats
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import (
    Column,
    ColumnElement,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.engine import make_url
from waitress.server import create_server

from bot import slack as slack_link
from bot.fakeslack import signing
from bot.runtime import SERVER_LIMITS
from bot.server import make_wsgi
from bot.settings import Settings
from jobs.checks import run_check
from jobs.registration import register_card
from jobs.simulation import simulate_day, slow_drift
from store import db
from store.cards import load_card
from store.models import Base
from tests.replays import BASELINE_DAYS, card_yaml
from tests.slack_api import FakeSlack

TOKEN = "xoxb-benchmark"
SECRET = "benchmark-signing-secret"
BUILDER = "U024BE7LH"
ASKER = "U0ASKER"
CHANNEL = "credit-model-health"
ORIGINAL = "credit-risk"
DRIFT_FROM = 60  # the check (day after the baseline) the slow drift starts at
ACK_GOAL, ANSWER_GOAL = 0.050, 0.300
STEADY_AFTER = 5.0
WAIT = 10.0  # seconds a client waits for an answer before counting it missing
CACHE = Path(tempfile.gettempdir()) / "handoff-bench-commands"
VERDICTS = ("Trust it", "Use with caution", "Do not rely on it")
MODELS, VERSIONS = Base.metadata.tables["models"], Base.metadata.tables["card_versions"]
SKIPPED = ("models", "card_versions")  # cloned by hand: the card names its model


@dataclass(frozen=True)
class Shape:
    """What the database holds; its cache key."""

    models: int
    days: int
    rows: int
    seed: int
    today: date

    @property
    def key(self) -> str:
        return f"m{self.models}-d{self.days}-r{self.rows}-s{self.seed}-{self.today}"

    @property
    def start(self) -> date:
        return self.today - timedelta(days=BASELINE_DAYS + self.days)

    def model_ids(self) -> list[str]:
        return [ORIGINAL] + [f"{ORIGINAL}-{k:04d}" for k in range(1, self.models)]


# the history


def _history(url: str, shape: Shape, folder: Path) -> None:
    """Register the original model and run its daily checks (real ones, through run_check)."""
    data = folder / "data"
    data.mkdir(parents=True)
    total = BASELINE_DAYS + shape.days
    scenario = slow_drift(BASELINE_DAYS + DRIFT_FROM, per_week=0.25)
    for day in range(total):
        columns = simulate_day(day, scenario, start=shape.start, rows=shape.rows, seed=shape.seed)
        stamps = np.datetime_as_string(columns["scored_at"], unit="s")
        names = list(columns)
        with (data / f"{shape.start + timedelta(days=day)}.csv").open("w") as handle:
            handle.write(",".join(names) + "\n")
            rows = zip(*[stamps if n == "scored_at" else columns[n] for n in names], strict=True)
            handle.writelines(",".join(map(str, row)) + "\n" for row in rows)
    content: dict[str, Any] = card_yaml()
    content["baseline"] = {
        "from": shape.start.isoformat(),
        "to": (shape.start + timedelta(days=BASELINE_DAYS - 1)).isoformat(),
    }
    card_file = folder / "card.yaml"
    card_file.write_text(yaml.safe_dump(content))
    engine = db.prepare(url)
    sessions = db.make_sessionmaker(engine)
    registered = datetime.combine(shape.start, datetime.min.time(), tzinfo=UTC)
    with sessions.begin() as session:
        register_card(
            session=session, card=load_card(card_file), source_file=card_file, now=registered
        )
    started = time.monotonic()
    for day in range(BASELINE_DAYS, total):
        end = registered + timedelta(days=day + 1)
        run_check(
            sessions=sessions,
            model_id=ORIGINAL,
            window_end=end,
            now=end + timedelta(minutes=5),
            environ={},
        )
        if (day - BASELINE_DAYS + 1) % 30 == 0:
            print(
                f"  {day - BASELINE_DAYS + 1} checks in {time.monotonic() - started:.0f} s",
                flush=True,
            )
    engine.dispose()


def _clone(engine: Engine, shape: Shape) -> None:
    """Copy the original model's rows into `shape.models - 1` clones, in one transaction: ids
    become id + k * (max id + 1) per table, foreign keys follow, model_id is the clone's."""
    tables = [t for t in Base.metadata.sorted_tables if "model_id" in t.c]
    clones = Table(
        "bench_clones",
        MetaData(),
        Column("k", Integer, primary_key=True),
        Column("model_id", String(64)),
        prefixes=["TEMPORARY"],
    )
    with engine.begin() as connection:
        offsets = {
            t.name: int(connection.scalar(select(func.coalesce(func.max(t.c.id), 0))) or 0) + 1
            for t in tables
            if "id" in t.c
        }
        clones.create(connection)
        ids = shape.model_ids()
        connection.execute(insert(clones), [{"k": k, "model_id": m} for k, m in enumerate(ids)][1:])
        model = connection.execute(select(MODELS).where(MODELS.c.id == ORIGINAL)).one()
        connection.execute(insert(MODELS), [{**model._asdict(), "id": m} for m in ids[1:]])
        versions = connection.execute(select(VERSIONS).where(VERSIONS.c.model_id == ORIGINAL)).all()
        step = offsets["card_versions"]
        connection.execute(
            insert(VERSIONS),
            [
                {
                    **v._asdict(),
                    "id": v.id + k * step,
                    "model_id": m,
                    "content": {**v.content, "model": m},
                }
                for k, m in enumerate(ids)
                if k
                for v in versions
            ],
        )
        for table in tables:
            if table.name in SKIPPED:
                continue
            exprs: list[ColumnElement[Any]] = []
            for column in table.c:
                targets = {fk.column.table.name for fk in column.foreign_keys}
                if column.name == "model_id":
                    exprs.append(clones.c.model_id)
                elif column.name == "id" and table.name in offsets:
                    exprs.append(column + clones.c.k * offsets[table.name])
                elif targets and next(iter(targets)) in offsets:
                    exprs.append(column + clones.c.k * offsets[next(iter(targets))])
                elif column.name == "idempotency_key":
                    exprs.append(clones.c.model_id + literal(":") + column)
                else:
                    exprs.append(column)
            query = (
                select(*exprs)
                .select_from(table.join(clones, true()))
                .where(table.c.model_id == ORIGINAL)
            )
            connection.execute(insert(table).from_select([c.name for c in table.c], query))
        if engine.dialect.name == "postgresql":
            for name in offsets:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))  # as autovacuum would, soon after a bulk load


def _database(url: str | None, shape: Shape) -> str:
    """The URL of a database holding `shape` (built, or from the cache)."""
    CACHE.mkdir(exist_ok=True)
    if url is None:
        target = CACHE / f"{shape.key}.db"
        url = f"sqlite:///{target}"
        if target.exists():
            return url
        building = target.with_suffix(".building")
        for stale in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
            stale.unlink(missing_ok=True)  # an interrupted build's
        build_url = f"sqlite:///{building}"
    else:
        marker = CACHE / (hashlib.sha256(url.encode()).hexdigest()[:12] + f"-{shape.key}.ready")
        if marker.exists():
            return url
        engine = db.open_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        db.upgrade(engine)
        engine.dispose()
        build_url = url
    print(
        f"building {shape.models} models x {shape.days} days ({shape.rows} rows a day)", flush=True
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        _history(build_url, shape, Path(folder))
    engine = db.prepare(build_url)
    _clone(engine, shape)
    with engine.connect() as connection:
        counts = {
            t.name: connection.scalar(select(func.count()).select_from(t))
            for t in Base.metadata.sorted_tables
            if "model_id" in t.c
        }
        if engine.dialect.name == "sqlite":
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    print(f"  built in {time.monotonic() - started:.0f} s: {counts}", flush=True)
    if make_url(build_url).get_backend_name() == "sqlite":
        for suffix in ("-wal", "-shm"):  # empty after the checkpoint; moved along all the same
            if Path(f"{building}{suffix}").exists():
                Path(f"{building}{suffix}").rename(f"{target}{suffix}")
        building.rename(target)
    else:
        marker.write_text(json.dumps(counts))
    return url


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
    asked = [ids[-1], *ids[1 : len(ids) : max(1, len(ids) // 10)]]
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
    url = _database(options.database_url, shape)
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
