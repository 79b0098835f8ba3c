"""Which follow-up reminders should be in the calendar, and the changes that get it there.

Pure reconciliation: the contacts' statuses, what the calendar holds now (only keepwarm's
own events) and what keepwarm recorded last time go in; the changes to apply and the records
to keep come out. Re-running on the result yields no changes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from connectors.base import Change, Create, Delete, Reminder, RemoteReminder, Update
from daemon.cadence import Status
from daemon.config import Settings
from daemon.store import ReminderRecord


@dataclass(frozen=True)
class Plan:
    changes: list[Change]
    records: dict[str, ReminderRecord]  # contact -> record; confirmed=False where a change is due
    dismissals: dict[str, date]  # contact -> the due date the user dismissed
    reminders: dict[str, Reminder] = field(default_factory=dict)  # what should be, by contact


def reminder_uid(contact: str, due: date) -> str:
    """Stable per contact and due cycle: a re-created reminder never reuses a deleted id."""
    digest = hashlib.sha1(contact.encode()).hexdigest()[:20]
    return f"keepwarm-{digest}-{due:%Y%m%d}"


def describe(s: Status) -> tuple[str, str]:
    """Title and description; nothing relative to today, so an unchanged contact's event
    never needs rewriting."""
    f = s.facts
    channel = "a meeting" if f.last_channel == "meeting" else "e-mail"
    lines = [
        f"Last touch: {s.last_date.isoformat()} by {channel}",
        f"Cadence: every {s.interval_days} days ({s.interval_source})",
        f"Due: {s.due.isoformat()}",
        f"Addresses: {', '.join(f.emails)}",
        "",
        "Created by keepwarm. It moves or removes this event as soon as you get in touch.",
        f"Why: keepwarm show {f.key}",
    ]
    return f"Follow up: {f.name}", "\n".join(lines)


def next_working_day(day: date, working_days: frozenset[int]) -> date:
    while day.weekday() not in working_days:
        day += timedelta(days=1)
    return day


def plan(statuses: Sequence[Status], remote: Sequence[RemoteReminder],
         records: Mapping[str, ReminderRecord], dismissals: Mapping[str, date],
         settings: Settings, now: datetime, user_editable: bool,
         notices: Mapping[str, tuple[str, str]] | None = None) -> Plan:
    """Compare what should be with what is; see the module docstring. ``notices`` are
    keepwarm's own messages to the user (key -> title, description), e.g. an account that
    needs signing in again: placed on the next working day, removed when gone from the map."""
    notices = notices or {}
    tz = settings.tz
    as_of = now.astimezone(tz).date()
    changes: list[Change] = []

    # One event per contact: extra keepwarm events for a contact (a crash between writing
    # and recording) are removed, keeping the recorded one.
    by_contact: dict[str, RemoteReminder] = {}
    for event in sorted(remote, key=lambda e: (
            e.uid != getattr(records.get(e.contact), "uid", ""), e.uid)):
        if event.contact in by_contact:
            changes.append(Delete(event))
        else:
            by_contact[event.contact] = event

    # What the user did since last time (only in calendars the user edits).
    dismissed = dict(dismissals)
    pinned: dict[str, datetime] = {}
    for contact, record in records.items():
        found = by_contact.get(contact)
        if not user_editable or not record.confirmed:
            continue
        if found is None:
            dismissed[contact] = record.due
        elif record.pinned or found.start not in (record.start, record.prev_start):
            pinned[contact] = found.start

    horizon = as_of + timedelta(days=settings.horizon_days)
    wanted = sorted((s for s in statuses if s.tracked and s.due <= horizon
                     and dismissed.get(s.facts.key) != s.due),
                    key=lambda s: (s.due, s.facts.name.lower(), s.facts.key))
    # Overdue reminders go on today's slot even once its time has passed: they stay in today's
    # agenda, and roll to the next working day if the contact is still due tomorrow.

    def slot(day: date) -> datetime:
        return datetime.combine(day, settings.reminder_time, tzinfo=tz)

    per_day: Counter[date] = Counter()
    placed: dict[str, datetime] = {}
    # Placement is canonical: the same inputs give the same calendar whatever happened
    # before, so a sync interrupted halfway converges to what an uninterrupted one writes.
    # Only a time the user chose stays where it is.
    for s in wanted:
        key = s.facts.key
        r, rec = by_contact.get(key), records.get(key)
        if r is not None and rec is not None and rec.due == s.due and key in pinned:
            placed[key] = pinned[key]
            per_day[pinned[key].astimezone(tz).date()] += 1
    for s in wanted:  # the rest: earliest due first, on the first working day with room
        key = s.facts.key
        if key in placed:
            continue
        day = next_working_day(max(s.due, as_of), settings.working_days)
        while per_day[day] >= settings.max_per_day:
            day = next_working_day(day + timedelta(days=1), settings.working_days)
        if day > horizon:
            # No room within the horizon: this contact waits (`keepwarm lapsed` lists it)
            # rather than a backlog filling the calendar for months, where every reminder
            # written would move again each time one ahead of it is done.
            continue
        placed[key] = slot(day)
        per_day[day] += 1

    # what each placed event says, and for which due date
    texts: dict[str, tuple[date, str, str]] = {
        s.facts.key: (s.due, *describe(s)) for s in wanted if s.facts.key in placed}
    for key, (title, description) in sorted(notices.items()):
        r, rec = by_contact.get(key), records.get(key)
        due = rec.due if rec else as_of
        if dismissed.get(key) == due:
            continue  # the user deleted the notice: they have seen it
        start = slot(next_working_day(as_of, settings.working_days))
        if r is not None:
            there = r.start.astimezone(tz).date()
            if there >= as_of and (key in pinned or r.start == slot(there)):
                start = r.start
        placed[key] = start
        texts[key] = (due, title, description)

    reminders: dict[str, Reminder] = {}
    new_records: dict[str, ReminderRecord] = {}
    for key, start in placed.items():
        (due, title, description), r, rec = texts[key], by_contact.get(key), records.get(key)
        uid = r.uid if r else rec.uid if rec and rec.due == due else reminder_uid(key, due)
        end = start + (r.end - r.start if key in pinned and r and r.end else
                       settings.reminder_duration)
        want = Reminder(uid, key, title, description, start, end)
        reminders[key] = want
        unchanged = r is not None and (r.start, r.end or r.start, r.title, r.description) == (
            start, end, title, description)
        if r is None:
            changes.append(Create(want))
        elif not unchanged:
            changes.append(Update(r, want))
        new_records[key] = ReminderRecord(
            contact=key, uid=uid, start=start, due=due,
            pinned=key in pinned and pinned[key] == start,
            confirmed=unchanged, prev_start=r.start if r else None,
            remote_id=r.remote_id if r else "", etag=r.etag if r else "")
    changes += [Delete(e) for key, e in by_contact.items() if key not in placed]

    current_due = {s.facts.key: s.due for s in statuses}
    current_due.update({k: records[k].due if k in records else as_of for k in notices})
    kept_dismissals = {k: d for k, d in dismissed.items() if current_due.get(k) == d}
    return Plan(changes, new_records, kept_dismissals, reminders)
