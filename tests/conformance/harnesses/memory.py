"""Harnesses for the in-memory reference connector."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.mailparse import parse_headers
from connectors.memory import MemoryConnector, MemoryData
from daemon.model import AccountConfig, Card, Meeting, ReminderId, RemoteReminder

_keys = itertools.count()


class MemorySourceHarness:
    type = "memory"

    def __init__(self, tmp_path: Path) -> None:
        self.key = f"source-{next(_keys)}"
        self.data = MemoryConnector.DATA.setdefault(self.key, MemoryData())

    def account(self) -> AccountConfig:
        return AccountConfig(name="mem", type="memory", options={"key": self.key,
                                                                 "batch_size": 3})

    def add_mail(self, raw: bytes) -> None:
        n = len(self.data.mail)
        self.data.mail.append(parse_headers(raw, f"memory:{n}", datetime.now(UTC)))

    def add_received(self, raw: bytes) -> None:
        n = len(self.data.received)
        self.data.received.append(parse_headers(raw, f"memory:received/{n}", datetime.now(UTC)))

    def add_meeting(self, meeting: Meeting) -> None:
        self.data.meetings[meeting.meeting_id] = meeting
        self.data.meetings_version += 1


class MemoryCalendarHarness:
    type = "memory"

    def __init__(self, tmp_path: Path) -> None:
        self.key = f"calendar-{next(_keys)}"
        self.data = MemoryConnector.DATA.setdefault(self.key, MemoryData())

    def account(self) -> AccountConfig:
        return AccountConfig(name="memcal", type="memory", options={"key": self.key})

    def add_user_event(self, uid: str, summary: str) -> None:
        self.data.user_events[uid] = f"{uid}:{summary}".encode()

    def user_events(self) -> dict[str, bytes]:
        return dict(self.data.user_events)

    def add_old_reminder(self, uid: str, marker: str, start: datetime) -> None:
        self.data.reminders[uid] = RemoteReminder(uid, ReminderId.parse(marker), start, uid,
                                                  "old", "Follow up", "",
                                                  start + timedelta(minutes=15))


class MemoryContactsHarness:
    type = "memory"
    unsupported: frozenset[str] = frozenset()

    def __init__(self, tmp_path: Path) -> None:
        self.key = f"contacts-{next(_keys)}"
        self.data = MemoryConnector.DATA.setdefault(self.key, MemoryData())

    def account(self) -> AccountConfig:
        return AccountConfig(name="memcards", type="memory", options={"key": self.key,
                                                                      "batch_size": 2})

    def put_card(self, card: Card) -> str:
        self.data.put_card(card)
        return card.card_id

    def remove_card(self, handle: str) -> None:
        self.data.remove_card(handle)

    def expire_cursor(self) -> None:
        self.data.cards_expired = True
