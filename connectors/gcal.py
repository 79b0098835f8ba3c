"""Google Calendar's meetings, and the account's calendar list (the reminders are written by
``connectors.gcalreminders``).

Meetings: ``events.list(singleEvents=true, showDeleted=true)`` over the window (a week past
its end, so the window can move a week before the next full list), then ``syncToken``. A 410
Gone, a 404, a change of the configured calendars, the window outgrowing the last list, or a
deleted event that comes back with only its id (we cannot tell which meeting it was) means a
full list again, which is a snapshot: the core drops stored meetings it does not see. Events
map to Meeting as the iCalendar sources map them: iCalUID (plus the original start for an
occurrence) is the meeting id, all-day events start at midnight in the user's zone, response
statuses and ``cancelled`` carry over; the person's own entries (``self``) are OwnAddress.

Calendars given by name are found in the calendar list, which is kept between syncs
(``connectors.calendarlist``: an hour, or until a calendar answers 404 or 410), so an idle
cycle reads only each calendar's changes.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connectors.base import day_start
from connectors.calendarlist import Entry
from connectors.gmail import is_name
from connectors.googleauth import GoogleSession, HttpStatus
from connectors.text import clean_text
from daemon.errors import CalendarError, SourceError
from daemon.model import (
    JSON,
    Address,
    Attendee,
    FetchContext,
    Meeting,
    MeetingStatus,
    Observation,
    OwnAddress,
    PartStat,
    Skipped,
)

log = logging.getLogger(__name__)

PAGE = 2500  # events.list's largest page
WINDOW_SLACK = timedelta(days=7)
_STATUS: dict[str, MeetingStatus] = {"tentative": "tentative", "cancelled": "cancelled"}
_PARTSTAT: dict[str, PartStat] = {"accepted": "accepted", "declined": "declined",
                                  "tentative": "tentative", "needsAction": "needs-action"}


class CalendarGone(Exception):
    """A calendar answered 404 or 410 (deleted; or, to a sync token, a token too old)."""

    def __init__(self, cal_id: str, status: HttpStatus) -> None:
        super().__init__(f"{cal_id}: {status}")
        self.cal_id, self.status = cal_id, status


class MeetingReader:
    def __init__(self, session: GoogleSession, calendars: Sequence[str]) -> None:
        self.session = session
        self.calendars = [str(c) for c in calendars]

    def read(self, state: JSON | None, ctx: FetchContext
             ) -> tuple[list[Observation], dict[str, Any], bool]:
        """(observations, new state, snapshot?) for every configured calendar."""
        st = state if isinstance(state, dict) else {}
        tokens = st.get("tokens")
        fresh = (st.get("calendars") == self.calendars and isinstance(tokens, dict)
                 and all(tokens.values())
                 and str(st.get("until", "")) >= ctx.window_end.astimezone(UTC).isoformat())
        if fresh:
            try:
                changed = self._incremental(st["tokens"], ctx)
            except CalendarGone as gone:
                log.warning("%s: Google Calendar answered %s to the sync token of %s; reading "
                            "the window again", self.session.name, gone.status, gone.cal_id)
                self.session.calendar_list.forget()
            else:
                if changed is not None:
                    return changed[0], {**st, "tokens": changed[1]}, False
        try:
            return self._full(ctx)
        except CalendarGone:  # found in a kept calendar list that is out of date?
            self.session.calendar_list.forget()
        try:
            return self._full(ctx)
        except CalendarGone as gone:
            raise SourceError(f"account {self.session.name} cannot read calendar "
                              f"{gone.cal_id!r} (Google: {gone.status}); fix its calendars "
                              "list") from None

    def _full(self, ctx: FetchContext) -> tuple[list[Observation], dict[str, Any], bool]:
        until = ctx.window_end + WINDOW_SLACK
        tokens: dict[str, str] = {}
        out: list[Observation] = []
        for cal_id in self._resolve():
            query = {"timeMin": rfc3339(ctx.window_start), "timeMax": rfc3339(until)}
            items, tokens[cal_id] = self._list(cal_id, query)
            out += meetings_of(items, cal_id, ctx)
        state = {"calendars": self.calendars, "tokens": tokens,
                 "until": until.astimezone(UTC).isoformat()}
        return list(dict.fromkeys(out)), state, True

    def _incremental(self, tokens: dict[str, str], ctx: FetchContext
                     ) -> tuple[list[Observation], dict[str, str]] | None:
        """Changes since the tokens; None when a deletion needs a full list to resolve."""
        out: list[Observation] = []
        new_tokens: dict[str, str] = {}
        for cal_id, token in tokens.items():
            items, new_tokens[cal_id] = self._list(cal_id, {"syncToken": token})
            if any(i.get("status") == "cancelled" and "start" not in i for i in items):
                log.info("%s: an event was deleted in %s; reading the window again",
                         self.session.name, cal_id)
                return None
            out += meetings_of(items, cal_id, ctx)
        return list(dict.fromkeys(out)), new_tokens

    def _list(self, cal_id: str, query: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
        """Every page of one events.list; the items and the next sync token."""
        events = self.session.service("calendar").events()
        items: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            request = events.list(calendarId=cal_id, singleEvents=True, showDeleted=True,
                                  maxResults=PAGE, pageToken=page_token, **query)
            try:
                page = self.session.call(f"reading calendar {cal_id}", request.execute,
                                         passthrough=(404, 410))
            except HttpStatus as status:
                raise CalendarGone(cal_id, status) from None
            items += [i for i in page.get("items") or [] if isinstance(i, dict)]
            page_token = page.get("nextPageToken")
            if not page_token:
                return items, str(page.get("nextSyncToken") or "")

    def _resolve(self) -> list[str]:
        names = [c for c in self.calendars if is_name(c)]
        found = find_calendars(self.session, names, SourceError) if names else {}
        missing = [n for n in names if n not in found]
        if missing:
            raise SourceError(f"account {self.session.name} has no calendar named "
                              f"{', '.join(repr(m) for m in missing)}; fix its calendars list")
        return list(dict.fromkeys(found.get(c, c) for c in self.calendars))


def find_calendars(session: GoogleSession, wanted: Collection[str],
                   error: type[SourceError] | type[CalendarError]) -> dict[str, str]:
    """name or id -> calendar id, for those of ``wanted`` in the user's calendar list (the
    kept one, ``connectors.calendarlist``, unless it is old or lacks one of them)."""
    def match(entries: list[Entry]) -> Mapping[str, str]:
        found: dict[str, str] = {}
        for cal_id, names in entries:
            for key in (cal_id, *names):
                if key in wanted:  # the same choice every time when two share a name
                    found[key] = min(found.get(key, cal_id), cal_id)
        return found

    return session.calendar_list.find(wanted, match, lambda: list_calendars(session, error))


def list_calendars(session: GoogleSession,
                   error: type[SourceError] | type[CalendarError]) -> list[Entry]:
    """Every calendar in the user's calendar list: its id and its names."""
    entries = session.service("calendar").calendarList()
    out: list[Entry] = []
    page_token: str | None = None
    while True:
        request = entries.list(maxResults=250, showHidden=True, pageToken=page_token)
        page = session.call("reading the calendar list", request.execute, error=error)
        out += [(str(e["id"]), tuple(str(e[k]) for k in ("summaryOverride", "summary")
                                     if e.get(k)))
                for e in page.get("items") or [] if isinstance(e, dict) and e.get("id")]
        page_token = page.get("nextPageToken")
        if not page_token:
            return out


