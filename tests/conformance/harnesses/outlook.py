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
from typing import Any

from connectors.outlookcal import CONTACT_PROPERTY, UID_PROPERTY
from daemon.model import AccountConfig, Card, Meeting
from tests.servers.graph_contacts import DEFAULT_FOLDER
from tests.servers.microsoft import MicrosoftServer, graph_event, trust


class _Harness:
    type = "outlook"
    holds_reminders = False
    options: dict[str, Any] = {}  # noqa: RUF012 - read only

    def __init__(self, tmp_path: Path) -> None:
        trust()
        self.server = MicrosoftServer(max_page=3).start()  # small pages: paging is exercised
        weakref.finalize(self, self.server.stop)
        self.tmp_path = tmp_path
        self.server.sign_in(self.account())

    def account(self) -> AccountConfig:
        return self.server.account(self.tmp_path, holds_reminders=self.holds_reminders,
                                   **self.options)


class OutlookSourceHarness(_Harness):
    """Sent Items and the default calendar of one mailbox."""

    def add_mail(self, raw: bytes) -> None:
        self.server.add_raw_message(raw)

    def add_received(self, raw: bytes) -> None:
        """Received mail in the Inbox, in the conversation of the message it answers."""
        self.server.add_raw_message(raw, folder="inbox")

    def add_meeting(self, meeting: Meeting) -> None:
        self.server.add_event("Calendar", **graph_event(meeting))

    def read_promises(self) -> None:
        """Signed in again, granting Mail.Read."""
        self.options = {**self.options, "promises": True}
        self.server.sign_in(self.account())


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


class OutlookContactsHarness(_Harness):
    """The address book: the default Contacts folder, a folder below it and one below that
    (cards are spread over the three by their handle), pages of 3."""

    options = {"contacts": True}  # noqa: RUF012 - read only
    # Graph v1.0 contacts have no anniversary and no favourite; a birthday is a timestamp,
    # never text
    unsupported = frozenset({"anniversary", "starred", "birthday_text"})

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        book = self.server.book
        work = book.add_folder("Work")
        self.folders = [DEFAULT_FOLDER, work, book.add_folder("Old", parent=work)]
        self.ids: dict[str, str] = {}

    def put_card(self, card: Card) -> str:
        data = graph_contact(card)
        if card.card_id in self.ids:
            self.server.book.edit(self.ids[card.card_id], **data)
        else:
            folder = self.folders[len(card.card_id) % len(self.folders)]
            self.ids[card.card_id] = self.server.book.add(folder, **data)
        return self.ids[card.card_id]

    def remove_card(self, handle: str) -> None:
        self.server.book.delete(self.ids.pop(handle))

    def expire_cursor(self) -> None:
        self.server.expire_delta_tokens()


def graph_contact(card: Card) -> dict[str, Any]:
    """The Graph contact Outlook would hold for ``card`` (a year-less birthday in 1604)."""
    b = card.birthday
    return {"displayName": card.name,
            "emailAddresses": [{"name": card.name, "address": e} for e in card.emails],
            "categories": list(card.groups),
            "birthday": None if b is None else
            f"{b.year or 1604:04d}-{b.month:02d}-{b.day:02d}T00:00:00Z"}
