"""The handoff card as frozen pydantic models: the contract in design.md ("The handoff card").

Owns the card's shape and every rule that needs no file: ids, durations, cron, zones, owners.
Imports nothing of ours; APScheduler only lazily, to check cron with its own CronTrigger.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    FiniteFloat,
    PlainSerializer,
    StringConstraints,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

SOURCE_KINDS = ("csv", "parquet", "sql", "http")
KNOWN_METRICS = ("psi", "performance_drop", "mean_shift", "shortfall")
Loc = tuple[str | int, ...]


def invalid(message: str) -> PydanticCustomError:
    """A validation error whose message is shown to the user as written."""
    return PydanticCustomError("card", "{message}", {"message": message})


def _raise_at(problems: Sequence[tuple[Loc, str]]) -> None:
    """Raise one ValidationError with several problems, each at its own place (`loc`), if any."""
    if problems:
        details = [InitErrorDetails(type=invalid(m), loc=loc, input=None) for loc, m in problems]
        raise ValidationError.from_exception_data("Card", details)


def _suggest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return f"did you mean {close[0]!r}?" if close else ""


_DURATION = re.compile(r"(?:(\d{1,6})w)?(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?")
_UNITS = (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60), ("m", 1))


def parse_duration(value: object) -> timedelta:
    """Parse `90m`, `4h`, `30d`, `2w` (or `1d12h`) into a timedelta; keep a timedelta as it is."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if not value or match is None:
        raise invalid(
            f"{value!r} is not a duration: write a whole number and a unit (m, h, d or w), "
            "like 90m, 4h, 30d or 2w"
        )
    minutes = sum(int(n) * size for n, (_, size) in zip(match.groups(), _UNITS, strict=True) if n)
    return timedelta(minutes=minutes)


def format_duration(value: timedelta) -> str:
    """The card spelling of a duration in its largest whole unit: 4h, 30d, 2w, 90m."""
    minutes = int(value.total_seconds() // 60)
    suffix, size = next((u for u in _UNITS if minutes and minutes % u[1] == 0), _UNITS[-1])
    return f"{minutes // size}{suffix}"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]


def _rule(test: str | Callable[[Any], bool], fix: str) -> AfterValidator:
    """Check a value against a regular expression or a predicate; else "<value> <fix>"."""

    def check(value: Any) -> Any:
        if not (re.fullmatch(test, value) if isinstance(test, str) else test(value)):
            raise invalid(f"{value!r} {fix}")
        return value

    return AfterValidator(check)


_USER, _EMAIL = r"[UW][A-Z0-9]{2,}", r"[^@\s]+@[^@\s]+\.[^@\s]+"
_PERSON, _CHANNEL = f"{_USER}|{_EMAIL}", r"#[^\s#]{1,80}|[CG][A-Z0-9]{2,}"
_PERSON_FIX = "write a Slack member ID like U024BE7LH (profile, ⋮, Copy member ID) or an e-mail"


def _check_version(value: object) -> object:
    if isinstance(value, float):
        raise invalid(f'YAML read {value!r} as a number: quote the version, like "{value}"')
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


_CRON_FIX = 'write five fields, minute hour day month weekday, like "0 6 * * *"'
_WEEKDAY_FIX = "write weekdays by name, like mon-fri: APScheduler and crontab read 0-7 differently"


def _check_cron(value: str) -> str:
    from apscheduler.triggers.cron import CronTrigger  # lazily: store only borrows its parser

    expression = " ".join(value.split())
    try:
        trigger = CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as error:
        raise invalid(f"{value!r} is not a cron expression ({error}): {_CRON_FIX}") from None
    if any(c.isdigit() for c in expression.split()[4]):
        raise invalid(_WEEKDAY_FIX)
    if trigger.get_next_fire_time(None, datetime(2024, 1, 1, tzinfo=UTC)) is None:
        raise invalid(f"{value!r} never fires (no such date): check the day and month fields")
    return expression


_time_zones = cache(available_timezones)  # it walks the zoneinfo tree on every call


def _check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        near = _suggest(value, _time_zones(), 0.8) or "use an IANA name like Europe/Berlin or UTC"
        raise invalid(f"unknown time zone {value!r}: {near}") from None
    return value


@AfterValidator
def _check_metric(value: str) -> str:
    near = _suggest(value, KNOWN_METRICS)
    if value not in KNOWN_METRICS and near:  # a name this close to a known one is a typo
        raise invalid(f"unknown metric {value!r}: {near}")
    return value


def _check_category(value: object) -> object:
    if isinstance(value, bool):
        raise invalid(f"YAML read this as {str(value).lower()} (as for yes/no/on/off): quote it")
    if not isinstance(value, str | int | float):
        raise invalid("must be a single value (text or a number)")
    return value


