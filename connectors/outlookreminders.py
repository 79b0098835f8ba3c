"""keepwarm's reminders in an Outlook calendar, through Graph: found, written, moved and
removed, and only keepwarm's own events ever touched.

Reminders are events in the calendar named ``reminders_calendar`` (created when missing,
after looking for it in the calendar list kept between syncs; a calendar that answers 404
or 410 drops that list, so the next look lists the calendars again). Each carries keepwarm's
single-value extended properties - the contact's key and the reminder's uid - and is found
again only by filtering on them, so events without them are never seen, let alone touched.
Creates send a ``transactionId`` derived from the uid, so a POST retried after a lost answer
never makes a second event; updates and deletes send ``If-Match`` with the listed
``@odata.etag``, and a 412 (the user changed the event meanwhile) leaves that change out.
Up to four changes run at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from connectors.base import alarm_minutes, day_start
from connectors.calendarlist import CalendarList
from connectors.graph import MAX_IN_FLIGHT, Graph, GraphError
from connectors.graphzones import all_day_zone
from connectors.outlookcal import (
    CONTACT_PROPERTY,
    UID_PROPERTY,
    UTC_TIMES,
    find_calendars,
    graph_when,
)
from connectors.text import clean_text
from daemon.errors import CalendarError
from daemon.model import (
    Applied,
    Change,
    Create,
    Delete,
    Reminder,
    ReminderId,
    RemoteReminder,
    Update,
)

log = logging.getLogger(__name__)

_TRANSACTIONS = uuid.UUID("8653ded6-e767-503b-878d-77df8e4b8917")
# keepwarm's events only (filtered on the property), with the properties and fields it reads.
_LISTING = {
    "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{CONTACT_PROPERTY}' "
               "and ep/value ne '')",
    "$expand": f"singleValueExtendedProperties($filter=id eq '{CONTACT_PROPERTY}' "
               f"or id eq '{UID_PROPERTY}')",
    "$select": "subject,body,start,end,isAllDay,isReminderOn,reminderMinutesBeforeStart",
    "$top": "500",
}
_TEXT_UTC = {"Prefer": f'outlook.body-content-type="text", {UTC_TIMES}'}


class ReminderCalendar:
    """keepwarm's events in one Outlook calendar, found by their extended property."""

    def __init__(self, graph: Graph, name: str, calendars: CalendarList) -> None:
        self.graph = graph
        self.name = name
        self.calendars = calendars  # the mailbox's calendar list, kept between syncs
        self._id: str | None = None
        self._looked = False  # for the id, since it was last found to be gone

    def calendar_id(self, create: bool) -> str | None:
        """The id of the calendar named ``name``; created when missing and ``create``."""
        what = "finding the reminders calendar"
        if self._id is None and not self._looked:
            self._id = find_calendars(self.graph, self.calendars, [self.name], what).get(
                self.name)
            self._looked = True
        if self._id is None and create:
            reply = self.graph.call("POST", "/me/calendars", body={"name": self.name},
                                    allow=(409,), what="creating the reminders calendar")
            if reply.status == 409:  # there meanwhile: our own create whose answer was lost
                self._id = find_calendars(self.graph, self.calendars, [self.name], what).get(
                    self.name)
            else:
                self._id = str(reply.data.get("id") or "") or None
            if self._id is None:
                raise CalendarError(f"cannot create the Outlook calendar {self.name!r}")
            self.calendars.add((self._id, (self.name,)))
            log.info("%s: created the calendar %r", self.graph.account.name, self.name)
        return self._id

    def find(self) -> list[RemoteReminder]:
        """keepwarm's events; a calendar that answers 404 or 410 (deleted, or the name is
        another calendar's now) is looked up again in a fresh calendar list."""
        try:
            return self._find()
        except GraphError as exc:
            if exc.status not in (404, 410):
                raise
            self._gone()
        return self._find()

    def _gone(self) -> None:
        self.calendars.forget()
        self._id, self._looked = None, False

    def _find(self) -> list[RemoteReminder]:
        cal_id = self.calendar_id(create=False)
        if cal_id is None:
            return []
        out: list[RemoteReminder] = []
        for page in self.graph.pages(f"/me/calendars/{quote(cal_id, safe='')}/events",
                                     params=_LISTING, headers=_TEXT_UTC,
                                     what="listing reminders"):
            out.extend(r for r in map(remote_reminder, page.items) if r is not None)
        return out

    def apply(self, changes: Sequence[Change]) -> list[Applied]:
        cal_id = self.calendar_id(create=True)
        assert cal_id is not None
        try:
            with ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT) as pool:
                done = list(pool.map(lambda c: self._apply_one(cal_id, c), changes))
        except GraphError as exc:
            if exc.status in (404, 410):  # the calendar went since it was listed
                self._gone()
            raise
        return [a for a in done if a is not None]

    def _apply_one(self, cal_id: str, change: Change) -> Applied | None:
        if isinstance(change, Create):
            body = {**event_body(change.reminder), "transactionId": transaction_id(change)}
            reply = self.graph.call("POST", f"/me/calendars/{quote(cal_id, safe='')}/events",
                                    body=body, what=f"creating reminder {change.reminder.uid}")
            return Applied(change, str(reply.data.get("id") or ""), reply.etag)
        remote = change.remote
        path = f"/me/events/{quote(remote.remote_id, safe='')}"
        if not remote.remote_id or not remote.etag:  # never write blind: ETags guard ownership
            log.warning("%s: reminder %s has no event id or etag; not touching it",
                        self.graph.account.name, remote.uid)
            return None
        condition = {"If-Match": remote.etag}
        if isinstance(change, Delete):
            reply = self.graph.call("DELETE", path, headers=condition, allow=(404, 412),
                                    what=f"deleting reminder {remote.uid}")
            if reply.status == 412:
                return self._user_won(change)
            return Applied(change)
        reply = self.graph.call("PATCH", path, body=event_body(change.reminder),
                                headers=condition, allow=(404, 412),
                                what=f"moving reminder {remote.uid}")
        if reply.status == 412:  # the user's edit, or our own PATCH whose answer was lost
            current = self._current(remote.remote_id)
            if current is not None and _same(current, change.reminder):
                return Applied(change, current.remote_id, current.etag)
        if reply.status in (404, 412):
            return self._user_won(change)
        return Applied(change, str(reply.data.get("id") or remote.remote_id), reply.etag)

    def _current(self, event_id: str) -> RemoteReminder | None:
        """keepwarm's event ``event_id`` as it is now; None when gone or not keepwarm's."""
        reply = self.graph.call("GET", f"/me/events/{quote(event_id, safe='')}",
                                params={k: v for k, v in _LISTING.items()
                                        if k in ("$expand", "$select")},
                                headers=_TEXT_UTC, allow=(404,), what="reading a reminder")
        return None if reply.status == 404 else remote_reminder(reply.data)

    def _user_won(self, change: Update | Delete) -> Applied | None:
        """Log and drop a change refused because the user changed or removed the event."""
        log.info("%s: reminder %s changed in Outlook meanwhile; keeping the user's version",
                 self.graph.account.name, change.remote.uid)
        return None


