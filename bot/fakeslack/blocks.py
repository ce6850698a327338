"""Block Kit limits as Slack applies them to messages and views (pure: dicts in, errors out).

Each error reads like Slack's: ``<what is wrong> [json-pointer:<where>]``, e.g.
``no more than 50 items allowed [json-pointer:/blocks]``. The wording is Slack's where we have seen
it in real responses (item counts, lengths, ``unsupported type``, a modal's ``submit``); the rest is
ours. Only the limits handoff can trip are checked, not the whole schema.

Stricter than Slack in one place: Slack's docs ask ``action_id`` to be unique only within its block;
we require it unique within the whole message or view, as `slack-facts.md` asks of our builders.
"""

from __future__ import annotations

from typing import Any

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
MESSAGE_MAX_TEXT = 40_000

SECTION_TEXT_MAX = 3_000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2_000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2_000
URL_MAX = 3_000
ID_MAX = 255
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
MODAL_TITLE_MAX = 24
MODAL_BUTTON_MAX = 24
PRIVATE_METADATA_MAX = 3_000
LABEL_MAX = 2_000
ALT_TEXT_MAX = 2_000
OPTIONS_MAX = 100
OVERFLOW_OPTIONS_MAX = 5

TEXT_TYPES = ("plain_text", "mrkdwn")
BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
VIEW_TYPES = ("modal", "home")


def message_errors(blocks: object) -> list[str]:
    """What Slack would say about a message's ``blocks`` (an empty list when they are fine)."""
    check = _Check()
    check.blocks(blocks, "/blocks", max_blocks=MESSAGE_MAX_BLOCKS)
    return check.errors


