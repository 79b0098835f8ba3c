"""Outlook calendars through Graph: meetings from calendarView delta, reminders written back.

Reading: one calendarView delta round per chosen calendar over the fetch window (widened by
``WINDOW_SLACK`` ahead, so the window can move for a while on the same token). A full round
returns every occurrence in the window (Graph expands recurrences) and is yielded as a
snapshot; later rounds start from the stored deltaLinks and return only what changed, so an
idle sync costs one request per calendar. Graph names a removed event by its Graph id alone,
which is not the meeting's id (its iCalUId), so a round that reports removals - like a
stale or refused link, a changed calendar list or a window that outgrew the token - reads
all calendars again as one snapshot: what is gone is then dropped by the core.

Writing: reminders are events in the calendar named ``reminders_calendar`` (created when
missing, after looking for it). Each carries keepwarm's single-value extended properties -
the contact's key and the reminder's uid - and is found again only by filtering on them, so
events without them are never seen, let alone touched. Creates send a ``transactionId``
derived from the uid, so a POST retried after a lost answer never makes a second event;
updates and deletes send ``If-Match`` with the listed ``@odata.etag``, and a 412 (the user
changed the event meanwhile) leaves that change out. Up to four changes run at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import day_start
from connectors.graph import MAX_IN_FLIGHT, Graph, GraphError, stale_link
from connectors.outlookmail import graph_address
from connectors.text import clean_text
from daemon.errors import CalendarError, SourceError
from daemon.model import (
    JSON,
    Applied,
    Attendee,
    Change,
    Create,
    Delete,
    FetchContext,
    Meeting,
    Observation,
    PartStat,
    Reminder,
    ReminderId,
    RemoteReminder,
    Skipped,
    Update,
)

log = logging.getLogger(__name__)

DEFAULT = "default"  # the mailbox's default calendar, without looking up its id
WINDOW_SLACK = timedelta(days=7)
PAGE_SIZE = 1000
UTC_TIMES = 'outlook.timezone="UTC"'
# keepwarm's own property set: a fixed GUID, so every install writes the same property ids.
PROPERTY_SET = "{8653ded6-e767-503b-878d-77df8e4b8917}"
CONTACT_PROPERTY = f"String {PROPERTY_SET} Name keepwarm-contact"
UID_PROPERTY = f"String {PROPERTY_SET} Name keepwarm-uid"
_TRANSACTIONS = uuid.UUID("8653ded6-e767-503b-878d-77df8e4b8917")
# keepwarm's events only (filtered on the property), with the properties and fields it reads.
_LISTING = {
    "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{CONTACT_PROPERTY}' "
               "and ep/value ne '')",
    "$expand": f"singleValueExtendedProperties($filter=id eq '{CONTACT_PROPERTY}' "
               f"or id eq '{UID_PROPERTY}')",
    "$select": "subject,body,start,end",
    "$top": "500",
}
_TEXT_UTC = {"Prefer": f'outlook.body-content-type="text", {UTC_TIMES}'}
_RESPONSE: dict[str, PartStat] = {
    "accepted": "accepted",
    "organizer": "accepted",
    "tentativelyAccepted": "tentative",
    "declined": "declined",
}


# -- reading meetings --------------------------------------------------------------
def read_meetings(graph: Graph, state: JSON | None, names: list[str], own: str,
                  ctx: FetchContext) -> tuple[list[Observation], dict[str, Any], bool]:
    """(observations, new state, snapshot?) for the calendars named ``names``."""
    if _usable(state, names, ctx):
        assert isinstance(state, dict)
        try:
            found, links, removed = _round(graph, state["links"], None, own, ctx)
            if not removed:
                return found, {**state, "links": links}, False
            log.info("%s: events were removed from a calendar; reading the window again",
                     graph.account.name)
        except GraphError as exc:
            if not stale_link(exc):
                raise
            log.info("%s: %s; reading the calendars again", graph.account.name, exc)
    start, end = ctx.window_start, ctx.window_end + WINDOW_SLACK
    paths = calendar_paths(graph, names)
    found, links, _ = _round(graph, paths, (start, end), own, ctx)
    new_state = {"names": names, "start": _iso(start), "end": _iso(end), "links": links}
    return found, new_state, True


def _usable(state: JSON | None, names: list[str], ctx: FetchContext) -> bool:
    """True when stored deltaLinks cover these calendars and today's window."""
    if not isinstance(state, dict) or state.get("names") != names:
        return False
    links = state.get("links")
    try:
        start, end = datetime.fromisoformat(state["start"]), datetime.fromisoformat(state["end"])
    except (KeyError, TypeError, ValueError):
        return False
    return (isinstance(links, dict) and set(links) == set(names)
            and start <= ctx.window_start and ctx.window_end <= end)


