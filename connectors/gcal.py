"""Google Calendar: meetings in, keepwarm's reminders out.

Meetings: ``events.list(singleEvents=true, showDeleted=true)`` over the window (a week past
its end, so the window can move a week before the next full list), then ``syncToken``. A 410
Gone, a change of the configured calendars, the window outgrowing the last list, or a deleted
event that comes back with only its id (we cannot tell which meeting it was) means a full
list again, which is a snapshot: the core drops stored meetings it does not see. Events map
to Meeting as the iCalendar sources map them: iCalUID (plus the original start for an
occurrence) is the meeting id, all-day events start at midnight in the user's zone, response
statuses and ``cancelled`` carry over; the person's own entries (``self``) are OwnAddress.

Reminders: a calendar found by id or name through the calendar list (looked up before any
``calendars.insert``, which has no idempotency key). Every event carries the private
properties keepwarm = contact key, keepwarmuid = reminder uid and keepwarmapp = 1 (the one
keepwarm lists by), is transparent, has no attendees, and is written with sendUpdates=none.
Event ids are chosen by keepwarm (base32hex of a hash of the reminder uid), so a create whose
answer was lost is found again instead of duplicated; an id Google still remembers from a
deleted event (409) falls back to an id Google chooses. Updates and deletes carry the
event's etag (If-Match); a 412 means the user changed it and the change is left out. An
event is touched only if it carries keepwarm's properties.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connectors.base import day_start
from connectors.gmail import DEFAULT_REMINDERS_CALENDAR, is_name
from connectors.googleauth import GoogleSession, HttpStatus
from connectors.text import clean_text
from daemon.errors import CalendarError, SourceError, TransientError
from daemon.model import (
    JSON,
    Address,
    Applied,
    Attendee,
    Change,
    Create,
    FetchContext,
    Meeting,
    MeetingStatus,
    Observation,
    OwnAddress,
    PartStat,
    Reminder,
    ReminderId,
    RemoteReminder,
    Skipped,
    Update,
)

log = logging.getLogger(__name__)

PAGE = 2500  # events.list's largest page
WINDOW_SLACK = timedelta(days=7)
APP_TAG = ("keepwarmapp", "1")
_STATUS: dict[str, MeetingStatus] = {"tentative": "tentative", "cancelled": "cancelled"}
_PARTSTAT: dict[str, PartStat] = {"accepted": "accepted", "declined": "declined",
                                  "tentative": "tentative", "needsAction": "needs-action"}


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
            except HttpStatus:
                log.warning("%s: Google Calendar expired the sync token; reading the window "
                            "again", self.session.name)
            else:
                if changed is not None:
                    return changed[0], {**st, "tokens": changed[1]}, False
        return self._full(ctx)

    def _full(self, ctx: FetchContext) -> tuple[list[Observation], dict[str, Any], bool]:
        until = ctx.window_end + WINDOW_SLACK
        tokens: dict[str, str] = {}
        out: list[Observation] = []
        for cal_id in self._resolve():
            query = {"timeMin": _rfc3339(ctx.window_start), "timeMax": _rfc3339(until)}
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
                if status.status == 410 and "syncToken" in query:
                    raise
                raise SourceError(f"account {self.session.name} cannot read calendar "
                                  f"{cal_id!r} (Google: {status}); fix its calendars list"
                                  ) from None
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


def find_calendars(session: GoogleSession, wanted: Sequence[str],
                   error: type[SourceError] | type[CalendarError]) -> dict[str, str]:
    """name or id -> calendar id, for those of ``wanted`` in the user's calendar list."""
    entries = session.service("calendar").calendarList()
    found: dict[str, str] = {}
    page_token: str | None = None
    while True:
        request = entries.list(maxResults=250, showHidden=True, pageToken=page_token)
        page = session.call("reading the calendar list", request.execute, error=error)
        for entry in page.get("items") or []:
            for key in (entry.get("id"), entry.get("summaryOverride"), entry.get("summary")):
                if key in wanted:  # the same choice every time when two share a name
                    found[key] = min(found.get(key, entry["id"]), str(entry["id"]))
        page_token = page.get("nextPageToken")
        if not page_token:
            return found


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
                       location=where))
    return out


