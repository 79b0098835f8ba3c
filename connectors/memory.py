"""The in-memory reference connector: the simplest correct implementation of the interface.

Not a product type: the tests register it (``registry.register`` in tests/conftest.py).

It holds sent and received mail, meetings and a reminders calendar in process memory, keyed
by the account's ``key`` option, so tests (and the conformance suites) can drive the whole
pipeline and play the user: moving or deleting reminders, adding events of their own.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

from connectors import checks
from connectors.base import CalendarConnector, Option
from connectors.text import card_emails
from daemon.model import (
    JSON,
    AccountConfig,
    Applied,
    Batch,
    Card,
    CardBatch,
    Change,
    Create,
    FetchContext,
    Mail,
    Meeting,
    Observation,
    RemoteReminder,
    Update,
)


@dataclass
class MemoryData:
    mail: list[Observation] = field(default_factory=list)  # Mail or Skipped, in order
    received: list[Observation] = field(default_factory=list)  # read after mail, as received
    meetings: dict[str, Meeting] = field(default_factory=dict)
    meetings_version: int = 0
    reminders: dict[str, RemoteReminder] = field(default_factory=dict)  # by remote id
    user_events: dict[str, bytes] = field(default_factory=dict)  # uid -> opaque content
    cards: dict[str, Card] = field(default_factory=dict)  # the address book, by card_id
    card_log: list[str] = field(default_factory=list)  # card_ids in the order they changed
    cards_expired: bool = False  # the next fetch_cards plays an expired cursor: a full listing
    fail: Exception | None = None  # raised by every call, to play a broken account

    def put_card(self, card: Card) -> None:
        """Add or change a card of the address book."""
        self.cards[card.card_id] = card
        self.card_log.append(card.card_id)

    def remove_card(self, card_id: str) -> None:
        self.cards.pop(card_id, None)
        self.card_log.append(card_id)


class MemoryConnector(CalendarConnector):
    type = "memory"
    reads_mail = True
    reads_meetings = True
    reads_contacts = True
    user_editable = True
    options: ClassVar[dict[str, Option]] = {
        "key": Option(str, default="", help="which in-memory data set (default: the name)"),
        "batch_size": Option(int, default=100, check=checks.positive,
                             help="observations per batch"),
    }

    DATA: ClassVar[dict[str, MemoryData]] = {}
    _etags = itertools.count(1)

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        self.data = self.DATA.setdefault(self.account.options["key"] or account.name,
                                         MemoryData())
        self.batch_size = int(self.account.options["batch_size"])

    def _check(self) -> None:
        if self.data.fail is not None:
            raise self.data.fail

    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        self._check()
        at = {"mail": 0, "received": 0, "meetings": -1, **(cursor or {})}
        lists = {"mail": self.data.mail, "received": self.data.received}
        for key, items in lists.items():
            for i in range(at[key], len(items), self.batch_size):
                at[key] = min(i + self.batch_size, len(items))
                yield Batch([_as_received(o) if key == "received" else o
                             for o in items[i:at[key]]], dict(at),
                            remaining=sum(len(v) - at[k] for k, v in lists.items()))
            at[key] = max(at[key], len(items))
        if at["meetings"] == self.data.meetings_version:
            yield Batch([], dict(at))
            return
        yield from self._meetings(at, ctx)

    def _meetings(self, at: dict[str, int], ctx: FetchContext) -> Iterator[Batch]:
        """Every meeting in the window, a snapshot; the last batch carries the new version."""
        window = [m for m in self.data.meetings.values()
                  if ctx.window_start <= m.start <= ctx.window_end]
        chunks = [window[i:i + self.batch_size] for i in range(0, len(window), self.batch_size)]
        chunks = chunks or [[]]
        for n, chunk in enumerate(chunks):
            done = n == len(chunks) - 1
            yield Batch(chunk, {**at, "meetings": self.data.meetings_version if done
                                else at["meetings"]}, snapshot=True, last=done)

    def _fetch_cards(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[CardBatch]:
        """The cursor is a place in the log of changes; none (or an expired one) lists every
        card, a full listing. A change logged twice since the cursor is read once."""
        self._check()
        log, cards = self.data.card_log, self.data.cards
        if cursor is None or self.data.cards_expired:
            self.data.cards_expired = False
            listing = [_read(c) for c in cards.values()]
            parts = [listing[i:i + self.batch_size]
                     for i in range(0, len(listing), self.batch_size)] or [[]]
            for n, part in enumerate(parts):
                last = n == len(parts) - 1
                yield CardBatch(part, len(log) if last else cursor, full=True, last=last)
            return
        changed = list(dict.fromkeys(log[int(cursor):]))
        for i in range(0, max(len(changed), 1), self.batch_size):
            chunk = changed[i:i + self.batch_size]
            end = len(log) if i + self.batch_size >= len(changed) else int(cursor)
            yield CardBatch([_read(cards[c]) for c in chunk if c in cards], end,
                            gone=[c for c in chunk if c not in cards])

    def _list_reminders(self) -> list[RemoteReminder]:
        self._check()
        return list(self.data.reminders.values())

    def _apply(self, changes: Sequence[Change]) -> list[Applied]:
        self._check()
        out = []
        for change in changes:
            if isinstance(change, Create):
                r = change.reminder
                remote = RemoteReminder(r.uid, r.rid, r.start, r.uid, str(next(self._etags)),
                                        r.title, r.description, r.end, r.all_day, r.alarm)
                self.data.reminders[remote.remote_id] = remote
                out.append(Applied(change, remote.remote_id, remote.etag))
            elif isinstance(change, Update):
                current = self.data.reminders.get(change.remote.remote_id)
                if current is None or current.etag != change.remote.etag:
                    continue  # the user changed it meanwhile: the next sync sees what they did
                r = change.reminder
                remote = replace(current, start=r.start, end=r.end, title=r.title,
                                 description=r.description, all_day=r.all_day,
                                 alarm=r.alarm, etag=str(next(self._etags)))
                self.data.reminders[remote.remote_id] = remote
                out.append(Applied(change, remote.remote_id, remote.etag))
            else:
                current = self.data.reminders.get(change.remote.remote_id)
                if current is not None and current.etag != change.remote.etag:
                    continue
                self.data.reminders.pop(change.remote.remote_id, None)
                out.append(Applied(change))
        return out

    # -- playing the user (tests) ----------------------------------------------
    def user_moves(self, remote_id: str, **fields: object) -> None:
        current = self.data.reminders[remote_id]
        self.data.reminders[remote_id] = replace(current, etag=str(next(self._etags)),
                                                 **fields)  # type: ignore[arg-type]

    def add_meeting(self, meeting: Meeting) -> None:
        self.data.meetings[meeting.meeting_id] = meeting
        self.data.meetings_version += 1


def _read(card: Card) -> Card:
    """A card as a source reports it (addresses as ``card_emails`` makes them)."""
    return replace(card, emails=card_emails(card.emails))


def _as_received(obs: Observation) -> Observation:
    """Mail of the received list as a source of received mail delivers it."""
    return replace(obs, received=True) if isinstance(obs, Mail) else obs


class OAuthMemoryConnector(MemoryConnector):
    """The reference connector playing an OAuth account: an AuthError from it means that the
    user must sign in again (`keepwarm auth`), not that a password is wrong."""

    type = "memory-oauth"
    needs_signin = True