def calendar_paths(graph: Graph, names: list[str]) -> dict[str, str]:
    """name -> the calendarView delta path of that calendar; SourceError for unknown names."""
    paths = {n: "/me/calendarView/delta" for n in names if n.casefold() == DEFAULT}
    wanted = [n for n in names if n not in paths]
    if wanted:
        calendars = list_calendars(graph, "listing calendars")
        for name in wanted:
            cal_id = calendars.get(name.strip().casefold())
            if cal_id is None:
                there = ", ".join(sorted(repr(n) for n in calendars)) or "none"
                raise SourceError(f"no Outlook calendar named {name!r} for "
                                  f"{graph.account.name}; fix accounts[{graph.account.name}]"
                                  f".calendars (calendars there: {there}, or \"default\")")
            paths[name] = f"/me/calendars/{quote(cal_id, safe='')}/calendarView/delta"
    return paths


def list_calendars(graph: Graph, what: str) -> dict[str, str]:
    """casefolded name -> id of each calendar of the mailbox (the first of equal names)."""
    out: dict[str, str] = {}
    for page in graph.pages("/me/calendars", params={"$select": "id,name"}, what=what):
        for cal in page.items:
            out.setdefault(str(cal.get("name", "")).strip().casefold(), str(cal.get("id")))
    return out


def _round(graph: Graph, links: dict[str, str], window: tuple[datetime, datetime] | None,
           own: str, ctx: FetchContext) -> tuple[list[Observation], dict[str, str], bool]:
    """One delta round of each calendar: (observations, deltaLinks, any removals?)."""
    headers = {"Prefer": f"odata.maxpagesize={PAGE_SIZE}, {UTC_TIMES}"}
    params = None if window is None else {"startDateTime": _iso(window[0]),
                                          "endDateTime": _iso(window[1])}
    found: list[Observation] = []
    new_links: dict[str, str] = {}
    removed = False
    for name, link in links.items():
        for page in graph.pages(link, params=params, headers=headers,
                                what=f"reading calendar {name!r}"):
            for event in page.items:
                if "@removed" in event:
                    removed = True
                else:
                    found.append(to_meeting(event, own, f"outlook:{name}", ctx.tz))
            new_links[name] = page.delta_link
        if not new_links.get(name):
            raise SourceError(f"Microsoft Graph ended the delta of calendar {name!r} "
                              "without a deltaLink")
    return found, new_links, removed


def to_meeting(event: dict[str, Any], own: str, where: str, tz: tzinfo) -> Meeting | Skipped:
    """The Meeting of one calendarView occurrence, mapped like an iCalendar VEVENT is."""
    location = f"{where}#{event.get('id', '?')}"
    all_day = bool(event.get("isAllDay"))
    start = graph_when(event.get("start"), all_day, tz)
    end = graph_when(event.get("end"), all_day, tz)
    if start is None:
        return Skipped(location, "event has no readable start")
    end = end or start
    if end < start:
        return Skipped(location, "event ends before it starts")
    organizer = graph_address((event.get("organizer") or {}).get("emailAddress"))
    attendees: dict[str, Attendee] = {}
    for item in event.get("attendees") or []:
        address = graph_address(item.get("emailAddress")) if isinstance(item, dict) else None
        if address is not None and address.email not in attendees:
            response = str((item.get("status") or {}).get("response") or "")
            attendees[address.email] = Attendee(address, _RESPONSE.get(response, "needs-action"))
    mine = str((event.get("responseStatus") or {}).get("response") or "")
    if own and mine in _RESPONSE and mine != "organizer":  # the user's answer is theirs to say
        name = attendees[own].address.name if own in attendees else ""
        attendees[own] = Attendee(graph_address({"address": own, "name": name})
                                  or attendees[own].address, _RESPONSE[mine])
    status: Literal["confirmed", "cancelled"] = (
        "cancelled" if event.get("isCancelled") else "confirmed")
    return Meeting(
        meeting_id=clean_text(str(event.get("iCalUId") or "")) or f"outlook:{event.get('id')}",
        start=start, end=end, organizer=organizer, attendees=tuple(attendees.values()),
        status=status, all_day=all_day,
        summary=clean_text(str(event.get("subject") or "")), location=location)


