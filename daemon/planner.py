"""Which reminders should be in the calendar, and the changes that get it there.

Pure reconciliation over reminders of any kind: what the kinds want (``Wish``es, see
``daemon.reminders``), what the calendar holds now (only keepwarm's own events) and what
keepwarm recorded last time go in; the changes to apply and the records to keep come out.
Re-running on the result yields no changes. Nothing here knows what a kind means: a wish
says where it may go, and one budget (``max_per_day``) is shared by all of them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo

from daemon import digest
from daemon.model import (
    Change,
    Create,
    Delete,
    Reminder,
    ReminderId,
    ReminderRecord,
    RemoteReminder,
    Settings,
    Update,
    Wish,
)
from daemon.slots import Busy, Span, free_start


@dataclass(frozen=True)
class Plan:
    changes: list[Change]
    records: dict[ReminderId, ReminderRecord]  # confirmed=False where a change is due
    dismissals: dict[ReminderId, date]  # reminder -> the due date the user dismissed
    reminders: dict[ReminderId, Reminder]  # what should be in the calendar
    # a digest -> who it lists, in its order (contact key, name): for `keepwarm plan`
    members: dict[ReminderId, tuple[tuple[str, str], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class UserActions:
    """What the user did to keepwarm's events since the last sync (editable calendars only)."""

    dismissed: dict[ReminderId, date]  # deleted: not again for this due date
    pinned: dict[ReminderId, datetime]  # moved: keeps the time the user chose


def reminder_uid(rid: ReminderId, due: date) -> str:
    """Stable per reminder and due cycle: a re-created reminder never reuses a deleted id."""
    digest = hashlib.sha1(rid.marker.encode()).hexdigest()[:20]
    return f"keepwarm-{digest}-{due:%Y%m%d}"


def next_working_day(day: date, working_days: frozenset[int]) -> date:
    while day.weekday() not in working_days:
        day += timedelta(days=1)
    return day


def plan(wishes: Iterable[Wish], remote: Sequence[RemoteReminder],
         records: Mapping[ReminderId, ReminderRecord], dismissals: Mapping[ReminderId, date],
         settings: Settings, now: datetime, user_editable: bool,
         busy: Iterable[Span] = ()) -> Plan:
    """Compare what should be with what is; see the module docstring. ``busy``: the spans
    of the user's meetings that a reminder steps around (``daemon.slots``)."""
    as_of = now.astimezone(settings.tz).date()
    wanted = {w.rid: w for w in wishes}
    found, changes = collapse([local_days(e, settings.tz) for e in remote], records)
    user = user_actions(records, found, dismissals, user_editable)
    live = sorted((w for w in wanted.values() if user.dismissed.get(w.rid) != w.due),
                  key=lambda w: (w.due, w.name.lower(), w.rid))
    pins = {w.rid: user.pinned[w.rid] for w in live
            if w.rid in user.pinned and records[w.rid].due == w.due}
    starts = Starts(settings, Busy(busy))
    digests = settings.reminder_style == "digest"
    placed = place(live, pins, settings, as_of, starts,
                   digest.closed_days(user.dismissed) if digests else frozenset())
    folded = (digest.fold(live, placed, user.pinned, records, starts) if digests
              else digest.unfolded(live, placed))
    shared = digest.shared_uids(records)
    reminders, new_records = {}, {}
    for rid, (wish, start) in folded.events.items():
        want, record, change = write(wish, start, found.get(rid), records.get(rid),
                                     rid in user.pinned, settings, shared)
        reminders[rid], new_records[rid] = want, record
        if change is not None:
            changes.append(change)
    listed: dict[ReminderId, list[tuple[str, str]]] = {}
    for member, held_by in folded.members.items():
        new_records[member] = digest.member_record(wanted[member], new_records[held_by])
        listed.setdefault(held_by, []).append((member.contact, wanted[member].name))
    changes += [Delete(e) for rid, e in found.items() if rid not in folded.events]
    return Plan(changes, new_records,
                digest.kept(kept_dismissals(user.dismissed, wanted, settings, as_of), as_of),
                reminders, {rid: tuple(people) for rid, people in listed.items()})


