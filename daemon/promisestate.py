"""Where the user's promises stand, from the store: the pure ``daemon.promises`` fed with the
stored sent mail (plus tags, found sentences), the promises made with `keepwarm remind`,
the done marks and the touchpoints and received mail of the people promised. `keepwarm
sync`, `promises`, `show`, `status` and `done` all read it here, so they agree."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from daemon import promises
from daemon.model import ContactFacts, Promise, PromiseNote, PromiseStatus, Settings
from daemon.store import Store


@dataclass(frozen=True)
class Promised:
    """Every promise judged as of a time, and the notes on the ones that name no day.
    ``ignored``: the addresses of contacts the user ignores (no reminder for them)."""

    statuses: Sequence[PromiseStatus]
    notes: Sequence[PromiseNote]
    ignored: frozenset[str] = frozenset()

    def open(self) -> list[PromiseStatus]:
        """The open promises of people not ignored: the ones that want a reminder."""
        return [s for s in self.statuses
                if s.state == "open" and s.promise.email not in self.ignored]

    def of(self, emails: Iterable[str]) -> Promised:
        """Only the promises and notes about one person (any of their addresses)."""
        mine = set(emails)
        return Promised([s for s in self.statuses if s.promise.email in mine],
                        [n for n in self.notes if n.email in mine], self.ignored)


def _filed(p: Promise, facts: dict[str, ContactFacts]) -> Promise:
    """The promise under its person's contact key and name (a card's name wins there)."""
    f = facts.get(p.email)
    return p if f is None else replace(p, contact=f.key, name=f.name or p.name)


def judged(store: Store, settings: Settings, now: datetime,
           facts: Iterable[ContactFacts] | None = None) -> Promised:
    """Every promise made by ``now`` (the stored sent mail reaches back
    ``forget_after_days``; manual ones always), judged as of ``now``. ``facts``: the
    contacts when the caller has them."""
    own = settings.own_addresses | store.aliases()
    found, notes = promises.collect(
        store.promise_mail(now - timedelta(days=settings.forget_after_days)), own, settings)
    made = [p for p in [*found, *store.manual_promises()] if p.made <= now]
    if facts is None:
        facts = store.contact_facts(until=now)
    by_email = {e: f for f in facts for e in f.emails}
    touched, heard = store.promise_times({e for p in made for e in p.people})
    statuses = promises.judge([_filed(p, by_email) for p in made], touched, heard,
                              store.done_marks(), now, settings.tz)
    statuses.sort(key=lambda s: (s.promise.due, s.promise.key))
    return Promised(statuses, [n for n in notes if n.at <= now],
                    frozenset(store.ignored_addresses()))
