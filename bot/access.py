"""Who may act on a model's episodes: its builders, the members of its escalation ladder (people,
and everybody in a ladder channel), and HANDOFF_ADMINS. Everyone else is refused (and the refusal
audited by the listener)."""

from __future__ import annotations

from collections.abc import Iterable

from bot.directory import Directory
from jobs.queries import CardView


class Access:
    """Decides `may_act(user, card)` with the directory's cached look-ups."""

    def __init__(self, directory: Directory, admins: Iterable[str]) -> None:
        self.directory = directory
        self.admins = frozenset(admins)

    def may_act(self, user: str, card: CardView) -> bool:
        if user in self.admins:
            return True
        for who in (*card.builders, *card.ladder):
            if who == "builders":
                continue
            if who.startswith("#"):
                if user in self.directory.members(who):
                    return True
            elif who == user or self.directory.user_id(who) == user:
                return True
        return False

    def role(self, user: str, card: CardView) -> str | None:
        """What `user` is to the model: a builder, on its ladder, an admin, or nothing (None)."""
        if any(b == user or self.directory.user_id(b) == user for b in card.builders):
            return "a builder"
        ladder = [r for r in card.ladder if r != "builders"]
        for rung in ladder:
            if rung.startswith("#"):
                if user in self.directory.members(rung):
                    return "on its escalation ladder"
            elif rung == user or self.directory.user_id(rung) == user:
                return "on its escalation ladder"
        return "an admin" if user in self.admins else None

    def may_check(self, user: str, card: CardView) -> bool:
        """`/model check` is for the builders and admins (a check costs a read of the source)."""
        if user in self.admins:
            return True
        return any(b == user or self.directory.user_id(b) == user for b in card.builders)

    def who_may(self, card: CardView) -> str:
        """In words, for a refusal: the builders and the ladder, tagged."""
        people = self.directory.people(card.builders)
        tagged = " ".join(p.mention for p in people.values() if p.active)
        return f"its builders ({tagged or 'none left'}), its escalation ladder and handoff admins"
