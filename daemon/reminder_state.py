"""What keepwarm recorded about the reminders it wrote: intents before a calendar write,
confirmations after it, so a crash in between never doubles or loses a reminder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from daemon import steering
from daemon.model import (
    Applied,
    Change,
    Create,
    Delete,
    ReminderId,
    ReminderRecord,
    Update,
    change_rid,
)
from daemon.store import Store


def save_intent(store: Store, records: Mapping[ReminderId, ReminderRecord],
                dismissed: Mapping[ReminderId, date]) -> None:
    """Replace all records and dismissals with the plan's, before touching the calendar;
    the dismissals are the user's doing, so the steering file keeps them too."""
    store.replace_reminders(records, dismissed)
    steering.save(store)


def confirm(store: Store, applied: Sequence[Applied], now: datetime,
            previous: Mapping[ReminderId, ReminderRecord] | None = None,
            planned: Sequence[Change] = ()) -> None:
    """Mark applied creates/updates as what the calendar now holds; a planned change the
    calendar refused (the user edited the event meanwhile) gets its old record back, so the
    next plan sees what the user did."""
    done = {id(a.change) for a in applied}
    with store.transaction():
        for change in planned:
            if id(change) not in done:
                rid = change_rid(change)
                store.put_record(rid, (previous or {}).get(rid))
        for a in applied:
            if isinstance(a.change, Create | Update):
                r = a.change.reminder
                store.confirm_record(r.rid, r.uid, a.remote_id, a.etag)
        store.count_written(now.date(), sum(1 for a in applied
                                            if not isinstance(a.change, Delete)))
