"""Sequential evidence: per-day sums that add across days, scanned over several window lengths.

Each statistic is the mean of a per-row quantity that counts give exactly (so windows merge by
addition, like profiles):

- `mean` of a numeric feature or the score: the bin atoms (`NumericBins.atoms`) of present values;
  a mean shift is said in reference standard deviations. Two-sided.
- `accuracy` (performance): correct decisions minus what the reference's per-band accuracy
  expects for this window's scores (CBPE's idea, paired: a change in the score mix alone moves
  nothing). Not tested itself: it is the relevance (points of accuracy lost) of a calibration
  alarm.
- `calibration` (performance): sum of w_b (y - r_b) with r_b the reference positive rate of
  score band b and w_b its centred logit: negative when high scores default less and low scores
  more than they did, i.e. the score's relation to the label fades (a one-degree-of-freedom score
  test of the calibration slope). Judged downwards; its relevance is the accuracy lost.

A day d of a part (the whole or a segment) gives n_d rows and a total S_d = sum of (value - the
reference mean). Over the last L days, Z_L = sum S / sqrt(sigma^2 N_L + N_L^2 (tau^2 (1 + 1/D) +
sigma^2 / N)) with sigma^2 the per-row variance in the reference (N rows), tau^2 the baseline's
own day-to-day variance of the daily mean beyond sampling (D days: a weekly pattern, day
effects), taken as persistent over the window (fully correlated: conservative for a weekly
pattern), and the reference's own error shared by every day. Z_L is N(0, 1) without change.

The scan tests windows of `WINDOWS` days ending today for every statistic. The false-alarm rate
per model-year (`ALARMS_PER_YEAR`) is split in three equal shares (`FAMILIES`): the whole
population's performance, the whole population's inputs and score, and every segment; each share
is split evenly over its statistics x directions x windows x the checks of a year (weighted
Bonferroni: correlation between windows and days only makes it conservative).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jobs.stats.bins import Bins
from jobs.stats.measures import PERFORMANCE
from jobs.stats.profiles import Profile
from jobs.stats.significance import z_value

__all__ = [
    "ALARMS_PER_YEAR",
    "WINDOWS",
    "Alarm",
    "Calibration",
    "StatKey",
    "Summer",
    "calibrate",
    "family",
    "scan",
    "scan_threshold",
]

WINDOWS = (1, 2, 4, 7)
"""Window lengths (in checks, one a day) scanned each day."""
ALARMS_PER_YEAR = 0.1
"""Expected false alarms per model-year of the whole scan (one check a day)."""
CHECKS_PER_YEAR = 365
MIN_ROWS = 20

StatKey = tuple[str, str, str, str]
"""(segment column or "", segment key or "", feature or PERFORMANCE, "mean" | "accuracy" |
"calibration")."""


@dataclass(frozen=True)
class _Stat:
    """One statistic of one part: which counts it reads, the value of each of their cells, and
    which cells count as rows."""

    key: StatKey
    cells: np.ndarray  # per-cell value (the per-row quantity)
    counted: np.ndarray  # 1.0 for cells that are rows of the statistic, else 0.0
    scale: float  # reference sd (mean) or 1.0: the unit effects are said in


def _part_of(profile: Profile, column: str, key: str) -> Profile:
    return profile if not column else profile.segments[column][key]


def _numeric_cells(atoms: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    cells = np.zeros(size)
    counted = np.zeros(size)
    finite = np.isfinite(atoms)
    cells[: atoms.size] = np.where(finite, atoms, 0.0)
    counted[: atoms.size] = finite
    return cells, counted


def _performance_cells(
    table: np.ndarray, threshold_bin: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None:
    """Per-cell values of `accuracy` and `calibration` on the (score bins x 3) table, from the
    reference table (Jeffreys-smoothed band rates); None without labels of both classes."""
    t = np.asarray(table, dtype=np.float64)[:-1, :2]
    if t.sum() < MIN_ROWS or (t.sum(axis=0) == 0).any():
        return None
    n_band = t.sum(axis=1)
    rate = (t[:, 1] + 0.5) / (n_band + 1.0)
    predicted = np.arange(t.shape[0]) >= threshold_bin
    right = np.where(predicted, rate, 1.0 - rate)  # P(correct | band)
    shape = np.asarray(table).shape
    counted = np.zeros(shape)
    counted[:-1, :2] = 1.0
    accuracy = np.zeros(shape)
    accuracy[:-1, 0] = np.where(predicted, 0.0, 1.0) - right
    accuracy[:-1, 1] = np.where(predicted, 1.0, 0.0) - right
    logit = np.log(rate / (1.0 - rate))
    weight = logit - float(np.sum(n_band * logit) / n_band.sum())
    calibration = np.zeros(shape)
    calibration[:-1, 0] = weight * (0.0 - rate)
    calibration[:-1, 1] = weight * (1.0 - rate)
    return (accuracy, counted), (calibration, counted)


def _stats(bins: Bins, reference: Profile) -> list[_Stat]:
    """Every statistic of every part of `reference` (the baseline's reference profile)."""
    parts = [("", "")]
    parts += [
        (column, key)
        for column, values in reference.segments.items()
        for key in values
        if not key.startswith("__")
    ]
    out: list[_Stat] = []
    numeric = {**bins.numeric, bins.score_column: bins.score}
    for column, key in parts:
        part = _part_of(reference, column, key)
        for name, b in numeric.items():
            counts = part.score if name == bins.score_column else part.features[name]
            cells, counted = _numeric_cells(b.atoms(), counts.size)
            rows = float(np.dot(counted, counts))
            if rows < MIN_ROWS:
                continue
            mean = float(np.dot(cells * counted, counts)) / rows
            variance = float(np.dot(counted * (cells - mean) ** 2, counts)) / rows
            if variance > 0:
                out.append(_Stat((column, key, name, "mean"), cells, counted, math.sqrt(variance)))
        perf = _performance_cells(part.score_label, bins.threshold_bin)
        if perf is not None:
            (acc, counted), (cal, _) = perf
            out.append(_Stat((column, key, PERFORMANCE, "accuracy"), acc, counted, 1.0))
            out.append(_Stat((column, key, PERFORMANCE, "calibration"), cal, counted, 1.0))
    return out


def _counts(bins: Bins, part: Profile, stat: _Stat) -> np.ndarray:
    name = stat.key[2]
    if name == PERFORMANCE:
        return np.asarray(part.score_label, dtype=np.float64)
    if name == bins.score_column:
        return np.asarray(part.score, dtype=np.float64)
    return np.asarray(part.features[name], dtype=np.float64)


def _raw_sums(bins: Bins, stats: Sequence[_Stat], profile: Profile) -> tuple[np.ndarray, ...]:
    """(rows, sum of values) of every statistic in one profile."""
    rows = np.zeros(len(stats))
    sums = np.zeros(len(stats))
    for i, stat in enumerate(stats):
        column, key = stat.key[0], stat.key[1]
        if column and (column not in profile.segments or key not in profile.segments[column]):
            continue
        counts = _counts(bins, _part_of(profile, column, key), stat)
        rows[i] = float(np.sum(stat.counted * counts))
        sums[i] = float(np.sum(stat.cells * stat.counted * counts))
    return rows, sums


@dataclass(frozen=True, eq=False)
class Calibration:
    """What the scan needs of the baseline, per statistic (arrays aligned with `keys`): the
    reference mean, per-row variance and rows, the unit effects are said in (`scale`), and the
    day-to-day variance of the daily mean beyond sampling (`between`, from `days` days)."""

    keys: tuple[StatKey, ...]
    mean: np.ndarray
    variance: np.ndarray
    rows: np.ndarray
    scale: np.ndarray
    between: np.ndarray
    days: int

    def arrays(self) -> dict[str, np.ndarray]:
        """Named arrays for the baseline's bytes (see `from_arrays`)."""
        keys = np.asarray([list(k) for k in self.keys], dtype=str).reshape(-1, 4)
        return {
            "seq_keys": keys if self.keys else np.empty((0, 4), dtype="<U1"),
            "seq_values": np.vstack(
                [self.mean, self.variance, self.rows, self.scale, self.between]
            ).reshape(5, -1),
            "seq_days": np.asarray([self.days]),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Calibration:
        keys = tuple((str(a), str(b), str(c), str(d)) for a, b, c, d in arrays["seq_keys"].tolist())
        mean, variance, rows, scale, between = (np.asarray(v) for v in arrays["seq_values"])
        return cls(keys, mean, variance, rows, scale, between, int(arrays["seq_days"][0]))


def calibrate(bins: Bins, reference: Profile, daily: Sequence[Profile]) -> Calibration:
    """The scan's calibration from the reference and the baseline's daily profiles.

    between = max(0, mean over days of (daily mean - reference mean)^2 - sigma^2 (1/n_d - 1/N) -
    one standard error of that mean) / (1 - 1/D)^2: the spread of daily means clearly beyond what
    their sampling explains (a day inside the reference strays from it by less than an outside
    day would). Days under MIN_ROWS rows of a statistic are left out; with fewer than 2 days,
    between is 0 (sampling noise alone).
    """
    stats = _stats(bins, reference)
    rows, sums = _raw_sums(bins, stats, reference)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(rows > 0, sums / np.maximum(rows, 1.0), 0.0)
    variance = np.zeros(len(stats))
    for i, stat in enumerate(stats):
        counts = _counts(bins, _part_of(reference, *stat.key[:2]), stat)
        spread = stat.counted * (stat.cells - mean[i]) ** 2
        variance[i] = float(np.dot(spread.ravel(), counts.ravel())) / max(rows[i], 1.0)
    excess = np.zeros(len(stats))
    noise_sum = np.zeros(len(stats))
    used = np.zeros(len(stats))
    for day in daily:
        n, total = _raw_sums(bins, stats, day)
        ok = n >= MIN_ROWS
        safe = np.maximum(n, 1.0)
        gap = total / safe - mean
        noise = variance * (1.0 / safe - 1.0 / np.maximum(rows, 1.0))
        excess += np.where(ok, gap * gap - noise, 0.0)
        noise_sum += np.where(ok, noise, 0.0)
        used += ok
    days = int(used.max()) if used.size else 0
    count = np.maximum(used, 1.0)
    # One standard error of the estimate (chi-square: sqrt(2 / (D - 1)) times the sampling
    # variance of a day) is taken off: only the spread clearly beyond sampling is kept.
    error = np.sqrt(2.0 / np.maximum(count - 1.0, 1.0)) * noise_sum / count
    shrink = (1.0 - 1.0 / count) ** 2
    shrink = np.where(used >= 2, shrink, 1.0)
    between = np.where(used >= 2, np.maximum(excess / count - error, 0.0) / shrink, 0.0)
    scale = np.asarray([s.scale for s in stats])
    return Calibration(tuple(s.key for s in stats), mean, variance, rows, scale, between, days)


@dataclass(frozen=True, eq=False)
class Summer:
    """Turns window profiles into the mergeable daily summary the scan adds up: per calibrated
    statistic, rows and the total of (value - reference mean). Build once per check (`of`)."""

    bins: Bins
    calibration: Calibration
    stats: tuple[_Stat, ...]
    index: np.ndarray  # position in `stats` of each calibrated key (-1: not computable)

    @classmethod
    def of(cls, bins: Bins, reference: Profile, calibration: Calibration) -> Summer:
        stats = tuple(_stats(bins, reference))
        where = {s.key: i for i, s in enumerate(stats)}
        index = np.asarray([where.get(k, -1) for k in calibration.keys], dtype=np.int64)
        return cls(bins, calibration, stats, index)

    def sums(self, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
        """(rows, total of value - reference mean) of every calibrated statistic in `profile`."""
        rows, sums = _raw_sums(self.bins, self.stats, profile)
        ok = self.index >= 0
        at = np.where(ok, self.index, 0)
        out_rows = np.where(ok, rows[at] if rows.size else 0.0, 0.0)
        out_sums = np.where(ok, sums[at] if sums.size else 0.0, 0.0)
        return out_rows, out_sums - out_rows * self.calibration.mean


@dataclass(frozen=True)
class Alarm:
    """A statistic whose scan crossed the threshold: the window (days) where its z was the most
    extreme, z, the threshold, and the effect over that window (mean: in reference sd, signed;
    accuracy and calibration: points of accuracy lost against what the scores expect)."""

    key: StatKey
    days: int
    z: float
    threshold: float
    effect: float


def _directions(keys: Sequence[StatKey]) -> np.ndarray:
    """Tests per statistic and window: 2 for two-sided ones (means), 1 for the down-only
    calibration, 0 for accuracy (not tested: it says how much a calibration alarm costs; on the
    stories the calibration slope sees a fading relation with ~1.8x accuracy's z)."""
    return np.asarray([{"mean": 2, "calibration": 1}.get(k[3], 0) for k in keys])


FAMILIES = ("performance", "inputs", "segments")


def family(key: StatKey) -> str:
    """Which share of the false-alarm budget a statistic draws on (see the module docstring)."""
    if key[0]:
        return "segments"
    return "performance" if key[2] == PERFORMANCE else "inputs"


def scan_threshold(
    calibration: Calibration,
    *,
    alarms_per_year: float = ALARMS_PER_YEAR,
    windows: Sequence[int] = WINDOWS,
) -> np.ndarray:
    """The z each statistic's tests must pass (per statistic, in the calibration's order)."""
    directions = _directions(calibration.keys)
    families = [family(k) for k in calibration.keys]
    present = sorted(set(families))
    out = np.zeros(len(calibration.keys))
    for name in present:
        members = np.asarray([f == name for f in families])
        tests = int(directions[members].sum()) * len(windows) * CHECKS_PER_YEAR
        out[members] = z_value(alarms_per_year / len(present) / max(tests, 1))
    return out


def scan(
    calibration: Calibration,
    rows: np.ndarray,
    sums: np.ndarray,
    *,
    alarms_per_year: float = ALARMS_PER_YEAR,
    windows: Sequence[int] = WINDOWS,
) -> list[Alarm]:
    """Scan the last days (`rows`, `sums`: shape (days, statistics), oldest first, today last;
    from `Summer.sums`) over `windows` ending today. Returns the statistics that alarm, each once
    (its most extreme window). Windows longer than the days given are not tested."""
    r = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    s = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    if r.shape != s.shape or r.shape[1] != len(calibration.keys):
        raise ValueError("rows and sums must be (days, statistics) in the calibration's order")
    if r.shape[0] == 0 or not calibration.keys:
        return []
    threshold = scan_threshold(calibration, alarms_per_year=alarms_per_year, windows=windows)
    lengths = [w for w in windows if w <= r.shape[0]]
    n = np.cumsum(r[::-1], axis=0)[[w - 1 for w in lengths]]  # (windows, statistics)
    total = np.cumsum(s[::-1], axis=0)[[w - 1 for w in lengths]]
    var = calibration.variance
    persistent = calibration.between * (1.0 + 1.0 / max(calibration.days, 1))
    persistent = persistent + var / np.maximum(calibration.rows, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(var * n + n * n * persistent)
        z = np.where((sd > 0) & (n >= MIN_ROWS), total / sd, 0.0)
        effect = np.where(n > 0, total / np.maximum(n, 1.0), 0.0)
    directions = _directions(calibration.keys)
    signed = np.where(directions == 1, -z, np.abs(z))  # down-only: a fall is positive
    signed = np.where(directions == 0, 0.0, signed)
    best = np.argmax(signed, axis=0)
    columns = np.arange(len(calibration.keys))
    peak = signed[best, columns]
    accuracy = {k[:2]: j for j, k in enumerate(calibration.keys) if k[3] == "accuracy"}
    out = []
    for j in np.flatnonzero((peak > threshold) & (directions > 0)).tolist():
        key = calibration.keys[j]
        w = int(best[j])
        if key[3] == "mean":
            value = float(effect[w, j]) / float(calibration.scale[j])
        else:
            k = accuracy.get(key[:2], j)
            value = -float(effect[w, k])
        out.append(Alarm(key, lengths[w], float(z[w, j]), float(threshold[j]), value))
    return out
