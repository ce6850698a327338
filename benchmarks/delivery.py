"""Delivery against Slack's pacing: 1,000 episodes across 50 channels, one root message each, to
the fake Slack enforcing ~1 message a second per channel (429 + Retry-After past it).

    .venv/bin/python benchmarks/delivery.py [--episodes 1000] [--channels 50]

The limit: with C channels and E messages spread evenly, no sender can finish before
ceil(E / C) - 1 seconds (the first post of each channel is free). Prints the total time against
that limit, the 429s received and duplicate roots (goal: within 10% of the limit, no 429, no
duplicate).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from bot.delivery import Deliverer, make_client
from jobs import episodes
from store import db
from store.cards import card_to_dict, parse_card
from store.models import CardVersion, Episode, Finding, Model
from store.states import EpisodeState, NotificationKind
from tests.replays import card_yaml
from tests.slack_api import FakeSlack

TOKEN = "xoxb-benchmark"


def _seed(sessions: object, *, episodes_n: int, channels: int, now: datetime) -> None:
    """Models (one per channel), and one open episode with its queued root per `episodes_n`."""
    cards = []
    for c in range(channels):
        content = card_yaml()
        content.update(model=f"m{c:03d}", channel=f"#health-{c:03d}")
        cards.append(parse_card(yaml.safe_dump(content)))
    with sessions.begin() as session:  # type: ignore[attr-defined]
        for card in cards:
            session.add(
                Model(
                    id=card.model, name=card.name, current_version=1, created_at=now, updated_at=now
                )
            )
        session.flush()
        for card in cards:
            session.add(
                CardVersion(
                    model_id=card.model,
                    version=1,
                    content=card_to_dict(card),
                    content_hash="x",
                    source_file="card.yaml",
                    registered_at=now,
                )
            )
        for i in range(episodes_n):
            card = cards[i % channels]
            episode = Episode(
                model_id=card.model,
                state=EpisodeState.OPEN,
                severity="warn",
                worst_severity="warn",
                opened_at=now,
                updated_at=now,
                escalation_step=0,
                revision=0,
            )
            session.add(episode)
            session.flush()
            session.add(
                Finding(
                    model_id=card.model,
                    episode_id=episode.id,
                    key=f"k{i}",
                    kind="input_drift",
                    feature="income",
                    severity="warn",
                    worst_severity="warn",
                    summary="median income fell from 55,000 to 42,000 (PSI 0.31, warn at 0.10)",
                    details={},
                    state="open",
                    clear_runs=0,
                    reopened=0,
                    opened_at=now,
                    last_seen_at=now,
                    last_window_end=now,
                )
            )
            episodes.say(
                session, episode, NotificationKind.EPISODE_ROOT, now=now, key="root",
                channel=card.channel,
            )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=50)
    options = parser.parse_args()
    now = datetime.now(UTC) - timedelta(seconds=1)
    with tempfile.TemporaryDirectory() as folder, FakeSlack() as slack:
        for c in range(options.channels):
            slack.add_channel(f"health-{c:03d}")
        slack.add_user("maria", user_id="U024BE7LH")
        slack.rate_limit(1.0, burst=1)
        engine = db.prepare(f"sqlite:///{Path(folder) / 'handoff.db'}")
        sessions = db.make_sessionmaker(engine)
        _seed(sessions, episodes_n=options.episodes, channels=options.channels, now=now)
        deliverer = Deliverer(
            sessions=sessions, client=make_client(token=TOKEN, base_url=slack.url), holder="bench"
        )
        started = time.monotonic()
        delivered = 0
        while delivered < options.episodes and time.monotonic() - started < 600:
            report = deliverer.deliver(budget=60)
            delivered += report.sent
        took = time.monotonic() - started
        engine.dispose()
        posts = slack.calls("chat.postMessage")
        limited = sum(1 for c in posts if c.status == 429)
        keys = Counter(
            c.params.get("metadata")
            if isinstance(c.params.get("metadata"), str)
            else str(c.params.get("metadata"))
            for c in posts
            if c.status == 200
        )
    per_channel = math.ceil(options.episodes / options.channels)
    limit = max(per_channel - 1, 0) * 1.0
    duplicates = sum(n - 1 for n in keys.values() if n > 1)
    print(f"{options.episodes} root messages across {options.channels} channels")
    ratio = f" ({took / limit:.2f}x the limit)" if limit else ""
    print(f"  delivered {delivered} in {took:.1f} s; pacing limit {limit:.0f} s{ratio}")
    print(f"  429s received: {limited}; duplicate roots: {duplicates}")


if __name__ == "__main__":
    main()
