"""keepwarm's reminders in a CalDAV calendar: found, created and changed under ETags.

keepwarm's events live at ``{uid}.ics`` in the reminders calendar (created with MKCALENDAR
when missing) and carry ``KEEPWARM_PROPERTY``. Every write is conditional: create with
``If-None-Match: *``, update and delete with ``If-Match`` on the ETag keepwarm listed, and
each existing object is fetched first to check it is still keepwarm's. A 412 means the user
changed the event meanwhile: that change is left out and the next sync plans again from what
the user did. Each request is retried on its own; a write retried after its answer was
lost meets its own effect (a 412) and is recognised as done, not taken for the user's edit.
Imported by ``CaldavConnector`` when it first writes (it needs icalendar).
"""

from __future__ import annotations

import logging
import re
import secrets as random_tokens
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import icalendar

from connectors import icalmap
from connectors.base import KEEPWARM_PROPERTY
from connectors.caldav import same_name
from connectors.dav import CalendarInfo, Reply
from daemon.errors import CalendarError
from daemon.model import (
    Applied,
    Change,
    Create,
    Delete,
    Reminder,
    RemoteReminder,
    Update,
)

if TYPE_CHECKING:
    from connectors.caldav import CaldavConnector

log = logging.getLogger(__name__)

_PRODID = "-//keepwarm//keepwarm//EN"


class DavReminders:
    """The reminders calendar of one CalDAV account (``reminders_calendar``, by name)."""

    def __init__(self, conn: CaldavConnector) -> None:
        self.conn = conn
        self._found: CalendarInfo | None = None

    def find(self) -> list[RemoteReminder]:
        cal = self.calendar(create=False)
        if cal is None:
            return []
        resources = self.conn.call("listing reminders", self.conn.dav().query, cal.url)
        out = []
        for resource in resources:
            calendar = _parse(resource.data)
            if calendar is not None and _ours(calendar):
                remote = _remote(calendar, resource.href, resource.etag)
                if remote is not None:
                    out.append(remote)
        return out

    def apply(self, changes: Sequence[Change]) -> list[Applied]:
        cal = self.calendar(create=True)
        assert cal is not None
        now = datetime.now(UTC).replace(microsecond=0)
        applied = []
        for change in changes:
            done = self._apply_one(cal, change, now)
            if done is not None:
                applied.append(done)
        return applied

    def _apply_one(self, cal: CalendarInfo, change: Change, now: datetime) -> Applied | None:
        """One change; each of its requests is retried on its own (``CaldavConnector.call``),
        and a write that may have happened already is checked, never trusted to fail."""
        if isinstance(change, Create):
            url = f"{cal.url}{quote(change.reminder.uid, safe='')}.ics"
            reply = self._put(url, change.reminder, now, {"If-None-Match": "*"})
            if reply.status == 412:  # it exists: a retry after a lost answer, or a race
                return self._adopt(change, url, now)
            return self._written(change, url, reply)
        url = self.conn.dav().absolute(change.remote.remote_id)
        current = self._get(url)
        if current.status == 404:
            if isinstance(change, Delete):
                return Applied(change)
            log.info("%s: reminder %s was deleted in the calendar meanwhile; "
                     "leaving it deleted", self.conn.name, change.remote.uid)
            return None
        calendar = _parse(current.text)
        if calendar is None or not _ours(calendar):
            log.warning("%s: %s is not keepwarm's event (no %s); not touching it",
                        self.conn.name, change.remote.remote_id, KEEPWARM_PROPERTY)
            return None
        if isinstance(change, Update) and _same_reminder(calendar, change.reminder, now):
            return Applied(change, change.remote.remote_id, current.etag)
        if change.remote.etag and current.etag and _tag(current.etag) != _tag(change.remote.etag):
            return self._user_won(change)
        condition = {"If-Match": change.remote.etag or current.etag}
        if isinstance(change, Delete):
            reply = self.conn.call(f"deleting reminder {change.remote.uid}",
                                   self.conn.dav().delete, url, condition)
            return self._user_won(change) if reply.status == 412 else Applied(change)
        reply = self._put(url, change.reminder, now, condition)
        if reply.status == 412:  # the user's edit, or our own PUT whose answer was lost
            again = self._get(url)
            calendar = _parse(again.text)
            if calendar is not None and _ours(calendar) and _same_reminder(
                    calendar, change.reminder, now):
                return Applied(change, change.remote.remote_id, again.etag)
        return self._written(change, url, reply)

    def _get(self, url: str) -> Reply:
        return self.conn.call(f"reading {urlsplit(url).path}", self.conn.dav().get, url)

    def _put(self, url: str, reminder: Reminder, now: datetime,
             condition: dict[str, str]) -> Reply:
        return self.conn.call(f"writing reminder {reminder.uid}", self.conn.dav().put, url,
                              _render(reminder, now), condition)

    def _adopt(self, change: Create, url: str, now: datetime) -> Applied | None:
        """A create found the object already there: keepwarm's own is taken as done
        (repaired when unreadable); anything else is left alone."""
        current = self._get(url)
        if current.status == 404:  # gone again already: the next sync plans it afresh
            return None
        calendar = _parse(current.text)
        if calendar is None or not _ours(calendar):
            log.warning("%s: %s exists and is not keepwarm's event; not touching it",
                        self.conn.name, url)
            return None
        if _remote(calendar, url, current.etag) is not None:
            return Applied(change, urlsplit(url).path, current.etag)
        return self._written(change, url, self._put(url, change.reminder, now,
                                                    {"If-Match": current.etag}))

    def _written(self, change: Create | Update, url: str, reply: Reply) -> Applied | None:
        if reply.status == 412:
            return self._user_won(change)
        if reply.status in (404, 409):
            log.warning("%s: the server refused reminder %s (HTTP %d)", self.conn.name,
                        change.reminder.uid, reply.status)
            return None
        return Applied(change, urlsplit(url).path, reply.etag)

    def _user_won(self, change: Change) -> Applied | None:
        """Log and drop a change refused on ETag mismatch: the user's edit wins."""
        uid = change.reminder.uid if isinstance(change, Create | Update) else change.remote.uid
        log.info("%s: reminder %s changed in the calendar meanwhile; keeping the user's "
                 "version", self.conn.name, uid)
        return None

    def calendar(self, create: bool) -> CalendarInfo | None:
        """The calendar named ``reminders_calendar``; created (once) when ``create``."""
        if self._found is not None:
            return self._found
        dav, name = self.conn.dav(), self.conn.reminders_name
        self._found = self._find(self.conn.calendars())
        if self._found is None and create:
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "keepwarm"
            made = self.conn.call("creating the reminders calendar", dav.make_calendar,
                                  name, slug)
            if made is None:  # the URL is taken: our own create whose answer got lost?
                made = self._find(self.conn.calendars()) or self.conn.call(
                    "creating the reminders calendar", dav.make_calendar,
                    name, f"{slug}-{random_tokens.token_hex(4)}")
            if made is None:
                raise CalendarError(f"cannot create the calendar {name!r} for "
                                    f"{self.conn.username} at {self.conn.url}")
            self._found = made
        return self._found

    def _find(self, calendars: list[CalendarInfo]) -> CalendarInfo | None:
        name = self.conn.reminders_name
        found = sorted((c for c in calendars if same_name(c.name, name)), key=lambda c: c.url)
        if len(found) > 1:
            log.warning("%s: %d calendars are named %r; using %s", self.conn.name, len(found),
                        name, found[0].url)
        return found[0] if found else None


