"""Drift detection on 1,000,000 rows: handoff against scipy, Evidently and NannyML, in one process.

Needs the `bench` extra (evidently 0.7, nannyml, pandas<3, psutil). Run, in a venv with it:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/drift_peers.py

Data: 20 numeric features (standard normal), 2 categorical ones and a score, for a reference and a
current window of `--rows` rows each. Injected into the current window: x0 mean +0.1 sd, x1 +0.3 sd,
x2 scale x1.2, x3 +0.02 sd (nobody should be paged for it), c0 category shares 40/30/20/10% ->
30/30/25/15%, and a slight score shift (logit +0.3, i.e. 0.2 sd of the logit). Everything else is
undrifted. Each tool is timed from in-memory data (arrays for handoff and scipy, DataFrames built
beforehand for Evidently and NannyML) and its added peak RSS (peak minus the RSS at its start,
after returning freed heap pages to the OS) is sampled every 2 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import threading
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import numpy as np
import psutil

from jobs.stats import BaselineSpec, Severity, compare, fit_baseline, profile_batch

NUMERIC = [f"x{i}" for i in range(20)]
CATEGORICAL = ["c0", "c1"]
COLUMNS = [*NUMERIC, *CATEGORICAL, "score"]
SHIFTED = {
    "x0": "mean +0.1 sd",
    "x1": "mean +0.3 sd",
    "x2": "scale x1.2",
    "x3": "mean +0.02 sd",
    "c0": "category shares",
    "score": "score logit +0.3",
}
CATEGORIES = np.array(["a", "b", "c", "d"], dtype=object)


def make_data(seed: int, rows: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Reference and current batches (column -> array) with the shifts in the module docstring."""
    rng = np.random.default_rng(seed)

    def batch(drift: bool) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name in NUMERIC:
            x = rng.normal(size=rows)
            if drift and name == "x0":
                x += 0.1
            elif drift and name == "x1":
                x += 0.3
            elif drift and name == "x2":
                x *= 1.2
            elif drift and name == "x3":
                x += 0.02
            out[name] = x
        shares = [0.3, 0.3, 0.25, 0.15] if drift else [0.4, 0.3, 0.2, 0.1]
        out["c0"] = CATEGORIES[rng.choice(4, rows, p=shares)]
        out["c1"] = CATEGORIES[rng.choice(4, rows, p=[0.4, 0.3, 0.2, 0.1])]
        logit = rng.normal(-1.0, 1.5, rows) + (0.3 if drift else 0.0)
        out["score"] = 1.0 / (1.0 + np.exp(-logit))
        return out

    return batch(False), batch(True)


def _release_free_memory() -> None:
    """Return freed heap pages to the OS (glibc), so the next tool's growth shows up in RSS
    instead of silently reusing memory an earlier step freed."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """Samples this process's RSS in a thread; `added` is the peak minus the RSS at entry (MB)."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.002)

    def __enter__(self) -> PeakMemory:
        gc.collect()
        _release_free_memory()
        self.start = self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def added(self) -> float:
        return (self.peak - self.start) / 2**20


def measure(run: Callable[[], dict[str, str]]) -> tuple[float, float, dict[str, str]]:
    """(wall seconds, added peak MB, flagged columns) of one tool."""
    with PeakMemory() as memory:
        started = time.perf_counter()
        flags = run()
        elapsed = time.perf_counter() - started
    return elapsed, memory.added, flags


def run_handoff(reference: dict[str, np.ndarray], current: dict[str, np.ndarray]) -> dict[str, str]:
    """fit baseline + profile + compare; flags = each column's highest severity (info and up)."""
    spec = BaselineSpec(numeric=NUMERIC, categorical=CATEGORICAL, score="score")
    baseline = fit_baseline(reference, spec)
    report = compare(baseline, profile_batch(current, baseline))
    severities = {name: report.severity_of(name) for name in COLUMNS}
    return {name: s.value for name, s in severities.items() if s is not Severity.NONE}


def run_scipy(reference: dict[str, np.ndarray], current: dict[str, np.ndarray]) -> dict[str, str]:
    """ks_2samp per numeric column and the score, chi2_contingency per categorical; p < 0.05."""
    from scipy import stats

    flags = {}
    for name in [*NUMERIC, "score"]:
        p = stats.ks_2samp(reference[name], current[name]).pvalue
        if p < 0.05:
            flags[name] = f"p={p:.1e}"
    for name in CATEGORICAL:
        ref_values, ref_counts = np.unique(reference[name].astype(str), return_counts=True)
        cur_counts = np.array([np.count_nonzero(current[name] == v) for v in ref_values])
        p = stats.chi2_contingency(np.vstack([ref_counts, cur_counts])).pvalue
        if p < 0.05:
            flags[name] = f"p={p:.1e}"
    return flags


