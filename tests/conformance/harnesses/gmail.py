"""Conformance harnesses for the gmail connector, against the session's fake Google server.

Each harness gets its own Google user, signed in already (client_secrets and token file in
tmp_path). The user's side (sending mail, keeping a calendar) goes straight into the fake
server's data, never through keepwarm's Google code.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connectors import gcalreminders
from daemon.model import AccountConfig, Card, Meeting, PartialDate
from tests.servers import google

_RESPONSE = {"accepted": "accepted", "declined": "declined", "tentative": "tentative",
             "needs-action": "needsAction", "delegated": "needsAction"}


def event_of(meeting: Meeting) -> dict[str, Any]:
    """A Meeting as the Calendar API holds it."""
    def when(moment: Any) -> dict[str, str]:
        return {"date": moment.date().isoformat()} if meeting.all_day else {
            "dateTime": moment.isoformat()}

    event: dict[str, Any] = {"iCalUID": meeting.meeting_id, "start": when(meeting.start),
                             "end": when(meeting.end), "summary": meeting.summary,
                             "status": meeting.status,
                             "transparency": "transparent" if meeting.free else "opaque"}
    if meeting.organizer is not None:
        event["organizer"] = {"email": meeting.organizer.email,
                              "displayName": meeting.organizer.name}
    event["attendees"] = [{"email": a.address.email, "displayName": a.address.name,
                           "responseStatus": _RESPONSE[a.status]} for a in meeting.attendees]
    return event


class GmailSourceHarness:
    """Sent mail in the user's Gmail, meetings in their primary calendar."""

    type = "gmail"
    promises = False

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.user = google.shared().add_user()

    def account(self) -> AccountConfig:
        return self.user.account(self.tmp_path, promises=self.promises)

    def read_promises(self) -> None:
        """Signed in again, with gmail.readonly instead of gmail.metadata."""
        self.promises = True
        (self.tmp_path / "google.google-token.json").unlink(missing_ok=True)

    def add_mail(self, raw: bytes) -> None:
        self.user.add_mail(raw)

    def add_received(self, raw: bytes) -> None:
        """Received mail in the inbox, threaded as Gmail does (same message, In-Reply-To,
        References, subject). The connector reads received mail only in threads with sent
        mail, by design (connectors.gmailthreads); the shared cases are about the fields,
        so a message Gmail would put in no such thread is filed into the newest one."""
        thread = self.user.add_mail(raw, labels=("INBOX",))
        with self.user.server.lock:
            message = self.user.messages[thread]
            if message.thread == thread:  # a thread of its own: no sent mail in it
                mine = [m for m in self.user.messages.values() if "SENT" in m.labels]
                if mine:
                    message.thread = max(mine, key=lambda m: m.internal_ms).thread

    def add_meeting(self, meeting: Meeting) -> None:
        self.user.calendar().put(event_of(meeting))


class GmailCalendarHarness:
    """keepwarm's own calendar ("keepwarm", made through the API by the same OAuth client),
    which also holds events the user put there."""

    type = "gmail"

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.user = google.shared().add_user()

    def account(self) -> AccountConfig:
        return self.user.account(self.tmp_path, name="reminders", holds_reminders=True,
                                 mail=False, calendar=False)

    def add_user_event(self, uid: str, summary: str) -> None:
        calendars = [c for c in self.user.calendars.values() if c.summary == "keepwarm"]
        calendar = calendars[0] if calendars else self.user.add_calendar("keepwarm", by_app=True)
        calendar.put({"iCalUID": uid, "summary": summary,
                      "start": {"dateTime": "2026-01-10T10:00:00Z"},
                      "end": {"dateTime": "2026-01-10T11:00:00Z"}})

    def add_old_reminder(self, uid: str, marker: str, start: datetime) -> None:
        calendars = [c for c in self.user.calendars.values() if c.summary == "keepwarm"]
        calendar = calendars[0] if calendars else self.user.add_calendar("keepwarm", by_app=True)
        calendar.put({"id": gcalreminders.event_id(uid), "summary": "Follow up",
                      "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ")},
                      "end": {"dateTime": (start + timedelta(minutes=15)).strftime(
                          "%Y-%m-%dT%H:%M:%SZ")},
                      "transparency": "transparent",
                      "extendedProperties": {"private": {"keepwarm": marker, "keepwarmuid": uid,
                                                         "keepwarmapp": "1"}}})

    def user_events(self) -> dict[str, bytes]:
        out = {}
        for calendar in self.user.calendars.values():
            for event in calendar.visible().values():
                private = event.get("extendedProperties", {}).get("private", {})
                if "keepwarm" not in private:
                    out[event["iCalUID"]] = json.dumps(event, sort_keys=True).encode()
        return out


def person_of(card: Card, groups: dict[str, str]) -> dict[str, Any]:
    """A Card as the People API holds the contact (``groups``: name -> resource name)."""
    def when(d: PartialDate) -> dict[str, int]:
        return {"month": d.month, "day": d.day, **({"year": d.year} if d.year else {})}

    primary = {"metadata": {"primary": True, "source": {"type": "CONTACT"}}}
    person: dict[str, Any] = {
        "names": [{**primary, "displayName": card.name, "unstructuredName": card.name}],
        "emailAddresses": [{**primary, "value": e} for e in card.emails],
        "memberships": [{"contactGroupMembership": {
            "contactGroupId": r.removeprefix("contactGroups/"), "contactGroupResourceName": r}}
            for r in ["contactGroups/myContacts", *(groups[g] for g in card.groups),
                      *(["contactGroups/starred"] if card.starred else [])]]}
    if card.birthday is not None:
        person["birthdays"] = [{**primary, "date": when(card.birthday)}]
    elif card.birthday_text:
        person["birthdays"] = [{**primary, "text": card.birthday_text}]
    if card.anniversary is not None:
        person["events"] = [{**primary, "date": when(card.anniversary), "type": "anniversary",
                             "formattedType": "Anniversary"}]
    return {k: v for k, v in person.items() if v}


class GmailContactsHarness:
    """The user's Google Contacts, read through the People API (``contacts = true``)."""

    type = "gmail"
    unsupported: frozenset[str] = frozenset()

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.user = google.shared().add_user()
        self.ids: dict[str, str] = {}  # the test's handle -> resourceName

    def account(self) -> AccountConfig:
        return self.user.account(self.tmp_path, name="contacts", mail=False, calendar=False,
                                 contacts=True)

    def put_card(self, card: Card) -> str:
        book = self.user.contacts
        with self.user.server.lock:
            person = person_of(card, {g: book.group(g) for g in card.groups})
            if card.card_id in self.ids:
                person["resourceName"] = self.ids[card.card_id]
            self.ids[card.card_id] = book.put(person)
        return self.ids[card.card_id]

    def remove_card(self, handle: str) -> None:
        with self.user.server.lock:
            self.user.contacts.delete(self.ids[handle])

    def expire_cursor(self) -> None:
        with self.user.server.lock:
            self.user.contacts.expire_tokens()
