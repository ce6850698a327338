"""The fake Slack answers the real slack_sdk client as Slack does; signed requests verify."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests import signing
from tests.slack_api import FakeSlack
from tests.slack_fixtures import BOT_TOKEN

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(action_id: str, text: str = "Ack", value: str = "1") -> dict[str, Any]:
    text_object = {"type": "plain_text", "text": text}
    return {"type": "button", "action_id": action_id, "text": text_object, "value": value}


def modal(title: str = "Snooze", **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": [], **extra}


def slack_error(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The body of the SlackApiError that ``call`` raises."""
    with pytest.raises(SlackApiError) as raised:
        call(*args, **kwargs)
    data: dict[str, Any] = raised.value.response.data
    return data


# auth, methods, scopes


def test_auth_test_names_the_bot_and_tokens_are_checked(slack_api: FakeSlack) -> None:
    answer = WebClient(token=BOT_TOKEN, base_url=slack_api.url).auth_test()
    assert (answer["user_id"], answer["bot_id"], answer["team_id"]) == ("U0BOT", "B0BOT", "T0TEAM")
    slack_api.revoke_token("xoxb-revoked")
    slack_api.deactivate_token("xoxb-gone")
    for token, error in [
        (None, "not_authed"),
        ("xoxp-a-user-token", "invalid_auth"),
        ("xoxb-revoked", "invalid_auth"),
        ("xoxb-gone", "account_inactive"),
    ]:
        client = WebClient(token=token, base_url=slack_api.url)
        assert slack_error(client.auth_test)["error"] == error
    assert slack_api.calls("auth.test")[0].headers["authorization"] == f"Bearer {BOT_TOKEN}"


