"""Outlook calendars through Graph: meetings from calendarView delta, and the mailbox's
calendar list (the reminders are written by ``connectors.outlookreminders``).

Reading: one calendarView delta round per chosen calendar over the fetch window (widened by
``WINDOW_SLACK`` ahead, so the window can move for a while on the same token). A full round
returns every occurrence in the window (Graph expands recurrences) and is yielded as a
snapshot; later rounds start from the stored deltaLinks and return only what changed, so an
idle sync costs one request per calendar. Graph names a removed event by its Graph id alone,
which is not the meeting's id (its iCalUId), so a round that reports removals - like a
stale or refused link, a changed calendar list or a window that outgrew the token - reads
all calendars again as one snapshot: what is gone is then dropped by the core.

Calendars are found by name in the mailbox's calendar list, kept between syncs
(``connectors.calendarlist``: for an hour, or until a calendar answers 404 or 410), so an
idle cycle lists none.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import day_start
from connectors.calendarlist import CalendarList, Entry
from connectors.graph import Graph, GraphError, stale_link
from connectors.outlookmail import graph_address
from connectors.text import clean_text
from daemon.errors import SourceError
from daemon.model import JSON, Attendee, FetchContext, Meeting, Observation, PartStat, Skipped

log = logging.getLogger(__name__)

DEFAULT = "default"  # the mailbox's default calendar, without looking up its id
WINDOW_SLACK = timedelta(days=7)
PAGE_SIZE = 1000
UTC_TIMES = 'outlook.timezone="UTC"'
# keepwarm's own property set: a fixed GUID, so every install writes the same property ids
# (the marker of its events, connectors.outlookreminders).
PROPERTY_SET = "{8653ded6-e767-503b-878d-77df8e4b8917}"
CONTACT_PROPERTY = f"String {PROPERTY_SET} Name keepwarm-contact"
UID_PROPERTY = f"String {PROPERTY_SET} Name keepwarm-uid"
# Graph's showAs values that leave the user available (tentative, busy, oof: not)
_FREE = ("free", "workingelsewhere")
_RESPONSE: dict[str, PartStat] = {
    "accepted": "accepted",
    "organizer": "accepted",
    "tentativelyAccepted": "tentative",
    "declined": "declined",
}


# -- reading meetings --------------------------------------------------------------
def read_meetings(graph: Graph, state: JSON | None, names: list[str], own: str,
                  ctx: FetchContext, calendars: CalendarList
                  ) -> tuple[list[Observation], dict[str, Any], bool]:
    """(observations, new state, snapshot?) for the calendars named ``names``; a calendar
    that answers 404 or 410 drops the kept calendar list (``calendars``)."""
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
            if exc.status in (404, 410):
                calendars.forget()
    start, end = ctx.window_start, ctx.window_end + WINDOW_SLACK
    new_state = {"names": names, "start": _iso(start), "end": _iso(end)}
    try:
        found, links, _ = _round(graph, calendar_paths(graph, names, calendars), (start, end),
                                 own, ctx)
    except GraphError as exc:  # found in a kept calendar list that is out of date?
        if exc.status not in (404, 410):
            raise
        calendars.forget()
        found, links, _ = _round(graph, calendar_paths(graph, names, calendars), (start, end),
                                 own, ctx)
    return found, {**new_state, "links": links}, True


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


def calendar_paths(graph: Graph, names: list[str], calendars: CalendarList) -> dict[str, str]:
    """name -> the calendarView delta path of that calendar; SourceError for unknown names."""
    paths = {n: "/me/calendarView/delta" for n in names if n.casefold() == DEFAULT}
    wanted = [n for n in names if n not in paths]
    found = find_calendars(graph, calendars, wanted, "listing calendars") if wanted else {}
    for name in wanted:
        if name not in found:
            listed = calendars.entries(lambda: list_calendars(graph, "listing calendars"))
            there = ", ".join(sorted(repr(n) for _, names in listed for n in names)) or "none"
            raise SourceError(f"no Outlook calendar named {name!r} for "
                              f"{graph.account.name}; fix accounts[{graph.account.name}]"
                              f".calendars (calendars there: {there}, or \"default\")")
        paths[name] = f"/me/calendars/{quote(found[name], safe='')}/calendarView/delta"
    return paths


def find_calendars(graph: Graph, calendars: CalendarList, wanted: Sequence[str],
                   what: str) -> dict[str, str]:
    """name as given -> id, for those of ``wanted`` the mailbox has (names compare without
    case and surrounding blanks; of equal names, the first listed), from the calendar list
    kept in ``calendars`` unless it is old or lacks one of them."""
    def match(entries: list[Entry]) -> dict[str, str]:
        ids: dict[str, str] = {}
        for cal_id, cal_names in entries:
            for name in cal_names:
                ids.setdefault(name.strip().casefold(), cal_id)
        return {n: ids[n.strip().casefold()] for n in wanted if n.strip().casefold() in ids}

    return calendars.find(wanted, match, lambda: list_calendars(graph, what))


def list_calendars(graph: Graph, what: str) -> list[Entry]:
    """Each calendar of the mailbox: its id and name."""
    out: list[Entry] = []
    for page in graph.pages("/me/calendars", params={"$select": "id,name"}, what=what):
        out += [(str(cal.get("id")), (str(cal.get("name", "")),)) for cal in page.items]
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
        summary=clean_text(str(event.get("subject") or "")), location=location,
        free=str(event.get("showAs") or "").lower() in _FREE)


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
