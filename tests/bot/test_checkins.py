"""Weekly check-ins through the real parts: checks run on replayed days, the check-in sweep,
delivery to the fake Slack over HTTP (the chart through the upload v2 flow), and the buttons and
modals as signed requests to the app on a running server."""

from __future__ import annotations

import json
import shutil
import struct
import time as time_module
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.ids import ActionId, BlockId, CallbackId, InputId
from jobs import checkins
from jobs.checks import run_check
from jobs.registration import fit_for, register_card
from jobs.simulation import slow_drift
from store import db
from store.cards import load_card, parse_card
from store.models import CardVersion, CheckIn, Episode, Finding, Notification
from tests import signing
from tests.bot.served import SECRET, connected, serving, wait_for
from tests.replays import START, card_yaml, write_days
from tests.slack_api import FakeSlack

BUILDER, NEWBIE, LEAD, STRANGER = "U024BE7LH", "U0NEWBIE", "U0ML1EAD", "U0STRANGER"
CHECKED_DAYS = range(14, 28)
MONDAY = datetime.combine(START + timedelta(days=28), time(11), tzinfo=UTC)  # 2 Feb 2026, 11:00


def _content(**card: object) -> dict[str, Any]:
    content: dict[str, Any] = card_yaml()
    content.update(
        builders=[BUILDER],
        business_channel="#underwriting",
        context={"trained_on": {"from": "2025-01-01", "to": "2025-06-30"}},
        escalation={"acknowledge_within": "4h", "ladder": ["builders", LEAD]},
        **card,
    )
    content["schedule"] = {"check": "0 6 * * *", "check_in": "0 10 * * mon", "timezone": "UTC"}
    return content


