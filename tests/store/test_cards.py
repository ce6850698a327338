"""Handoff cards: the examples validate, each mistake is named at its field with a fix, every
problem is reported at once, and no input whatsoever produces anything but a CardError."""

from __future__ import annotations

import copy
import json
import re
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from store.card_schema import BaselineSource, DateRange, SqlSource, format_duration, parse_duration
from store.cards import (
    Card,
    CardError,
    card_hash,
    card_to_dict,
    describe_changes,
    load_card,
    load_cards,
    parse_card,
)

EXAMPLES = Path(__file__).parents[2] / "examples" / "cards"
CREDIT, CHURN = EXAMPLES / "credit-risk.yaml", EXAMPLES / "churn.yaml"
DELETE = object()


@cache
def _credit() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(CREDIT.read_text(encoding="utf-8"))
    return document


def _document() -> dict[str, Any]:
    return copy.deepcopy(_credit())


def _steps(path: str) -> list[str | int]:
    return [int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"[^.\[]+|\[\d+\]", path)]


def _with(path: str, value: object, document: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of the credit-risk card (or `document`) with `path` set to `value` (or deleted)."""
    document = copy.deepcopy(document or _document())
    *parents, last = _steps(path)
    node: Any = document
    for step in parents:
        node = node[step]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return document


def _dump(document: object, sort_keys: bool = True) -> str:
    return yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=sort_keys)


def _card(document: dict[str, Any]) -> Card:
    return parse_card(_dump(document, sort_keys=False), file="card.yaml")


def _problems(source: dict[str, Any] | str) -> dict[str, str]:
    text = source if isinstance(source, str) else _dump(source, sort_keys=False)
    with pytest.raises(CardError) as caught:
        parse_card(text, file="card.yaml")
    assert all(p.file == "card.yaml" for p in caught.value.problems)
    return {p.field: p.message for p in caught.value.problems}


# --- the examples and the model --------------------------------------------------------------


def test_the_examples_validate() -> None:
    credit, churn = load_cards([CREDIT, CHURN])
    assert credit.model == "credit-risk"
    assert credit.data.source.kind == "csv"
    assert credit.data.label_delay == timedelta(days=30)
    assert credit.escalation.acknowledge_within == timedelta(hours=4)
    assert credit.escalation.ladder == ("builders", "U0ML1EAD", "#ml-platform")
    assert credit.baseline == DateRange.model_validate({"from": "2024-07-01", "to": "2024-07-31"})
    assert credit.thresholds["psi"].critical == 0.25
    assert credit.limitations[0].segment is not None
    assert credit.limitations[0].segment.below == 12
    assert credit.tz == ZoneInfo("Europe/Berlin")
    assert isinstance(churn.data.source, SqlSource)
    assert churn.data.source.url_env == "WAREHOUSE_URL"
    assert isinstance(churn.baseline, BaselineSource)
    assert churn.baseline.source.kind == "parquet"
    assert churn.data.label_delay == timedelta(days=90)


def test_optional_parts_have_sensible_defaults() -> None:
    minimal = {
        "model": "m1",
        "name": "M",
        "intent": {"problem": "p"},
        "builders": ["U024BE7LH"],
        "channel": "C024BE91L",
        "data": {
            "source": {"kind": "parquet", "path": "x.parquet"},
            "timestamp": "t",
            "score": "s",
        },
        "baseline": {"from": date(2024, 7, 1), "to": date(2024, 7, 1)},
        "schedule": {"check": "0  6 * * *"},
    }
    card = _card(minimal)
    assert card.schedule.check == "0 6 * * *"
    assert (card.schedule.check_in, card.schedule.timezone) == ("0 10 * * mon", "UTC")
    assert card.escalation.acknowledge_within == timedelta(hours=4)
    assert card.escalation.ladder == ("builders",)
    assert card.thresholds == {}
    assert card.limitations == ()
    assert card.data.features is None
    assert card.data.feature_columns(["t", "s", "a", "b"]) == ("a", "b")


def test_listed_features_are_the_feature_columns() -> None:
    card = load_card(CREDIT)
    assert card.data.feature_columns(["x"]) == ("income", "history_months", "region")
    assert card.data.reserved_columns == ("scored_at", "score", "defaulted")


def test_cards_are_frozen() -> None:
    card = load_card(CREDIT)
    with pytest.raises(ValidationError):
        card.model = "other"  # type: ignore[misc]


def test_without_listed_features_a_segment_may_name_any_column() -> None:
    document = _with("data.features", DELETE)
    document = _with("limitations[0].segment.column", "any_column", document)
    assert _card(document).limitations[0].segment is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("4h", timedelta(hours=4)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        (" 0m ", timedelta(0)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


def test_a_duration_is_written_back_in_its_shortest_form() -> None:
    assert format_duration(timedelta(minutes=90)) == "90m"
    assert format_duration(timedelta(days=1, hours=12)) == "36h"
    assert format_duration(timedelta(days=14)) == "2w"
    assert format_duration(timedelta(0)) == "0m"


# --- storing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [CREDIT, CHURN], ids=["credit", "churn"])
def test_card_to_dict_is_json_and_round_trips(path: Path) -> None:
    card = load_card(path)
    stored = json.loads(json.dumps(card_to_dict(card)))
    assert Card.model_validate(stored) == card
    assert card_hash(Card.model_validate(stored)) == card_hash(card)


def test_stored_cards_keep_the_yaml_spelling() -> None:
    stored = card_to_dict(load_card(CREDIT))
    assert stored["baseline"] == {"from": "2024-07-01", "to": "2024-07-31"}
    assert stored["data"]["label_delay"] == "30d"
    assert stored["escalation"]["acknowledge_within"] == "4h"


def test_the_hash_follows_meaning_not_spelling() -> None:
    card = load_card(CREDIT)
    spelled_out = _with("schedule.check", "0   6 * * *")
    spelled_out = _with("escalation.acknowledge_within", "240m", spelled_out)
    assert card_hash(_card(spelled_out)) == card_hash(card)
    assert card_hash(_card(_with("thresholds.psi.warn", 0.15))) != card_hash(card)
    assert re.fullmatch(r"[0-9a-f]{64}", card_hash(card))


# --- every mistake, at its field -------------------------------------------------------------

MISTAKES = [
    ("name", DELETE, "name", "required field is missing: add `name: "),
    ("intent.problem", DELETE, "intent.problem", "required field is missing"),
    ("data.source", DELETE, "data.source", "required field is missing: add `source: {kind"),
    ("schedule.check", DELETE, "schedule.check", "required field is missing"),
    ("baseline", DELETE, "baseline", "required field is missing"),
    ("model", "Credit Risk", "model", "lowercase letters, digits, - and _"),
    ("model", "credit.risk", "model", "is not a model id"),
    ("name", "   ", "name", "must not be empty"),
    ("version", 3.2, "version", 'quote the version, like "3.2"'),
    ("intent", "Rank loans", "intent", "must be a mapping"),
    ("escalation.acknowledge_within", "4 hours", "escalation.acknowledge_within", "like 90m, 4h"),
    ("escalation.acknowledge_within", "0h", "escalation.acknowledge_within", "longer than zero"),
    ("data.label_delay", "-1d", "data.label_delay", "is not a duration"),
    ("data.label_delay", 30, "data.label_delay", "30 is not a duration"),
    ("schedule.check", "61 * * * *", "schedule.check", "is not a cron expression"),
    ("schedule.check", "0 6 * *", "schedule.check", "Wrong number of fields"),
    ("schedule.check", "0 0 30 2 *", "schedule.check", "never fires"),
    ("schedule.check_in", "0 10 * * 1", "schedule.check_in", "weekdays by name"),
    ("schedule.timezone", "Europe/Berlinn", "schedule.timezone", "did you mean 'Europe/Berlin'?"),
    ("schedule.timezone", "Mars/Olympus", "schedule.timezone", "IANA name"),
    ("builders", ["U024BE7LH", "maria"], "builders[1]", "neither a Slack user ID nor an e-mail"),
    ("builders", ["u024be7lh"], "builders[0]", "neither a Slack user ID nor an e-mail"),
    ("builders", ["U024BE7LH", "U024BE7LH"], "builders[1]", "listed twice"),
    ("builders", [], "builders", "must not be empty"),
    ("builders", "U024BE7LH", "builders", "must be a list"),
    ("channel", None, "channel", "quote channels"),
    ("channel", "credit model health", "channel", "is not a channel"),
    ("business_channel", "underwriting", "business_channel", 'like "#model-health"'),
    ("limitations[0].segment.column", "history", "limitations[0].segment.column", "data.features"),
    ("limitations[0].segment.column", "incme", "limitations[0].segment.column", "'income'?"),
    ("limitations[0].segment", {"column": "income"}, "limitations[0].segment", "below: N"),
    ("limitations[0].segment.in", ["DE"], "limitations[0].segment", "not both"),
    ("limitations[0].segment.above", 20, "limitations[0].segment", "must be less than below"),
    (
        "limitations[0].segment",
        {"column": "region", "in": ["DE", False]},
        "limitations[0].segment.in[1]",
        "quote it",
    ),
    ("limitations[1].text", DELETE, "limitations[1].text", "required field is missing"),
    ("thresholds.psi", {"warn": 0.3, "critical": 0.25}, "thresholds.psi", "exceeds critical"),
    ("thresholds.psi.warn", -0.1, "thresholds.psi.warn", "at least 0"),
    ("thresholds.psi.warn", "high", "thresholds.psi.warn", "must be a number"),
    ("thresholds.psi", {"warn": 0.1}, "thresholds.psi.critical", "required field is missing"),
    ("thresholds.pis", {"warn": 0.1, "critical": 0.2}, "thresholds.pis", "did you mean 'psi'?"),
    ("thresholds.PSI", {"warn": 0.1, "critical": 0.2}, "thresholds.PSI", "not a metric name"),
    ("data.source", {"kind": "excel", "path": "a.xlsx"}, "data.source.kind", "csv, parquet, sql"),
    ("data.source", {"path": "a.csv"}, "data.source.kind", "required field is missing"),
    ("data.source", "data/*.csv", "data.source", "must be a mapping"),
    ("data.source.path", "", "data.source.path", "must not be empty"),
    (
        "data.source",
        {"kind": "sql", "url": "postgresql://db/x", "table": "s"},
        "data.source.url",
        "put it in an environment variable and name that variable in url_env",
    ),
    (
        "data.source",
        {"kind": "sql", "url_env": "postgresql://u:pw@db/x", "table": "s"},
        "data.source.url_env",
        "not the name of an environment variable",
    ),
    (
        "data.source",
        {"kind": "sql", "url_env": "W", "table": "s", "query": "q"},
        "data.source",
        "exactly one of table: or query:",
    ),
    (
        "data.source",
        {"kind": "sql", "url_env": "W", "query": "SELECT * FROM s"},
        "data.source",
        ":start and :end",
    ),
    ("context.notes", "from postgresql://ml:hunter2@db:5432/credit", "context.notes", "url_env"),
    ("data.source", {"kind": "http", "url": "ftp://x"}, "data.source.url", "web address"),
    (
        "data.source",
        {"kind": "http", "url": "https://a.example", "format": "xml"},
        "data.source.format",
        "'json' or 'csv'",
    ),
    (
        "data.source",
        {"kind": "http", "url": "https://x", "headers_env": {"Auth": "Bearer a1"}},
        "data.source.headers_env.Auth",
        "not the name of an environment variable",
    ),
    (
        "data.source",
        {"kind": "http", "url": "https://me:pw@a.example"},
        "data.source.url",
        "headers_env",
    ),
    ("data.decision_threshold", 1.5, "data.decision_threshold", "between 0 and 1"),
    ("data.decision_threshold", 0, "data.decision_threshold", "between 0 and 1"),
    ("data.label", DELETE, "data.label_delay", "needs a label"),
    ("data.features", ["income", "score"], "data.features[1]", "is the score column"),
    ("data.segments", ["region", "region"], "data.segments[1]", "listed twice"),
    ("baseline", {"from": date(2024, 8, 1), "to": date(2024, 7, 1)}, "baseline", "swap them"),
    ("baseline", "last month", "baseline", "must be a mapping"),
    ("baseline", {"from": date(2024, 8, 1)}, "baseline.to", "required field is missing"),
    ("baseline", {"source": {"kind": "xls"}}, "baseline.source.kind", "use csv, parquet"),
    ("context.trained_on.from", "2024-13-01", "context.trained_on.from", "must be a date"),
    ("context.trained_on.from", 20240101, "context.trained_on.from", "not a date"),
    ("escalation.ladder", ["builders", "nobody"], "escalation.ladder[1]", "step of the ladder"),
    ("escalation.ladder", [], "escalation.ladder", "must not be empty"),
    ("escalation.ladder", ["builders", None], "escalation.ladder[1]", "quote channels"),
]


@pytest.mark.parametrize(
    ("path", "value", "field", "fix"), MISTAKES, ids=[f"{m[0]}={m[1]!r}"[:60] for m in MISTAKES]
)
def test_each_mistake_is_named_at_its_field(path: str, value: Any, field: str, fix: str) -> None:
    problems = _problems(_with(path, value))
    assert field in problems, problems
    assert fix in problems[field]
    assert "pydantic" not in problems[field]


@pytest.mark.parametrize(
    ("path", "typo", "field", "meant"),
    [
        ("intent", "intnet", "intnet", "intent"),
        ("data.source.path", "paht", "data.source.paht", "path"),
        ("limitations[1].text", "txt", "limitations[1].txt", "text"),
        ("schedule.timezone", "time_zone", "schedule.time_zone", "timezone"),
        ("baseline.from", "form", "baseline.form", "from"),
    ],
)
def test_unknown_keys_suggest_the_key_meant(path: str, typo: str, field: str, meant: str) -> None:
    document = _document()
    *parents, last = _steps(path)
    node: Any = document
    for step in parents:
        node = node[step]
    node[typo] = node.pop(last)
    problems = _problems(document)
    assert problems == {field: f"unknown key {typo!r}: did you mean {meant!r}?"}


def test_an_unknown_key_far_from_any_lists_the_keys() -> None:
    problems = _problems(_with("colour", "blue"))
    assert problems["colour"].startswith("unknown key 'colour': the keys here are model, name,")


def test_every_problem_is_reported_at_once() -> None:
    document = _with("model", "Credit Risk")
    document = _with("schedule.timezone", "Europe/Berlinn", document)
    document = _with("thresholds.psi.warn", 0.9, document)
    document = _with("builders", ["maria"], document)
    document = _with("channel", DELETE, document)
    problems = _problems(document)
    expected = {"model", "schedule.timezone", "thresholds.psi", "builders[0]", "channel"}
    assert set(problems) == expected


def test_problems_read_as_file_field_message() -> None:
    with pytest.raises(CardError) as caught:
        parse_card(_dump(_with("model", "Bad Id")), file="cards/credit.yaml")
    assert str(caught.value).startswith("cards/credit.yaml: model: 'Bad Id' is not a model id")


# --- files and YAML --------------------------------------------------------------------------


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CardError) as caught:
        load_card(tmp_path / "nope.yaml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.field) == (str(tmp_path / "nope.yaml"), "<file>")
    assert "file not found" in problem.message


def test_a_directory_or_binary_file(tmp_path: Path) -> None:
    binary = tmp_path / "card.yaml"
    binary.write_bytes(b"\xff\xfe\x00model")
    for path, words in [(tmp_path, "directory"), (binary, "UTF-8")]:
        with pytest.raises(CardError) as caught:
            load_card(path)
        assert words in caught.value.problems[0].message


def test_yaml_syntax_errors_name_the_line() -> None:
    text = "model: credit-risk\nname: Credit\nintent:\n  problem: a: b\n"
    (message,) = _problems(text).values()
    assert message.startswith("line 4, column 13: mapping values are not allowed")
    assert message.endswith("quote values that contain ': '")
    assert list(_problems(text)) == ["<yaml>"]
    assert _problems("model: [credit\n")["<yaml>"].startswith("line 2")
    assert "spaces, not tabs" in _problems("model: credit\n\tname: x\n")["<yaml>"]


def test_a_key_written_twice_is_a_yaml_problem() -> None:
    text = CREDIT.read_text(encoding="utf-8") + "model: churn\n"
    (message,) = _problems(text).values()
    assert message.startswith(f"line {len(text.splitlines())}, column 1: the key 'model' appears")


def test_a_merge_key_may_be_overridden() -> None:
    text = "defaults: &d {warn: 0.1}\nthresholds: {psi: {<<: *d, warn: 0.2, critical: 0.3}}\n"
    problems = _problems(text)
    assert "<yaml>" not in problems
    assert "thresholds.psi" not in problems


@pytest.mark.parametrize(
    ("text", "found"),
    [("", "nothing"), ("- model: a\n", "a list"), ("just words", "'just words'"), ("42", "42")],
)
def test_the_top_level_must_be_a_mapping(text: str, found: str) -> None:
    (message,) = _problems(text).values()
    assert message.endswith(f"this file holds {found}")
    assert list(_problems(text)) == ["<card>"]


def test_load_cards_collects_problems_of_every_file_and_reused_ids(tmp_path: Path) -> None:
    copy_of_credit = tmp_path / "credit-copy.yaml"
    copy_of_credit.write_text(CREDIT.read_text(encoding="utf-8"), encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text(_dump(_with("name", DELETE)), encoding="utf-8")
    with pytest.raises(CardError) as caught:
        load_cards([CREDIT, copy_of_credit, broken, tmp_path / "missing.yaml"])
    found = [(p.file, p.field) for p in caught.value.problems]
    assert found == [
        (str(copy_of_credit), "model"),
        (str(broken), "name"),
        (str(tmp_path / "missing.yaml"), "<file>"),
    ]
    assert str(CREDIT) in caught.value.problems[0].message


# --- describing changes ----------------------------------------------------------------------


def _changes(*edits: tuple[str, object]) -> list[str]:
    document = _document()
    for path, value in edits:
        document = _with(path, value, document)
    return describe_changes(load_card(CREDIT), _card(document))


def test_no_change_says_nothing() -> None:
    assert describe_changes(load_card(CREDIT), load_card(CREDIT)) == []


def test_a_changed_limitation_is_quoted_before_and_after() -> None:
    old = "Less reliable for applicants with under 12 months of credit history."
    new = old.replace("12", "6")
    changes = _changes(("limitations[0].text", new), ("limitations[0].segment.below", 6))
    assert changes == [
        f'limitation changed: "{old}" -> "{new}"',
        f'limitation "{new}": segment history_months below 12 -> history_months below 6',
    ]


def test_limitations_added_and_removed() -> None:
    document = _document()
    document["limitations"] = [{"text": "Scores are not calibrated for new markets."}]
    changes = describe_changes(load_card(CREDIT), _card(document))
    assert changes == [
        'limitation removed: "Less reliable for applicants with under 12 months of credit'
        ' history."',
        'limitation removed: "Not validated for small-business loans."',
        'limitation added: "Scores are not calibrated for new markets."',
    ]


def test_a_limitation_given_a_segment() -> None:
    changes = _changes(("limitations[1].segment", {"column": "region", "in": ["PL"]}))
    assert changes == [
        'limitation "Not validated for small-business loans.": segment none -> region in ["PL"]'
    ]


def test_thresholds_owners_schedule_intent_and_data_changes() -> None:
    changes = _changes(
        ("intent.good_outcome", "At least 55% of the top decile default within a year."),
        ("builders", ["U024BE7LH", "U0123ABCD"]),
        ("business_channel", DELETE),
        ("data.source.path", "data/credit/v2/*.csv"),
        ("data.features", ["income", "history_months", "region", "age"]),
        ("thresholds.psi.warn", 0.15),
        ("thresholds.js", {"warn": 0.1, "critical": 0.2}),
        ("schedule.check", "0 7 * * *"),
        ("escalation.ladder", ["builders", "#ml-platform"]),
    )
    assert changes == [
        'intent.good_outcome: "At least 60% of the top decile default within a year." -> '
        '"At least 55% of the top decile default within a year."',
        "builders: added U0123ABCD",
        "builders: removed maria@example.com",
        'business_channel: removed "#underwriting"',
        'data.source.path: "data/credit/*.csv" -> "data/credit/v2/*.csv"',
        "data.features: added age",
        "thresholds.psi.warn: 0.1 -> 0.15",
        "thresholds.js: added {warn: 0.1, critical: 0.2}",
        'schedule.check: "0 6 * * *" -> "0 7 * * *"',
        'escalation.ladder: ["builders", "U0ML1EAD", "#ml-platform"] -> '
        '["builders", "#ml-platform"]',
    ]


# --- nothing but CardError, whatever the input -----------------------------------------------

CARD_KEYS = [
    *_document(),
    *_document()["data"],
    *("kind", "path", "url", "url_env", "table", "query", "from", "to", "source", "text"),
    *("segment", "column", "below", "above", "in", "warn", "critical", "psi", "check"),
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["csv", "sql", "4h", "0 6 * * *", "UTC", "U024BE7LH", "#c", "2024-01-01"])
    | st.dates()
)
JUNK = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(CARD_KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=20,
)
FUZZ = settings(max_examples=150, deadline=None, database=None)


def _only_card_errors(text: str) -> None:
    try:
        parse_card(text, file="fuzz.yaml")
    except CardError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.field
            assert problem.message
            assert "pydantic" not in problem.message


def _paths(node: object, prefix: str = "") -> list[str]:
    if isinstance(node, dict):
        items = [(f"{prefix}.{k}" if prefix else k, v) for k, v in node.items()]
    elif isinstance(node, list):
        items = [(f"{prefix}[{i}]", v) for i, v in enumerate(node)]
    else:
        return []
    return [p for path, value in items for p in [path, *_paths(value, path)]]


@FUZZ
@given(JUNK)
def test_random_documents_only_raise_card_errors(document: object) -> None:
    _only_card_errors(_dump(document))


@FUZZ
@given(st.sampled_from(_paths(_document())), JUNK)
def test_a_card_with_junk_anywhere_only_raises_card_errors(path: str, junk: object) -> None:
    _only_card_errors(_dump(_with(path, junk)))


TOKENS = [*"ab:-[]{}#|>'\"\n\t%@?,0.", "  ", "&x", "*x", "<<", "2024-13-01", "!!int", "!!float"]
TOKENS += ["!!set", "!!map", "!!seq", "!!bool", "!!timestamp", "!!binary", "!!str", "!!omap", "!x"]


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join))
def test_random_text_only_raises_card_errors(text: str) -> None:
    _only_card_errors(text)


@pytest.mark.parametrize("text", ["a: !!int abc", "a: !!set [1]", "a: !!bool maybe", "!!map [1]"])
def test_misused_yaml_tags_are_yaml_problems(text: str) -> None:
    assert list(_problems(text)) == ["<yaml>"]