def local_days(event: RemoteReminder, tz: tzinfo) -> RemoteReminder:
    """An all-day event's dates as midnights in the user's zone, where keepwarm puts them:
    a calendar gives a date as midnight in whatever zone it likes."""
    if not event.all_day:
        return event
    return replace(event, start=midnight(event.start.date(), tz),
                   end=midnight(event.end.date(), tz) if event.end else None)


def midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def collapse(remote: Sequence[RemoteReminder], records: Mapping[ReminderId, ReminderRecord]
             ) -> tuple[dict[ReminderId, RemoteReminder], list[Change]]:
    """One event per reminder: extra keepwarm events with the same id (a crash between
    writing and recording) are removed, keeping the recorded one."""
    found: dict[ReminderId, RemoteReminder] = {}
    extra: list[Change] = []
    for event in sorted(remote, key=lambda e: (
            e.uid != getattr(records.get(e.rid), "uid", ""), e.uid)):
        if event.rid in found:
            extra.append(Delete(event))
        else:
            found[event.rid] = event
    return found, extra


def user_actions(records: Mapping[ReminderId, ReminderRecord],
                 found: Mapping[ReminderId, RemoteReminder],
                 dismissals: Mapping[ReminderId, date], user_editable: bool) -> UserActions:
    """A confirmed reminder that is gone was deleted by the user; one that is elsewhere than
    keepwarm put it was moved by the user. Unconfirmed records are intents a crash cut off,
    and a calendar the user does not edit (a local file) tells nothing. A digest's member
    stands or falls with the digest: its record has the digest's UID, and no event of its own."""
    dismissed = dict(dismissals)
    pinned: dict[ReminderId, datetime] = {}
    held = {e.uid for e in found.values()}  # a digest's members share its UID
    sure = {r.uid for r in records.values() if r.confirmed}
    for rid, record in records.items():
        event = found.get(rid)
        if not user_editable or record.uid not in sure:
            continue
        if event is None:
            if record.uid not in held:
                dismissed[rid] = record.due
        elif record.pinned or event.start not in (record.start, record.prev_start):
            pinned[rid] = event.start
    return UserActions(dismissed, pinned)


def place(live: Sequence[Wish], pins: Mapping[ReminderId, datetime], settings: Settings,
          as_of: date, starts: Starts, closed: frozenset[date] = frozenset()
          ) -> dict[ReminderId, datetime]:
    """Where each wish goes. Canonical: the same inputs give the same calendar whatever
    happened before, so a sync interrupted halfway converges to what an uninterrupted one
    writes; only a time the user chose stays where it is.

    Fixed wishes go on their day and pinned ones where the user put them, both counting
    against that day's budget without being moved by it; the rest, in ``live`` order, go on
    the first working day on or after max(earliest, today) with room and a free slot
    (``Starts``), and on none that already holds a reminder about the same person, nor on a
    ``closed`` day (its digest deleted) if they would join a digest. A budgeted wish that
    finds no room within the horizon waits (``keepwarm lapsed`` lists it) rather than a
    backlog filling the calendar for months, where every reminder written would move again
    each time one ahead of it is done. An overdue reminder goes on today's slot even once its
    time has passed: it stays in today's agenda."""
    tz = settings.tz
    horizon = as_of + timedelta(days=settings.horizon_days)
    per_day: Counter[date] = Counter()
    person_days: set[tuple[str, date]] = set()  # one reminder per person per day
    placed: dict[ReminderId, datetime] = {}

    def take(wish: Wish, start: datetime) -> None:
        placed[wish.rid] = start
        if wish.budgeted:
            per_day[start.astimezone(tz).date()] += 1
            if wish.rid.contact:
                person_days.add((wish.rid.contact, start.astimezone(tz).date()))

    def full(wish: Wish, day: date) -> bool:
        return ((wish.budgeted and (per_day[day] >= settings.max_per_day
                                   or (wish.rid.contact, day) in person_days))
                or (day <= horizon and starts.free(day) is None)
                or (day in closed and digest.joins(wish)))

    for wish in live:
        if wish.rid in pins:
            take(wish, pins[wish.rid])
        elif wish.fixed and wish.earliest <= horizon:
            take(wish, midnight(wish.earliest, tz) if wish.all_day
                 else starts.of(wish.earliest))
    for wish in live:
        if wish.rid in placed or wish.fixed:
            continue
        day = next_working_day(max(wish.earliest, as_of), settings.working_days)
        while full(wish, day):
            day = next_working_day(day + timedelta(days=1), settings.working_days)
        if wish.budgeted and day > horizon:
            continue
        take(wish, starts.of(day))
    return placed


