"""Charts of a model's week: each key metric's daily series over the last eight weeks with its
warn and critical lines, one panel per metric, as a PNG (matplotlib, headless: the Agg backend,
no display and no font cache written outside a temporary directory).

A slow slide is what the chart is for: the line, the lines it must not cross, and the week just
gone shaded, so that a reader sees at a glance where the metric is heading.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from jobs.recap import Metric, Recap

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_LOCK = threading.Lock()
"""pyplot keeps global state: one chart at a time per process."""
WIDTH, PANEL_HEIGHT, DPI = 8.0, 2.1, 110
COLOURS = {"line": "#1f4e79", "warn": "#e0a100", "critical": "#c0392b", "week": "#eef3f8"}


def _headless() -> None:
    """matplotlib without a display, its cache in a temporary directory (imported late: it is
    slow to import and only check-ins draw)."""
    os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "handoff-mpl"))
    import matplotlib

    matplotlib.use("Agg", force=True)


def week_chart(recap: Recap, *, title: str) -> bytes | None:
    """The PNG of the recap's key metrics (None when no metric has two days to draw)."""
    drawn = [m for m in recap.metrics if len(m.values) >= 2]
    if not drawn:
        return None
    with _LOCK:
        _headless()
        return _draw(drawn, recap, title)


def _draw(metrics: list[Metric], recap: Recap, title: str) -> bytes:
    from matplotlib import dates as mdates
    from matplotlib import pyplot

    end = datetime.fromisoformat(recap.end)
    week_start = (end - timedelta(days=7)).date()
    figure, axes = pyplot.subplots(
        len(metrics),
        1,
        figsize=(WIDTH, PANEL_HEIGHT * len(metrics) + 0.6),
        sharex=True,
        squeeze=False,
    )
    try:
        for axis, metric in zip(axes[:, 0], metrics, strict=True):
            _panel(axis, metric, week_start, end.date())
        days = mdates.DateFormatter("%d %b")  # type: ignore[no-untyped-call]  # untyped upstream
        axes[-1, 0].xaxis.set_major_formatter(days)
        figure.suptitle(title, fontsize=11, x=0.01, ha="left")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()
    finally:
        pyplot.close(figure)


def _panel(axis: Axes, metric: Metric, week_start: date, end: date) -> None:
    days = [_number(date.fromisoformat(d)) for d in metric.days]
    axis.axvspan(
        _number(week_start),
        _number(end),
        color=COLOURS["week"],
        zorder=0,
    )
    axis.plot(days, metric.values, color=COLOURS["line"], linewidth=1.6, marker=".", zorder=3)
    for name in ("warn", "critical"):
        line = getattr(metric, name)
        if line is not None:
            axis.axhline(line, color=COLOURS[name], linestyle="--", linewidth=1, zorder=2)
            axis.annotate(
                f"{name} {line:.3g}",
                xy=(1.0, line),
                xycoords=("axes fraction", "data"),
                xytext=(-4, 2),
                textcoords="offset points",
                ha="right",
                fontsize=7,
                color=COLOURS[name],
            )
    if metric.baseline is not None and metric.falling_is_worse:
        axis.axhline(metric.baseline, color="#7f8c8d", linestyle=":", linewidth=1, zorder=1)
    axis.set_title(metric.label, fontsize=9, loc="left")
    axis.tick_params(labelsize=8)
    axis.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        axis.spines[side].set_visible(False)


EPOCH = date(1970, 1, 1)


def _number(day: date) -> float:
    """A day as matplotlib's date axis counts it (days since its default epoch, 1970-01-01)."""
    return float((day - EPOCH).days)
