"""`handoff demo`: eight weeks of a credit model's life in well under a minute, no Slack needed.

The story: a credit-risk model is handed over on Monday 2 February 2026 with a card (intent,
limitations, owners, thresholds). Two quiet weeks later its applicants' credit utilization starts to
creep up, half a standard deviation a week; accuracy falls a point or two a week, and every system
dashboard stays green. handoff catches it within days, in the team's channel, with the card's
intent and limitations, and the people around the model act on it.

Everything that runs is the product: the card is registered and its baseline fitted from the first
four weeks of scored applications (a seeded simulation, jobs/simulation.py, one CSV file a day);
each morning's check, the escalation and check-in sweeps and the deliverer run on a simulated clock;
the deliverer posts over HTTP to a fake Slack (bot/fakeslack) that keeps the channels, threads,
edits, files and private answers; and the people's clicks, modals and slash commands are signed
requests handed to the real bolt app. What handoff said is printed as a person reads it
(bot/transcript.py) and written to `transcript.html`, with the weekly charts beside it.

Who is who: Maria built the model (its builder), Omar leads ML (the escalation ladder's second
rung), Dana is an underwriting analyst who acts on the scores, and Sam takes the model over from
Maria in week six.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from slack_bolt.request import BoltRequest
from sqlalchemy.orm import Session, sessionmaker

from bot.access import Access
from bot.app import build_app
from bot.delivery import Deliverer, make_client
from bot.directory import Directory
from bot.fakeslack import signing
from bot.fakeslack.server import FakeSlack
from bot.ids import ActionId, BlockId, CallbackId, InputId
from bot.listeners.commands import permalinker
from bot.listeners.deps import Deps
from bot.transcript import Transcript
from jobs import checkins, escalation
from jobs.checks import run_check
from jobs.registration import fit_for, register_card
from jobs.results import CheckResult
from jobs.simulation import simulate_day, slow_drift, write_csv
from store import db, repo
from store.cards import load_card

START = date(2026, 1, 5)  # a Monday: the baseline is the four weeks from here
BASELINE_DAYS = 28
WEEKS = 8  # of daily checks after the handoff
ONSET = 42  # the day (from START) the drift begins: Monday 16 February, two quiet weeks in
PER_WEEK = 0.5  # how fast utilization creeps, in baseline standard deviations a week
ROWS = 1000  # scored applications a day
SEED = 7
HANDED_OVER = datetime(2026, 2, 2, 7, 0, tzinfo=UTC)
MODEL = "credit-risk"
CHANNEL, BUSINESS, PLATFORM = "credit-model-health", "underwriting", "ml-platform"
SECRET = "demo-signing-secret"
TICKS = (clock_time(6), clock_time(10), clock_time(11), clock_time(14), clock_time(18))
NEW_LIMITATION = (
    "Since mid-February applicants' credit utilization is far above the training range; "
    "scores for utilization above the old range are not validated."
)


@dataclass(frozen=True)
class Person:
    handle: str
    user_id: str
    real_name: str
    role: str

    @property
    def email(self) -> str:
        return f"{self.handle}@example.com"


MARIA = Person("maria", "U0MARIA01", "Maria Keller", "built the model")
OMAR = Person("omar", "U0OMAR002", "Omar Haddad", "leads ML; second on the escalation ladder")
DANA = Person("dana", "U0DANA003", "Dana Okafor", "underwriting analyst; acts on the scores")
SAM = Person("sam", "U0SAM0004", "Sam Rivera", "takes the model over in week six")
PEOPLE = (MARIA, OMAR, DANA, SAM)


@dataclass
class SimClock:
    """The demo's time: the app, the jobs and the fake Slack all read it."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    def stamp(self) -> float:
        return self.at.timestamp()


@dataclass
class Outcome:
    """What the demo measured, for its last lines and for the tests."""

    onset: date
    caught: datetime | None
    accuracy: dict[date, float]  # each Monday: the true accuracy of that week's scores
    messages: int
    replies: int
    edits: int
    private: int
    folder: Path
    charts: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def delay_days(self) -> int | None:
        return None if self.caught is None else (self.caught.date() - self.onset).days