def meetings_of(items: Sequence[dict[str, Any]], cal_id: str, ctx: FetchContext
                ) -> list[Observation]:
    out: list[Observation] = []
    for item in items:
        private = (item.get("extendedProperties") or {}).get("private") or {}
        if "keepwarm" in private or item.get("eventType", "default") not in (
                "default", "fromGmail"):
            continue  # keepwarm's own reminders; working location, focus time and the like
        if item.get("status") == "cancelled" and "start" not in item:
            continue  # a deleted event in a full list: not seen, so the core drops it
        where = f"gcal:{cal_id}#{item.get('id', '')}"
        try:
            out += _meeting(item, where, ctx)
        except (KeyError, TypeError, ValueError) as exc:
            out.append(Skipped(where, f"unusable event ({type(exc).__name__}: {exc})"))
    return out


def _meeting(item: dict[str, Any], where: str, ctx: FetchContext) -> list[Observation]:
    start, all_day = _time(item["start"], ctx)
    end = _time(item["end"], ctx)[0] if "end" in item else start
    if end < start:
        return [Skipped(where, "event ends before it starts")]
    uid = clean_text(str(item.get("iCalUID") or item["id"]))
    original = item.get("originalStartTime")
    if item.get("recurringEventId") and isinstance(original, dict):
        when, whole_day = _time(original, ctx)
        uid += "/" + (when.strftime("%Y%m%d") if whole_day
                      else when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    out: list[Observation] = [
        OwnAddress(str(p["email"]).strip().lower())
        for p in [item.get("organizer") or {}, *(item.get("attendees") or [])]
        if p.get("self") and p.get("email")]
    attendees = tuple(Attendee(a, _PARTSTAT.get(str(p.get("responseStatus")), "needs-action"))
                      for p in item.get("attendees") or [] if not p.get("resource")
                      and (a := _address(p)) is not None)
    out.append(Meeting(meeting_id=uid, start=start, end=end,
                       organizer=_address(item.get("organizer") or {}), attendees=attendees,
                       status=_STATUS.get(str(item.get("status")), "confirmed"),
                       all_day=all_day, summary=clean_text(str(item.get("summary", ""))),
                       location=where, free=item.get("transparency") == "transparent"))
    return out


def _time(value: dict[str, Any], ctx: FetchContext) -> tuple[datetime, bool]:
    if "dateTime" in value:
        moment = datetime.fromisoformat(str(value["dateTime"]))
        return (moment if moment.tzinfo else moment.replace(tzinfo=ctx.tz)), False
    return day_start(date.fromisoformat(str(value["date"])), ctx.tz), True


def _address(person: dict[str, Any]) -> Address | None:
    email = clean_text(str(person.get("email") or "")).strip().lower()
    return Address(email, clean_text(str(person.get("displayName") or ""))) if email else None


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
