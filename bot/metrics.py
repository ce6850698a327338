"""`GET /metrics`: handoff's numbers in the Prometheus text format, through prometheus_client.

A custom collector reads the database once per scrape (`jobs.vitals`), so every replica reports the
same totals and nothing is counted in memory that a restart would lose. Every metric has HELP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from jobs.vitals import read_vitals


class VitalsCollector(Collector):
    """Database-backed gauges and counters about handoff itself, read at each scrape."""

    def __init__(self, sessions: sessionmaker[Session], leading: Callable[[], bool]) -> None:
        self._sessions = sessions
        self._leading = leading

    def collect(self) -> Iterator[Metric]:
        vitals = read_vitals(self._sessions)
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


def metrics_registry(
    sessions: sessionmaker[Session], leading: Callable[[], bool]
) -> Callable[[], bytes]:
    """A function rendering this process's registry as exposition text, for the HTTP server."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(VitalsCollector(sessions, leading))
    return lambda: generate_latest(registry)