def card_content(data_path: str) -> dict[str, Any]:
    """The demo's handoff card (written to `credit-risk.yaml` beside the data)."""
    return {
        "model": MODEL,
        "name": "Credit risk score",
        "version": "3.2",
        "intent": {
            "problem": "Rank loan applications by risk of default so underwriters review the "
            "riskiest first.",
            "good_outcome": "At least 60% of the applications scored above 0.5 default.",
            "decisions": "Orders the manual review queue; never rejects an application on its own.",
        },
        "builders": [MARIA.email],
        "channel": f"#{CHANNEL}",
        "business_channel": f"#{BUSINESS}",
        "limitations": [
            {
                "text": "Less reliable in APAC: few APAC applicants in training.",
                "segment": {"column": "region", "in": ["APAC"]},
            },
            {
                "text": "Applicants with the shortest credit histories (history_months below "
                "-1.5 on the model's scale) score close to the base rate.",
                "segment": {"column": "history_months", "below": -1.5},
            },
        ],
        "context": {
            "trained_on": {"from": "2025-07-01", "to": "2025-12-31"},
            "validated_on": "Retail applicants in EU, US and APAC, January 2026.",
            "notes": "Accuracy at the 0.5 cut-off is the proxy for expected loss.",
        },
        "data": {
            "source": {"kind": "csv", "path": data_path},
            "timestamp": "scored_at",
            "score": "score",
            "decision_threshold": 0.5,
            "label": "defaulted",
            "label_delay": "7d",
            "features": [
                "income",
                "debt_ratio",
                "history_months",
                "utilization",
                "inquiries",
                "product",
            ],
            "segments": ["region"],
        },
        "baseline": {
            "from": START.isoformat(),
            "to": (START + timedelta(days=BASELINE_DAYS - 1)).isoformat(),
        },
        "schedule": {"check": "0 6 * * *", "check_in": "0 10 * * mon", "timezone": "UTC"},
        "escalation": {
            "acknowledge_within": "4h",
            "ladder": ["builders", OMAR.email, f"#{PLATFORM}"],
        },
    }


LABEL_DELAY = timedelta(days=7)


@dataclass
class Traffic:
    """The model's scored applications, one CSV file a day, written as they would arrive: a day's
    file the morning after, without outcomes; its `defaulted` column filled in a label delay later
    (the baseline's four weeks arrive labelled: the builders validated on them)."""

    folder: Path
    accuracy: dict[date, float] = field(default_factory=dict)

    def write(self, day: int, *, labelled: bool) -> None:
        columns = simulate_day(
            day, slow_drift(ONSET, per_week=PER_WEEK), start=START, rows=ROWS, seed=SEED
        )
        on = START + timedelta(days=day)
        hits = (columns["score"] >= 0.5) == (columns["defaulted"] > 0)
        self.accuracy[on] = float(np.mean(hits))
        write_csv(self.folder / f"{on.isoformat()}.csv", columns, labelled=labelled)

    def arrive(self, on: date) -> None:
        """The morning of `on`: yesterday's scores, and the outcomes of a label delay ago."""
        yesterday = (on - START).days - 1
        self.write(yesterday, labelled=False)
        matured = yesterday - LABEL_DELAY.days
        if matured >= BASELINE_DAYS:
            self.write(matured, labelled=True)


class Desk:
    """The people's side: signed requests to the app, and what Slack shows them."""

    def __init__(self, slack: FakeSlack, app: Any) -> None:
        self.slack, self.app = slack, app

    def send(self, request: signing.SignedRequest) -> dict[str, Any]:
        headers: dict[str, str | Sequence[str]] = dict(request.headers)
        answer = self.app.dispatch(BoltRequest(body=request.body.decode(), headers=headers))
        if answer.status != 200:
            raise RuntimeError(f"the app answered {answer.status}: {answer.body}")
        body = str(answer.body or "").strip()
        return json.loads(body) if body.startswith("{") else {}

    def _url(self, channel: str, person: Person, ts: str | None = None) -> str:
        # minted with the channel and user: what is posted to it shows as a private answer there
        return self.slack.response_url(channel=channel, user=person.user_id, message_ts=ts)

    def click(
        self, person: Person, action: str, value: int, *, ts: str, modal: bool = False
    ) -> None:
        channel = CHANNEL
        message = self.slack.thread(channel, ts)[0]
        self.send(
            signing.block_actions(
                action,
                str(value),
                secret=SECRET,
                user_id=person.user_id,
                channel_id=self.slack.channel_id(channel),
                message={"type": "message", "ts": ts, "text": message["text"]},
                response_url=self._url(channel, person, ts),
                trigger_id=self.slack.trigger_id(person.user_id) if modal else "",
            )
        )

    def command(self, person: Person, channel: str, text: str) -> None:
        self.send(
            signing.slash_command(
                "/model",
                text,
                secret=SECRET,
                user_id=person.user_id,
                channel_id=self.slack.channel_id(channel),
                response_url=self._url(channel, person),
                trigger_id=self.slack.trigger_id(person.user_id),
            )
        )

    def opened_view(self) -> dict[str, Any]:
        view = self.slack.calls("views.open")[-1].params["view"]
        opened: dict[str, Any] = json.loads(view) if isinstance(view, str) else view
        return opened

    def submit(self, person: Person, callback: str, values: dict[str, Any], meta: str) -> None:
        answer = self.send(
            signing.view_submission(
                callback, values, secret=SECRET, user_id=person.user_id, private_metadata=meta
            )
        )
        if answer.get("response_action") == "errors":
            raise RuntimeError(f"the modal refused the demo's answer: {answer['errors']}")