def _tag(etag: str) -> str:
    """An ETag without weak prefix and quotes, to compare REPORT's and GET's spellings."""
    return etag.removeprefix("W/").strip('"')


def _parse(text: str) -> icalendar.Component | None:
    if not text.strip():
        return None
    try:
        return icalendar.Calendar.from_ical(text)
    except (ValueError, TypeError, KeyError, IndexError):
        return None


def _ours(calendar: icalendar.Component) -> bool:
    """keepwarm's object: exactly one VEVENT, carrying KEEPWARM_PROPERTY, and nothing else
    but time zones. Anything else is the user's and is never written."""
    parts = [c for c in calendar.subcomponents if c.name != "VTIMEZONE"]
    return len(parts) == 1 and parts[0].name == "VEVENT" and KEEPWARM_PROPERTY in parts[0]


def _remote(calendar: icalendar.Component, href: str, etag: str) -> RemoteReminder | None:
    event = next(c for c in calendar.subcomponents if c.name == "VEVENT")
    uid = str(event.get("UID", "")).strip()
    try:
        return icalmap.remote_reminder(event, uid, urlsplit(href).path, etag)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable keepwarm event %s: %s", uid, exc)
        return None


def _render(reminder: Reminder, now: datetime) -> str:
    """A whole calendar object holding keepwarm's event for ``reminder``."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", _PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add_component(icalmap.reminder_event(reminder, now))
    return bytes(calendar.to_ical()).decode("utf-8")


def _same_reminder(calendar: icalendar.Component, reminder: Reminder, now: datetime) -> bool:
    """True when the stored event already says what ``reminder`` wants (DTSTAMP aside)."""
    def fields(c: icalendar.Component) -> tuple[Any, ...] | None:
        r = _remote(c, "", "")
        return None if r is None else (r.uid, r.rid, r.start, r.end, r.title, r.description,
                                       r.all_day)

    want = icalendar.Calendar.from_ical(_render(reminder, now))
    return fields(calendar) == fields(want)
