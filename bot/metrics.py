"""`GET /metrics`: handoff's numbers in the Prometheus text format, through prometheus_client.

A custom collector reads the database once per scrape (`jobs.vitals`), so every replica reports the
same totals and nothing is counted in memory that a restart would lose; the one exception is the
check workers' progress (`SweepCollector`: checks due, waiting, running, done, failed in this
process and its current sweep), which only the leader has. Every metric has HELP.
Per-model families are labelled by model id (and feature, severity or kind): models x features at
most, never a finding id, and no free text but a model's name and channel in `handoff_model_info`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from jobs.vitals import MAX_FEATURES, ModelVitals, Vitals, read_metrics
from jobs.workers import Progress


def _utcnow() -> datetime:
    return datetime.now(UTC)


class VitalsCollector(Collector):
    """Database-backed gauges and counters about handoff and its models, read at each scrape."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        leading: Callable[[], bool],
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._sessions = sessions
        self._leading = leading
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        vitals = read_metrics(self._sessions, now=self._clock())
        yield from self._totals(vitals)
        yield from _model_families(vitals.model_vitals)

    def _totals(self, vitals: Vitals) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "handoff_up", "1 when the database answers, else 0.", value=int(vitals.database_ok)
        )
        yield GaugeMetricFamily(
            "handoff_scheduler_leader",
            "1 when this process holds the leader lease and runs the scheduler.",
            value=int(self._leading()),
        )
        yield GaugeMetricFamily("handoff_models", "Registered models.", value=vitals.models)
        outbox = GaugeMetricFamily(
            "handoff_outbox_messages",
            "Slack messages in the outbox: waiting (pending) or given up on (dead).",
            labels=["status"],
        )
        outbox.add_metric(["pending"], vitals.outbox_pending)
        outbox.add_metric(["dead"], vitals.outbox_dead)
        yield outbox
        findings = GaugeMetricFamily(
            "handoff_open_findings",
            "Open findings of all models, by severity.",
            labels=["severity"],
        )
        for severity, count in vitals.open_findings:
            findings.add_metric([severity], count)
        yield findings
        yield CounterMetricFamily(
            "handoff_failed_checks",
            "Check runs that could not read their data (kept until their window is rerun).",
            value=vitals.failed_checks,
        )


def _model_families(models: tuple[ModelVitals, ...]) -> Iterator[Metric]:
    """One family per model-health number; a model without the number has no sample in it."""
    info = GaugeMetricFamily(
        "handoff_model_info",
        "1 for every registered model, with its name and Slack channel from its current card.",
        labels=["model", "name", "channel"],
    )
    drift = GaugeMetricFamily(
        "handoff_model_drift",
        "Drift of a feature, or of the score (feature = the score column), in the model's latest "
        f"completed check (metric: psi). The score and the {MAX_FEATURES} features with the "
        "largest values are kept per model.",
        labels=["model", "feature", "metric"],
    )
    performance = GaugeMetricFamily(
        "handoff_model_performance",
        "Performance in the model's latest completed check: estimated from the scores (no labels "
        "needed), realized from labels, and the baseline's (metric: accuracy).",
        labels=["model", "metric", "kind"],
    )
    findings = GaugeMetricFamily(
        "handoff_model_open_findings",
        "Findings that want attention (open, not in a resolved episode), by model and severity.",
        labels=["model", "severity"],
    )
    hours = GaugeMetricFamily(
        "handoff_model_hours_since_check",
        "Hours since the model's latest completed check finished (the one with the latest window "
        "end). No sample for a model never checked.",
        labels=["model"],
    )
    days = GaugeMetricFamily(
        "handoff_model_days_since_check_in_answer",
        "Days since somebody last answered the model's check-in. No sample for a model whose "
        "check-ins were never answered.",
        labels=["model"],
    )
    dead = GaugeMetricFamily(
        "handoff_model_dead_notifications",
        "The model's Slack messages given up on (dead in the outbox; "
        "`handoff outbox --retry-dead` re-queues them).",
        labels=["model"],
    )
    for model in models:
        info.add_metric([model.model_id, model.name, model.channel], 1)
        for metric, feature, value in model.drift:
            drift.add_metric([model.model_id, feature, metric], value)
        for metric, kind, value in model.performance:
            performance.add_metric([model.model_id, metric, kind], value)
        for severity, count in model.open_findings:
            findings.add_metric([model.model_id, severity], count)
        if model.hours_since_check is not None:
            hours.add_metric([model.model_id], model.hours_since_check)
        if model.days_since_check_in_answer is not None:
            days.add_metric([model.model_id], model.days_since_check_in_answer)
        dead.add_metric([model.model_id], model.dead_notifications)
    yield from (info, drift, performance, findings, hours, days, dead)


class SweepCollector(Collector):
    """The check workers of this process (the leader runs them): the morning sweep's progress,
    so an operator sees a late morning coming (checks due that are still waiting at 07:00)."""

    def __init__(self, progress: Callable[[], Progress], clock: Callable[[], datetime]) -> None:
        self._progress = progress
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        progress = self._progress()
        counts, sweep = progress.counts, progress.sweep
        yield GaugeMetricFamily(
            "handoff_check_workers",
            "Checks this process runs at a time (HANDOFF_CHECK_WORKERS).",
            value=progress.size,
        )
        totals = CounterMetricFamily(
            "handoff_checks",
            "Checks since this process started, by outcome: due (handed to the workers), done, "
            "failed (could not read their data), abandoned (past HANDOFF_CHECK_LIMIT), skipped "
            "(the model's previous check was still waiting or running).",
            labels=["outcome"],
        )
        for outcome in ("due", "done", "failed", "abandoned", "skipped"):
            totals.add_metric([outcome], getattr(counts, outcome))
        yield totals
        states = GaugeMetricFamily(
            "handoff_sweep_checks",
            "Checks of the current sweep (or the last one, once it ended): due, waiting for a "
            "worker, running, and ended done, failed or abandoned. A sweep is the checks due "
            "together, from one due while none was waiting or running until all have ended.",
            labels=["state"],
        )
        values = {"due": 0, "waiting": counts.waiting, "running": counts.running}
        if sweep is not None:
            values |= {"due": sweep.due, "done": sweep.done, "failed": sweep.failed}
            values["abandoned"] = sweep.abandoned
        for state in ("due", "waiting", "running", "done", "failed", "abandoned"):
            states.add_metric([state], values.get(state, 0))
        yield states
        if sweep is None:
            return
        yield GaugeMetricFamily(
            "handoff_sweep_started_timestamp_seconds",
            "When the current (or last) sweep's first check was due (Unix time).",
            value=sweep.started.timestamp(),
        )
        until = sweep.ended or self._clock()
        yield GaugeMetricFamily(
            "handoff_sweep_seconds",
            "Seconds the current sweep has run so far (the last one's whole time once it ended).",
            value=max(0.0, (until - sweep.started).total_seconds()),
        )
        yield GaugeMetricFamily(
            "handoff_sweep_slowest_check_seconds",
            "The longest check of the current (or last) sweep so far, in seconds.",
            value=sweep.slowest[0],
        )


def metrics_registry(
    sessions: sessionmaker[Session],
    leading: Callable[[], bool],
    *,
    clock: Callable[[], datetime] = _utcnow,
    progress: Callable[[], Progress] | None = None,
) -> Callable[[], bytes]:
    """A function rendering this process's registry as exposition text, for the HTTP server;
    with `progress` (the check workers'), the sweep's progress too."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(VitalsCollector(sessions, leading, clock))
    if progress is not None:
        registry.register(SweepCollector(progress, clock))
    return lambda: generate_latest(registry)
