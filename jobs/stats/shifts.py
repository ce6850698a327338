"""How a column's distribution moved, in the column's own terms: its median, its spread, a share.

Drift metrics say *that* a column moved and how far; a person needs *where to*: "median income fell
from 55,000 to 42,000", "the share of APAC rose from 20% to 31%", "the share of scores at or above
0.70 rose from 12% to 31%". Everything here is read off the same binned counts as the metrics
(missing values excluded), so no raw data is needed. Pure numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from jobs.stats.bins import CategoricalBins, NumericBins

__all__ = ["Shift", "binned_quantiles", "categorical_shift", "numeric_shift", "score_shift"]

MEDIAN_MOVE = 0.1
"""A median that moved by at least this many robust standard deviations is "the" change."""
SPREAD_RATIO = 0.85
"""An interquartile range that shrank below this ratio (or grew past its inverse) is the change."""

ShiftKind = Literal["median", "spread", "shape", "share", "share_above"]


@dataclass(frozen=True)
class Shift:
    """One plain description of a distribution's move, reference value first.

    - `median`: the median moved (`reference`, `window` are medians);
    - `spread`: the middle half widened or narrowed (`reference_range`, `window_range` are the
      quartiles; `reference`, `window` the interquartile ranges);
    - `shape`: neither median nor spread moved much; the medians are given;
    - `share`: the share of category `category` among present values (0..1);
    - `share_above`: the share of values at or above `cut` (0..1), for the score.
    """

    kind: ShiftKind
    reference: float
    window: float
    category: str | None = None
    cut: float | None = None
    reference_range: tuple[float, float] | None = None
    window_range: tuple[float, float] | None = None

    @property
    def rose(self) -> bool:
        return self.window > self.reference


def binned_quantiles(bins: NumericBins, counts: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Quantiles of the values counted in `counts` (its missing bin ignored): linear inside each
    inner bin, the nearest edge in the open outer bins. NaN for every level when nothing is
    counted or the bins have no range.

    Exact at the edges; inside a bin the error is at most the bin's width.
    """
    values = np.asarray(counts, dtype=np.float64)[: bins.missing_index]
    total = float(values.sum())
    q = np.asarray(levels, dtype=np.float64)
    if total <= 0 or not bins.has_range:
        return np.full(q.shape, np.nan)
    edges = bins.edges
    cumulative = np.cumsum(values)
    out = np.empty(q.shape)
    for i, level in enumerate(q.ravel()):
        target = level * total
        j = int(np.searchsorted(cumulative, target, side="left"))
        j = min(j, len(values) - 1)
        if j == 0:
            out.flat[i] = edges[0]
        elif j >= len(edges):
            out.flat[i] = edges[-1] if math.isfinite(edges[-1]) else edges[-2]
        else:
            before = cumulative[j - 1]
            fraction = (target - before) / values[j] if values[j] > 0 else 0.0
            out.flat[i] = edges[j - 1] + min(max(fraction, 0.0), 1.0) * (edges[j] - edges[j - 1])
    return out


def numeric_shift(bins: NumericBins, reference: np.ndarray, window: np.ndarray) -> Shift | None:
    """The median's move when it moved by `MEDIAN_MOVE` robust sd or more, else the spread's when
    the interquartile range changed by more than `SPREAD_RATIO`, else "shape" (with the medians).
    None when either side has no present values."""
    levels = np.asarray([0.25, 0.5, 0.75])
    r = binned_quantiles(bins, reference, levels)
    w = binned_quantiles(bins, window, levels)
    if np.isnan(r).any() or np.isnan(w).any():
        return None
    scale = bins.scale if math.isfinite(bins.scale) and bins.scale > 0 else abs(r[2] - r[0])
    moved = abs(w[1] - r[1])
    if moved > 0 and (scale <= 0 or moved >= MEDIAN_MOVE * scale):
        return Shift("median", float(r[1]), float(w[1]))
    iqr_r, iqr_w = float(r[2] - r[0]), float(w[2] - w[0])
    if iqr_r > 0 and not SPREAD_RATIO <= iqr_w / iqr_r <= 1 / SPREAD_RATIO:
        return Shift(
            "spread",
            iqr_r,
            iqr_w,
            reference_range=(float(r[0]), float(r[2])),
            window_range=(float(w[0]), float(w[2])),
        )
    return Shift("shape", float(r[1]), float(w[1]))


def categorical_shift(
    bins: CategoricalBins, reference: np.ndarray, window: np.ndarray
) -> Shift | None:
    """The category (or "other" / "unseen") whose share of present values changed most."""
    r = np.asarray(reference, dtype=np.float64)[: bins.missing_index]
    w = np.asarray(window, dtype=np.float64)[: bins.missing_index]
    if r.sum() <= 0 or w.sum() <= 0:
        return None
    shares_r, shares_w = r / r.sum(), w / w.sum()
    i = int(np.argmax(np.abs(shares_w - shares_r)))
    names = [*bins.categories, "other", "unseen"]
    return Shift("share", float(shares_r[i]), float(shares_w[i]), category=names[i])


def score_shift(bins: NumericBins, reference: np.ndarray, window: np.ndarray) -> Shift | None:
    """The share of scores at or above the inner edge where the two distributions differ most
    (the KS location), e.g. "the share of scores at or above 0.70 rose from 12% to 31%"."""
    r = np.asarray(reference, dtype=np.float64)[: bins.missing_index]
    w = np.asarray(window, dtype=np.float64)[: bins.missing_index]
    if r.sum() <= 0 or w.sum() <= 0 or len(bins.edges) < 3:
        return None
    # share at or above edges[k] = counts of bins k+1.. (bin k+1 starts at edges[k])
    above_r = 1.0 - np.cumsum(r)[:-1] / r.sum()
    above_w = 1.0 - np.cumsum(w)[:-1] / w.sum()
    inner = np.arange(1, len(bins.edges) - 1)  # skip the reference minimum and maximum
    k = int(inner[np.argmax(np.abs(above_w[inner] - above_r[inner]))])
    return Shift("share_above", float(above_r[k]), float(above_w[k]), cut=float(bins.edges[k]))