def transaction_id(change: Create) -> str:
    """Stable per reminder uid: the same create sent twice is one event."""
    return str(uuid.uuid5(_TRANSACTIONS, change.reminder.uid))


def event_body(reminder: Reminder) -> dict[str, Any]:
    """keepwarm's event: UTC times, free, no attendees, marked as its own, with no alarm but
    the one ``[reminders] alarm`` asks for. An all-day one is midnight to midnight in the
    user's zone (Graph wants midnights, and Outlook shows an all-day event on the days of
    the zone it was written in), named as Graph accepts it (``graphzones``)."""
    zone = "UTC"
    if reminder.all_day and reminder.start.tzinfo is not None:
        zone = all_day_zone(reminder.start.tzinfo, reminder.start.date(), reminder.end.date())

    def when(t: datetime) -> dict[str, str]:
        if reminder.all_day:
            return {"dateTime": f"{t.date().isoformat()}T00:00:00", "timeZone": zone}
        return {"dateTime": t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}

    return {
        "subject": clean_text(reminder.title),
        "body": {"contentType": "text",
                 "content": clean_text(reminder.description, keep_newlines=True)},
        "start": when(reminder.start),
        "end": when(reminder.end),
        "isAllDay": reminder.all_day,
        "showAs": "free",
        "isReminderOn": reminder.alarm is not None,
        **({} if reminder.alarm is None else
           {"reminderMinutesBeforeStart": alarm_minutes(reminder.alarm)}),
        "responseRequested": False,
        "attendees": [],
        "singleValueExtendedProperties": [
            {"id": CONTACT_PROPERTY, "value": clean_text(reminder.rid.marker)},
            {"id": UID_PROPERTY, "value": clean_text(reminder.uid)},
        ],
    }


def _same(current: RemoteReminder, want: Reminder) -> bool:
    """True when the event already says what ``want`` says (as it reads back)."""
    start, end = want.start, want.end
    if want.all_day:  # read back as midnight UTC of its dates
        start, end = day_start(start.date(), UTC), day_start(end.date(), UTC)
    return (current.uid, current.rid, current.start, current.end, current.title,
            current.description, current.all_day, current.alarm) == (
        clean_text(want.uid), want.rid, start, end, clean_text(want.title),
        clean_text(want.description, keep_newlines=True).rstrip(), want.all_day, want.alarm)


def remote_reminder(event: dict[str, Any]) -> RemoteReminder | None:
    """One of keepwarm's events as it is now; None (logged) when it lacks the marker or its
    times cannot be read, so the core recreates it."""
    props = {str(p.get("id", "")).lower(): str(p.get("value") or "")
             for p in event.get("singleValueExtendedProperties") or [] if isinstance(p, dict)}
    marker = props.get(CONTACT_PROPERTY.lower(), "")
    all_day = bool(event.get("isAllDay"))  # its dates are midnight UTC of them, as a date
    start = graph_when(event.get("start"), all_day, UTC)
    end = graph_when(event.get("end"), all_day, UTC)
    if not marker or start is None:
        log.warning("ignoring unreadable keepwarm event %s", event.get("id"))
        return None
    event_id = str(event.get("id") or "")
    return RemoteReminder(
        uid=props.get(UID_PROPERTY.lower()) or event_id, rid=ReminderId.parse(marker),
        start=start,
        remote_id=event_id, etag=str(event.get("@odata.etag") or ""),
        title=clean_text(str(event.get("subject") or "")),
        description=clean_text(str((event.get("body") or {}).get("content") or ""),
                               keep_newlines=True).rstrip(),
        end=end, all_day=all_day,
        alarm=timedelta(minutes=int(event.get("reminderMinutesBeforeStart") or 0))
        if event.get("isReminderOn") else None)
