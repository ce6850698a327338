"""Findings: one row per condition of a model, open while it is seen, recovered after it clears.

A check run's observations are matched to the model's findings in two steps: `plan` decides, from
what is stored and without writing, what the run does to each condition (so `--no-post` reports
the states as they are), and `apply` writes it and queues what must be said (jobs never speaks to
Slack). The rules:

- **Later windows only.** A finding is updated, cleared or recovered only by a run of a window
  later than the one it was last seen in. A run of a window older than the model's newest check (a
  backfill, `--as-of` in the past) records its history and changes no finding.
- **Recovery** after `RECOVER_AFTER` clear runs (windows in which the condition was looked for and
  not seen; a run that could not read its data, or read none, looks at nothing), two more for
  each time the finding already came back (flapping needs longer to be believed), at most
  `MAX_CLEAR_RUNS`.
- **Return.** A condition seen again within `RETURN_WITHIN` of recovering reopens its finding (and
  its episode), instead of opening a new one.
- **Telling.** A finding that reaches warn joins an episode (jobs/episodes.py); its rise above the
  worst severity told, its recovery and its return are thread replies there. `info` findings are
  kept and shown, never pushed. What was told is derived from `worst_severity`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from jobs import episodes
from jobs.observations import Observation
from jobs.stats import Severity
from store import repo
from store.models import Episode, Finding
from store.states import EpisodeState, FindingState, NotificationKind

NOTIFY_FROM = Severity.WARN
RECOVER_AFTER = 2
MAX_CLEAR_RUNS = 7
RETURN_WITHIN = timedelta(days=7)
STANDING = frozenset({"ownership"})
"""Kinds of finding no check run looks for (the weekly check-ins judge them, `stand`): a check
run neither sees nor clears them."""

Move = Literal["open", "return", "see", "clear", "recover", "past"]
Outcome = Literal["new", "ongoing", "recovered", "past"]


@dataclass(frozen=True)
class Decision:
    """What one run does to one condition. `finding` is the stored row it acts on (None for
    "open" and for a "past" observation no live finding holds)."""

    move: Move
    observation: Observation | None
    finding: Finding | None

    @property
    def outcome(self) -> Outcome | None:
        """The condition's state after the run, as `handoff check --json` reports it (None for a
        clear run that is not yet a recovery: nothing to report)."""
        if self.move in ("open", "return"):
            return "new"
        if self.move == "see":
            return "ongoing"
        if self.move == "recover":
            return "recovered"
        if self.move == "past":
            return "ongoing" if self.finding is not None else "past"
        return None


def told(finding: Finding) -> Severity:
    """The highest severity people were told of (NONE while it never reached `warn`)."""
    worst = Severity(finding.worst_severity)
    return worst if worst.rank >= NOTIFY_FROM.rank else Severity.NONE


def clear_runs_needed(finding: Finding) -> int:
    return min(RECOVER_AFTER + 2 * finding.reopened, MAX_CLEAR_RUNS)


def plan(
    session: Session,
    *,
    model_id: str,
    observations: list[Observation],
    window_end: datetime,
    complete: bool,
) -> list[Decision]:
    """Decide what a run of the window ending at `window_end` does to each condition (reads only).

    `complete=False` (the run could not read its data, or read no rows) looks at nothing: it
    clears no finding.
    """
    live = {f.key: f for f in repo.live_findings(session=session, model_id=model_id)}
    newest = repo.last_check_run(session=session, model_id=model_id)
    if newest is not None and newest.window_end > window_end:  # looking back: history only
        return [Decision("past", o, live.get(o.key)) for o in observations]
    returning = {
        f.key: f
        for f in repo.recovered_findings(
            session=session, model_id=model_id, since=window_end - RETURN_WITHIN
        )
    }
    out: list[Decision] = []
    seen: set[str] = set()
    for obs in observations:
        if obs.key in seen:
            continue
        seen.add(obs.key)
        finding = live.get(obs.key)
        if obs.held:
            continue  # still there, shown by another finding: neither updated nor cleared
        if finding is not None:
            older = finding.last_window_end > window_end  # the same window: a failed run's rerun
            out.append(Decision("past" if older else "see", obs, finding))
        elif obs.key in returning:
            out.append(Decision("return", obs, returning[obs.key]))
        else:
            out.append(Decision("open", obs, None))
    if complete:
        for key, finding in live.items():
            if key in seen or finding.kind in STANDING or finding.last_window_end > window_end:
                continue
            cleared = finding.clear_runs + 1 >= clear_runs_needed(finding)
            out.append(Decision("recover" if cleared else "clear", None, finding))
    return out


@dataclass(frozen=True)
class Applied:
    """A run's decisions as written: each with its finding's id, and the messages queued."""

    decisions: list[tuple[Decision, int | None]]
    queued: int


def apply(
    session: Session,
    decisions: list[Decision],
    *,
    model_id: str,
    check_run_id: int | None,
    window_end: datetime,
    channel: str,
    now: datetime,
    acknowledge_within: timedelta,
) -> Applied:
    """Write the decisions of one run and queue what must be said (see the module docstring)."""
    before = repo.notification_count(session=session, model_id=model_id)
    episodes.wake_due(session, model_id=model_id, channel=channel, now=now, ack=acknowledge_within)
    context = _Context(
        session=session,
        check_run_id=check_run_id,
        window_end=window_end,
        channel=channel,
        now=now,
        ack=acknowledge_within,
    )
    written = []
    for decision in decisions:
        finding = context.do(decision, model_id)
        written.append((decision, finding.id if finding is not None else None))
    for episode in context.touched.values():
        fresh = episode.id in context.opened  # its root is yet to be posted, as it is now
        episodes.refresh(session, episode, channel=channel, now=now, changed=not fresh)
    session.flush()
    queued = repo.notification_count(session=session, model_id=model_id) - before
    return Applied(written, queued)


def stand(
    session: Session,
    *,
    model_id: str,
    key: str,
    observation: Observation | None,
    now: datetime,
    channel: str,
    acknowledge_within: timedelta,
) -> Applied:
    """Judge one standing condition (`STANDING`) now, leaving every other finding as it is: seen
    (`observation`) it opens, returns or is updated; not seen, its live finding recovers at once
    (what ends it, an answer or a hand-over, is not a noisy reading to be confirmed)."""
    live = repo.live_finding(session=session, model_id=model_id, key=key)
    if observation is None:
        decisions = [Decision("recover", None, live)] if live is not None else []
    elif live is not None:
        decisions = [Decision("see", observation, live)]
    else:
        back = [
            f
            for f in repo.recovered_findings(
                session=session, model_id=model_id, since=now - RETURN_WITHIN
            )
            if f.key == key
        ]
        decisions = [
            Decision("return", observation, back[-1])
            if back
            else Decision("open", observation, None)
        ]
    if not decisions:
        return Applied([], 0)
    return apply(
        session,
        decisions,
        model_id=model_id,
        check_run_id=None,
        window_end=now,
        channel=channel,
        now=now,
        acknowledge_within=acknowledge_within,
    )


@dataclass
class _Context:
    """Applying one run: where it writes, and the episodes it touched (refreshed at the end)."""

    session: Session
    check_run_id: int | None
    window_end: datetime
    channel: str
    now: datetime
    ack: timedelta
    touched: dict[int, Episode] = field(default_factory=dict)
    opened: set[int] = field(default_factory=set)

    def do(self, decision: Decision, model_id: str) -> Finding | None:
        obs, finding = decision.observation, decision.finding
        if decision.move == "past":
            return finding
        if decision.move == "open":
            assert obs is not None
            finding = self._open(model_id, obs)
            self._tell_new(finding, returned=False)
        elif decision.move == "return":
            assert obs is not None and finding is not None
            self._return(finding, obs)
            self._tell_new(finding, returned=True)
        elif decision.move == "see":
            assert obs is not None and finding is not None
            was_told = told(finding)
            self._see(finding, obs)
            self._tell_seen(finding, was_told)
        elif decision.move == "clear":
            assert finding is not None
            finding.clear_runs += 1
        else:
            assert finding is not None
            self._recover(finding)
        return finding

    # --- writing a finding

    def _open(self, model_id: str, obs: Observation) -> Finding:
        finding = Finding(
            model_id=model_id,
            key=obs.key,
            kind=obs.kind,
            metric=obs.metric,
            feature=obs.feature,
            segment=obs.segment,
            severity=obs.severity,
            worst_severity=obs.severity,
            value=obs.value,
            worst_value=obs.value,
            threshold=obs.threshold,
            summary=obs.summary,
            details=dict(obs.details),
            state=FindingState.OPEN,
            clear_runs=0,
            reopened=0,
            opened_at=self.now,
            last_seen_at=self.now,
            last_window_end=self.window_end,
            first_check_run_id=self.check_run_id,
            last_check_run_id=self.check_run_id,
        )
        self.session.add(finding)
        self.session.flush()
        return finding

    def _return(self, finding: Finding, obs: Observation) -> None:
        finding.state = FindingState.OPEN
        finding.reopened += 1
        finding.closed_at = finding.closed_window_end = None
        finding.worst_severity = obs.severity  # told afresh: the return is news
        finding.worst_value = obs.value
        self._see(finding, obs)

    def _see(self, finding: Finding, obs: Observation) -> None:
        finding.severity = obs.severity
        finding.value = obs.value
        finding.threshold = obs.threshold
        finding.metric = obs.metric
        finding.summary = obs.summary
        finding.details = dict(obs.details)  # p-values, limitations: as of this sighting
        finding.last_seen_at = self.now
        finding.last_window_end = self.window_end
        finding.last_check_run_id = self.check_run_id
        finding.clear_runs = 0
        if obs.value is not None and (
            finding.worst_value is None or abs(obs.value) > abs(finding.worst_value)
        ):
            finding.worst_value = obs.value
        if obs.severity.rank > Severity(finding.worst_severity).rank:
            finding.worst_severity = obs.severity
        if finding.episode_id is not None:
            self._touch(finding.episode_id)

    def _recover(self, finding: Finding) -> None:
        finding.clear_runs += 1
        finding.state = FindingState.RECOVERED
        finding.closed_at = self.now
        finding.closed_window_end = self.window_end
        if finding.episode_id is None:
            return
        episode = self._touch(finding.episode_id)
        episodes.audit(self.session, episode, "finding_recovered", self.now, finding=finding)
        if told(finding) != Severity.NONE and episode.state != EpisodeState.RESOLVED:
            self._say(episode, NotificationKind.FINDING_RECOVERED, finding, "recovered")

    # --- telling people

    def _tell_new(self, finding: Finding, *, returned: bool) -> None:
        if Severity(finding.severity).rank < NOTIFY_FROM.rank:
            return
        own = self.session.get(Episode, finding.episode_id) if finding.episode_id else None
        stays = own is not None and episodes.is_active(own)
        active = repo.active_episode(session=self.session, model_id=finding.model_id)
        episode = episodes.attach(
            self.session,
            finding,
            channel=self.channel,
            now=self.now,
            acknowledge_within=self.ack,
            returned=returned,
            fresh=frozenset(self.opened),
        )
        if returned and stays:  # back while its episode is still going: a reply in its thread
            self._say(episode, NotificationKind.FINDING_RETURNED, finding, "returned")
        if episode is not own and active is None:
            self.opened.add(episode.id)
        self._touch(episode.id)

    def _tell_seen(self, finding: Finding, was_told: Severity) -> None:
        severity = Severity(finding.severity)
        if severity.rank < NOTIFY_FROM.rank or severity.rank <= was_told.rank:
            return
        if was_told == Severity.NONE or finding.episode_id is None:
            self._tell_new(finding, returned=False)  # first time at warn: it joins an episode
            return
        episode = self._touch(finding.episode_id)
        if not episodes.is_active(episode):  # worse than when it was resolved: open again
            episodes.reopen(
                self.session, episode, finding, channel=self.channel, now=self.now, ack=self.ack
            )
            return
        self._say(episode, NotificationKind.FINDING_WORSE, finding, f"severity:{severity}")

    def _say(self, episode: Episode, kind: NotificationKind, finding: Finding, what: str) -> None:
        episodes.say(
            self.session,
            episode,
            kind,
            now=self.now,
            key=f"finding:{finding.id}:{finding.reopened}:{what}",
            channel=self.channel,
            finding=finding,
            payload=episodes.finding_payload(finding),
        )

    def _touch(self, episode_id: int) -> Episode:
        episode = self.touched.get(episode_id) or self.session.get(Episode, episode_id)
        assert episode is not None
        self.touched[episode_id] = episode
        return episode