def run_evidently(reference: Any, current: Any) -> dict[str, str]:
    """Evidently 0.7 DataDriftPreset with its defaults; flags = columns its tests call drifted."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[*NUMERIC, "score"], categorical_columns=CATEGORICAL
    )
    result = Report([DataDriftPreset()]).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    flags = {}
    for metric in result.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        value, threshold, method = metric["value"], config["threshold"], config["method"]
        drifted = value < threshold if "p_value" in method else value >= threshold
        if drifted:
            flags[config["column"]] = f"{method}={value:.3g}"
    return flags


def run_nannyml(reference: Any, current: Any) -> dict[str, str]:
    """NannyML UnivariateDriftCalculator with its defaults (Jensen-Shannon, 10 chunks, thresholds
    from the reference chunks); flags = columns with an alert in any analysis chunk."""
    import nannyml as nml

    calculator = nml.UnivariateDriftCalculator(
        column_names=COLUMNS, treat_as_categorical=CATEGORICAL
    )
    calculator.fit(reference)
    table = calculator.calculate(current).filter(period="analysis").to_df()
    flags = {}
    for column in table.columns:
        if column[-1] == "alert" and bool(table[column].any()):
            flags[column[0]] = f"{int(table[column].sum())}/{len(table)} chunks"
    return flags


def describe(flags: dict[str, str]) -> str:
    must = [c for c in SHIFTED if c != "x3"]
    drifted = [f"{c}({flags[c]})" for c in must if c in flags]
    missed = [c for c in must if c not in flags]
    false = [c for c in COLUMNS if c in flags and c not in SHIFTED]
    return (
        f"flagged drifted: {', '.join(drifted) or '-'}\n"
        f"      missed: {', '.join(missed) or '-'}\n"
        f"      x3 (+0.02 sd, should not page): {flags.get('x3', 'not flagged')}\n"
        f"      flagged undrifted ({len(false)} of {len(COLUMNS) - len(SHIFTED)}): "
        f"{', '.join(false) or '-'}"
    )


def check_targets(flags: dict[str, str]) -> list[str]:
    """The issue's targets for handoff's default thresholds; returns the failures."""
    rank = {s.value: s.rank for s in Severity}
    level = {c: rank.get(flags.get(c, "none"), 0) for c in COLUMNS}
    problems = [f"{c} below warn" for c in ("x1", "x2", "c0", "score") if level[c] < 2]
    problems += ["x0 below info"] if level["x0"] < 1 else []
    problems += ["x3 at warn or above"] if level["x3"] >= 2 else []
    problems += [f"{c} flagged undrifted" for c in COLUMNS if c not in SHIFTED and level[c] > 0]
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--skip", nargs="*", default=[], choices=["evidently", "nannyml", "scipy"])
    args = parser.parse_args()

    print(
        f"rows per side: {args.rows:,}; columns: {len(NUMERIC)} numeric + "
        f"{len(CATEGORICAL)} categorical + score; injected: {SHIFTED}"
    )
    reference, current = make_data(args.seeds[0], args.rows)
    results: dict[str, tuple[float, float, dict[str, str]]] = {}
    results["handoff"] = measure(lambda: run_handoff(reference, current))
    if "scipy" not in args.skip:
        results["scipy ks_2samp loop"] = measure(lambda: run_scipy(reference, current))
    if {"nannyml", "evidently"} - set(args.skip):
        import pandas as pd

        ref_frame, cur_frame = pd.DataFrame(reference), pd.DataFrame(current)
        if "nannyml" not in args.skip:
            results["NannyML univariate"] = measure(lambda: run_nannyml(ref_frame, cur_frame))
        if "evidently" not in args.skip:
            results["Evidently DataDriftPreset"] = measure(
                lambda: run_evidently(ref_frame, cur_frame)
            )
    base_time = results["handoff"][0]
    print(f"\nseed {args.seeds[0]}:")
    print(f"{'tool':<27} {'wall s':>8} {'added MB':>9} {'x handoff':>10}")
    for tool, (elapsed, added, _) in results.items():
        print(f"{tool:<27} {elapsed:8.2f} {added:9.0f} {elapsed / base_time:10.1f}")
    for tool, (_, _, flags) in results.items():
        print(f"\n{tool}: {describe(flags)}")
    print("\nhandoff targets (default thresholds) per seed:")
    for seed in args.seeds:
        flags = (
            results["handoff"][2]
            if seed == args.seeds[0]
            else run_handoff(*make_data(seed, args.rows))
        )
        problems = check_targets(flags)
        shown = ", ".join(f"{c}={flags[c]}" for c in COLUMNS if c in flags)
        print(
            f"  seed {seed}: {'OK' if not problems else 'FAIL ' + '; '.join(problems)}  [{shown}]"
        )


if __name__ == "__main__":
    main()
