"""Reading handoff cards: YAML in, a validated `Card` out, or a `CardError` listing every problem.

Also what the store keeps of a card (`card_to_dict`, `card_hash`) and what changed between two
versions in words (`describe_changes`). Imports nothing of ours but `store.errors` and the schema.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import types
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

from store.card_schema import SOURCE_KINDS, Card, Limitation, Segment, SqlSource
from store.errors import CardError, CardProblem

__all__ = [
    "Card",
    "CardError",
    "CardProblem",
    "card_hash",
    "card_to_dict",
    "card_yaml",
    "describe_changes",
    "load_card",
    "load_cards",
    "parse_card",
]

FILE, YAML, TOP = "<file>", "<yaml>", "<card>"


def load_card(path: str | Path) -> Card:
    """Read and validate one card file; raise CardError with every problem in it."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CardError([CardProblem(file, FILE, "is not UTF-8 text: save it as UTF-8")]) from None
    except OSError as error:
        missing = isinstance(error, FileNotFoundError)
        message = "file not found: check the path" if missing else f"cannot read: {error.strerror}"
        raise CardError([CardProblem(file, FILE, message)]) from None
    return parse_card(text, file=file)


def load_cards(paths: Iterable[str | Path]) -> list[Card]:
    """Load several cards; raise one CardError with the problems of all files (and reused ids)."""
    cards: list[Card] = []
    problems: list[CardProblem] = []
    owners: dict[str, str] = {}
    for path in paths:
        try:
            card = load_card(path)
        except CardError as error:
            problems += error.problems
            continue
        if card.model in owners:
            message = (
                f"model id {card.model!r} is already used by {owners[card.model]}: pick another"
            )
            problems.append(CardProblem(str(path), "model", message))
        else:
            owners[card.model] = str(path)
            cards.append(card)
    if problems:
        raise CardError(problems)
    return cards


def parse_card(text: str, *, file: str = "<card>") -> Card:
    """Validate a card's YAML text; `file` names it in problems."""
    try:
        document = yaml.load(text, Loader=_CardLoader)
    except yaml.MarkedYAMLError as error:
        raise CardError([CardProblem(file, YAML, _yaml_message(error))]) from None
    except (
        yaml.YAMLError,
        RecursionError,
        ValueError,
        TypeError,
        LookupError,
        AttributeError,
    ) as e:
        # PyYAML's constructors raise plain errors for explicit tags like `!!int abc`
        raise CardError([CardProblem(file, YAML, f"not valid YAML: {e}")]) from None
    if not isinstance(document, dict):
        found = "a list" if isinstance(document, list) else _short(document)
        found = "nothing" if document is None else found
        message = f"a card is a YAML mapping that starts with `model: ...`; this file holds {found}"
        raise CardError([CardProblem(file, TOP, message)])
    problems: dict[str, str] = {}
    try:
        card = Card.model_validate(document)
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            field, message = _explain(detail)
            problems.setdefault(field, message)
    for field, message in _secrets(document, ()):
        problems.setdefault(field, message)
    for field, message in list(problems.items()):  # a mistyped key explains its missing field
        if typo := re.fullmatch(r"unknown key .*: did you mean '(.+)'\?", message):
            meant = f"{field.rpartition('.')[0]}.{typo[1]}" if "." in field else typo[1]
            if problems.get(meant, "").startswith("required field is missing"):
                del problems[meant]
    if problems:
        raise CardError([CardProblem(file, f, m) for f, m in problems.items()])
    return card


