"""dashboards/handoff.json: a Grafana dashboard ready for file provisioning, whose every query names
a metric that GET /metrics really exports (rendered from a seeded database, parsed back)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from tests.bot.test_metrics import scrape, seed

DASHBOARD = Path(__file__).parents[1] / "dashboards" / "handoff.json"
METRIC_NAME = re.compile(r"\bhandoff_[A-Za-z0-9_:]*")
"""Our metric names in PromQL; no label, function or keyword of PromQL starts with `handoff_`."""


@pytest.fixture(name="dashboard", scope="module")
def _dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression: the panels' targets and the template variables' queries."""
    out = [t["expr"] for p in panels(dashboard["panels"]) for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        out.append(query["query"] if isinstance(query, dict) else query)
        out.append(variable.get("definition", ""))
    return [q for q in out if q]


def test_every_query_names_a_metric_that_metrics_exports(
    dashboard: dict[str, Any], sessions: sessionmaker[Session], now: datetime
) -> None:
    seed(sessions, now)
    families = list(text_string_to_metric_families(scrape(sessions, now)))
    # Prometheus stores sample names: a counter's is `<family>_total`, a histogram's `_bucket`...
    exported = {sample.name for family in families for sample in family.samples}
    named = {name for query in queries(dashboard) for name in METRIC_NAME.findall(query)}
    assert named, "the dashboard queries no handoff metric"
    assert named <= exported, f"not in /metrics: {sorted(named - exported)}"
    model_families = {f.name for f in families if f.name.startswith("handoff_model_")}
    assert model_families <= named, f"no panel shows {sorted(model_families - named)}"


def test_it_is_ready_for_file_provisioning(dashboard: dict[str, Any]) -> None:
    assert "__inputs" not in dashboard and dashboard.get("id") is None
    assert dashboard["uid"] and len(dashboard["uid"]) <= 40
    assert dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    model = variables["model"]
    assert model["multi"] and model["includeAll"]
    assert model["definition"] == "label_values(handoff_model_info, model)"
    ids = [p["id"] for p in panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["description"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
            if "handoff_model_" in target["expr"]:
                assert 'model=~"$model"' in target["expr"], panel["title"]
