"""The morning sweep under `handoff run`: many models' checks due at one minute run on a bounded
pool, each in its own transaction, and one source that hangs never keeps the others from ending."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.metrics import metrics_registry
from jobs.checks import record_abandoned, run_check
from jobs.registration import fit_for, register_card
from jobs.simulation import stable
from jobs.workers import CheckWorkers
from store.cards import load_card
from store.models import CheckRun, Finding
from tests.replays import START, card_yaml, write_days
from tests.sources.scores_server import Reply, ScoresServer, running_server

DAYS = 5
NOW = datetime.combine(START + timedelta(days=DAYS), datetime.min.time(), tzinfo=UTC)


def register(
    sessions: sessionmaker[Session], folder: Path, models: dict[str, dict[str, object]]
) -> None:
    """Register `models` (id -> data source); their baselines share one reference file set, so
    it is fitted once."""
    fitted = None
    for model, source in models.items():
        content = card_yaml()
        content["model"] = model
        content["data"]["source"] = source  # type: ignore[index]
        content["baseline"] = {"source": {"kind": "csv", "path": "data/*.csv"}}
        path = folder / f"{model}.yaml"
        path.write_text(yaml.safe_dump(content))
        card = load_card(path)
        fitted = fitted or fit_for(card, file=str(path), base_dir=folder, environ={})
        with sessions.begin() as session:
            register_card(session=session, card=card, source_file=path, now=NOW, fitted=fitted)


@pytest.fixture(name="hanging")
def _hanging() -> Iterator[ScoresServer]:
    """An HTTP scores endpoint that answers only after a minute (a hung warehouse)."""
    with running_server() as server:
        server.script("/scores", Reply(200, b'{"data": []}', delay=60))
        yield server


def test_a_sweep_with_a_hanging_source_finishes_every_other_check(
    sessions: sessionmaker[Session], tmp_path: Path, hanging: ScoresServer
) -> None:
    write_days(tmp_path / "data", stable, days=DAYS, rows=200, seed=3)
    csv_models = [f"files-{i}" for i in range(5)]
    sources: dict[str, dict[str, object]] = {
        "stuck": {"kind": "http", "url": hanging.url + "/scores"}
    }
    sources |= {model: {"kind": "csv", "path": "data/*.csv"} for model in csv_models}
    register(sessions, tmp_path, sources)
    workers = CheckWorkers(
        sessions=sessions,
        environ={},
        check=run_check,
        abandon=lambda guard: record_abandoned(sessions, guard, now=NOW),
        size=2,
        limit=timedelta(seconds=1.5),
        tick=0.1,
        clock=lambda: NOW,
    )
    render = metrics_registry(sessions, lambda: True, clock=lambda: NOW, progress=workers.progress)
    try:
        for model in ["stuck", *csv_models]:  # the hanging one first: it takes a slot at once
            assert workers.submit(model)
        assert workers.idle(timeout=30)
        progress = workers.progress()
        scraped = render().decode()
    finally:
        hanging.stopping.set()  # the stuck read ends, so its thread is done before the database
        workers.stop(grace=10)

    with sessions() as session:
        runs = {r.model_id: r for r in session.scalars(select(CheckRun))}
        findings = session.scalars(select(Finding).where(Finding.model_id == "stuck")).all()
    assert {m: runs[m].status for m in csv_models} == dict.fromkeys(csv_models, "completed")
    assert all(runs[m].rows_read > 0 for m in csv_models)
    assert runs["stuck"].status == "failed" and "abandoned" in (runs["stuck"].error or "")
    assert [f.kind for f in findings] == ["source_error"]
    assert progress.sweep is not None and progress.sweep.ended is not None
    sweep = progress.sweep
    assert (sweep.due, sweep.done, sweep.failed, sweep.abandoned) == (6, 5, 0, 1)
    assert sweep.slowest[1] == "stuck" and sweep.slowest[0] >= 1.5
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
    }
    assert samples[("handoff_sweep_checks", (("state", "due"),))] == 6
    assert samples[("handoff_sweep_checks", (("state", "done"),))] == 5
    assert samples[("handoff_sweep_checks", (("state", "abandoned"),))] == 1
    assert samples[("handoff_sweep_checks", (("state", "running"),))] == 0
    assert samples[("handoff_checks_total", (("outcome", "done"),))] == 5
    assert samples[("handoff_check_workers", ())] == 2