class Starts:
    """A day's start for its reminders: ``time``, or the first free slot after a meeting
    there (``daemon.slots``), worked out once a day."""

    def __init__(self, settings: Settings, busy: Busy) -> None:
        self.settings, self.busy = settings, busy
        self.known: dict[date, datetime | None] = {}

    def free(self, day: date) -> datetime | None:
        """The day's free start, or None when meetings fill its hours."""
        if day not in self.known:
            self.known[day] = free_start(day, self.settings, self.busy)
        return self.known[day]

    def of(self, day: date) -> datetime:
        """Where a reminder on ``day`` goes: a full day (one a fixed reminder must be on, or
        past the horizon) still has ``time``."""
        return self.free(day) or datetime.combine(day, self.settings.reminder_time,
                                                  tzinfo=self.settings.tz)

    def day(self, start: datetime) -> date:
        return start.astimezone(self.settings.tz).date()


def write(wish: Wish, start: datetime, event: RemoteReminder | None,
          record: ReminderRecord | None, moved: bool, settings: Settings,
          shared: frozenset[str] = frozenset()) -> tuple[Reminder, ReminderRecord, Change | None]:
    """The event a placed wish should be, its new record, and the change that gets it there.

    A reminder keeps the UID it was first written with when it moves, so a client's alarm or
    note on it survives; a new due cycle without an event gets a new UID. One the user
    ``moved`` keeps the length they gave it, and whether it is all-day: a birthday the user
    gave a time keeps that time. A UID in ``shared`` is a digest's, never one of its
    members' own (style switched from digest to each)."""
    uid = (event.uid if event else record.uid
           if record and record.due == wish.due and record.uid not in shared
           else reminder_uid(wish.rid, wish.due))
    mine = event if moved else None  # the user's version of it
    all_day = mine.all_day if mine else wish.all_day
    length = (mine.end - mine.start if mine and mine.end
              else timedelta(days=1) if all_day else settings.reminder_duration)
    want = Reminder(uid, wish.rid, wish.title, wish.description, start, start + length,
                    all_day)
    unchanged = event is not None and (
        event.start, event.end or event.start, event.title, event.description,
        event.all_day) == (want.start, want.end, want.title, want.description, want.all_day)
    change: Change | None = (Create(want) if event is None else
                             None if unchanged else Update(event, want))
    new_record = ReminderRecord(
        rid=wish.rid, uid=uid, start=start, due=wish.due,
        pinned=moved and event is not None and start == event.start, confirmed=unchanged,
        prev_start=event.start if event else None,
        remote_id=event.remote_id if event else "", etag=event.etag if event else "")
    return want, new_record, change


def kept_dismissals(dismissed: Mapping[ReminderId, date], wanted: Mapping[ReminderId, Wish],
                    settings: Settings, as_of: date) -> dict[ReminderId, date]:
    """A dismissal lasts while its reminder's cycle does: until the reminder is wanted for
    another due date. One nobody wants any more is forgotten after ``forget_after``."""
    oldest = as_of - timedelta(days=settings.forget_after_days)
    return {rid: due for rid, due in dismissed.items()
            if (wanted[rid].due == due if rid in wanted else due >= oldest)}
