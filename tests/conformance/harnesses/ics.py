"""Conformance harnesses for the ics connector: a meetings file and a reminders calendar.

The calendar harness finds user events by plain text splitting, independently of
connectors.icsfile, so the byte-preservation check does not trust the code it checks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar

from connectors.base import KEEPWARM_PROPERTY
from daemon.model import AccountConfig, Meeting

_VEVENT = re.compile(rb"BEGIN:VEVENT\r?\n.*?END:VEVENT\r?\n", re.DOTALL)
_UID = re.compile(rb"^UID:([^\r\n]*)\r?$", re.MULTILINE)
_STATUS = {"confirmed": "CONFIRMED", "tentative": "TENTATIVE", "cancelled": "CANCELLED"}
_HEAD = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//user//their calendar app//EN\r\n"
_TAIL = b"END:VCALENDAR\r\n"


class IcsSourceHarness:
    """Meetings rendered through icalendar into one .ics file."""

    type = "ics"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "meetings.ics"
        self.meetings: list[Meeting] = []
        self._write()

    def account(self) -> AccountConfig:
        return AccountConfig(name="ics", type="ics", options={"path": str(self.path)})

    def add_mail(self, raw: bytes) -> None:
        raise NotImplementedError("an .ics file holds no mail")

    def add_meeting(self, meeting: Meeting) -> None:
        self.meetings.append(meeting)
        self._write()

    def _write(self) -> None:
        calendar = icalendar.Calendar()
        calendar.add("PRODID", "-//keepwarm tests//ics harness//EN")
        calendar.add("VERSION", "2.0")
        for meeting in self.meetings:
            calendar.add_component(_event(meeting))
        self.path.write_bytes(calendar.to_ical())


def _event(meeting: Meeting) -> icalendar.Event:
    event = icalendar.Event()
    event.add("UID", meeting.meeting_id)
    event.add("DTSTAMP", datetime.now(UTC))
    if meeting.all_day:
        event.add("DTSTART", meeting.start.date())
        event.add("DTEND", meeting.end.date())
    else:
        event.add("DTSTART", meeting.start)
        event.add("DTEND", meeting.end)
    event.add("SUMMARY", meeting.summary)
    event.add("STATUS", _STATUS[meeting.status])
    if meeting.free:
        event.add("TRANSP", "TRANSPARENT")
    if meeting.organizer is not None:
        organizer = icalendar.vCalAddress(f"mailto:{meeting.organizer.email}")
        if meeting.organizer.name:
            organizer.params["CN"] = meeting.organizer.name
        event.add("ORGANIZER", organizer)
    for attendee in meeting.attendees:
        address = icalendar.vCalAddress(f"mailto:{attendee.address.email}")
        if attendee.address.name:
            address.params["CN"] = attendee.address.name
        address.params["PARTSTAT"] = attendee.status.upper()
        event.add("ATTENDEE", address)
    return event


class IcsCalendarHarness:
    """A reminders .ics file that also holds the user's own events."""

    type = "ics"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "reminders.ics"

    def account(self) -> AccountConfig:
        return AccountConfig(name="reminders", type="ics", options={"path": str(self.path)})

    def add_user_event(self, uid: str, summary: str) -> None:
        event = (
            b"BEGIN:VEVENT\r\n"
            b"UID:" + uid.encode() + b"\r\n"
            b"DTSTAMP:20260101T000000Z\r\n"
            b"DTSTART:20260110T100000Z\r\n"
            b"DTEND:20260110T110000Z\r\n"
            b"SUMMARY:" + summary.encode() + b"\r\n"
            b"END:VEVENT\r\n"
        )
        data = self.path.read_bytes() if self.path.exists() else _HEAD + _TAIL
        end = data.rindex(b"END:VCALENDAR")
        self.path.write_bytes(data[:end] + event + data[end:])

    def add_old_reminder(self, uid: str, marker: str, start: datetime) -> None:
        event = (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
                 f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
                 f"DTEND:{start + timedelta(minutes=15):%Y%m%dT%H%M%SZ}\r\n"
                 f"SUMMARY:Follow up\r\nTRANSP:TRANSPARENT\r\n{KEEPWARM_PROPERTY}:{marker}\r\n"
                 "END:VEVENT\r\n").encode()
        data = self.path.read_bytes() if self.path.exists() else _HEAD + _TAIL
        end = data.rindex(b"END:VCALENDAR")
        self.path.write_bytes(data[:end] + event + data[end:])

    def user_events(self) -> dict[str, bytes]:
        if not self.path.exists():
            return {}
        out = {}
        for match in _VEVENT.finditer(self.path.read_bytes()):
            block = match.group(0)
            if KEEPWARM_PROPERTY.encode() in block:
                continue
            uid = _UID.search(block)
            out[uid.group(1).decode() if uid else ""] = block
        return out