def review_values(view: dict[str, Any], add: str) -> dict[str, Any]:
    """The review modal's inputs as they were, plus one more limitation in its empty slot."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        value = block["element"].get("initial_value") or ""
        if not value and block["block_id"].startswith(BlockId.LIMITATION):
            value, add = add, ""
        values[block["block_id"]] = {
            block["block_id"]: {"type": "plain_text_input", "value": value}
        }
    return values


@dataclass
class Story:
    """The demo's running state: the product's parts on one simulated clock."""

    sessions: sessionmaker[Session]
    clock: SimClock
    desk: Desk
    deliverer: Deliverer
    directory: Directory
    transcript: Transcript
    say: Callable[[str], None]
    traffic: Traffic
    last: CheckResult | None = None
    answered: set[str] = field(default_factory=set)
    check_ins: list[int] = field(default_factory=list)
    episode_seen: int | None = None
    caught: datetime | None = None

    def run(self) -> None:
        """Each simulated day: the data arrives, the morning check, then the day's sweeps,
        deliveries and people's actions at each tick; a quiet day is one line."""
        for day in range(WEEKS * 7 + 1):
            on = HANDED_OVER.date() + timedelta(days=day)
            said = False
            for tick in TICKS if day < WEEKS * 7 else TICKS[:1]:
                self.clock.at = datetime.combine(on, tick, tzinfo=UTC)
                if tick == TICKS[0] and day > 0:
                    self.traffic.arrive(on)
                    self.last = run_check(
                        sessions=self.sessions,
                        model_id=MODEL,
                        window_end=datetime.combine(on, clock_time(0), tzinfo=UTC),
                        now=self.clock.at,
                        environ={},
                    )
                escalation.sweep(self.sessions, now=self.clock.at)
                self.check_ins += checkins.sweep(
                    self.sessions, now=self.clock.at, roster=self.directory.gone
                )
                self.deliver()
                self.act(on, tick)
                self.deliver()
                said = self.show() or said
            if not said and self.last is not None:
                self.say(self.quiet_line(self.last))

    def quiet_line(self, result: CheckResult) -> str:
        """A check that found nothing worth a message, as one line."""
        live = [f for f in result.findings if f.state in ("new", "ongoing")]
        left = f"{len(live)} finding(s) still open" if live else "nothing worth a message"
        return (
            f"{result.window_end + timedelta(hours=6):%a %d %b} 06:00  · checked "
            f"{result.window_start:%a %d %b}: {result.rows_read:,} scored applications, {left}"
        )

    def deliver(self) -> None:
        for _ in range(20):
            report = self.deliverer.deliver(budget=30)
            if not (report.sent or report.superseded or report.retried):
                return

    def show(self) -> bool:
        new = self.transcript.catch_up()
        for entry in new:
            self.say("")
            for line in self.transcript.lines(entry):
                self.say(line)
        return bool(new)

    # --- what the people do

    def act(self, on: date, tick: clock_time) -> None:
        self._episode(tick)
        if on.weekday() == 0 and tick == TICKS[2] and self.check_ins:
            self._check_in(on)

    def _episode(self, tick: clock_time) -> None:
        with self.sessions() as session:
            episodes = repo.episodes_in(
                session=session, model_id=MODEL, states=("open", "acknowledged")
            )
            episode = episodes[0] if episodes else None
            if episode is None or episode.slack_ts is None or episode.slack_channel is None:
                return
            episode_id, ts, step = episode.id, episode.slack_ts, episode.escalation_step
            acknowledged = episode.acknowledged_at is not None
            if self.caught is None:
                self.caught = episode.opened_at.replace(tzinfo=UTC)
        if not acknowledged and step >= 1 and tick >= TICKS[2]:
            self.desk.click(OMAR, ActionId.ACKNOWLEDGE, episode_id, ts=ts)
            self.desk.click(OMAR, ActionId.EXPLAIN, episode_id, ts=ts)
            self.episode_seen = episode_id
        if self.episode_seen == episode_id and "trust" not in self.answered and tick == TICKS[3]:
            self.answered.add("trust")
            self.desk.command(DANA, BUSINESS, f"trust {MODEL} 0.72")

    def _check_in(self, on: date) -> None:
        check_in_id = self.check_ins[-1]
        with self.sessions() as session:
            found = repo.get_check_in(session=session, check_in_id=check_in_id)
            if found is None or found.slack_ts is None or found.answered_at is not None:
                return
            ts = found.slack_ts
        week = (on - HANDED_OVER.date()).days // 7
        if self.episode_seen is not None and "review" not in self.answered:
            self.answered.add("review")
            self.desk.click(MARIA, ActionId.NEEDS_REVIEW, check_in_id, ts=ts, modal=True)
            values = review_values(self.desk.opened_view(), NEW_LIMITATION)
            self.desk.submit(MARIA, CallbackId.REVIEW, values, str(check_in_id))
        elif week == 5 and "hand over" not in self.answered:
            self.answered.add("hand over")
            self.desk.click(MARIA, ActionId.HAND_OVER, check_in_id, ts=ts, modal=True)
            chosen: dict[str, Any] = {
                BlockId.BUILDERS: {
                    InputId.BUILDERS: {
                        "type": "multi_users_select",
                        "selected_users": [SAM.user_id],
                    }
                }
            }
            self.desk.submit(MARIA, CallbackId.HAND_OVER, chosen, str(check_in_id))
        elif week == 4:
            return  # nobody answers this one: the next check-in says so
        else:
            who = SAM if "hand over" in self.answered else MARIA
            self.desk.click(who, ActionId.STILL_TRUE, check_in_id, ts=ts)


