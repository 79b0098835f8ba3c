"""What keepwarm recorded about the reminders it wrote: intents before a calendar write,
confirmations after it, so a crash in between never doubles or loses a reminder."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from connectors.base import Applied, Change, Create, Delete, Update
from daemon.store import ReminderRecord, Store


def records(store: Store) -> dict[str, ReminderRecord]:
    out = {}
    for row in store.db.execute(
            "SELECT contact, uid, start, due, pinned, confirmed, prev_start, remote_id, etag "
            "FROM reminders"):
        out[row[0]] = ReminderRecord(
            contact=row[0], uid=row[1], start=datetime.fromisoformat(row[2]),
            due=date.fromisoformat(row[3]), pinned=bool(row[4]), confirmed=bool(row[5]),
            prev_start=datetime.fromisoformat(row[6]) if row[6] else None,
            remote_id=row[7], etag=row[8])
    return out


def dismissals(store: Store) -> dict[str, date]:
    return {c: date.fromisoformat(d) for c, d in store.db.execute(
        "SELECT contact, due FROM dismissals")}


def save_intent(store: Store, recs: Mapping[str, ReminderRecord],
                dismissed: Mapping[str, date]) -> None:
    """Replace all records and dismissals with the plan's, before touching the calendar."""
    with store.transaction() as db:
        db.execute("DELETE FROM reminders")
        for r in recs.values():
            _insert(db, r)
        db.execute("DELETE FROM dismissals")
        db.executemany("INSERT INTO dismissals VALUES (?, ?)",
                       [(c, d.isoformat()) for c, d in dismissed.items()])


def confirm(store: Store, applied: Sequence[Applied], now: datetime,
            previous: Mapping[str, ReminderRecord] | None = None,
            planned: Sequence[Change] = ()) -> None:
    """Mark applied creates/updates as what the calendar now holds; a planned change the
    calendar refused (the user edited the event meanwhile) gets its old record back, so the
    next plan sees what the user did."""
    done = {id(a.change) for a in applied}
    with store.transaction() as db:
        for change in planned:
            if id(change) in done:
                continue
            contact = (change.reminder.contact if isinstance(change, Create | Update)
                       else change.remote.contact)
            db.execute("DELETE FROM reminders WHERE contact=?", (contact,))
            old = (previous or {}).get(contact)
            if old is not None:
                _insert(db, old)
        for a in applied:
            if isinstance(a.change, Create | Update):
                db.execute("UPDATE reminders SET confirmed=1, prev_start=NULL, remote_id=?, "
                           "etag=? WHERE contact=? AND uid=?",
                           (a.remote_id, a.etag, a.change.reminder.contact, a.change.reminder.uid))
        day = now.date().isoformat()
        writes = sum(1 for a in applied if not isinstance(a.change, Delete))
        db.execute("INSERT INTO meta VALUES ('written:' || ?, ?) ON CONFLICT(key) DO UPDATE SET "
                   "value = CAST(value AS INTEGER) + excluded.value", (day, str(writes)))


def _insert(db: sqlite3.Connection, r: ReminderRecord) -> None:
    db.execute("INSERT INTO reminders VALUES (?,?,?,?,?,?,?,?,?)",
               (r.contact, r.uid, r.start.isoformat(),
                r.prev_start.isoformat() if r.prev_start else None, r.due.isoformat(),
                int(r.pinned), int(r.confirmed), r.remote_id, r.etag))


def written_on(store: Store, day: date) -> int:
    row = store.db.execute("SELECT value FROM meta WHERE key=?",
                           (f"written:{day.isoformat()}",)).fetchone()
    return int(row[0]) if row else 0
