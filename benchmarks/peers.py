"""The stories read by Evidently and NannyML with their defaults (needs the bench extra).

- Evidently 0.7 `DataDriftPreset` per day against the baseline's four weeks; a day is flagged
  when any column drifted ("any column drifted", the per-column tests at their defaults).
- NannyML `UnivariateDriftCalculator` (defaults: Jensen-Shannon for continuous, L-infinity for
  categorical columns, thresholds from the reference chunks) and `CBPE` (ROC AUC, its default
  thresholds), both fitted on the baseline; chunked by day (`chunk_period="D"`, so a day is a
  check as in handoff). A day is flagged when any column or the estimate alerts.

Delays and false days are counted as for handoff (benchmarks/detection.py), over fewer days:
stable's first four weeks after the baseline, a drift story's days up to 10 after onset.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import numpy as np

from jobs.simulation import NUMERIC, STORY_BASELINE_DAYS, STORY_ONSET, story
from tests.stories import StorySource

CATEGORICAL = ["product", "region"]
COLUMNS = [*NUMERIC, *CATEGORICAL, "score"]
CHECK_DAYS = 11
"""Days checked from onset (a peer that needs more is "never" within them)."""
STABLE_DAYS = 28
"""Stable days checked after the baseline (Evidently takes seconds a day: fewer than handoff's)."""


def _frame(source: StorySource, days: range) -> Any:
    import pandas as pd

    parts = []
    for day in days:
        data = source.day(day)
        frame = pd.DataFrame({k: data[k] for k in [*COLUMNS, "defaulted", "scored_at"]})
        frame["day"] = day
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    out["prediction"] = (out["score"] >= 0.5).astype(int)
    out["defaulted"] = out["defaulted"].astype(int)
    return out


def evidently_days(reference: Any, analysis: Any) -> set[int]:
    """Days on which Evidently's DataDriftPreset finds any column drifted."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[*NUMERIC, "score"], categorical_columns=CATEGORICAL
    )
    ref = Dataset.from_pandas(reference[COLUMNS], data_definition=definition)
    flagged = set()
    for day, part in analysis.groupby("day"):
        result = Report([DataDriftPreset()]).run(
            current_data=Dataset.from_pandas(part[COLUMNS], data_definition=definition),
            reference_data=ref,
        )
        for metric in result.dict()["metrics"]:
            config = metric["config"]
            if not config["type"].endswith("ValueDrift"):
                continue
            value, threshold, method = metric["value"], config["threshold"], config["method"]
            if (value < threshold) if "p_value" in method else (value >= threshold):
                flagged.add(int(day))
                break
    return flagged


def nannyml_days(reference: Any, analysis: Any) -> set[int]:
    """Days on which NannyML's univariate drift or CBPE (ROC AUC) alerts."""
    import nannyml as nml

    drift = nml.UnivariateDriftCalculator(
        column_names=COLUMNS,
        treat_as_categorical=CATEGORICAL,
        timestamp_column_name="scored_at",
        chunk_period="D",
    )
    drift.fit(reference)
    table = drift.calculate(analysis).filter(period="analysis").to_df()
    alerts = np.zeros(len(table), dtype=bool)
    for column in table.columns:
        if column[-1] == "alert" and column[0] != "chunk":
            alerts |= table[column].fillna(False).to_numpy(dtype=bool)
    starts = table[("chunk", "chunk", "start_date")].to_numpy()
    cbpe = nml.CBPE(
        y_pred_proba="score",
        y_pred="prediction",
        y_true="defaulted",
        timestamp_column_name="scored_at",
        problem_type="classification_binary",
        metrics=["roc_auc"],
        chunk_period="D",
    )
    cbpe.fit(reference)
    estimated = cbpe.estimate(analysis.drop(columns=["defaulted"])).filter(period="analysis")
    perf = estimated.to_df()
    perf_alerts = perf[("roc_auc", "alert")].fillna(False).to_numpy(dtype=bool)
    first = int(analysis["day"].min())
    flagged = {first + i for i in np.flatnonzero(alerts).tolist()}
    flagged |= {first + i for i in np.flatnonzero(perf_alerts).tolist()}
    assert len(starts) == len(perf)  # one chunk per day in both
    return flagged


def _row(name: str, flagged: Sequence[set[int]]) -> str:
    if name == "stable":
        false = [len(f) for f in flagged]
        return f"{name:<9} {'-':>16} {sum(false):>11} {sum(1 for f in false if f):>8}/{len(false)}"
    delays = [min((d - STORY_ONSET for d in f if d >= STORY_ONSET), default=None) for f in flagged]
    false = [sum(1 for d in f if d < STORY_ONSET) for f in flagged]
    found = [d for d in delays if d is not None]
    shown = f"{statistics.median(found):g}/{max(found)}" if found else "-"
    if len(found) < len(delays):
        shown += f" never({len(delays) - len(found)})"
    return f"{name:<9} {shown:>16} {sum(false):>11} {sum(1 for f in false if f):>8}/{len(false)}"


def peer_tables(stories: Sequence[str], seeds: range) -> None:
    readers: dict[str, Callable[[Any, Any], set[int]]] = {
        "Evidently DataDriftPreset, any column drifted": evidently_days,
        "NannyML univariate drift + CBPE (daily chunks)": nannyml_days,
    }
    for title, reader in readers.items():
        print(f"\n{title} (seeds {seeds.start}..{seeds.stop - 1})")
        print(f"{'story':<9} {'delay med/worst':>16} {'false days':>11} {'runs w/ false':>14}")
        for name in stories:
            flagged = []
            for seed in seeds:
                source = StorySource(story(name), seed=seed)
                reference = _frame(source, range(STORY_BASELINE_DAYS))
                last = (
                    STORY_BASELINE_DAYS + STABLE_DAYS
                    if name == "stable"
                    else STORY_ONSET + CHECK_DAYS
                )
                analysis = _frame(source, range(STORY_BASELINE_DAYS, last))
                flagged.append(reader(reference, analysis))
            print(_row(name, flagged), flush=True)