def _time(value: dict[str, Any], ctx: FetchContext) -> tuple[datetime, bool]:
    if "dateTime" in value:
        moment = datetime.fromisoformat(str(value["dateTime"]))
        return (moment if moment.tzinfo else moment.replace(tzinfo=ctx.tz)), False
    return day_start(date.fromisoformat(str(value["date"])), ctx.tz), True


def _address(person: dict[str, Any]) -> Address | None:
    email = clean_text(str(person.get("email") or "")).strip().lower()
    return Address(email, clean_text(str(person.get("displayName") or ""))) if email else None


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- reminders ---------------------------------------------------------------------------
def event_id(uid: str) -> str:
    """keepwarm's id for the event of reminder ``uid``: base32hex, as Google requires."""
    digest = hashlib.sha256(uid.encode("utf-8")).digest()[:20]
    return base64.b32hexencode(digest).decode("ascii").lower().rstrip("=")


def event_body(reminder: Reminder) -> dict[str, Any]:
    return {
        "summary": clean_text(reminder.title),
        "description": clean_text(reminder.description, keep_newlines=True),
        "start": {"dateTime": _rfc3339(reminder.start)},
        "end": {"dateTime": _rfc3339(reminder.end)},
        "transparency": "transparent",
        "reminders": {"useDefault": False},
        "extendedProperties": {"private": {"keepwarm": clean_text(reminder.rid.marker),
                                           "keepwarmuid": clean_text(reminder.uid),
                                           APP_TAG[0]: APP_TAG[1]}},
    }


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
        """Look first; create only when not found, never twice: calendars.insert has no
        idempotency key, so a failed insert is followed by another look, not a retry."""
        if self.target == "primary":
            return "primary"
        found = find_calendars(self.session, [self.target], CalendarError)
        if self.target in found:
            return found[self.target]
        if self.target != DEFAULT_REMINDERS_CALENDAR:
            raise CalendarError(f"account {self.session.name} has no calendar {self.target!r}; "
                                "fix reminders_calendar or leave it out to let keepwarm "
                                "create its own calendar")
        try:
            made = self.session.post_once("calendar/v3/calendars", {
                "summary": self.target, "description": "Follow-up reminders written by keepwarm"},
                "creating the reminders calendar", CalendarError)
        except TransientError as problem:
            found = find_calendars(self.session, [self.target], CalendarError)
            if self.target in found:  # it was made; only the answer was lost
                return found[self.target]
            raise problem from None
        log.info("%s: created the calendar %r for reminders", self.session.name, self.target)
        return str(made["id"])

    def reminders(self) -> list[RemoteReminder]:
        events = self.session.service("calendar").events()
        cal = self.calendar_id()
        out: list[RemoteReminder] = []
        self._listed = {}
        page_token: str | None = None
        while True:
            request = events.list(calendarId=cal, privateExtendedProperty="=".join(APP_TAG),
                                  singleEvents=True, maxResults=PAGE, pageToken=page_token)
            page = self.session.call("listing reminders", request.execute, error=CalendarError)
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
                passthrough=(409,), error=CalendarError))
        except HttpStatus:
            pass  # the id is taken: by this very event (an answer lost) or by a deleted one
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
    try:
        start = datetime.fromisoformat(str(item["start"]["dateTime"]))
        end = datetime.fromisoformat(str(item["end"]["dateTime"])) if "end" in item else None
    except (KeyError, TypeError, ValueError):
        log.warning("ignoring keepwarm event %s without a usable time", item.get("id"))
        return None
    return RemoteReminder(uid=str(private.get("keepwarmuid") or item["id"]),
                          rid=ReminderId.parse(str(private["keepwarm"])), start=start,
                          remote_id=str(item["id"]), etag=str(item.get("etag", "")),
                          title=str(item.get("summary", "")),
                          description=str(item.get("description", "")), end=end)
