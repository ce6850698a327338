"""The scheduler: the only module that imports APScheduler. Every job handoff runs is listed here.

Cron check jobs live in APScheduler's SQLAlchemy job store on DATABASE_URL, so a check missed while
handoff was down is known at start and runs once (coalesced), not once per missed day. Interval jobs
(card sync, and the jobs that bot/ adds such as outbox delivery) live in memory: they need no memory
of missed runs. Only the holder of the leader lease runs the scheduler (design.md decision 7).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from jobs import leases
from jobs.workers import CheckWorkers
from store import repo
from store.cards import Card

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
RENEW_EVERY = timedelta(seconds=10)
CARD_SYNC_EVERY = timedelta(seconds=60)
JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}


@dataclass(frozen=True)
class IntervalJob:
    """A job that another layer (bot/) adds: a callable run every `every`, with a stable id."""

    id: str
    func: Callable[[], None]
    every: timedelta


@dataclass
class Context:
    """What scheduled check jobs need; set once by `Leader.start`, read by `run_check_job`: the
    pool that runs the checks (jobs/workers.py), so that no scheduler thread waits on a source."""

    workers: CheckWorkers


_context: Context | None = None


def use(context: Context) -> None:
    """Set the process-wide handle the persistent cron jobs reach their workers through."""
    global _context  # noqa: PLW0603 - the one process-wide handle APScheduler's job store needs
    _context = context


def run_check_job(model_id: str, card_version: int) -> None:
    """The persistent cron job's target (referenced by name in the job store): hands the check to
    the workers and returns at once."""
    if _context is None:  # pragma: no cover - only if a job store outlives its process
        raise RuntimeError("scheduler context is not set")
    log.info("scheduled check of %s (card version %s)", model_id, card_version)
    _context.workers.submit(model_id)


def check_job_id(model_id: str) -> str:
    return f"check:{model_id}"


def build_scheduler(engine: Engine) -> BackgroundScheduler:
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine), "memory": MemoryJobStore()},
        job_defaults=JOB_DEFAULTS,
        timezone=UTC,
    )


def sync_check_jobs(scheduler: BackgroundScheduler, sessions: sessionmaker[Session]) -> list[str]:
    """One cron job per active model from its newest card; replaced only when the card changed.

    Replacing a job recomputes its next run from now, so an unchanged card keeps its job (and with
    it the memory of a run missed while handoff was down). Returns the ids added or replaced.
    """
    changed: list[str] = []
    wanted: set[str] = set()
    with sessions() as session:
        for model in repo.list_models(session=session):
            if model.status != "active":
                continue
            version = repo.latest_card_version(session=session, model_id=model.id)
            if version is None:
                continue
            card = Card.model_validate(version.content)
            job_id = check_job_id(model.id)
            wanted.add(job_id)
            job = scheduler.get_job(job_id, jobstore="default")
            if job is not None and job.kwargs.get("card_version") == version.version:
                continue
            scheduler.add_job(
                run_check_job,
                CronTrigger.from_crontab(card.schedule.check, timezone=card.tz),
                id=job_id,
                name=f"check {model.id}",
                kwargs={"model_id": model.id, "card_version": version.version},
                jobstore="default",
                replace_existing=True,
            )
            changed.append(job_id)
    for job in scheduler.get_jobs(jobstore="default"):
        if job.id.startswith("check:") and job.id not in wanted:
            job.remove()
    return changed


class Leader:
    """Holds (or waits for) the leader lease and runs the scheduler while it holds it."""

    def __init__(
        self,
        *,
        engine: Engine,
        sessions: sessionmaker[Session],
        holder: str,
        context: Context,
        interval_jobs: list[IntervalJob] | None = None,
        ttl: timedelta = leases.DEFAULT_TTL,
        renew_every: timedelta = RENEW_EVERY,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self.holder = holder
        self._context = context
        self._interval_jobs = interval_jobs or []
        self._ttl = ttl
        self._renew_every = renew_every
        self._scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="handoff-leader", daemon=True)

    @property
    def leading(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        use(self._context)
        self._thread.start()

    def stop(self, grace: float = 5.0) -> None:
        """Stop leading within about `grace` seconds: running checks are cancelled (a check
        still blocked in a read dies with the process; it wrote nothing)."""
        self._stop.set()
        self._thread.join(timeout=30)
        self._context.workers.stop(grace)
        self._step_down()
        leases.release(
            sessions=self._sessions, name=LEASE_NAME, holder=self.holder, now=datetime.now(UTC)
        )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                held = leases.try_acquire(
                    sessions=self._sessions,
                    name=LEASE_NAME,
                    holder=self.holder,
                    now=datetime.now(UTC),
                    ttl=self._ttl,
                )
            except Exception:  # the database blinked: keep leading until the lease expires
                log.exception("leader lease check failed")
                held = self.leading
            if held and not self.leading:
                self._take_over()
            elif not held and self.leading:
                log.warning("%s lost the scheduler lease", self.holder)
                self._step_down()
            self._stop.wait(self._renew_every.total_seconds())

    def _take_over(self) -> None:
        log.info("%s is the scheduler leader", self.holder)
        scheduler = build_scheduler(self._engine)
        scheduler.start(paused=True)
        sync_check_jobs(scheduler, self._sessions)
        scheduler.add_job(
            sync_check_jobs,
            "interval",
            args=[scheduler, self._sessions],
            seconds=CARD_SYNC_EVERY.total_seconds(),
            id="cards:sync",
            jobstore="memory",
            replace_existing=True,
        )
        for job in self._interval_jobs:
            scheduler.add_job(
                job.func,
                "interval",
                seconds=job.every.total_seconds(),
                id=job.id,
                jobstore="memory",
                replace_existing=True,
            )
        scheduler.resume()
        self._scheduler = scheduler

    def _step_down(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None


def next_fire(cron: str, timezone: str, after: datetime) -> datetime | None:
    """When a card's cron (read in its time zone) next fires after `after`, in UTC."""
    trigger = CronTrigger.from_crontab(cron, timezone=timezone)
    fire = trigger.get_next_fire_time(None, after)
    return fire.astimezone(UTC) if fire is not None else None


def last_fire(cron: str, timezone: str, *, after: datetime, until: datetime) -> datetime | None:
    """The last time a card's cron fires in `(after, until]` (UTC), or None when it does not."""
    trigger = CronTrigger.from_crontab(cron, timezone=timezone)
    last = None
    fire = trigger.get_next_fire_time(None, after)
    while fire is not None and fire <= until:
        if fire > after:
            last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return last.astimezone(UTC) if last is not None else None
