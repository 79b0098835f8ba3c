"""keepwarm's reminders in Google Calendar: found, written, moved and removed, and only
keepwarm's own events ever touched.

The calendar is found by id or name through the account's calendar list (kept between syncs,
``connectors.calendarlist``), and looked up before any ``calendars.insert``, which has no
idempotency key: an insert that failed is followed by another look, then retried. A
calendar that answers 404 or 410 drops the kept list, so the next look lists the
calendars again. Every event carries the private properties keepwarm = contact key,
keepwarmuid = reminder uid and keepwarmapp = 1 (the one keepwarm lists by), is transparent,
has no attendees, and is written with sendUpdates=none. Event ids are chosen by keepwarm
(base32hex of a hash of the reminder uid), so a create whose answer was lost is found again
instead of duplicated; an id Google still remembers from a deleted event (409) falls back
to an id Google chooses. Updates and deletes carry the event's etag (If-Match); a 412 means
the user changed it and the change is left out. An event is touched only if it carries
keepwarm's properties.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connectors import retry
from connectors.base import alarm_minutes, day_start
from connectors.gcal import PAGE, find_calendars, rfc3339
from connectors.gmail import DEFAULT_REMINDERS_CALENDAR
from connectors.googleauth import GoogleSession, HttpStatus
from connectors.text import clean_text
from daemon.errors import CalendarError, TransientError
from daemon.model import (
    Applied,
    Change,
    Create,
    Reminder,
    ReminderId,
    RemoteReminder,
    Update,
)

log = logging.getLogger(__name__)

APP_TAG = ("keepwarmapp", "1")


def event_id(uid: str) -> str:
    """keepwarm's id for the event of reminder ``uid``: base32hex, as Google requires."""
    digest = hashlib.sha256(uid.encode("utf-8")).digest()[:20]
    return base64.b32hexencode(digest).decode("ascii").lower().rstrip("=")


def event_body(reminder: Reminder) -> dict[str, Any]:
    """keepwarm's event: UTC times, or dates for an all-day one (``end`` the day after, as
    Google counts it), free, no attendees, marked as its own; no notification but the
    pop-up ``[reminders] alarm`` asks for (``overrides`` always given: a patch keeps what
    it leaves out)."""
    def when(t: datetime) -> dict[str, str]:
        return {"date": t.date().isoformat()} if reminder.all_day else {"dateTime": rfc3339(t)}

    return {
        "summary": clean_text(reminder.title),
        "description": clean_text(reminder.description, keep_newlines=True),
        "start": when(reminder.start),
        "end": when(reminder.end),
        "transparency": "transparent",
        "reminders": {"useDefault": False, "overrides": [] if reminder.alarm is None else [
            {"method": "popup", "minutes": alarm_minutes(reminder.alarm)}]},
        "extendedProperties": {"private": {"keepwarm": clean_text(reminder.rid.marker),
                                           "keepwarmuid": clean_text(reminder.uid),
                                           APP_TAG[0]: APP_TAG[1]}},
    }


def _alarm(item: dict[str, Any]) -> timedelta | None:
    """The event's pop-up notification (its first), as keepwarm writes it; None if none."""
    for o in (item.get("reminders") or {}).get("overrides") or []:
        if isinstance(o, dict) and o.get("method") == "popup":
            return timedelta(minutes=int(o.get("minutes") or 0))
    return None


def is_ours(event: dict[str, Any]) -> bool:
    private = (event.get("extendedProperties") or {}).get("private") or {}
    return bool(private.get("keepwarm")) and private.get(APP_TAG[0]) == APP_TAG[1]


