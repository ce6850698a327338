"""`/model` as people use it: signed slash commands to the running app, answers through the
response URL (ephemeral unless shared), and the App Home."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot.slack import Answers
from tests import signing
from tests.bot.served import (  # noqa: F401 - the fixtures
    BUILDER,
    SECRET,
    STRANGER,
    Served,
    _one_database,
    _served,
    _slack,
    wait_for,
)


def ask(served: Served, text: str, user: str = BUILDER) -> dict[str, Any]:
    """Send `/model <text>`; the answer posted to its response URL."""
    url = served.slack.response_url(channel="credit-model-health", user=user)
    request = signing.slash_command(
        "/model",
        text,
        secret=SECRET,
        user_id=user,
        channel_id=served.root["channel"],
        response_url=url,
    )
    started = time.monotonic()
    status, body = served.send(request)
    acked = time.monotonic() - started
    assert status == 200 and body in (b"", b"{}")
    assert acked < 3
    answers = wait_for(lambda: served.slack.responses(url))
    return dict(answers[0])


def _text(answer: dict[str, Any]) -> str:
    return json.dumps(answer.get("blocks", [])) + str(answer.get("text", ""))


def test_list_shows_every_model_with_its_health(served: Served) -> None:
    answer = ask(served, "list")
    assert answer["response_type"] == "ephemeral"
    assert "credit-risk" in _text(answer) and "critical" in _text(answer)


def test_a_model_shows_its_card_findings_with_thread_links_and_trends(served: Served) -> None:
    text = _text(ask(served, "credit-risk"))
    assert "Rank applications by risk of default." in text
    assert "<@U024BE7LH>" in text
    assert "median utilization rose from" in text
    assert "https://fake.slack.com/archives/" in text  # the finding's thread
    assert "Less reliable in APAC" in text


def test_slow_answers_never_hold_back_the_acks_of_the_requests_behind_them(served: Served) -> None:
    """bolt runs each listener, its ack() included, in its 8-thread pool: answers worked out in
    that pool would leave a 9th request unacknowledged until one of them is done."""
    served.slack.hang("chat.getPermalink", 2.0, times=10)  # each answer waits for its link
    urls = [served.slack.response_url(channel="credit-model-health") for _ in range(10)]

    def acked(url: str) -> float:
        request = signing.slash_command(
            "/model",
            "credit-risk",
            secret=SECRET,
            user_id=BUILDER,
            channel_id=served.root["channel"],
            response_url=url,
        )
        started = time.monotonic()
        status, _ = served.send(request)
        assert status == 200
        return time.monotonic() - started

    with ThreadPoolExecutor(max_workers=len(urls)) as senders:
        acks = list(senders.map(acked, urls))
    assert max(acks) < 1.0, acks
    for url in urls:
        (answer,) = wait_for(lambda url=url: served.slack.responses(url), timeout=30)
        assert "Rank applications by risk of default." in _text(answer)


def test_an_answer_that_fails_says_so_with_an_id_for_the_log() -> None:
    said: list[dict[str, Any]] = []
    answers = Answers(workers=1)

    def fail() -> None:
        raise RuntimeError("the database went away")

    answers(fail, lambda **answer: said.append(answer))
    answers.stop()
    (apology,) = said
    assert apology["text"].startswith("Something went wrong on handoff's side (id ")
    assert apology["response_type"] == "ephemeral"


def test_share_answers_in_the_channel(served: Served) -> None:
    assert ask(served, "list share")["response_type"] == "in_channel"


def test_limits_and_findings(served: Served) -> None:
    limits = _text(ask(served, "limits credit-risk"))
    assert "Do not lean on it for" in limits and "region in APAC" in limits
    findings = _text(ask(served, "findings credit-risk"))
    assert "Open findings of Credit risk score" in findings and "thread" in findings


@pytest.mark.parametrize(
    ("text", "hint"),
    [("credit-risc", "Did you mean `credit-risk`"), ("limits credit_risk", "`credit-risk`")],
)
def test_an_unknown_model_gets_the_closest_names(served: Served, text: str, hint: str) -> None:
    assert hint in _text(ask(served, text))


def test_an_unknown_subcommand_gets_help_towards_the_right_one(served: Served) -> None:
    text = _text(ask(served, "lits"))
    assert "Did you mean" in text and "`list`" in text


def test_help(served: Served) -> None:
    text = _text(ask(served, ""))
    assert "/model trust <model>" in text


def test_check_is_for_builders_and_admins(served: Served) -> None:
    refused = _text(ask(served, "check credit-risk", user=STRANGER))
    assert "Only the builders of Credit risk score and handoff admins" in refused


def test_a_builders_check_answers_in_a_thread_when_done(served: Served) -> None:
    started = _text(ask(served, "check credit-risk"))
    assert "Checking Credit risk score now" in started

    def answered() -> list[dict[str, Any]]:
        for message in served.slack.messages("credit-model-health"):
            if "Checking `credit-risk` now" in message["text"]:
                return served.slack.thread("credit-model-health", message["ts"])[1:]
        return []

    (result,) = wait_for(answered, timeout=60)
    assert result["text"].startswith("Checked `credit-risk`") or "could not run" in result["text"]


def test_the_app_home_shows_a_builders_models_and_others_every_model(served: Served) -> None:
    served.send(signing.event_callback(signing.app_home_opened(BUILDER), secret=SECRET))
    mine = json.dumps(wait_for(lambda: served.slack.home(BUILDER)))
    assert "Your models" in mine and "you are a builder" in mine and "next check-in" in mine
    assert "https://fake.slack.com/archives/" in mine
    served.send(signing.event_callback(signing.app_home_opened(STRANGER), secret=SECRET))
    theirs = json.dumps(wait_for(lambda: served.slack.home(STRANGER)))
    assert "Models watched by handoff" in theirs and "handoff register" in theirs


def test_trust_answers_whether_to_rely_on_the_scores_and_why(served: Served) -> None:
    answer = ask(served, "trust credit-risk")
    text = _text(answer)
    assert answer["response_type"] == "ephemeral"
    assert "Can I trust Credit risk score?" in text
    assert "Do not rely on it" in text  # a critical drift is open
    assert "*Why*" in text and "<@U024BE7LH>" in text


def test_trust_for_a_score_in_a_segment_names_its_limitation_and_what_the_score_meant(
    served: Served,
) -> None:
    text = _text(ask(served, "trust credit-risk 0.72 region=APAC"))
    assert "a score of 0.72 for region=APAC" in text
    assert "What a score of 0.72 has meant" in text
    assert "Less reliable in APAC" in text


@pytest.mark.parametrize("words", ["banana", "0.72 0.8", "1.7", "region="])
def test_a_trust_question_it_cannot_read_says_how_to_ask(served: Served, words: str) -> None:
    assert "/model trust credit-risk 0.72 region=APAC" in _text(
        ask(served, f"trust credit-risk {words}")
    )
