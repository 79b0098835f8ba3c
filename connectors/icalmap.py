"""iCalendar components to and from keepwarm's types, shared by every connector that speaks
iCalendar (a local .ics file, a CalDAV server).

One mapping, so the same event gives the same meeting ids, statuses and attendees however
it was read, and keepwarm's reminder events are built and read back one way everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal

import icalendar
import recurring_ical_events

from connectors import icsfile
from connectors.base import KEEPWARM_PROPERTY, day_start
from connectors.text import clean_text
from daemon.errors import SourceError
from daemon.model import (
    Address,
    Attendee,
    FetchContext,
    Meeting,
    Observation,
    PartStat,
    Reminder,
    ReminderId,
    RemoteReminder,
    Skipped,
)

log = logging.getLogger(__name__)

# marks the VALARM keepwarm writes (RFC 5545 allows x-properties in a VALARM)
KEEPWARM_ALARM = "X-KEEPWARM-ALARM"

_STATUS: dict[str, Literal["confirmed", "tentative", "cancelled"]] = {
    "CANCELLED": "cancelled",
    "TENTATIVE": "tentative",
}
_PARTSTAT: dict[str, PartStat] = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentative",
    "DELEGATED": "delegated",
}


# -- reading meetings ------------------------------------------------------------
def meetings(calendar: icalendar.Component, where: str, ctx: FetchContext
             ) -> Iterator[Observation]:
    """Every occurrence in the window of every foreign VEVENT of ``calendar``, or Skipped for
    broken ones. ``where`` prefixes each location (``ics:file.ics``, ``caldav:acct/Work``)."""
    timezones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    groups: dict[str, list[icalendar.Component]] = {}
    for index, event in enumerate(c for c in calendar.subcomponents if c.name == "VEVENT"):
        if KEEPWARM_PROPERTY in event:
            continue
        uid = clean_text(str(event.get("UID", ""))).strip()
        problem = _problem(event)
        if problem or not uid:
            location = f"{where}#{uid or f'event-{index}'}"
            yield Skipped(location, problem or "event has no UID")
            continue
        groups.setdefault(uid, []).append(event)
    for uid, events in groups.items():
        yield from _expand(uid, events, timezones, f"{where}#{uid}", ctx)


def file_meetings(data: bytes, file_name: str, ctx: FetchContext) -> Iterator[Observation]:
    """``meetings`` of a whole .ics file, and one Skipped per part of it that cannot be read;
    SourceError only when there is no calendar in it at all."""
    if not data.strip():
        return
    try:
        ics = icsfile.split(data)
    except ValueError as exc:
        raise SourceError(f"{file_name} is not a readable iCalendar file: {exc}") from None
    calendar, skipped = read_parts(ics, f"ics:{file_name}")
    yield from skipped
    yield from meetings(calendar, f"ics:{file_name}", ctx)


def object_meetings(text: str, where: str, href: str, ctx: FetchContext
                    ) -> Iterator[Observation]:
    """``meetings`` of one calendar object (a CalDAV resource), read like a file: what
    cannot be read is Skipped, the whole object when it holds no calendar."""
    name = href.rstrip("/").rsplit("/", 1)[-1]
    try:
        ics = icsfile.split(text.encode("utf-8", "surrogateescape"))
    except ValueError as exc:
        yield Skipped(f"{where}/{name}", f"unreadable iCalendar object: {exc}")
        return
    calendar, skipped = read_parts(ics, f"{where}/{name}")
    yield from skipped
    yield from meetings(calendar, where, ctx)


def read_parts(ics: icsfile.IcsFile, where: str) -> tuple[icalendar.Calendar, list[Skipped]]:
    """The VEVENTs and VTIMEZONEs of ``ics`` that parse, as one calendar, and a Skipped for
    each one that does not and for each line between them that is not iCalendar.

    Each component is parsed on its own, so one broken part costs only itself (a whole-file
    parse refuses the calendar). Time zones go first: icalendar resolves an event's TZID
    against the time zones it has parsed so far. Other components carry no meetings and
    are not parsed (a cut one is reported all the same: the file is broken there)."""
    skipped = [Skipped(f"{where}#line-{number}", f"unreadable line {text[:60]!r}")
               for number, text in ics.stray_lines()]
    parts = [(n, p) for n, p in ics.numbered() if isinstance(p, icsfile.Block)
             and (p.cut or p.name in ("VTIMEZONE", "VEVENT"))]
    calendar = icalendar.Calendar()
    for number, block in sorted(parts, key=lambda part: part[1].name != "VTIMEZONE"):
        location = f"{where}#{block.uid or f'line-{number}'}"
        if block.cut:
            skipped.append(Skipped(location, f"{block.name[:40]!r} cut off: its END line is "
                                             "missing"))
            continue
        try:
            text = icsfile.unfold(block.raw).decode("utf-8", errors="replace")
            calendar.add_component(icalendar.Component.from_ical(text))
        except Exception as exc:  # third-party parser on user data: any failure is one item
            skipped.append(Skipped(location, f"unreadable {block.name}: {clean_text(str(exc))}"))
    return calendar, skipped


def _problem(event: icalendar.Component) -> str:
    """Why this VEVENT cannot be used, or ''."""
    if event.errors:
        prop, message = event.errors[0]
        return f"unparseable {prop or 'line'}: {clean_text(message)}"
    if "DTSTART" not in event:
        return "event has no DTSTART"
    start = event.decoded("DTSTART")
    if not isinstance(start, date):
        return "DTSTART is not a date or date-time"
    if "DTEND" in event:
        end = event.decoded("DTEND")
        if not isinstance(end, date) or isinstance(end, datetime) != isinstance(start, datetime):
            return "DTEND is not of the same kind as DTSTART"
    return ""


def _expand(
    uid: str,
    events: list[icalendar.Component],
    timezones: list[icalendar.Component],
    location: str,
    ctx: FetchContext,
) -> Iterator[Observation]:
    recurring = len(events) > 1 or any(
        key in event for event in events for key in ("RRULE", "RDATE", "RECURRENCE-ID")
    )
    calendar = icalendar.Calendar()
    for component in (*timezones, *events):
        calendar.add_component(component)
    try:
        # Floating times are compared in the user's zone, so pass the window in it.
        occurrences = list(
            recurring_ical_events.of(calendar).between(
                ctx.window_start.astimezone(ctx.tz), ctx.window_end.astimezone(ctx.tz)
            )
        )
    except Exception as exc:  # third-party recurrence code on user data: any failure is one item
        yield Skipped(location, f"cannot expand recurrence: {exc}")
        return
    for occurrence in occurrences:
        try:
            yield _meeting(occurrence, uid, recurring, location, ctx.tz)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            yield Skipped(location, f"unusable occurrence: {exc}")


def _meeting(
    event: icalendar.Component, uid: str, recurring: bool, location: str, tz: tzinfo
) -> Meeting | Skipped:
    raw_start = event.decoded("DTSTART")
    all_day = not isinstance(raw_start, datetime)
    start = aware(raw_start, tz)
    if "DTEND" in event:
        end = aware(event.decoded("DTEND"), tz)
    elif "DURATION" in event:
        end = aware(raw_start + event.decoded("DURATION"), tz)
    else:
        end = aware(raw_start + timedelta(days=1), tz) if all_day else start
    if end < start:
        return Skipped(location, "event ends before it starts")
    meeting_id = uid
    if recurring:
        original = event.decoded("RECURRENCE-ID") if "RECURRENCE-ID" in event else raw_start
        meeting_id = f"{uid}/{_stamp(original, tz)}"
    status = str(event.get("STATUS", "")).strip().upper()
    return Meeting(
        meeting_id=meeting_id,
        start=start,
        end=end,
        organizer=_address(event.get("ORGANIZER")),
        attendees=tuple(_attendees(event.get("ATTENDEE"))),
        status=_STATUS.get(status, "confirmed"),
        all_day=all_day,
        summary=clean_text(str(event.get("SUMMARY", ""))).strip(),
        location=location,
        free=str(event.get("TRANSP", "")).strip().upper() == "TRANSPARENT",
    )


def aware(value: date, tz: tzinfo) -> datetime:
    """DATE -> midnight in ``tz``; floating date-time -> in ``tz``; zoned stays as it is."""
    if not isinstance(value, datetime):
        return day_start(value, tz)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _stamp(value: date, tz: tzinfo) -> str:
    """The occurrence part of a meeting id: UTC basic format, or the bare date for all-day."""
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    return aware(value, tz).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _address(value: Any) -> Address | None:
    if value is None:
        return None
    email = clean_text(str(value)).strip()
    if email.lower().startswith("mailto:"):
        email = email[len("mailto:") :]
    email = email.strip().lower()
    if not email:
        return None
    params = getattr(value, "params", {})
    return Address(email, clean_text(str(params.get("CN", ""))).strip())


def _attendees(value: Any) -> Iterator[Attendee]:
    for item in value if isinstance(value, list) else [value] if value is not None else []:
        address = _address(item)
        if address is not None:
            partstat = str(getattr(item, "params", {}).get("PARTSTAT", "")).upper()
            yield Attendee(address, _PARTSTAT.get(partstat, "needs-action"))


# -- keepwarm's reminder events ----------------------------------------------------
def reminder_event(reminder: Reminder, now: datetime) -> icalendar.Event:
    """keepwarm's VEVENT for ``reminder``: UTC times (an all-day one: its dates, as
    ``VALUE=DATE``), shown as free, never an attendee or organizer, so no calendar ever
    sends an invitation for it; a display alarm only when ``[reminders] alarm`` asks."""
    event = icalendar.Event()
    event.add("UID", clean_text(reminder.uid))
    event.add("DTSTAMP", now.astimezone(UTC))
    if reminder.all_day:
        event.add("DTSTART", reminder.start.date())
        event.add("DTEND", reminder.end.date())
    else:
        event.add("DTSTART", reminder.start.astimezone(UTC))
        event.add("DTEND", reminder.end.astimezone(UTC))
    event.add("SUMMARY", clean_text(reminder.title))
    event.add("DESCRIPTION", clean_text(reminder.description, keep_newlines=True))
    event.add("TRANSP", "TRANSPARENT")
    event.add(KEEPWARM_PROPERTY, clean_text(reminder.rid.marker))
    if reminder.alarm is not None:
        alarm = icalendar.Alarm()
        alarm.add("ACTION", "DISPLAY")  # RFC 5545 3.6.6: DISPLAY needs a DESCRIPTION
        alarm.add("DESCRIPTION", clean_text(reminder.title))
        alarm.add("TRIGGER", -reminder.alarm)
        alarm.add(KEEPWARM_ALARM, "1")
        event.add_component(alarm)
    return event


def alarm_of(event: icalendar.Component) -> timedelta | None:
    """How long before its start keepwarm's display alarm rings; None when it has none. One
    a server or client added (a default alarm) is not keepwarm's: were it read as the
    reminder's alarm, each sync would take it away and the server add it back."""
    for alarm in event.walk("VALARM"):
        trigger = alarm.decoded("TRIGGER") if "TRIGGER" in alarm else None
        if KEEPWARM_ALARM in alarm and isinstance(trigger, timedelta):
            return -trigger
    return None