def graph_when(value: Any, all_day: bool, tz: tzinfo) -> datetime | None:
    """Graph's dateTimeTimeZone as an aware datetime; all-day dates at midnight in ``tz``."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        return None
    try:
        parsed = datetime.fromisoformat(value["dateTime"])
    except ValueError:
        return None
    if all_day:
        return day_start(parsed.date(), tz)
    if parsed.tzinfo is not None:
        return parsed
    zone = str(value.get("timeZone") or "UTC")
    if zone.upper() in ("UTC", "Z"):
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.replace(tzinfo=ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the reminders calendar --------------------------------------------------------
class ReminderCalendar:
    """keepwarm's events in one Outlook calendar, found by their extended property."""

    def __init__(self, graph: Graph, name: str) -> None:
        self.graph = graph
        self.name = name
        self._id: str | None = None

    def calendar_id(self, create: bool) -> str | None:
        """The id of the calendar named ``name``; created when missing and ``create``."""
        if self._id is None:
            self._id = list_calendars(self.graph, "finding the reminders calendar").get(
                self.name.strip().casefold())
        if self._id is None and create:
            reply = self.graph.call("POST", "/me/calendars", body={"name": self.name},
                                    allow=(409,), what="creating the reminders calendar")
            if reply.status == 409:  # there meanwhile: our own create whose answer was lost
                self._id = list_calendars(self.graph, "finding the reminders calendar").get(
                    self.name.strip().casefold())
            else:
                self._id = str(reply.data.get("id") or "") or None
            if self._id is None:
                raise CalendarError(f"cannot create the Outlook calendar {self.name!r}")
            log.info("%s: created the calendar %r", self.graph.account.name, self.name)
        return self._id

    def find(self) -> list[RemoteReminder]:
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
        with ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT) as pool:
            done = list(pool.map(lambda c: self._apply_one(cal_id, c), changes))
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
    """keepwarm's event: UTC times, free, no attendees and no alarm, marked as its own."""
    def when(t: datetime) -> dict[str, str]:
        return {"dateTime": t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}

    return {
        "subject": clean_text(reminder.title),
        "body": {"contentType": "text",
                 "content": clean_text(reminder.description, keep_newlines=True)},
        "start": when(reminder.start),
        "end": when(reminder.end),
        "showAs": "free",
        "isReminderOn": False,
        "responseRequested": False,
        "attendees": [],
        "singleValueExtendedProperties": [
            {"id": CONTACT_PROPERTY, "value": clean_text(reminder.rid.marker)},
            {"id": UID_PROPERTY, "value": clean_text(reminder.uid)},
        ],
    }


def _same(current: RemoteReminder, want: Reminder) -> bool:
    """True when the event already says what ``want`` says (as it reads back)."""
    return (current.uid, current.rid, current.start, current.end, current.title,
            current.description) == (
        clean_text(want.uid), want.rid, want.start, want.end,
        clean_text(want.title), clean_text(want.description, keep_newlines=True).rstrip())


def remote_reminder(event: dict[str, Any]) -> RemoteReminder | None:
    """One of keepwarm's events as it is now; None (logged) when it lacks the marker or its
    times cannot be read, so the core recreates it."""
    props = {str(p.get("id", "")).lower(): str(p.get("value") or "")
             for p in event.get("singleValueExtendedProperties") or [] if isinstance(p, dict)}
    marker = props.get(CONTACT_PROPERTY.lower(), "")
    start = graph_when(event.get("start"), False, UTC)
    end = graph_when(event.get("end"), False, UTC)
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
        end=end)