try:  # libyaml's parser when installed: the same YAML, ten times faster
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _CardLoader(_SafeLoader):
    """SafeLoader that rejects repeated keys and leaves impossible dates as text to explain."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    problem = f"the key {key.value!r} appears twice: keep one"
                    raise yaml.constructor.ConstructorError(None, None, problem, key.start_mark)
                seen.add(key.value)
        return super().construct_mapping(node, deep)

    def construct_day(self, node: yaml.ScalarNode) -> object:
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_CardLoader.add_constructor("tag:yaml.org,2002:timestamp", _CardLoader.construct_day)


def _yaml_message(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = error.problem or error.context or "not valid YAML"
    hint = ""
    if "mapping values are not allowed" in problem:
        hint = "; quote values that contain ': '"
    elif "tab" in problem or "cannot start any token" in problem:
        hint = "; indent with spaces, not tabs, and quote values that start with @ or `"
    return f"{where}{problem}{hint}"


_EXAMPLES = {
    "model": "credit-risk",
    "name": "Credit risk score",
    "intent": "{problem: ...}",
    "builders": "[U024BE7LH, maria@example.com]",
    "channel": '"#credit-model-health"',
    "source": "{kind: csv, path: data/*.csv}",
    "url_env": "WAREHOUSE_URL",
    "timestamp": "scored_at",
    "baseline": "{from: 2024-07-01, to: 2024-07-31}",
    "from": "2024-07-01",
    "to": "2024-07-31",
    "check": '"0 6 * * *"',
}
_SQL_URL_KEYS = {"url", "uri", "dsn", "connection", "connection_string", "database_url"}
_PUT_URL_IN_ENV = (
    "put it in an environment variable and name that variable in url_env, "
    "like `url_env: WAREHOUSE_URL`"
)


def _explain(error: ErrorDetails) -> tuple[str, str]:
    """Turn one pydantic error into (dotted field path, plain message with the fix)."""
    path, _ = _walk(error["loc"])
    kind, found, ctx = error["type"], error["input"], error.get("ctx", {})
    key = str(path[-1]) if path else ""
    if kind == "card":
        return _dotted(path), error["msg"]
    if kind == "missing":
        return _dotted(path), f"required field is missing: add `{key}: {_EXAMPLES.get(key, '...')}`"
    if kind == "extra_forbidden":
        parent = _walk(error["loc"][:-1])[1]
        if parent is SqlSource and key in _SQL_URL_KEYS:
            return _dotted(path), f"never write the database URL into the card: {_PUT_URL_IN_ENV}"
        allowed = [f.alias or n for n, f in parent.model_fields.items()] if parent else []
        near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        fix = f"did you mean {near[0]!r}?" if near else f"the keys here are {', '.join(allowed)}"
        return _dotted(path), f"unknown key {key!r}: {fix}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        kinds = ", ".join(SOURCE_KINDS)
        if kind == "union_tag_not_found":
            return _dotted([*path, "kind"]), f"required field is missing: add `kind:` ({kinds})"
        return _dotted([*path, "kind"]), f"unknown source kind {ctx.get('tag')!r}: use {kinds}"
    if found is None:
        channel = "channel" in key or "ladder" in path
        hint = ' (in YAML an unquoted # starts a comment: quote channels, like "#ml")'
        return _dotted(path), "has no value: write one or remove the key" + hint * channel
    return _dotted(path), f"{_plain(kind, key, ctx, error['msg'])} (found {_short(found)})"


def _plain(kind: str, key: str, ctx: dict[str, Any], fallback: str) -> str:
    example = _EXAMPLES.get(key, "key: value")
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"must be a mapping of keys to values, like {example}"
    if kind in ("list_type", "tuple_type", "iterable_type"):
        return "must be a list, like [a, b]"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind in ("string_too_short", "too_short"):
        return "must not be empty"
    if kind == "finite_number":
        return "must be a finite number"
    if kind.startswith(("float", "int", "greater_than", "less_than")):
        return "must be a number" + (" of at least 0" if kind.startswith("greater") else "")
    if kind.startswith("date"):
        return "must be a date, like 2024-07-01"
    if kind.startswith("string"):
        return "must be text"
    if kind == "recursion_loop":
        return "refers to itself (a YAML anchor loop)"
    return fallback[:1].lower() + fallback[1:]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _dotted(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or TOP


_UNIONS = (Union, types.UnionType)


def _walk(loc: tuple[str | int, ...]) -> tuple[list[str | int], type[BaseModel] | None]:
    """Follow `loc` through the Card's types: drop union tags; return the path and its model."""
    path: list[str | int] = []
    here: Any = Card
    for part in loc:
        here = _unwrap(here)
        if part == "[key]":
            continue
        if get_origin(here) in _UNIONS:  # in a union, `part` names the member
            here = _member(here, part)
            continue
        path.append(part)
        if isinstance(here, type) and issubclass(here, BaseModel):
            fields = {f.alias or n: f.annotation for n, f in here.model_fields.items()}
            here = fields.get(str(part))
        elif get_origin(here) in (tuple, list, dict):
            here = get_args(here)[-1 if get_origin(here) is dict else 0]
        else:
            here = None
    here = _unwrap(here)
    return path, here if isinstance(here, type) and issubclass(here, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in _UNIONS and type(None) in get_args(annotation):
            annotation = get_args(annotation)[0]  # `X | None`: every optional field has one X
        else:
            return annotation


def _member(union: Any, tag: str | int) -> Any:
    for member in get_args(union):
        base, *meta = get_args(member) if get_origin(member) is Annotated else (member,)
        tags = [m.tag for m in meta if isinstance(m, Tag)]
        if isinstance(base, type) and issubclass(base, BaseModel) and "kind" in base.model_fields:
            tags += get_args(base.model_fields["kind"].annotation)
        if tag in tags:
            return base
    return None


_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*)://[^\s/@:]*:[^\s/@]+@", re.IGNORECASE)


