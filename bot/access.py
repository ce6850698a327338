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

    def who_may(self, card: CardView) -> str:
        """In words, for a refusal: the builders and the ladder, tagged."""
        people = self.directory.people(card.builders)
        tagged = " ".join(p.mention for p in people.values() if p.active)
        return f"its builders ({tagged or 'none left'}), its escalation ladder and handoff admins"
