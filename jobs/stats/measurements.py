"""The `Measurement` record shared by drift and performance measuring, and its small builders.

A measurement is a metric value plus what sampling alone would produce at these sample sizes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from jobs.stats.significance import Noise, binomial_noise, normal_sf, sampling_factor, z_value

__all__ = ["PERFORMANCE", "Measurement", "Setting", "missing", "share_change"]

PERFORMANCE = "__performance__"
"""Feature name under which performance metrics are reported."""


@dataclass(frozen=True)
class Setting:
    """How to measure: gate a's `alpha`, minimum sizes, whether the window is `inside` the
    reference (a baseline day: the noise of a part against its whole), and whether to compute the
    slower p-values."""

    alpha: float
    min_rows: int = 20
    min_labels: int = 30
    inside: bool = False
    p_values: bool = True


@dataclass(frozen=True)
class Measurement:
    """One metric of one feature: value (None = not enough data, see `reason`), the non-negative
    `magnitude` the gates judge, and the sampling `noise` at these sizes (None: judged by p-value).
    """

    feature: str
    metric: str
    value: float | None
    magnitude: float = math.nan
    noise: Noise | None = None
    p_value: float | None = None
    n_window: int = 0
    n_reference: int = 0
    method: str | None = None
    details: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None

    @property
    def key(self) -> str:
        """Calibration key: the metric, suffixed with "@estimated" for label-free estimates."""
        return f"{self.metric}@estimated" if self.method == "estimated" else self.metric


def missing(feature: str, metric: str, reason: str, nw: int = 0, nr: int = 0) -> Measurement:
    """A metric that could not be computed, with the reason and the sample sizes."""
    return Measurement(feature, metric, None, reason=reason, n_window=nw, n_reference=nr)


def share_change(
    feature: str,
    metric: str,
    counts: tuple[float, int, float, int],
    setting: Setting,
    *,
    two_sided: bool,
) -> Measurement:
    """Change of a share: `counts` = (window hits, window size, reference hits, reference size).

    value = w/n - r/N. Two-sided metrics are judged on |value|, one-sided ones on max(value, 0) (an
    increase is the concern). Noise: binomial at the reference share, Jeffreys-smoothed
    ((r + 1/2) / (N + 1)) so a share of 0 still has noise; p-value from the normal approximation.
    """
    w, nw, r, nr = counts
    change = w / nw - r / nr
    base = (r + 0.5) / (nr + 1.0)
    factor = sampling_factor(nw, nr, inside=setting.inside)
    noise = binomial_noise(base, factor, setting.alpha, two_sided=two_sided)
    sd = noise.cutoff / z_value(setting.alpha / 2.0 if two_sided else setting.alpha)
    magnitude = abs(change) if two_sided else max(change, 0.0)
    p_value = normal_sf(magnitude / sd) * (2.0 if two_sided else 1.0) if sd > 0 else None
    details = {"window": w / nw, "reference": r / nr}
    return Measurement(feature, metric, change, magnitude, noise, p_value, nw, nr, None, details)