class ReminderWriter:
    def __init__(self, session: GoogleSession, target: str) -> None:
        self.session = session
        self.target = target
        self._calendar_id = ""
        self._listed: dict[str, str] = {}  # event id -> etag, of keepwarm's events as listed

    def calendar_id(self) -> str:
        if not self._calendar_id:
            self._calendar_id = self._find_or_create()
        return self._calendar_id

    def _find_or_create(self) -> str:
        """Look first; create only when not found."""
        if self.target == "primary":
            return "primary"
        found = find_calendars(self.session, [self.target], CalendarError)
        if self.target in found:
            return found[self.target]
        if self.target != DEFAULT_REMINDERS_CALENDAR:
            raise CalendarError(f"account {self.session.name} has no calendar {self.target!r}; "
                                "fix reminders_calendar or leave it out to let keepwarm "
                                "create its own calendar")
        made = retry.call(self.session.account, "creating the reminders calendar",
                          self._create_calendar, initial=self.session.backoff)
        self.session.calendar_list.add((made, (self.target,)))
        log.info("%s: created the calendar %r for reminders", self.session.name, self.target)
        return made

    def _create_calendar(self) -> str:
        """One calendars.insert, never sent twice blindly: it has no idempotency key, so
        after a failure keepwarm looks again, and only what it did not find is retried."""
        try:
            return str(self.session.post_once("calendar/v3/calendars", {
                "summary": self.target, "description": "Follow-up reminders written by keepwarm"},
                "creating the reminders calendar", CalendarError)["id"])
        except TransientError:
            found = find_calendars(self.session, [self.target], CalendarError)
            if self.target in found:  # it was made; only the answer was lost
                return found[self.target]
            raise

    def reminders(self) -> list[RemoteReminder]:
        """keepwarm's events in the reminders calendar; one that answers 404 or 410 (gone,
        or the name is another calendar's now) is looked up again in a fresh list."""
        try:
            return self._reminders()
        except HttpStatus:
            self._gone()
        try:
            return self._reminders()
        except HttpStatus as status:
            raise CalendarError(f"account {self.session.name} cannot list reminders in "
                                f"calendar {self.target!r} (Google: {status})") from None

    def _gone(self) -> None:
        self.session.calendar_list.forget()
        self._calendar_id = ""

    def _reminders(self) -> list[RemoteReminder]:
        events = self.session.service("calendar").events()
        cal = self.calendar_id()
        out: list[RemoteReminder] = []
        self._listed = {}
        page_token: str | None = None
        while True:
            request = events.list(calendarId=cal, privateExtendedProperty="=".join(APP_TAG),
                                  singleEvents=True, maxResults=PAGE, pageToken=page_token)
            page = self.session.call("listing reminders", request.execute,
                                     passthrough=(404, 410), error=CalendarError)
            for item in page.get("items") or []:
                if is_ours(item) and item.get("status") != "cancelled":
                    remote = _remote(item)
                    if remote is not None:
                        out.append(remote)
                        self._listed[remote.remote_id] = remote.etag
            page_token = page.get("nextPageToken")
            if not page_token:
                return out

    def apply(self, changes: Sequence[Change]) -> list[Applied]:
        applied: list[Applied] = []
        for change in changes:
            if isinstance(change, Create):
                event = self._create(change.reminder)
            else:
                etag = self._our_etag(change.remote)
                if etag is None:
                    log.warning("%s: refusing to touch event %s: not one of keepwarm's",
                                self.session.name, change.remote.remote_id)
                    continue
                if isinstance(change, Update):
                    event = self._write("moving a reminder", "patch", change.remote.remote_id,
                                        etag, body=event_body(change.reminder))
                else:
                    event = self._write("removing a reminder", "delete", change.remote.remote_id,
                                        etag)
                    if event is not None:
                        applied.append(Applied(change))
                    continue
            if event is not None:
                applied.append(Applied(change, str(event["id"]), str(event.get("etag", ""))))
        return applied

    def _create(self, reminder: Reminder) -> dict[str, Any] | None:
        events = self.session.service("calendar").events()
        cal, body, eid = self.calendar_id(), event_body(reminder), event_id(reminder.uid)
        try:
            return dict(self.session.call("writing a reminder", events.insert(
                calendarId=cal, body={**body, "id": eid}, sendUpdates="none").execute,
                passthrough=(404, 409, 410), error=CalendarError))
        except HttpStatus as status:
            if status.status != 409:  # the calendar went since it was listed
                self._gone()
                raise CalendarError(f"account {self.session.name}: the reminders calendar "
                                    f"{self.target!r} is gone (Google: {status}); the next "
                                    "sync looks for it again") from None
            # the id is taken: by this very event (an answer lost) or by a deleted one
        existing = self._get(eid)
        if existing is not None and is_ours(existing) and existing.get("status") != "cancelled":
            return self._write("writing a reminder", "patch", eid, str(existing["etag"]),
                               body=body)
        return dict(self.session.call("writing a reminder", events.insert(
            calendarId=cal, body=body, sendUpdates="none").execute, error=CalendarError))

    def _our_etag(self, remote: RemoteReminder) -> str | None:
        """The etag to write with, only for an event that is keepwarm's; None otherwise."""
        if remote.remote_id in self._listed:
            return remote.etag or self._listed[remote.remote_id]
        event = self._get(remote.remote_id)
        if event is None or not is_ours(event):
            return None
        return remote.etag or str(event.get("etag", ""))

    def _get(self, eid: str) -> dict[str, Any] | None:
        request = self.session.service("calendar").events().get(
            calendarId=self.calendar_id(), eventId=eid)
        try:
            return dict(self.session.call("reading a reminder", request.execute,
                                          passthrough=(404, 410), error=CalendarError))
        except HttpStatus:
            return None

    def _write(self, what: str, verb: str, eid: str, etag: str,
               body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """A patch or delete with If-Match; None when the event changed or went meanwhile
        (a delete of an event already gone counts as done: an empty dict)."""
        events = self.session.service("calendar").events()
        args: dict[str, Any] = {"calendarId": self.calendar_id(), "eventId": eid,
                                "sendUpdates": "none"}
        request = events.patch(**args, body=body) if verb == "patch" else events.delete(**args)
        request.headers["If-Match"] = etag
        try:
            answer = self.session.call(what, request.execute, passthrough=(404, 410, 412),
                                       error=CalendarError)
        except HttpStatus as status:
            if status.status == 412:
                log.info("%s: reminder %s was changed in the calendar; not overwritten",
                         self.session.name, eid)
                return None
            return {} if verb == "delete" else None
        return dict(answer or {})


def _remote(item: dict[str, Any]) -> RemoteReminder | None:
    private = item["extendedProperties"]["private"]
    all_day = "date" in (item.get("start") or {})
    try:
        start = _when(item["start"])
        end = _when(item["end"]) if "end" in item else None
    except (KeyError, TypeError, ValueError):
        log.warning("ignoring keepwarm event %s without a usable time", item.get("id"))
        return None
    return RemoteReminder(uid=str(private.get("keepwarmuid") or item["id"]),
                          rid=ReminderId.parse(str(private["keepwarm"])), start=start,
                          remote_id=str(item["id"]), etag=str(item.get("etag", "")),
                          title=str(item.get("summary", "")),
                          description=str(item.get("description", "")), end=end,
                          all_day=all_day, alarm=_alarm(item))


def _when(value: dict[str, Any]) -> datetime:
    """An event's ``dateTime``, or its ``date`` (all-day) as midnight UTC of that date."""
    if "dateTime" in value:
        return datetime.fromisoformat(str(value["dateTime"]))
    return day_start(date.fromisoformat(str(value["date"])), UTC)
