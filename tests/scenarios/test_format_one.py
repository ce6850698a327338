"""A baseline stored before the sequential scan (format 1) still loads and checks."""

from pathlib import Path

import numpy as np
from sqlalchemy import select

from jobs.simulation import STORY_BASELINE_DAYS, STORY_ONSET
from jobs.stats import Baseline
from jobs.stats.codec import pack, unpack
from store.models import StoredBaseline
from tests.stories import start_story


def test_a_format_1_baseline_checks_without_the_scan(tmp_path: Path) -> None:
    run = start_story("abrupt", 0, tmp_path)
    run.check(STORY_BASELINE_DAYS)  # builds the (format 2) baseline
    with run.sessions.begin() as session:
        row = session.scalars(select(StoredBaseline)).one()
        arrays = {k: v for k, v in unpack(row.data).items() if not k.startswith("seq_")}
        arrays["format"] = np.asarray([1])
        row.data = pack(arrays)
        assert Baseline.from_bytes(row.data).sequential is None
    result = run.check(STORY_ONSET)
    drift = [f for f in run.loud[STORY_ONSET] if f.feature == "utilization"]
    assert drift and drift[0].metric == "psi"  # the level comparison, as before the scan
    assert not any(f.metric == "mean_shift" for f in result.findings)
    run.engine.dispose()
