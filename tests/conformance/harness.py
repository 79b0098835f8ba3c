"""What a connector's test harness provides so the shared conformance suites can drive it.

Each connector module gets one harness class (in tests/conformance/harnesses/); the suites in
tests/conformance/test_*.py run every registered harness through the same contract.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol

from daemon.model import AccountConfig, Meeting


class SourceHarness(Protocol):
    """Puts data where the connector reads it: a folder, a file, a server."""

    type: str

    def __init__(self, tmp_path: Path) -> None: ...

    def account(self) -> AccountConfig:
        """The account config that makes a connector read what this harness writes."""
        ...

    def add_mail(self, raw: bytes) -> None:
        """Deliver one raw RFC 5322 message (only harnesses of mail sources)."""
        ...

    def add_meeting(self, meeting: Meeting) -> None:
        """Store one meeting (only harnesses of meeting sources)."""
        ...

    # Harnesses of mail sources that read received mail also have:
    # def add_received(self, raw: bytes) -> None:
    #     """Deliver one raw message where the account reads received mail (an inbox)."""


class CalendarHarness(Protocol):
    """A reminders calendar plus a way to put and inspect the user's own events in it."""

    type: str

    def __init__(self, tmp_path: Path) -> None: ...

    def account(self) -> AccountConfig: ...

    def add_user_event(self, uid: str, summary: str) -> None:
        """An event the user made; keepwarm must never change or delete it."""
        ...

    def user_events(self) -> dict[str, bytes]:
        """uid -> the exact stored bytes of each user event, to prove they are untouched."""
        ...

    def add_old_reminder(self, uid: str, marker: str, start: datetime) -> None:
        """A reminder as a release before reminder kinds wrote it, 15 minutes from ``start``:
        its marker is the bare contact key, or ``keepwarm:signin:ACCOUNT`` for a notice."""
        ...
