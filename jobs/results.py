"""What a check run returns and prints: `CheckResult`, its typed findings, and the JSON of both.

`handoff check --json` prints `CheckResult.to_json()` (design.md's contract); a rerun of a stored
window rebuilds the same object from the run's stored JSON (`CheckResult.from_stored`). A finding's
JSON is built here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobs.observations import Observation
from jobs.stats import PERFORMANCE, Report, Status
from store.models import CheckRun


@dataclass(frozen=True)
class FindingOutcome:
    """One finding as a check run left it: the condition, its state after the run, and its id."""

    kind: str
    severity: str
    summary: str
    state: str  # new | ongoing | recovered | past (seen in a window older than the newest check)
    id: int | None = None
    metric: str | None = None
    feature: str | None = None
    segment: str | None = None
    value: float | None = None
    threshold: float | None = None

    @classmethod
    def of(cls, observation: Observation, state: str, finding_id: int | None) -> FindingOutcome:
        o = observation
        return cls(
            o.kind,
            str(o.severity),
            o.summary,
            state,
            finding_id,
            o.metric,
            o.feature,
            o.segment,
            o.value,
            o.threshold,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "metric": self.metric,
            "feature": self.feature,
            "segment": self.segment,
            "value": self.value,
            "threshold": self.threshold,
            "state": self.state,
            "summary": self.summary,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FindingOutcome:
        return cls(
            data["kind"],
            data["severity"],
            data["summary"],
            data["state"],
            data.get("id"),
            data.get("metric"),
            data.get("feature"),
            data.get("segment"),
            data.get("value"),
            data.get("threshold"),
        )


@dataclass(frozen=True)
class CheckResult:
    """What `handoff check --json` prints (design.md's contract), and what a rerun returns."""

    model: str
    window_start: datetime
    window_end: datetime
    rows_read: int
    rows_rejected: int
    rejected: dict[str, int]
    metrics: dict[str, Any]
    findings: list[FindingOutcome]
    queued: int
    reused: bool = False
    bad_cells: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "window": {"start": self.window_start.isoformat(), "end": self.window_end.isoformat()},
            "rows": {
                "read": self.rows_read,
                "rejected": self.rows_rejected,
                "rejected_by_reason": self.rejected,
                "bad_cells": self.bad_cells,
            },
            "metrics": self.metrics,
            "findings": [f.to_json() for f in self.findings],
            "queued": self.queued,
            "reused": self.reused,
        }

    def stored(self) -> dict[str, Any]:
        """What a check run keeps of its result (`CheckRun.metrics`), for `from_stored`."""
        return {"metrics": self.metrics, "findings": [f.to_json() for f in self.findings]}

    @classmethod
    def from_stored(cls, run: CheckRun) -> CheckResult:
        """The result of a stored run, as a rerun of its window returns it."""
        data = run.metrics
        return cls(
            model=run.model_id,
            window_start=run.window_start,
            window_end=run.window_end,
            rows_read=run.rows_read,
            rows_rejected=run.rows_rejected,
            rejected=dict(run.rejected),
            metrics=data.get("metrics", {}),
            findings=[FindingOutcome.from_json(f) for f in data.get("findings", [])],
            queued=0,
            reused=True,
            bad_cells=dict(run.bad_cells or {}),
        )


def report_json(report: Report) -> dict[str, Any]:
    """The judged metrics of a report, grouped by feature (and segment), for --json and storage."""

    def part(r: Report) -> dict[str, Any]:
        features: dict[str, Any] = {}
        for result in r.results:
            entry: dict[str, Any] = {"value": result.value, "severity": result.severity.value}
            if result.status != Status.OK:
                entry["reason"] = result.reason
            if result.threshold is not None:
                entry["threshold"] = result.threshold
            if result.p_value is not None:
                entry["p_value"] = result.p_value
            entry["n"] = [result.n_window, result.n_reference]
            if result.method:
                entry["method"] = result.method
            name = "performance" if result.feature == PERFORMANCE else result.feature
            features.setdefault(name, {})[result.metric] = entry
        return {"rows": r.rows, "features": features}

    out = part(report)
    if report.segments:
        out["segments"] = {
            f"{column}={key}": part(sub)
            for column, parts in report.segments.items()
            for key, sub in parts.items()
        }
    return out