@contextmanager
def fake_workspace(clock: SimClock) -> Iterator[FakeSlack]:
    with FakeSlack(clock=clock.stamp) as slack:
        for person in PEOPLE:
            slack.add_user(
                person.handle,
                user_id=person.user_id,
                real_name=person.real_name,
                email=person.email,
            )
        everyone = [p.user_id for p in PEOPLE]
        slack.add_channel(CHANNEL, members=everyone)
        slack.add_channel(BUSINESS, members=[DANA.user_id])
        slack.add_channel(PLATFORM, members=[OMAR.user_id])
        yield slack


def run_demo(folder: Path, say: Callable[[str], None] = print) -> Outcome:
    """Play the story into `folder` (its earlier demo files are replaced); what it measured."""
    started = time.monotonic()
    for old in ("data", "charts", "handoff.db", "transcript.html", "credit-risk.yaml"):
        target = folder / old
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    traffic = Traffic(folder / "data")
    for day in range(BASELINE_DAYS):
        traffic.write(day, labelled=True)
    card_path = folder / "credit-risk.yaml"
    card_path.write_text(
        "# The demo's handoff card: `handoff demo` wrote it; see README.md for the format.\n"
        + yaml.safe_dump(card_content("data/{date}.csv"), sort_keys=False)
    )
    engine = db.prepare(f"sqlite:///{folder / 'handoff.db'}")
    sessions = db.make_sessionmaker(engine)
    clock = SimClock(HANDED_OVER)
    try:
        with fake_workspace(clock) as slack:
            outcome = _play(
                folder=folder,
                sessions=sessions,
                slack=slack,
                clock=clock,
                traffic=traffic,
                say=say,
            )
    finally:
        engine.dispose()
    outcome.seconds = time.monotonic() - started
    return outcome