def test_unknown_methods_and_missing_scopes_answer_like_slack(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    assert slack_error(slack_client.api_call, "chat.scheduleMessage")["error"] == "unknown_method"
    alerts = slack_api.add_channel("model-alerts")
    slack_api.set_scopes({"channels:read"})
    answer = slack_error(slack_client.chat_postMessage, channel=alerts, text="drift")
    assert answer == {
        "ok": False,
        "error": "missing_scope",
        "needed": "chat:write",
        "provided": "channels:read",
    }
    assert [call.error for call in slack_api.calls()] == ["unknown_method", "missing_scope"]


# messages and threads


def test_post_thread_broadcast_and_update_keep_slacks_thread_fields(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    alerts = slack_api.add_channel("model-alerts")
    root = slack_client.chat_postMessage(channel=alerts, text="PSI 0.31 on score")
    reply = slack_client.chat_postMessage(
        channel=alerts, text="still drifting", thread_ts=root["ts"]
    )
    loud = slack_client.chat_postMessage(
        channel=alerts, text="escalated", thread_ts=root["ts"], reply_broadcast=True
    )
    assert root["channel"] == alerts
    assert root["ts"] < reply["ts"] < loud["ts"]
    edited = slack_client.chat_update(channel=alerts, ts=root["ts"], text="Resolved: PSI 0.08")
    assert edited["ts"] == root["ts"]

    channel = slack_api.messages(alerts)
    assert [m["text"] for m in channel] == ["Resolved: PSI 0.08", "escalated"]
    assert channel[0]["reply_count"] == 2
    assert channel[0]["latest_reply"] == loud["ts"]
    assert channel[0]["thread_ts"] == root["ts"]
    assert "edited" in channel[0]
    assert channel[1]["subtype"] == "thread_broadcast"
    thread = slack_api.thread(alerts, root["ts"])
    assert [m["ts"] for m in thread] == [root["ts"], reply["ts"], loud["ts"]]
    replies = slack_client.conversations_replies(channel=alerts, ts=reply["ts"])
    assert [m["ts"] for m in replies["messages"]] == [m["ts"] for m in thread]
    assert slack_api.counts() == {alerts: 3}
    missing = slack_error(slack_client.chat_postMessage, channel=alerts, text="x", thread_ts="1.2")
    assert missing["error"] == "thread_not_found"


def test_metadata_comes_back_from_history_only_when_asked(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    alerts = slack_api.add_channel("model-alerts")
    metadata = {"event_type": "finding_posted", "event_payload": {"finding_id": 42}}
    slack_client.chat_postMessage(channel=alerts, text="drift", metadata=metadata)
    with_metadata = slack_client.conversations_history(channel=alerts, include_all_metadata=True)
    assert with_metadata["messages"][0]["metadata"] == metadata
    plain = slack_client.conversations_history(channel=alerts)
    assert "metadata" not in plain["messages"][0]


def test_history_is_newest_first_and_pages_by_cursor_and_time(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    alerts = slack_api.add_channel("model-alerts")
    sent = [slack_client.chat_postMessage(channel=alerts, text=f"m{i}")["ts"] for i in range(5)]
    first = slack_client.conversations_history(channel=alerts, limit=2)
    assert [m["ts"] for m in first["messages"]] == [sent[4], sent[3]]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = slack_client.conversations_history(channel=alerts, limit=2, cursor=cursor)
    assert [m["ts"] for m in second["messages"]] == [sent[2], sent[1]]
    window = slack_client.conversations_history(channel=alerts, oldest=sent[1], latest=sent[3])
    assert [m["ts"] for m in window["messages"]] == [sent[2]]
    one = slack_client.conversations_history(
        channel=alerts, oldest=sent[0], inclusive=True, limit=1
    )
    assert [m["text"] for m in one["messages"]] == ["m4"]


def test_channel_names_post_but_update_needs_the_id(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    alerts = slack_api.add_channel("model-alerts")
    by_hash = slack_client.chat_postMessage(channel="#model-alerts", text="one")
    by_name = slack_client.chat_postMessage(channel="model-alerts", text="two")
    assert by_hash["channel"] == by_name["channel"] == alerts
    update = slack_client.chat_update
    assert slack_error(update, channel="#model-alerts", ts=by_hash["ts"], text="x") == {
        "ok": False,
        "error": "channel_not_found",
    }
    assert slack_error(update, channel=alerts, ts="1.000001", text="x")["error"] == (
        "message_not_found"
    )
    theirs = slack_api.add_message(alerts, "I posted this", user="U0ALICE")
    assert slack_error(update, channel=alerts, ts=theirs, text="x")["error"] == (
        "cant_update_message"
    )


def test_posting_rules_for_membership_privacy_and_archive(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    outside = slack_api.add_channel("ml-general", bot_member=False)
    secret = slack_api.add_channel("risk-team", private=True, bot_member=False)
    old = slack_api.add_channel("old-alerts", archived=True)
    post = slack_client.chat_postMessage
    assert secret.startswith("G")
    assert slack_error(post, channel=outside, text="x")["error"] == "not_in_channel"
    assert slack_error(post, channel=secret, text="x")["error"] == "channel_not_found"
    assert slack_error(post, channel=old, text="x")["error"] == "is_archived"
    assert slack_error(post, channel="#nowhere", text="x")["error"] == "channel_not_found"
    slack_api.set_scopes(slack_api.scopes | {"chat:write.public"})
    assert post(channel=outside, text="allowed by chat:write.public")["ok"]
    alice = slack_api.add_user("alice")
    direct = post(channel=alice, text="you own churn-v3")  # a user ID posts in the DM
    assert direct["channel"].startswith("D")
    assert [m["text"] for m in slack_api.messages(alice)] == ["you own churn-v3"]


def test_join_public_channels_only(slack_api: FakeSlack, slack_client: WebClient) -> None:
    outside = slack_api.add_channel("ml-general", bot_member=False)
    secret = slack_api.add_channel("risk-team", private=True)
    old = slack_api.add_channel("old-alerts", archived=True, bot_member=False)
    joined = slack_client.conversations_join(channel=outside)
    assert joined["channel"]["is_member"] is True
    assert slack_client.chat_postMessage(channel=outside, text="hello")["ok"]
    assert slack_client.conversations_join(channel=outside)["warning"] == "already_in_channel"
    join = slack_client.conversations_join
    assert slack_error(join, channel=secret)["error"] == "method_not_supported_for_channel_type"
    assert slack_error(join, channel=old)["error"] == "is_archived"
    assert "U0BOT" in slack_client.conversations_members(channel=outside)["members"]


def test_conversations_list_pages_by_cursor(slack_api: FakeSlack, slack_client: WebClient) -> None:
    for i in range(450):
        slack_api.add_channel(f"model-{i:03d}", bot_member=False)
    sizes, names, cursors = [], [], []
    for page in slack_client.conversations_list(limit=200):  # slack_sdk follows next_cursor
        sizes.append(len(page["channels"]))
        names += [channel["name"] for channel in page["channels"]]
        cursors.append(page["response_metadata"]["next_cursor"])
    assert sizes == [200, 200, 50]
    assert names == [f"model-{i:03d}" for i in range(450)]
    assert cursors[-1] == ""
    assert len(slack_api.calls("conversations.list")) == 3


def test_conversations_list_filters_types_and_archived(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    slack_api.add_channel("public")
    slack_api.add_channel("old", archived=True)
    slack_api.add_channel("mine", private=True)
    slack_api.add_channel("not-mine", private=True, bot_member=False)
    listed = slack_client.conversations_list(
        types="public_channel,private_channel", exclude_archived=True
    )
    assert sorted(c["name"] for c in listed["channels"]) == ["mine", "public"]
    info = slack_client.conversations_info(channel=slack_api.channel_id("mine"))
    assert info["channel"]["is_private"] is True


def test_users_by_email_and_id_including_deactivated(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    alice = slack_api.add_user("alice", email="alice@example.com", tz="Europe/Paris")
    bob = slack_api.add_user("bob", email="bob@example.com", deleted=True)
    found = slack_client.users_lookupByEmail(email="Alice@Example.com")
    assert (found["user"]["id"], found["user"]["tz"]) == (alice, "Europe/Paris")
    lookup = slack_client.users_lookupByEmail
    assert slack_error(lookup, email="carol@example.com")["error"] == "users_not_found"
    assert slack_client.users_info(user=bob)["user"]["deleted"] is True
    assert slack_error(slack_client.users_info, user="U0NOBODY")["error"] == "user_not_found"
    members = [m["id"] for page in slack_client.users_list(limit=2) for m in page["members"]]
    assert members == ["U0BOT", alice, bob]


def test_ephemeral_messages_and_permalinks(slack_api: FakeSlack, slack_client: WebClient) -> None:
    alice = slack_api.add_user("alice")
    alerts = slack_api.add_channel("model-alerts", members=[alice])
    slack_client.chat_postEphemeral(channel=alerts, user=alice, text="only you")
    assert [e["text"] for e in slack_api.ephemerals(alerts, alice)] == ["only you"]
    assert slack_api.messages(alerts) == []
    ephemeral = slack_client.chat_postEphemeral
    assert slack_error(ephemeral, channel=alerts, user="U0OUT", text="x")["error"] == (
        "user_not_in_channel"
    )
    posted = slack_client.chat_postMessage(channel=alerts, text="drift")
    link = slack_client.chat_getPermalink(channel=alerts, message_ts=posted["ts"])["permalink"]
    assert link == f"https://fake.slack.com/archives/{alerts}/p{posted['ts'].replace('.', '')}"


def test_deleting_a_root_with_replies_leaves_a_tombstone(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    alerts = slack_api.add_channel("model-alerts")
    root = slack_client.chat_postMessage(channel=alerts, text="root")
    slack_client.chat_postMessage(channel=alerts, text="reply", thread_ts=root["ts"])
    lone = slack_client.chat_postMessage(channel=alerts, text="lone")
    slack_client.chat_delete(channel=alerts, ts=root["ts"])
    slack_client.chat_delete(channel=alerts, ts=lone["ts"])
    assert [m.get("subtype") for m in slack_api.messages(alerts)] == ["tombstone"]


# Block Kit limits


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([{"type": "divider"}] * 51, "no more than 50 items allowed [json-pointer:/blocks]"),
        (
            [section("x" * 3001)],
            "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
            "no more than 10 items allowed [json-pointer:/blocks/0/fields]",
        ),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            [{"type": "actions", "elements": [button("ack", text="b" * 76)]}],
            "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
        ),
        (
            [{"type": "actions", "elements": [button(f"a{i}") for i in range(26)]}],
            "no more than 25 items allowed [json-pointer:/blocks/0/elements]",
        ),
        (
            [section("a", accessory=button("ack")), section("b", accessory=button("ack"))],
            "duplicate action_id: ack [json-pointer:/blocks/1/accessory/action_id]",
        ),
        (
            [{"type": "section", "text": {"type": "markdown", "text": "x"}}],
            "must be one of plain_text, mrkdwn [json-pointer:/blocks/0/text/type]",
        ),
    ],
    ids=["51-blocks", "section-3001", "11-fields", "header-151", "button-76", "26-elements",
         "duplicate-action-id", "text-type"],
)  # fmt: skip
def test_block_limits_answer_invalid_blocks(
    slack_api: FakeSlack, slack_client: WebClient, blocks: list[dict[str, Any]], error: str
) -> None:
    alerts = slack_api.add_channel("model-alerts")
    answer = slack_error(slack_client.chat_postMessage, channel=alerts, text="t", blocks=blocks)
    assert answer["error"] == "invalid_blocks"
    assert answer["errors"] == [error]
    assert answer["response_metadata"]["messages"] == [f"[ERROR] {error}"]
    assert slack_api.messages(alerts) == []


def test_text_checks_and_the_fallback_warning(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    alerts = slack_api.add_channel("model-alerts")
    post = slack_client.chat_postMessage
    with pytest.warns(UserWarning, match="top-level `text`"):  # slack_sdk warns before sending
        assert slack_error(post, channel=alerts, text="")["error"] == "no_text"
    assert slack_error(post, channel=alerts, text="x" * 40_001)["error"] == "msg_too_long"
    post(channel=alerts, text="fallback", blocks=[section("drift")])
    assert slack_api.warnings == []
    with pytest.warns(UserWarning, match="top-level `text`"):  # slack_sdk warns as well
        post(channel=alerts, blocks=[section("drift")])
    assert slack_api.warnings == [
        f"chat.postMessage: blocks without a top-level text fallback in {alerts}"
    ]


def test_form_bodies_are_decoded_like_json_ones(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    alerts = slack_api.add_channel("model-alerts")
    blocks = [section("drift")]
    params = {"channel": alerts, "text": "t", "blocks": json.dumps(blocks)}
    slack_client.api_call("chat.postMessage", params=params)
    call = slack_api.calls("chat.postMessage")[0]
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.params["blocks"] == blocks
    assert slack_api.messages(alerts)[0]["blocks"] == blocks
    broken = {"channel": alerts, "text": "t", "blocks": "[{not json"}
    answer = slack_error(slack_client.api_call, "chat.postMessage", params=broken)
    assert answer["error"] == "invalid_blocks_format"


# views


def test_views_open_needs_a_fresh_unused_trigger(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    trigger = slack_api.trigger_id("U0ALICE")
    opened = slack_client.views_open(trigger_id=trigger, view=modal(callback_id="snooze"))
    assert opened["view"]["id"].startswith("V")
    assert slack_api.views[0]["callback_id"] == "snooze"
    open_view = slack_client.views_open
    assert slack_error(open_view, trigger_id=trigger, view=modal())["error"] == (
        "exchanged_trigger_id"
    )
    stale = slack_api.trigger_id("U0ALICE", age=4)
    assert slack_error(open_view, trigger_id=stale, view=modal())["error"] == "expired_trigger_id"
    assert slack_error(open_view, trigger_id="1.2.3", view=modal())["error"] == (
        "invalid_trigger_id"
    )


@pytest.mark.parametrize(
    ("view", "message"),
    [
        (modal("t" * 25), "must be less than 25 characters [json-pointer:/view/title/text]"),
        (
            modal(private_metadata="m" * 3001),
            "must be less than 3001 characters [json-pointer:/view/private_metadata]",
        ),
        (
            modal(blocks=[{"type": "divider"}] * 101),
            "no more than 100 items allowed [json-pointer:/view/blocks]",
        ),
    ],
    ids=["title-25", "metadata-3001", "101-blocks"],
)
def test_view_limits_answer_invalid_arguments(
    slack_api: FakeSlack, slack_client: WebClient, view: dict[str, Any], message: str
) -> None:
    answer = slack_error(slack_client.views_open, trigger_id=slack_api.trigger_id(), view=view)
    assert answer["error"] == "invalid_arguments"
    assert answer["response_metadata"]["messages"] == [f"[ERROR] {message}"]


def test_views_update_push_and_publish(slack_api: FakeSlack, slack_client: WebClient) -> None:
    loading = modal("Loading", external_id="snooze-42")
    opened = slack_client.views_open(trigger_id=slack_api.trigger_id(), view=loading)["view"]
    filled = slack_client.views_update(
        external_id="snooze-42", hash=opened["hash"], view=modal("Snooze", external_id="snooze-42")
    )["view"]
    assert (filled["id"], filled["title"]["text"]) == (opened["id"], "Snooze")
    stale_hash = slack_error(
        slack_client.views_update, view_id=opened["id"], hash=opened["hash"], view=modal()
    )
    assert stale_hash["error"] == "hash_conflict"
    inside = slack_api.trigger_id(view_id=opened["id"])
    pushed = slack_client.views_push(trigger_id=inside, view=modal("Confirm"))["view"]
    assert (pushed["root_view_id"], pushed["previous_view_id"]) == (opened["id"], opened["id"])

    alice = slack_api.add_user("alice")
    home = {"type": "home", "blocks": [section("3 open findings")]}
    first = slack_client.views_publish(user_id=alice, view=home)["view"]
    again = slack_client.views_publish(user_id=alice, view={**home, "blocks": []})["view"]
    assert first["id"] == again["id"] and first["hash"] != again["hash"]
    assert slack_api.home(alice) == again
    assert slack_api.home("U0OTHER") is None


# files and response URLs


def test_files_upload_v2_end_to_end(slack_api: FakeSlack, slack_client: WebClient) -> None:
    alerts = slack_api.add_channel("model-alerts")
    root = slack_client.chat_postMessage(channel=alerts, text="PSI 0.31")
    uploaded = slack_client.files_upload_v2(
        channel=alerts,
        thread_ts=root["ts"],
        content=PNG,
        filename="drift.png",
        title="Score drift",
        initial_comment="Eight weeks of PSI",
    )
    (file,) = slack_api.files
    assert uploaded["file"]["id"] == file.id
    assert file.content is not None and file.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert (file.title, file.mimetype) == ("Score drift", "image/png")
    reply = slack_api.thread(alerts, root["ts"])[-1]
    assert reply["text"] == "Eight weeks of PSI"
    assert reply["files"][0]["id"] == file.id
    assert [c.method for c in slack_api.calls()] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]


def test_response_urls_record_apply_and_stop_after_five(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    alice = slack_api.add_user("alice")
    alerts = slack_api.add_channel("model-alerts", members=[alice])
    root = slack_client.chat_postMessage(channel=alerts, text="PSI 0.31")
    url = slack_api.response_url(channel=alerts, user=alice, message_ts=root["ts"])
    respond = WebhookClient(url)
    assert respond.send(text="Snoozed for you").body == "ok"
    assert respond.send(text="Acknowledged by alice", replace_original=True).status_code == 200
    assert respond.send(text="Escalated", response_type="in_channel").status_code == 200
    assert [e["text"] for e in slack_api.ephemerals(alerts, alice)] == ["Snoozed for you"]
    assert [m["text"] for m in slack_api.messages(alerts)] == ["Acknowledged by alice", "Escalated"]
    assert respond.send_dict({}).status_code == 400  # no_text: refused, not counted
    for _ in range(2):
        assert respond.send(text="again").status_code == 200
    sixth = respond.send(text="one too many")
    assert (sixth.status_code, sixth.body) == (404, "used_url")
    assert len(slack_api.responses(url)) == 5
    assert slack_api.responses(url)[1]["replace_original"] is True


def test_triggers_and_response_urls_expire_by_the_clock() -> None:
    now = [1_800_000_000.0]
    with FakeSlack(clock=lambda: now[0]) as slack:
        client = WebClient(token=BOT_TOKEN, base_url=slack.url)
        trigger, url = slack.trigger_id(), slack.response_url()
        now[0] += 3.5
        assert slack_error(client.views_open, trigger_id=trigger, view=modal())["error"] == (
            "expired_trigger_id"
        )
        assert WebhookClient(url).send(text="late").status_code == 200
        now[0] += 30 * 60
        late = WebhookClient(url).send(text="too late")
        assert (late.status_code, late.body) == (404, "expired_url")


# outages


def test_429_reaches_the_client_unless_a_retry_handler_waits(slack_api: FakeSlack) -> None:
    alerts = slack_api.add_channel("model-alerts")
    plain = WebClient(token=BOT_TOKEN, base_url=slack_api.url)
    slack_api.fail("chat.postMessage", status=429, retry_after=2)
    with pytest.raises(SlackApiError) as raised:
        plain.chat_postMessage(channel=alerts, text="drift")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "2"
    assert raised.value.response["error"] == "ratelimited"

    patient = WebClient(token=BOT_TOKEN, base_url=slack_api.url)
    patient.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    slack_api.fail("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    assert patient.chat_postMessage(channel=alerts, text="drift")["ok"]
    assert time.monotonic() - started >= 1.0
    assert [c.status for c in slack_api.calls("chat.postMessage")] == [429, 429, 200]


def test_server_errors_then_success_with_the_server_error_handler(slack_api: FakeSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=slack_api.url)
    slack_api.fail("auth.test", status=503)
    assert slack_error(client.auth_test)["error"] == "service_unavailable"
    client.retry_handlers.append(ServerErrorRetryHandler(max_retry_count=1))
    slack_api.fail("auth.test", status=500)
    assert client.auth_test()["ok"]
    assert [c.status for c in slack_api.calls("auth.test")] == [503, 500, 200]


def test_a_hang_makes_the_client_time_out(slack_api: FakeSlack) -> None:
    slack_api.hang("auth.test", seconds=3)
    with pytest.raises(TimeoutError):
        WebClient(token=BOT_TOKEN, base_url=slack_api.url, timeout=1).auth_test()
    assert slack_api.calls("auth.test")[0].status is None  # still hanging when the client left


def test_the_rate_limiter_allows_about_one_post_per_second_per_channel(
    slack_api: FakeSlack, slack_client: WebClient
) -> None:
    channels = [slack_api.add_channel(f"model-{i}") for i in range(5)]
    slack_api.rate_limit(per_second=1, burst=1)
    for channel in channels:
        slack_client.chat_postMessage(channel=channel, text="one each")
    statuses = []
    for _ in range(4):
        with pytest.raises(SlackApiError) as raised:
            slack_client.chat_postMessage(channel=channels[0], text="again")
        statuses.append((raised.value.response.status_code, raised.value.response.headers))
    assert all(status == 429 and headers["Retry-After"] == "1" for status, headers in statuses)
    assert slack_api.counts() == dict.fromkeys(channels, 1)


# signed requests


REQUESTS = {  # built when the test runs: a request signed at collection time goes stale
    "slash-command": lambda: signing.slash_command("/model", "status churn", secret=SECRET),
    "block-actions": lambda: signing.block_actions("finding.acknowledge", "42", secret=SECRET),
    "view-submission": lambda: signing.view_submission(
        "snooze", {"until": {"date": {"selected_date": "2026-12-01"}}}, secret=SECRET
    ),
    "message": lambda: signing.event_callback(
        signing.message_event("C0A", "on it", thread_ts="1.000001"), secret=SECRET
    ),
    "app-home": lambda: signing.event_callback(signing.app_home_opened("U0ALICE"), secret=SECRET),
    "url-check": lambda: signing.url_verification(
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", secret=SECRET
    ),
}


@pytest.mark.parametrize("kind", list(REQUESTS))
def test_signed_requests_verify_with_slack_sdk(kind: str) -> None:
    request_ = REQUESTS[kind]()
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(request_.body, request_.headers)
    assert verifier.is_valid_request(request_.body, request_.retried(2).headers)
    assert request_.retried(2).headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert not verifier.is_valid_request(request_.body + b" ", request_.headers)


def test_forged_and_stale_requests_do_not_verify() -> None:
    verifier = SignatureVerifier(SECRET)
    forged = signing.slash_command("/model", secret=SECRET, forge=True)
    stale = signing.slash_command("/model", secret=SECRET, timestamp=int(time.time()) - 301)
    assert not verifier.is_valid_request(forged.body, forged.headers)
    assert not verifier.is_valid_request(stale.body, stale.headers)


def test_payloads_carry_what_listeners_read(slack_api: FakeSlack) -> None:
    url = slack_api.response_url()
    pressed = signing.block_actions(
        "finding.snooze", "42", secret=SECRET, response_url=url, block_id="finding-42"
    ).payload
    assert pressed["actions"][0] == pressed["actions"][0] | {
        "action_id": "finding.snooze",
        "value": "42",
        "block_id": "finding-42",
    }
    assert (pressed["type"], pressed["response_url"]) == ("block_actions", url)
    event = signing.event_callback(signing.message_event("C0A", "hi"), secret=SECRET).payload
    assert (event["type"], event["event"]["type"]) == ("event_callback", "message")
    status, headers, body = signing.post(
        url, b'{"text": "done"}', {"Content-Type": "application/json"}
    )
    assert (status, body) == (200, b"ok")
    assert headers["Content-Type"].startswith("text/plain")
    assert signing.post(url, b"{}", {"Content-Type": "application/json"})[:1] == (400,)