def _check_day(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise invalid(f"{value!r} is not a date: write it as 2024-07-01")
    return value


def _unique(items: tuple[str, ...]) -> tuple[str, ...]:
    _raise_at([((i,), f"{x!r} is listed twice") for i, x in enumerate(items) if x in items[:i]])
    return items


_ID_FIX = "is not a model id: use 1 to 64 lowercase letters, digits, - and _, like credit-risk"
_CHANNEL_FIX = 'is not a channel: write its name with # in quotes, like "#model-health", or its ID'
_RUNG_FIX = 'is not a step of the ladder: use builders, a Slack user ID, an e-mail or "#channel"'
_ENV_FIX = (
    "is not the name of an environment variable: keep the secret out of the card, export it "
    "as a variable and write the variable's name, like SCORES_TOKEN"
)
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ModelId = Annotated[str, _rule(r"[a-z0-9][a-z0-9_-]{0,63}", _ID_FIX)]
Version = Annotated[str, BeforeValidator(_check_version), StringConstraints(min_length=1)]
Person = Annotated[Text, _rule(_PERSON, f"is neither a Slack user ID nor an e-mail: {_PERSON_FIX}")]
Channel = Annotated[Text, _rule(_CHANNEL, _CHANNEL_FIX)]
Rung = Annotated[Text, _rule(f"builders|{_PERSON}|{_CHANNEL}", _RUNG_FIX)]
EnvName = Annotated[str, _rule(r"[A-Za-z_][A-Za-z0-9_]*", _ENV_FIX)]
HttpUrl = Annotated[Text, _rule(r"https?://\S+", "is not a web address: write https://host/path")]
Probability = Annotated[float, _rule(lambda p: 0 < p < 1, "is not between 0 and 1 (exclusive)")]
Positive = _rule(lambda d: d > timedelta(0), "must be longer than zero, like 4h")
Cron = Annotated[Text, AfterValidator(_check_cron)]
TimeZone = Annotated[Text, AfterValidator(_check_time_zone)]
MetricName = Annotated[str, _rule(r"[a-z][a-z0-9_]*", "is not a metric name"), _check_metric]
Category = Annotated[str | int | float, BeforeValidator(_check_category)]
Day = Annotated[date, BeforeValidator(_check_day)]
Column = Text
Columns = Annotated[tuple[Column, ...], AfterValidator(_unique)]
People = Annotated[tuple[Person, ...], AfterValidator(_unique), Field(min_length=1)]
Ladder = Annotated[tuple[Rung, ...], AfterValidator(_unique), Field(min_length=1)]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Intent(_Part):
    problem: Text
    good_outcome: Text | None = None
    decisions: Text | None = None


class Segment(_Part):
    """The rows a limitation is about: `column` below/above a number, or in a list of values."""

    column: Column
    below: FiniteFloat | None = None
    above: FiniteFloat | None = None
    in_: tuple[Category, ...] | None = Field(None, alias="in", min_length=1)

    @model_validator(mode="after")
    def _one_rule(self) -> Segment:
        if self.in_ is None and self.below is None and self.above is None:
            raise invalid("say which rows it covers: add below: N, above: N or in: [...]")
        if self.in_ is not None and (self.below is not None or self.above is not None):
            raise invalid("use either in: [...] or below:/above:, not both")
        if self.below is not None and self.above is not None and self.above >= self.below:
            raise invalid(f"above ({self.above}) must be less than below ({self.below})")
        return self


class Limitation(_Part):
    text: Text
    segment: Segment | None = None


class DateRange(_Part):
    """A window of whole days, both ends included: {from: 2024-07-01, to: 2024-07-31}."""

    from_: Day = Field(alias="from")
    to: Day

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.from_ > self.to:
            raise invalid(f"from ({self.from_}) is after to ({self.to}): swap them")
        return self


class Context(_Part):
    trained_on: DateRange | None = None
    validated_on: Text | None = None
    notes: Text | None = None


_DATE_FIELD = re.compile(r"\{date(?::[^{}]*)?\}")


class FileSource(_Part):
    """CSV or Parquet files; `path` may be a glob, like data/credit/*.csv, or a date template, like
    data/{date:%Y-%m-%d}.csv or data/dt={date:%Y-%m-%d}/*.parquet (only the window's days are read).
    """

    kind: Literal["csv", "parquet"]
    path: Text

    @field_validator("path")
    @classmethod
    def _only_date_fields(cls, value: str) -> str:
        rest = _DATE_FIELD.sub("", value)
        if "{" in rest or "}" in rest:
            raise invalid(
                "the only field a path may hold is {date} or {date:FORMAT} with strftime "
                "directives, like data/{date:%Y-%m-%d}.csv"
            )
        return value


class SqlSource(_Part):
    """A table or query in any SQLAlchemy database; the URL is read from the `url_env` variable."""

    kind: Literal["sql"]
    url_env: EnvName
    table: Text | None = None
    query: Text | None = None

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlSource:
        if (self.table is None) == (self.query is None):
            raise invalid("give exactly one of table: or query:")
        if self.query and not all(re.search(rf":{p}\b", self.query) for p in ("start", "end")):
            raise invalid(
                "the query must select the window with the :start and :end parameters, "
                "like WHERE scored_at >= :start AND scored_at < :end"
            )
        return self


class HttpSource(_Part):
    """Scored rows served over HTTP(S); a read of a window must end within `deadline`."""

    kind: Literal["http"]
    url: HttpUrl
    headers_env: dict[Text, EnvName] = Field(default_factory=dict)
    format: Literal["json", "csv"] = "json"
    deadline: Annotated[Duration, Positive] | None = None


Source = Annotated[FileSource | SqlSource | HttpSource, Field(discriminator="kind")]


class Data(_Part):
    """Where the scored rows are and which columns mean what."""

    source: Source
    timestamp: Column
    score: Column
    decision_threshold: Probability | None = None
    label: Column | None = None
    label_delay: Duration | None = None
    features: Columns | None = None
    segments: Columns = ()

    @property
    def reserved_columns(self) -> tuple[str, ...]:
        """The timestamp, score and label columns: never features."""
        return tuple(c for c in (self.timestamp, self.score, self.label) if c is not None)

    def feature_columns(self, columns: Iterable[str]) -> tuple[str, ...]:
        """The listed features, or else every column of `columns` but the reserved ones."""
        if self.features is not None:
            return self.features
        return tuple(c for c in columns if c not in self.reserved_columns)

    @model_validator(mode="after")
    def _columns(self) -> Data:
        problems: list[tuple[Loc, str]] = []
        if self.label_delay is not None and self.label is None:
            problems.append((("label_delay",), "a label_delay needs a label: add label: <column>"))
        roles = {getattr(self, role): role for role in ("timestamp", "score", "label")}
        for field in ("features", "segments"):
            problems += [
                ((field, i), f"{c!r} is the {roles[c]} column, not a {field[:-1]}")
                for i, c in enumerate(getattr(self, field) or ())
                if c in roles
            ]
        _raise_at(problems)
        return self


class BaselineSource(_Part):
    """A baseline read from its own source instead of a window of the monitored one."""

    source: Source


def _baseline_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "source" if "source" in value else "window"
    return "source" if isinstance(value, BaselineSource) else "window"


CardBaseline = Annotated[
    Annotated[DateRange, Tag("window")] | Annotated[BaselineSource, Tag("source")],
    Discriminator(_baseline_kind),
]
"""The card's `baseline:`: a window of the monitored source, or a source of its own."""


class Threshold(_Part):
    warn: Annotated[FiniteFloat, Field(ge=0)]
    critical: Annotated[FiniteFloat, Field(ge=0)]

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.warn > self.critical:
            raise invalid(f"warn ({self.warn}) exceeds critical ({self.critical}): swap them")
        return self


class Schedule(_Part):
    check: Cron
    check_in: Cron = "0 10 * * mon"
    timezone: TimeZone = "UTC"


class Escalation(_Part):
    acknowledge_within: Annotated[Duration, Positive] = timedelta(hours=4)
    ladder: Ladder = ("builders",)


class Card(_Part):
    """One model's handoff card. `load_card` in store.cards reads it from YAML."""

    model: ModelId
    name: Text
    version: Version | None = None
    intent: Intent
    builders: People
    channel: Channel
    business_channel: Channel | None = None
    limitations: tuple[Limitation, ...] = ()
    context: Context = Context()
    data: Data
    baseline: CardBaseline
    thresholds: dict[MetricName, Threshold] = Field(default_factory=dict)
    schedule: Schedule
    escalation: Escalation = Escalation()

    @property
    def tz(self) -> ZoneInfo:
        """The time zone the schedule's cron expressions are read in."""
        return ZoneInfo(self.schedule.timezone)

    @model_validator(mode="after")
    def _segment_columns(self) -> Card:
        """A limitation's segment names a listed feature or segment (any column, if no features)."""
        if self.data.features is None:
            return self
        known = (*self.data.features, *self.data.segments)
        problems: list[tuple[Loc, str]] = []
        for i, segment in enumerate(x.segment for x in self.limitations):
            if segment is not None and segment.column not in known:
                fix = _suggest(segment.column, known) or "add it to one of them or fix the name"
                message = f"{segment.column!r} is not among data.features or data.segments: {fix}"
                problems.append((("limitations", i, "segment", "column"), message))
        _raise_at(problems)
        return self