def render_event(reminder: Reminder, now: datetime) -> bytes:
    """The serialised VEVENT (see ``reminder_event``)."""
    return bytes(reminder_event(reminder, now).to_ical())


def remote_reminder(event: icalendar.Component, uid: str, remote_id: str, etag: str
                    ) -> RemoteReminder:
    """One of keepwarm's events as stored; ValueError, KeyError or TypeError when its times
    cannot be read (the caller logs it and the core recreates the reminder). A date (an
    all-day event) is midnight UTC of that date."""
    raw_start = event.decoded("DTSTART")
    start = aware(raw_start, UTC)
    end = aware(event.decoded("DTEND"), UTC) if "DTEND" in event else None
    return RemoteReminder(
        uid=uid,
        rid=ReminderId.parse(str(event.get(KEEPWARM_PROPERTY, ""))),
        start=start,
        remote_id=remote_id,
        etag=etag,
        title=str(event.get("SUMMARY", "")),
        description=str(event.get("DESCRIPTION", "")),
        end=end,
        all_day=not isinstance(raw_start, datetime),
        alarm=alarm_of(event),
    )


def block_reminder(block: icsfile.Block) -> RemoteReminder | None:
    """One of keepwarm's events in an .ics file as stored; None (logged) when it cannot be
    parsed, so the core recreates it."""
    try:
        event = icalendar.Event.from_ical(icsfile.unfold(block.raw).decode("utf-8", "replace"))
        return remote_reminder(event, block.uid, block.uid, icsfile.etag(block.raw))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable keepwarm event %s: %s", block.uid, exc)
        return None
