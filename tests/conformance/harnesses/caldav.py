"""Conformance harnesses for the caldav connector, against the session's real Radicale.

Each harness gets a fresh Radicale user, so tests never see each other's calendars. The
user's side (adding events, reading their exact bytes back) goes through plain HTTP in
tests.servers.radicale, never through keepwarm's CalDAV code.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar

from connectors.base import KEEPWARM_PROPERTY
from daemon.model import AccountConfig, Meeting
from tests.conformance.harnesses.ics import _event
from tests.servers import radicale

_UID = re.compile(rb"^UID:([^\r\n]*)\r?$", re.MULTILINE)


def _calendar_bytes(*events: icalendar.Event) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//user//their calendar app//EN")
    calendar.add("VERSION", "2.0")
    for event in events:
        calendar.add_component(event)
    return bytes(calendar.to_ical())


class CaldavSourceHarness:
    """Meetings as one object each in a user calendar named "Meetings"."""

    type = "caldav"

    def __init__(self, tmp_path: Path) -> None:
        self.user = radicale.shared().add_user()
        self.calendar = self.user.make_calendar("Meetings")

    def account(self) -> AccountConfig:
        return self.user.account()

    def add_mail(self, raw: bytes) -> None:
        raise NotImplementedError("a CalDAV server holds no mail")

    def add_meeting(self, meeting: Meeting) -> None:
        name = re.sub(r"[^A-Za-z0-9.-]", "_", meeting.meeting_id)
        self.user.put(f"{self.calendar}{name}.ics", _calendar_bytes(_event(meeting)))


class CaldavCalendarHarness:
    """A reminders calendar ("keepwarm") that also holds the user's own events."""

    type = "caldav"

    def __init__(self, tmp_path: Path) -> None:
        self.user = radicale.shared().add_user()
        self.calendar = ""

    def account(self) -> AccountConfig:
        return self.user.account(name="reminders", holds_reminders=True)

    def add_user_event(self, uid: str, summary: str) -> None:
        if not self.calendar:
            self.calendar = self.user.make_calendar("keepwarm", slug="keepwarm")
        event = icalendar.Event()
        event.add("UID", uid)
        event.add("DTSTAMP", datetime(2026, 1, 1, tzinfo=UTC))
        event.add("DTSTART", datetime(2026, 1, 10, 10, tzinfo=UTC))
        event.add("DTEND", datetime(2026, 1, 10, 11, tzinfo=UTC))
        event.add("SUMMARY", summary)
        self.user.put(f"{self.calendar}{uid}.ics", _calendar_bytes(event))

    def add_old_reminder(self, uid: str, marker: str, start: datetime) -> None:
        if not self.calendar:
            self.calendar = self.user.make_calendar("keepwarm", slug="keepwarm")
        event = icalendar.Event()
        event.add("UID", uid)
        event.add("DTSTAMP", datetime(2026, 1, 1, tzinfo=UTC))
        event.add("DTSTART", start)
        event.add("DTEND", start + timedelta(minutes=15))
        event.add("SUMMARY", "Follow up")
        event.add("TRANSP", "TRANSPARENT")
        event.add(KEEPWARM_PROPERTY, marker)
        self.user.put(f"{self.calendar}{uid}.ics", _calendar_bytes(event))

    def user_events(self) -> dict[str, bytes]:
        out = {}
        for urls in self.user.calendars().values():
            for data in (d for url in urls for d in self.user.objects(url).values()):
                if KEEPWARM_PROPERTY.encode() in data:
                    continue
                uid = _UID.search(data)
                out[uid.group(1).decode() if uid else ""] = data
        return out
