"""[reminders] style = "digest": the follow-ups placed on a day become one event that lists
them, "Keep in touch: 4 people".

Pure, after placement: every member keeps its place under the budget and a record of its
own, so dismissals, ``keepwarm lapsed`` and the due cycles work per person as with
style = "each"; only the calendar holds one event a day. A member's record carries its
digest's UID and no event: the planner reads a deleted digest as each of them deleted
(``planner.user_actions``), and a deleted digest's day takes no more members.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol

from daemon.model import ReminderId, ReminderRecord, Wish
from daemon.reminders import DIGEST, digest


class DayStarts(Protocol):
    """Where a day's reminder goes (``planner.Starts``)."""

    def of(self, day: date) -> datetime: ...

    def day(self, start: datetime) -> date: ...


@dataclass(frozen=True)
class Folded:
    events: dict[ReminderId, tuple[Wish, datetime]]  # what the calendar holds, and when
    members: dict[ReminderId, ReminderId]  # a wish listed in a digest -> that digest


def joins(wish: Wish) -> bool:
    """Cadence and follow-up reminders, the ones the budget moves, join; a promise keeps
    its own event (a promised day is an appointment), birthdays stay all-day events and
    keepwarm's notices stand apart."""
    return wish.budgeted and not wish.fixed


def unfolded(live: Sequence[Wish], placed: Mapping[ReminderId, datetime]) -> Folded:
    """Style "each": every placed wish is its own event."""
    return Folded({w.rid: (w, placed[w.rid]) for w in live if w.rid in placed}, {})


def fold(live: Sequence[Wish], placed: Mapping[ReminderId, datetime],
         pinned: Mapping[ReminderId, datetime], records: Mapping[ReminderId, ReminderRecord],
         starts: DayStarts) -> Folded:
    """One digest per day holding the placed wishes that join, in ``live`` order, at the
    day's start or where the user moved that day's digest; the rest stay single events."""
    days: dict[date, list[Wish]] = {}
    events: dict[ReminderId, tuple[Wish, datetime]] = {}
    for w in live:
        if w.rid not in placed:
            continue
        if joins(w):
            days.setdefault(starts.day(placed[w.rid]), []).append(w)
        else:
            events[w.rid] = (w, placed[w.rid])
    members: dict[ReminderId, ReminderId] = {}
    for day, group in sorted(days.items()):
        d = digest(day, group)
        record = records.get(d.rid)
        moved = d.rid in pinned and record is not None and record.due == day
        events[d.rid] = (d, pinned[d.rid] if moved else starts.of(day))
        members.update((w.rid, d.rid) for w in group)
    return Folded(events, members)


def member_record(wish: Wish, held_by: ReminderRecord) -> ReminderRecord:
    """A member's record: its own id and due date, its digest's UID and start; never
    confirmed itself (its digest's record says whether the calendar holds it)."""
    return replace(held_by, rid=wish.rid, due=wish.due, pinned=False, confirmed=False,
                   prev_start=None, remote_id="", etag="")


def shared_uids(records: Mapping[ReminderId, ReminderRecord]) -> frozenset[str]:
    """The UIDs of digests: a digest's members' records carry it too."""
    seen: set[str] = set()
    shared: set[str] = set()
    for r in records.values():
        (shared if r.uid in seen else seen).add(r.uid)
    return frozenset(shared)


def closed_days(dismissed: Mapping[ReminderId, date]) -> frozenset[date]:
    """Days whose digest the user deleted: done with keeping in touch that day, so whoever
    becomes due then waits for the next working day."""
    return frozenset(due for rid, due in dismissed.items() if rid.kind == DIGEST)


def kept(dismissed: Mapping[ReminderId, date], as_of: date) -> dict[ReminderId, date]:
    """A deleted digest's day matters until it has passed."""
    return {rid: due for rid, due in dismissed.items() if rid.kind != DIGEST or due >= as_of}