def _play(
    *,
    folder: Path,
    sessions: sessionmaker[Session],
    slack: FakeSlack,
    clock: SimClock,
    traffic: Traffic,
    say: Callable[[str], None],
) -> Outcome:
    client = make_client(token="xoxb-handoff-demo", base_url=slack.url)
    directory = Directory(client)
    deps = Deps(
        sessions=sessions,
        directory=directory,
        access=Access(directory, admins=()),
        permalink=permalinker(client),
        now=clock.now,
    )
    app = build_app(client=client, signing_secret=SECRET, deps=deps, before_response=True)
    deliverer = Deliverer(
        sessions=sessions,
        client=client,
        holder="handoff-demo",
        directory=directory,
        post_pace=0.0,
        workers=1,
        now=clock.now,
    )
    names = {p.user_id: p.handle for p in PEOPLE}
    for name in (CHANNEL, BUSINESS, PLATFORM):
        names[slack.channel_id(name)] = name
    transcript = Transcript(slack, (CHANNEL, BUSINESS, PLATFORM), names, clock.now)
    story = Story(
        sessions=sessions,
        clock=clock,
        desk=Desk(slack, app),
        deliverer=deliverer,
        directory=directory,
        transcript=transcript,
        say=say,
        traffic=traffic,
    )
    card = load_card(folder / "credit-risk.yaml")
    fitted = fit_for(card, file=str(folder / "credit-risk.yaml"), base_dir=folder, environ={})
    with sessions.begin() as session:
        register_card(
            session=session,
            card=card,
            source_file=folder / "credit-risk.yaml",
            now=HANDED_OVER,
            fitted=fitted,
            by=MARIA.user_id,
        )
    story.run()
    charts = _write_charts(folder, slack)
    outcome = _outcome(story, traffic.accuracy, charts, folder)
    summary = ending(outcome)
    for line in summary:
        say(line)
    images = {path.name: f"charts/{path.name}" for path in charts}
    page = transcript.page(title="handoff demo: credit-risk", images=images, summary=summary)
    (folder / "transcript.html").write_text(page)
    return outcome


def _write_charts(folder: Path, slack: FakeSlack) -> list[Path]:
    charts = folder / "charts"
    charts.mkdir(exist_ok=True)
    written: list[Path] = []
    for uploaded in slack.files:
        if uploaded.content is not None and uploaded.filename.endswith(".png"):
            path = charts / uploaded.filename
            path.write_bytes(uploaded.content)
            written.append(path)
    return written


def _outcome(
    story: Story, accuracy: dict[date, float], charts: list[Path], folder: Path
) -> Outcome:
    kinds: dict[str, int] = {}
    for entry in story.transcript.entries:
        kinds[entry.kind] = kinds.get(entry.kind, 0) + 1
    weekly: dict[date, float] = {}
    monday = START
    while monday + timedelta(days=6) in accuracy:
        week = [accuracy[monday + timedelta(days=d)] for d in range(7)]
        weekly[monday] = float(np.mean(week))
        monday += timedelta(days=7)
    return Outcome(
        onset=START + timedelta(days=ONSET),
        caught=story.caught,
        accuracy=weekly,
        messages=kinds.get("message", 0),
        replies=kinds.get("reply", 0),
        edits=kinds.get("edit", 0),
        private=kinds.get("private", 0),
        folder=folder,
        charts=charts,
    )


def ending(outcome: Outcome) -> list[str]:
    """The demo's last words: when the drift began, when handoff said so, what it cost."""
    weeks = list(outcome.accuracy.items())
    before = [a for monday, a in weeks if monday < outcome.onset]
    base = float(np.mean(before)) if before else float("nan")
    last_monday, last = weeks[-1]
    lines = [
        "",
        "=" * 78,
        f"The drift began on {outcome.onset:%a %d %b}: credit utilization creeping up "
        f"{PER_WEEK} sd a week.",
    ]
    if outcome.caught is not None:
        at = _accuracy_on(outcome, outcome.caught.date())
        lines.append(
            f"handoff told #{CHANNEL} on {outcome.caught:%a %d %b %H:%M}, "
            f"{outcome.delay_days} day(s) after it began, while accuracy was "
            f"{100 * at:.1f}% (it was {100 * base:.1f}% before)."
        )
    else:
        lines.append("handoff did not catch the drift in these eight weeks (a defect: report it).")
    lines += [
        f"Left alone, it would have kept sliding in silence: the week of {last_monday:%d %b} "
        f"the model was right {100 * last:.1f}% of the time "
        f"({100 * (base - last):.1f} points down).",
        "True accuracy by week: "
        + ", ".join(f"{monday:%d %b} {100 * a:.1f}%" for monday, a in weeks),
        f"In Slack: {outcome.messages} messages, {outcome.replies} thread replies, "
        f"{outcome.edits} edits in place, {outcome.private} private answers.",
        f"Written to {outcome.folder}: transcript.html (open it in a browser), "
        f"{len(outcome.charts)} chart(s) in charts/, the card credit-risk.yaml, the data in "
        "data/, and handoff.db.",
    ]
    return lines


def _accuracy_on(outcome: Outcome, day: date) -> float:
    weeks = [a for monday, a in outcome.accuracy.items() if monday <= day]
    return weeks[-1] if weeks else float("nan")