def view_errors(view: object) -> list[str]:
    """What Slack would say about a ``view`` for ``views.open/update/push/publish``."""
    check = _Check()
    if not isinstance(view, dict):
        check.fail("must be an object", "/view")
        return check.errors
    kind = view.get("type")
    if kind not in VIEW_TYPES:
        check.fail(f"must be one of {', '.join(VIEW_TYPES)}", "/view/type")
    if kind == "modal":
        check.text(view.get("title"), "/view/title", limit=MODAL_TITLE_MAX, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                check.text(view[key], f"/view/{key}", limit=MODAL_BUTTON_MAX, plain_only=True)
    metadata = view.get("private_metadata", "")
    if not isinstance(metadata, str):
        check.fail("must be a string", "/view/private_metadata")
    elif len(metadata) > PRIVATE_METADATA_MAX:
        check.too_long(PRIVATE_METADATA_MAX, "/view/private_metadata")
    for key in ("callback_id", "external_id"):
        value = view.get(key, "")
        if not isinstance(value, str) or len(value) > ID_MAX:
            check.too_long(ID_MAX, f"/view/{key}")
    blocks = view.get("blocks")
    check.blocks(blocks, "/view/blocks", max_blocks=VIEW_MAX_BLOCKS)
    if kind == "modal" and "submit" not in view and isinstance(blocks, list):
        for index, block in enumerate(blocks):
            if isinstance(block, dict) and block.get("type") == "input":
                check.fail(
                    "must define `submit` to use an `input` block in modals",
                    f"/view/blocks/{index}",
                )
    return check.errors


class _Check:
    """Walks one message or view, collecting errors and the ids it has seen."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._block_ids: set[str] = set()
        self._action_ids: set[str] = set()

    def fail(self, problem: str, at: str) -> None:
        self.errors.append(f"{problem} [json-pointer:{at}]")

    def too_long(self, limit: int, at: str) -> None:
        self.fail(f"must be less than {limit + 1} characters", at)

    def too_many(self, limit: int, at: str) -> None:
        self.fail(f"no more than {limit} items allowed", at)

    def blocks(self, blocks: object, at: str, *, max_blocks: int) -> None:
        if not isinstance(blocks, list):
            self.fail("must be an array", at)
            return
        if len(blocks) > max_blocks:
            self.too_many(max_blocks, at)
        for index, block in enumerate(blocks):
            self.block(block, f"{at}/{index}")

    def block(self, block: object, at: str) -> None:
        if not isinstance(block, dict):
            self.fail("must be an object", at)
            return
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            self.fail(f"unsupported type: {kind}", f"{at}/type")
            return
        if "block_id" in block:
            self.identifier(block["block_id"], f"{at}/block_id", self._block_ids, "block_id")
        if kind == "section":
            self.section(block, at)
        elif kind == "header":
            self.text(block.get("text"), f"{at}/text", limit=HEADER_TEXT_MAX, plain_only=True)
        elif kind == "context":
            self.context(block, at)
        elif kind == "actions":
            self.actions(block, at)
        elif kind == "input":
            self.text(block.get("label"), f"{at}/label", limit=LABEL_MAX, plain_only=True)
            self.element(block.get("element"), f"{at}/element")
        elif kind == "image":
            self.image(block, at)

    def section(self, block: dict[str, Any], at: str) -> None:
        if "text" not in block and "fields" not in block:
            self.fail("must define either `text` or `fields`", at)
        if "text" in block:
            self.text(block["text"], f"{at}/text", limit=SECTION_TEXT_MAX)
        if "fields" in block:
            fields = block["fields"]
            if not isinstance(fields, list):
                self.fail("must be an array", f"{at}/fields")
            else:
                if len(fields) > SECTION_FIELDS_MAX:
                    self.too_many(SECTION_FIELDS_MAX, f"{at}/fields")
                for index, field in enumerate(fields):
                    self.text(field, f"{at}/fields/{index}", limit=SECTION_FIELD_TEXT_MAX)
        if "accessory" in block:
            self.element(block["accessory"], f"{at}/accessory")

    def context(self, block: dict[str, Any], at: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.fail("must provide at least 1 items", f"{at}/elements")
            return
        if len(elements) > CONTEXT_ELEMENTS_MAX:
            self.too_many(CONTEXT_ELEMENTS_MAX, f"{at}/elements")
        for index, element in enumerate(elements):
            where = f"{at}/elements/{index}"
            if isinstance(element, dict) and element.get("type") == "image":
                self.image(element, where)
            else:
                self.text(element, where, limit=SECTION_TEXT_MAX)

    def actions(self, block: dict[str, Any], at: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.fail("must provide at least 1 items", f"{at}/elements")
            return
        if len(elements) > ACTIONS_ELEMENTS_MAX:
            self.too_many(ACTIONS_ELEMENTS_MAX, f"{at}/elements")
        for index, element in enumerate(elements):
            self.element(element, f"{at}/elements/{index}")

    def image(self, image: dict[str, Any], at: str) -> None:
        if "image_url" not in image and "slack_file" not in image:
            self.fail("must define either `image_url` or `slack_file`", at)
        alt = image.get("alt_text")
        if not isinstance(alt, str) or not alt:
            self.fail("missing required field: alt_text", at)
        elif len(alt) > ALT_TEXT_MAX:
            self.too_long(ALT_TEXT_MAX, f"{at}/alt_text")

    def element(self, element: object, at: str) -> None:
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            self.fail("must be an object with a `type`", at)
            return
        if "action_id" in element:
            self.identifier(element["action_id"], f"{at}/action_id", self._action_ids, "action_id")
        kind = element["type"]
        if kind == "button":
            self.text(element.get("text"), f"{at}/text", limit=BUTTON_TEXT_MAX, plain_only=True)
            value = element.get("value", "")
            if not isinstance(value, str) or len(value) > BUTTON_VALUE_MAX:
                self.too_long(BUTTON_VALUE_MAX, f"{at}/value")
            url = element.get("url", "")
            if not isinstance(url, str) or len(url) > URL_MAX:
                self.too_long(URL_MAX, f"{at}/url")
            if element.get("style") not in (None, "primary", "danger"):
                self.fail("must be one of primary, danger", f"{at}/style")
        elif kind == "image":
            self.image(element, at)
        elif "options" in element:
            limit = OVERFLOW_OPTIONS_MAX if kind == "overflow" else OPTIONS_MAX
            options = element["options"]
            if isinstance(options, list) and len(options) > limit:
                self.too_many(limit, f"{at}/options")

    def identifier(self, value: object, at: str, seen: set[str], kind: str) -> None:
        if not isinstance(value, str) or not value:
            self.fail("must be a non-empty string", at)
        elif len(value) > ID_MAX:
            self.too_long(ID_MAX, at)
        elif value in seen:
            self.fail(f"duplicate {kind}: {value}", at)
        else:
            seen.add(value)

    def text(self, obj: object, at: str, *, limit: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.fail("missing required field: text object", at)
            return
        kinds = ("plain_text",) if plain_only else TEXT_TYPES
        if obj.get("type") not in kinds:
            self.fail(f"must be one of {', '.join(kinds)}", f"{at}/type")
        text = obj.get("text")
        if not isinstance(text, str):
            self.fail("missing required field: text", at)
        elif not text:
            self.fail("must be more than 0 characters", f"{at}/text")
        elif len(text) > limit:
            self.too_long(limit, f"{at}/text")
