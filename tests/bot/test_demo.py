"""`handoff demo`, as the README's first command: run as a newcomer runs it, in a fresh folder,
with no Slack and no settings; it must show the drift caught, the people acting, and leave the
transcript and the charts behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

from bot.demo import ONSET, START

DEMO_SECONDS = 90  # the README promises about a minute on a laptop; CI's two cores are slower


def test_the_demo_catches_the_drift_within_days_and_leaves_the_conversation(
    tmp_path: Path,
) -> None:
    handoff = Path(sys.executable).with_name("handoff")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HANDOFF_"))}
    started = time.monotonic()
    done = subprocess.run(
        [str(handoff), "demo", "--out", str(tmp_path / "demo")],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert took < DEMO_SECONDS, f"the demo took {took:.0f} s"

    # caught: the first episode's root names the drift, tags the builder, and escalates
    told = re.search(r"handoff told #credit-model-health on \w{3} (\d{2} \w{3}) (\d{2}:\d{2})", out)
    assert told, out[-2000:]
    caught = datetime.strptime(f"{told.group(1)} 2026", "%d %b %Y").date()
    onset = date.fromordinal(START.toordinal() + ONSET)
    assert 0 <= (caught - onset).days <= 7, f"caught {caught}, began {onset}"
    assert "median utilization rose" in out
    assert "@maria" in out and "Nobody has acknowledged it for 4 hours: @omar" in out
    assert "Acknowledged by @omar" in out
    # the people around the model: a business reader's question, the check-ins, a hand-over
    assert "Can I trust Credit risk score? (a score of 0.72)" in out
    assert "Its label-free accuracy estimate cannot be believed" in out
    assert "Confirmed still true by @maria" in out
    # none on the day of the handoff (Monday 2 February: the card was just written)
    assert "(2026-W06)" not in out and "Weekly check-in: Credit risk score (2026-W07)" in out
    assert "@maria changed the card: it is now version 2" in out
    assert "@sam" in out and "version 3" in out
    assert "#underwriting" in out and "Can this week's scores be trusted?" in out
    # the story's numbers: accuracy slid for weeks while nothing else would have said so
    slid = re.search(r"right (\d+\.\d)% of the time \((\d+\.\d) points down\)", out)
    assert slid and float(slid.group(2)) >= 5

    folder = tmp_path / "demo"
    page = (folder / "transcript.html").read_text()
    assert page.count('class="msg') > 20 and '<img src="charts/' in page
    charts = sorted((folder / "charts").glob("*.png"))
    assert len(charts) >= 6
    assert all(chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for chart in charts)
    assert (folder / "credit-risk.yaml").exists() and (folder / "handoff.db").exists()
