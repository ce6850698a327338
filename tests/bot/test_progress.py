"""The progress bar of long CLI work: drawn on a terminal only, with done, rate and time left."""

from __future__ import annotations

import io

from bot.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bar_on_a_terminal_says_done_rate_and_time_left() -> None:
    stream, clock = Terminal(), Clock()
    with ProgressBar(label="m backfill", unit="days", total=90, stream=stream, clock=clock) as bar:
        bar.advance()  # in the first second: quiet
        assert stream.getvalue() == ""
        for _ in range(35):
            clock.now += 0.1
            bar.advance()
    line = stream.getvalue().rsplit("\r", 1)[-1]
    assert line.startswith("m backfill [#########")
    assert "36/90 days, 10 days/s, 5 s left" in line
    assert stream.getvalue().endswith("\n")


def test_rows_of_unknown_total_show_rate_without_time_left() -> None:
    stream, clock = Terminal(), Clock()
    bar = ProgressBar(label="m baseline", unit="rows", stream=stream, clock=clock)
    clock.now = 2.0
    bar.advance(1_000_000)
    assert stream.getvalue() == "\rm baseline 1,000,000 rows, 500,000 rows/s"


def test_nothing_is_drawn_when_piped() -> None:
    stream, clock = io.StringIO(), Clock()
    with ProgressBar(label="x", unit="days", total=3, stream=stream, clock=clock) as bar:
        clock.now = 5.0
        bar.advance(3)
    assert stream.getvalue() == ""
