"""Conformance harnesses for the outlook connector, against a local Microsoft Graph.

Each harness runs its own server (tests.servers.microsoft) and signs in through the device
code flow, so the connector under test is the real one with real msal and requests. The
user's side - mail delivered, meetings and own events in the calendar - is played on the
server's state directly, never through keepwarm's Graph code.
"""

from __future__ import annotations

import json
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.outlookcal import CONTACT_PROPERTY, UID_PROPERTY
from daemon.model import AccountConfig, Meeting
from tests.servers.microsoft import MicrosoftServer, graph_event, trust


class _Harness:
    type = "outlook"
    holds_reminders = False

    def __init__(self, tmp_path: Path) -> None:
        trust()
        self.server = MicrosoftServer(max_page=3).start()  # small pages: paging is exercised
        weakref.finalize(self, self.server.stop)
        self.tmp_path = tmp_path
        self.server.sign_in(self.account())

    def account(self) -> AccountConfig:
        return self.server.account(self.tmp_path, holds_reminders=self.holds_reminders)


class OutlookSourceHarness(_Harness):
    """Sent Items and the default calendar of one mailbox."""

    def add_mail(self, raw: bytes) -> None:
        self.server.add_raw_message(raw)

    def add_received(self, raw: bytes) -> None:
        """Received mail in the Inbox, in the conversation of the message it answers."""
        self.server.add_raw_message(raw, folder="inbox")

    def add_meeting(self, meeting: Meeting) -> None:
        self.server.add_event("Calendar", **graph_event(meeting))


class OutlookCalendarHarness(_Harness):
    """The "keepwarm" calendar, which also holds the user's own events."""

    holds_reminders = True

    def add_user_event(self, uid: str, summary: str) -> None:
        start, end = datetime(2026, 1, 10, 10, tzinfo=UTC), datetime(2026, 1, 10, 11, tzinfo=UTC)
        self.server.add_event(
            "keepwarm", iCalUId=uid, subject=summary, showAs="busy",
            start={"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            end={"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            singleValueExtendedProperties=[{"id": "String {00020329-0000-0000-C000-"
                                                  "000000000046} Name their-app", "value": uid}])

    def add_old_reminder(self, uid: str, marker: str, start: datetime) -> None:
        end = start + timedelta(minutes=15)
        self.server.add_event(
            "keepwarm", subject="Follow up", showAs="free", isReminderOn=False,
            start={"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            end={"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            singleValueExtendedProperties=[{"id": CONTACT_PROPERTY, "value": marker},
                                           {"id": UID_PROPERTY, "value": uid}])

    def user_events(self) -> dict[str, bytes]:
        out = {}
        for name in ("keepwarm", "Calendar"):
            for event in self.server.events(name).values():
                ids = {p["id"] for p in event.get("singleValueExtendedProperties") or []}
                if CONTACT_PROPERTY not in ids:
                    out[str(event["iCalUId"])] = json.dumps(event, sort_keys=True).encode()
        return out