@pytest.fixture(scope="module", name="checked")
def _checked(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """A database with the model registered and two weeks of daily checks (a slow drift from
    day 16), built once: each test gets a copy."""
    folder = tmp_path_factory.mktemp("checked")
    write_days(folder / "data", slow_drift(16, per_week=1.5), days=28, rows=400, seed=3)
    path = folder / "card.yaml"
    path.write_text(yaml.safe_dump(_content()))
    database = folder / "handoff.db"
    shutil.copy(sqlite_template, database)
    engine = db.make_engine(f"sqlite:///{database}")
    sessions = db.make_sessionmaker(engine)
    card = load_card(path)
    registered = datetime.combine(START, time(0), tzinfo=UTC)
    fitted = fit_for(card, file=str(path), base_dir=folder, environ={})
    with sessions.begin() as session:
        register_card(session=session, card=card, source_file=path, now=registered, fitted=fitted)
    for day in CHECKED_DAYS:
        end = datetime.combine(START + timedelta(days=day + 1), time(0), tzinfo=UTC)
        run_check(sessions=sessions, model_id="credit-risk", window_end=end, now=end, environ={})
    with sessions.begin() as session:  # the drift was told and handled: only check-ins remain
        for row in session.scalars(select(Notification)):
            row.status = "sent"
        for episode in session.scalars(select(Episode)):
            episode.state, episode.resolved_by, episode.resolved_at = "resolved", BUILDER, end
    engine.dispose()
    return database


@pytest.fixture(name="database_url")
def _database_url(checked: Path, tmp_path: Path) -> str:
    path = tmp_path / "handoff.db"
    shutil.copy(checked, path)
    return f"sqlite:///{path}"


@pytest.fixture(name="slack")
def _slack(slack_api: FakeSlack) -> FakeSlack:
    slack_api.add_user("maria", user_id=BUILDER, email="maria@example.com")
    slack_api.add_user("newbie", user_id=NEWBIE)
    slack_api.add_user("lead", user_id=LEAD)
    slack_api.add_user("stranger", user_id=STRANGER)
    slack_api.add_channel("credit-model-health", members=[BUILDER, STRANGER])
    slack_api.add_channel("underwriting")
    return slack_api


class Desk:
    """The app served against the fake Slack, with the helpers a check-in test needs."""

    def __init__(self, url: str, slack: FakeSlack, sessions: sessionmaker[Session], link: Any):
        self.url, self.slack, self.sessions, self.link = url, slack, sessions, link

    def sweep(self, now: datetime = MONDAY) -> list[int]:
        made = checkins.sweep(self.sessions, now=now, roster=self.link.directory.gone)
        self.deliver()
        return made

    def deliver(self, timeout: float = 30) -> None:
        """Deliver until nothing is left (a kick after a click may hold some rows meanwhile)."""
        deadline = time_module.monotonic() + timeout
        while True:
            self.link.deliverer.deliver(budget=10)
            with self.sessions() as session:
                left = session.scalars(
                    select(Notification).where(Notification.status.in_(["pending", "sending"]))
                ).all()
            if not left:
                return
            assert time_module.monotonic() < deadline, [(n.kind, n.last_error) for n in left]
            time_module.sleep(0.2)

    def check_in(self) -> dict[str, Any]:
        posted = [
            m for m in self.slack.messages("credit-model-health") if "Weekly check-in" in m["text"]
        ]
        return posted[-1]

    def thread(self) -> list[dict[str, Any]]:
        return self.slack.thread("credit-model-health", self.check_in()["ts"])[1:]

    def check_in_id(self) -> int:
        with self.sessions() as session:
            return session.scalars(select(CheckIn.id).order_by(CheckIn.id.desc())).first() or 0

    def send(self, request: signing.SignedRequest) -> tuple[int, bytes]:
        status, _headers, body = signing.post(self.url, request.body, request.headers)
        return status, body

    def click(self, action: str, user: str = BUILDER, **extra: Any) -> str:
        root = self.check_in()
        response_url = self.slack.response_url(channel="credit-model-health", user=user)
        status, _ = self.send(
            signing.block_actions(
                action,
                str(self.check_in_id()),
                secret=SECRET,
                user_id=user,
                channel_id=self.slack.channel_id("credit-model-health"),
                message={"type": "message", "ts": root["ts"], "text": root["text"]},
                response_url=response_url,
                **extra,
            )
        )
        assert status == 200
        return response_url

    def opened_view(self) -> dict[str, Any]:
        opened = wait_for(lambda: self.slack.calls("views.open"))
        view = opened[-1].params["view"]
        return json.loads(view) if isinstance(view, str) else view

    def submit(self, callback: str, values: dict[str, Any], user: str = BUILDER) -> Any:
        status, body = self.send(
            signing.view_submission(
                callback,
                values,
                secret=SECRET,
                user_id=user,
                private_metadata=str(self.check_in_id()),
            )
        )
        assert status == 200
        return json.loads(body) if body.strip() else {}


@pytest.fixture(name="desk")
def _desk(sessions: sessionmaker[Session], slack: FakeSlack) -> Iterator[Desk]:
    link = connected(sessions, slack)
    with serving(link) as url:
        yield Desk(url, slack, sessions, link)


def _buttons(message: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def _png_size(content: bytes) -> tuple[int, int]:
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", content[16:24])
    return width, height


def test_the_check_in_shows_the_week_the_card_and_asks_with_three_buttons(desk: Desk) -> None:
    assert len(desk.sweep()) == 1
    message = desk.check_in()
    text = json.dumps(message["blocks"])
    assert f"<@{BUILDER}>" in text  # the builders are tagged
    assert "The week in numbers" in text and "week before" in text
    assert "accuracy" in text and "drift of" in text and "PSI" in text
    assert "Findings this week" in text and "opened" in text
    assert "Training data ends 30 Jun 2025" in text
    assert "Rank applications by risk of default." in text  # the card itself
    assert "Less reliable in APAC" in text
    assert "Is this still true?" in text
    assert _buttons(message) == [ActionId.STILL_TRUE, ActionId.NEEDS_REVIEW, ActionId.HAND_OVER]
    with desk.sessions() as session:
        check_in = session.scalars(select(CheckIn)).one()
    assert (check_in.period, check_in.slack_ts) == ("2026-W06", message["ts"])


def test_the_chart_is_uploaded_in_the_thread_through_the_upload_v2_flow(desk: Desk) -> None:
    desk.sweep()
    methods = [c.method for c in desk.slack.calls()]
    asked = methods.index("files.getUploadURLExternal")
    assert methods.index("files.completeUploadExternal") > asked
    (chart,) = desk.slack.files
    assert chart.filename == "credit-risk-2026-W06.png" and chart.content is not None
    width, height = _png_size(chart.content)
    assert width > 600 and height > 300
    (reply,) = desk.thread()
    assert reply["files"][0]["id"] == chart.id


def test_a_check_in_is_made_once_a_week_and_a_missed_one_once(desk: Desk) -> None:
    assert len(desk.sweep()) == 1
    assert desk.sweep(MONDAY + timedelta(hours=5)) == []  # the same week: nothing new
    assert desk.sweep(MONDAY + timedelta(days=16)) != []  # down for a week: one, not two
    with desk.sessions() as session:
        assert [c.period for c in session.scalars(select(CheckIn).order_by(CheckIn.id))] == [
            "2026-W06",
            "2026-W08",
        ]


def test_all_still_true_is_recorded_with_who_and_when(desk: Desk) -> None:
    desk.sweep()
    response_url = desk.click(ActionId.STILL_TRUE)
    answer = wait_for(lambda: desk.slack.responses(response_url))
    assert answer[0]["response_type"] == "ephemeral" and "still true" in answer[0]["text"]
    with desk.sessions() as session:
        check_in = session.scalars(select(CheckIn)).one()
    assert (check_in.response, check_in.answered_by) == ("still_true", BUILDER)
    assert check_in.answered_at is not None
    edited = wait_for(lambda: "Confirmed still true by" in json.dumps(desk.check_in()["blocks"]))
    assert edited


def test_a_stranger_cannot_answer(desk: Desk) -> None:
    desk.sweep()
    response_url = desk.click(ActionId.STILL_TRUE, user=STRANGER)
    answer = wait_for(lambda: desk.slack.responses(response_url))
    assert "Only its builders" in answer[0]["text"]
    with desk.sessions() as session:
        assert session.scalars(select(CheckIn)).one().answered_at is None


def _review_values(view: dict[str, Any], **changes: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        value = changes.get(block["block_id"], block["element"].get("initial_value") or "")
        values[block["block_id"]] = {
            block["block_id"]: {"type": "plain_text_input", "value": value}
        }
    return values


def test_needs_review_edits_the_card_into_a_new_version_announced_with_its_yaml(
    desk: Desk,
) -> None:
    desk.sweep()
    desk.click(ActionId.NEEDS_REVIEW, trigger_id=desk.slack.trigger_id(BUILDER))
    view = desk.opened_view()
    assert view["callback_id"] == CallbackId.REVIEW
    limitation = f"{BlockId.LIMITATION}0"
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == [
        BlockId.PROBLEM,
        BlockId.GOOD_OUTCOME,
        BlockId.DECISIONS,
        limitation,
        f"{BlockId.LIMITATION}1",
    ]
    edited = "Less reliable in APAC and LATAM: few applicants there in training."
    added = "Not validated for applicants under 21."
    values = _review_values(
        view, **{limitation: edited, f"{BlockId.LIMITATION}1": added, BlockId.DECISIONS: "None."}
    )
    assert desk.submit(CallbackId.REVIEW, values) == {}
    with desk.sessions() as session:
        newest = session.scalars(select(CardVersion).order_by(CardVersion.version.desc())).first()
        check_in = session.scalars(select(CheckIn)).one()
    assert newest is not None and (newest.version, newest.registered_by) == (2, BUILDER)
    assert [x["text"] for x in newest.content["limitations"]] == [edited, added]
    assert newest.content["limitations"][0]["segment"] == {"column": "region", "in": ["APAC"]}
    assert check_in.response == "review"
    desk.deliver()
    said = wait_for(
        lambda: [
            m
            for m in desk.thread()
            if "changed the card" in m["text"] + json.dumps(m.get("blocks", []))
        ]
    )
    assert "version 2" in json.dumps(said[0]["blocks"]) and "limitation changed" in json.dumps(
        said[0]["blocks"]
    )
    (yaml_file,) = [f for f in desk.slack.files if f.filename.endswith(".yaml")]
    assert yaml_file.content is not None
    card = parse_card(yaml_file.content.decode())
    assert [x.text for x in card.limitations] == [edited, added]
    assert card.intent.decisions == "None."


def test_a_review_that_empties_the_problem_is_refused_under_that_input(desk: Desk) -> None:
    desk.sweep()
    desk.click(ActionId.NEEDS_REVIEW, trigger_id=desk.slack.trigger_id(BUILDER))
    values = _review_values(desk.opened_view(), **{BlockId.PROBLEM: "  "})
    answer = desk.submit(CallbackId.REVIEW, values)
    assert answer["response_action"] == "errors" and BlockId.PROBLEM in answer["errors"]
    with desk.sessions() as session:
        assert session.scalars(select(CardVersion)).all()[-1].version == 1


def test_hand_over_makes_a_new_version_and_welcomes_the_new_builders(desk: Desk) -> None:
    desk.sweep()
    desk.click(ActionId.HAND_OVER, trigger_id=desk.slack.trigger_id(BUILDER))
    view = desk.opened_view()
    assert view["callback_id"] == CallbackId.HAND_OVER
    (picker,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert picker["element"]["type"] == "multi_users_select"
    assert picker["element"]["initial_users"] == [BUILDER]
    values = {
        BlockId.BUILDERS: {
            InputId.BUILDERS: {"type": "multi_users_select", "selected_users": [NEWBIE]}
        }
    }
    assert desk.submit(CallbackId.HAND_OVER, values) == {}
    with desk.sessions() as session:
        newest = session.scalars(select(CardVersion).order_by(CardVersion.version.desc())).first()
        check_in = session.scalars(select(CheckIn)).one()
    assert newest is not None and newest.content["builders"] == [NEWBIE]
    assert check_in.response == "handed_over"
    desk.deliver()
    welcome = wait_for(
        lambda: [m for m in desk.thread() if "Welcome" in json.dumps(m.get("blocks", []))]
    )
    blocks = json.dumps(welcome[0]["blocks"])
    assert f"<@{NEWBIE}>" in blocks and "Rank applications by risk of default." in blocks
    assert welcome[0] in desk.slack.messages("credit-model-health")  # broadcast to the channel


def _ownership(sessions: sessionmaker[Session]) -> list[Finding]:
    with sessions() as session:
        return list(session.scalars(select(Finding).where(Finding.kind == "ownership")))


def test_two_unanswered_check_ins_open_an_ownership_finding_an_answer_ends_it(
    desk: Desk,
) -> None:
    for week in range(3):
        desk.sweep(MONDAY + timedelta(days=7 * week))
    (finding,) = _ownership(desk.sessions)
    assert (finding.severity, finding.state) == ("warn", "open")
    assert "Nobody answered the last 2 weekly check-ins (2026-W06, 2026-W07)" in finding.summary
    roots = [
        m
        for m in desk.slack.messages("credit-model-health")
        if "Nobody answered" in json.dumps(m["blocks"])
    ]
    assert roots and f"<@{BUILDER}>" in json.dumps(roots[0]["blocks"])
    assert finding.episode_id is not None
    desk.click(ActionId.STILL_TRUE)
    wait_for(lambda: _ownership(desk.sessions)[0].state == "recovered")


def test_every_builder_gone_from_slack_opens_a_critical_ownership_finding(
    sessions: sessionmaker[Session], slack_api: FakeSlack
) -> None:
    slack_api.add_user("maria", user_id=BUILDER, email="maria@example.com", deleted=True)
    slack_api.add_user("lead", user_id=LEAD)
    slack_api.add_channel("credit-model-health")
    slack_api.add_channel("underwriting")
    link = connected(sessions, slack_api)
    try:
        desk = Desk("", slack_api, sessions, link)
        desk.sweep()
    finally:
        link.stop()
    (finding,) = _ownership(sessions)
    assert (finding.severity, finding.details["cause"]) == ("critical", "gone")
    assert "Every builder of this model is gone from Slack" in finding.summary
    with sessions() as session:
        assert session.scalars(select(CheckIn)).one().ownerless


def test_the_business_channel_gets_a_plain_weekly_digest(desk: Desk) -> None:
    desk.sweep()
    (digest,) = desk.slack.messages("underwriting")
    text = json.dumps(digest["blocks"])
    assert "Can this week's scores be trusted?" in text
    assert "No: do not act on the scores alone" in text  # a critical drift is open this week
    assert "*Why*" in text and "accuracy" in text.lower()
    assert f"<@{BUILDER}>" in text and "/model trust credit-risk" in text
    assert "week to Sun 01 Feb" in text
