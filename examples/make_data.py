"""Write the example cards' data (committed beside them, so `register` and `check` work on a fresh
clone): `python examples/make_data.py` rewrites it identically (seeded).

- `cards/data/credit/YYYY-MM-DD.csv`: the credit-risk model's daily scores, 2024-07-01 to
  2024-09-30. Stable through July (the card's baseline); from mid-August applicants' incomes fall
  and short credit histories grow more common, so `handoff check credit-risk --as-of 2024-09-20`
  finds drift. Labels (`defaulted`) are in for rows at least 30 days old (the card's label delay).
- `cards/data/churn/baseline-2025-01.parquet`: the churn model's validation month (its baseline).
- `cards/data/churn/warehouse.db`: a SQLite stand-in for the warehouse, table `churn_scores`,
  February and March 2025; point the card's `WAREHOUSE_URL` at it.
"""

from __future__ import annotations

import csv
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent / "cards" / "data"
CREDIT_DAYS = (date(2024, 7, 1), date(2024, 9, 30))
CREDIT_ROWS = 200
DRIFT_FROM = date(2024, 8, 15)
LABELS_UNTIL = date(2024, 9, 30) - timedelta(days=30)
HEADER = ["scored_at", "income", "history_months", "region", "score", "defaulted"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-z)))


def _stamps(rng: np.random.Generator, day: date, n: int) -> list[str]:
    seconds = np.sort(rng.integers(0, 86_400, size=n))
    midnight = datetime.combine(day, datetime.min.time())
    return [(midnight + timedelta(seconds=int(s))).isoformat(sep=" ") for s in seconds]


def credit() -> None:
    folder = HERE / "credit"
    folder.mkdir(parents=True, exist_ok=True)
    day = CREDIT_DAYS[0]
    while day <= CREDIT_DAYS[1]:
        rng = np.random.default_rng([7, day.toordinal()])
        drift = max(0, (day - DRIFT_FROM).days) / 45  # 0 until mid-August, then growing
        n = CREDIT_ROWS
        income = rng.lognormal(np.log(55_000) - 0.25 * drift, 0.35, n).round(-2)
        history = rng.gamma(2.0, 30.0 * (1 - 0.4 * min(drift, 1)), n).round()
        region = rng.choice(["DE", "FR", "NL", "BE"], size=n, p=[0.45, 0.3, 0.2, 0.05])
        z = -1.2 - 1.1 * np.log(income / 55_000) - 0.015 * (history - 60)
        score = _sigmoid(z + rng.normal(0, 0.3, n)).round(4)
        truth = _sigmoid(z + 0.4 * drift)
        defaulted = (rng.random(n) < truth).astype(int)
        labelled = day <= LABELS_UNTIL
        with (folder / f"{day}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["scored_at", "income", "history_months", "region", "score", "defaulted"]
            )
            for i, stamp in enumerate(_stamps(rng, day, n)):
                label = int(defaulted[i]) if labelled else ""
                writer.writerow(
                    [stamp, int(income[i]), int(history[i]), region[i], score[i], label]
                )
        day += timedelta(days=1)


def _churn_day(day: date, rows: int) -> dict[str, list[object]]:
    rng = np.random.default_rng([11, day.toordinal()])
    tenure = rng.gamma(1.5, 300, rows).round()
    spend = rng.lognormal(np.log(35), 0.5, rows).round(2)
    tickets = rng.poisson(0.6, rows)
    plan = rng.choice(["basic", "plus", "family", "business"], size=rows, p=[0.5, 0.3, 0.15, 0.05])
    country = rng.choice(["US", "CA", "MX"], size=rows, p=[0.7, 0.2, 0.1])
    z = -1.6 - 0.002 * (tenure - 400) + 0.5 * tickets - 0.01 * (spend - 35)
    score = _sigmoid(z).round(4)
    churned = (rng.random(rows) < score).astype(int)
    return {
        "scored_at": _stamps(rng, day, rows),
        "churn_score": score.tolist(),
        "plan": plan.tolist(),
        "country": country.tolist(),
        "tenure_days": tenure.astype(int).tolist(),
        "monthly_spend": spend.tolist(),
        "support_tickets_90d": tickets.tolist(),
        "churned_90d": churned.tolist(),
    }


def churn() -> None:
    folder = HERE / "churn"
    folder.mkdir(parents=True, exist_ok=True)
    january = [_churn_day(date(2025, 1, d), 250) for d in range(1, 32)]
    columns = {name: [v for day in january for v in day[name]] for name in january[0]}
    stamps = pa.array([datetime.fromisoformat(str(s)) for s in columns.pop("scored_at")])
    table = pa.table({"scored_at": stamps, **columns})
    pq.write_table(table, folder / "baseline-2025-01.parquet")
    database = folder / "warehouse.db"
    database.unlink(missing_ok=True)
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TABLE churn_scores (scored_at TIMESTAMP, churn_score REAL, plan TEXT,"
            " country TEXT, tenure_days INTEGER, monthly_spend REAL, support_tickets_90d INTEGER,"
            " churned_90d INTEGER)"
        )
        day = date(2025, 2, 1)
        while day <= date(2025, 3, 31):
            data = _churn_day(day, 250)
            rows = zip(*data.values(), strict=True)
            connection.executemany("INSERT INTO churn_scores VALUES (?,?,?,?,?,?,?,?)", rows)
            day += timedelta(days=1)


if __name__ == "__main__":
    credit()
    churn()