def _secrets(
    node: object, path: tuple[str | int, ...], depth: int = 0
) -> Iterator[tuple[str, str]]:
    """Find URLs with a password anywhere in the raw document."""
    if depth > 40:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _secrets(value, (*path, str(key)), depth + 1)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _secrets(value, (*path, i), depth + 1)
    elif isinstance(node, str) and (match := _CREDENTIALS.search(node)):
        web = match.group(1).lower() in ("http", "https")
        fix = "move them into a header named in headers_env" if web else _PUT_URL_IN_ENV
        yield _dotted(path), f"this URL holds a password: keep secrets out of cards; {fix}"


def card_to_dict(card: Card) -> dict[str, Any]:
    """The card as JSON-ready data, spelt as in YAML; `Card.model_validate` reads it back."""
    return card.model_dump(mode="json", by_alias=True, exclude_none=True)


def card_yaml(card: Card, *, note: str | None = None) -> str:
    """The card as a YAML file to commit (`load_card` reads it back to the same card), with
    `note` as a comment on top."""
    text = yaml.safe_dump(card_to_dict(card), sort_keys=False, allow_unicode=True, width=100)
    header = "".join(f"# {line}\n" for line in note.splitlines()) if note else ""
    return header + text


def card_hash(card: Card) -> str:
    """sha256 of the card's canonical JSON: equal for cards that mean the same."""
    canonical = json.dumps(card_to_dict(card), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_AS_SETS = {"builders", "data.features", "data.segments"}


def describe_changes(old: Card, new: Card) -> list[str]:
    """What changed from `old` to `new`, one line each in plain words, in the card's order."""
    before, after = card_to_dict(old), card_to_dict(new)
    lines: list[str] = []
    for key in dict.fromkeys([*before, *after]):
        if key == "limitations":
            lines += _limitation_changes(old.limitations, new.limitations)
        else:
            lines += _changes(key, before.get(key), after.get(key))
    return lines


def _changes(path: str, old: Any, new: Any) -> list[str]:
    if old == new:
        return []
    if old is None:
        return [f"{path}: added {_show(new)}"]
    if new is None:
        return [f"{path}: removed {_show(old)}"]
    if isinstance(old, dict) and isinstance(new, dict):
        keys = dict.fromkeys([*old, *new])
        return [line for k in keys for line in _changes(f"{path}.{k}", old.get(k), new.get(k))]
    if path in _AS_SETS and isinstance(old, list) and isinstance(new, list):
        return [f"{path}: added {x}" for x in new if x not in old] + [
            f"{path}: removed {x}" for x in old if x not in new
        ]
    return [f"{path}: {_show(old)} -> {_show(new)}"]


def _limitation_changes(old: tuple[Limitation, ...], new: tuple[Limitation, ...]) -> list[str]:
    gone = [x for x in old if x.text not in {y.text for y in new}]
    came = [x for x in new if x.text not in {y.text for y in old}]
    lines = []
    for was in gone:
        ratios = [difflib.SequenceMatcher(None, was.text, x.text).ratio() for x in came]
        if ratios and max(ratios) >= 0.6:
            now = came.pop(ratios.index(max(ratios)))
            lines.append(f"limitation changed: {_show(was.text)} -> {_show(now.text)}")
            if was.segment != now.segment:
                lines.append(_segment_change(now.text, was.segment, now.segment))
        else:
            lines.append(f"limitation removed: {_show(was.text)}")
    lines += [f"limitation added: {_show(x.text)}" for x in came]
    kept = {x.text: x.segment for x in new}
    return lines + [
        _segment_change(x.text, x.segment, kept[x.text])
        for x in old
        if x.text in kept and kept[x.text] != x.segment
    ]


def _segment_change(text: str, old: Segment | None, new: Segment | None) -> str:
    return f"limitation {_show(text)}: segment {_segment(old)} -> {_segment(new)}"


def _segment(segment: Segment | None) -> str:
    if segment is None:
        return "none"
    rules = [f"below {segment.below:g}"] if segment.below is not None else []
    rules += [f"above {segment.above:g}"] if segment.above is not None else []
    rules += [f"in {_show(list(segment.in_))}"] if segment.in_ is not None else []
    return f"{segment.column} {' and '.join(rules)}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)
