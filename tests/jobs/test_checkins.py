"""When check-ins are due (the card's cron in its time zone), and the week they look back on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.checkins import due, period_of, week_end
from store.cards import Card, load_card

CARD = "examples/cards/credit-risk.yaml"  # check_in "0 10 * * mon", Europe/Berlin


def _card() -> Card:
    return load_card(CARD)


def test_a_check_in_is_due_at_ten_in_berlin_and_belongs_to_its_iso_week() -> None:
    monday = datetime(2026, 11, 30, 12, tzinfo=UTC)
    fire = due(_card(), now=monday, since=monday - timedelta(days=30))
    assert fire == datetime(2026, 11, 30, 9, tzinfo=UTC)  # 10:00 in Berlin (CET)
    assert period_of(fire, "Europe/Berlin") == "2026-W49"
    assert due(
        _card(), now=datetime(2026, 11, 30, 8, 59, tzinfo=UTC), since=monday - timedelta(days=30)
    ) == datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_nothing_is_due_before_the_model_was_registered_and_a_missed_one_is_the_newest() -> None:
    monday = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert due(_card(), now=monday, since=monday - timedelta(hours=1)) is None
    later = due(_card(), now=monday + timedelta(days=16), since=monday - timedelta(days=30))
    assert later == datetime(2026, 12, 14, 9, tzinfo=UTC)  # two missed: only the newest


def test_the_week_is_the_seven_whole_days_before_the_check_in_day_in_its_time_zone() -> None:
    fire = datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert week_end(fire, _card()) == datetime(2026, 11, 29, 23, tzinfo=UTC)  # Berlin midnight
