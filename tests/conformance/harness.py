"""What a connector's test harness provides so the shared conformance suites can drive it.

Each connector module gets one harness class (in tests/conformance/harnesses/); the suites in
tests/conformance/test_*.py run every registered harness through the same contract.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol

from daemon.model import AccountConfig, Card, Meeting


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
    # and those of sources that can read the user's new text (``promises = true``):
    # def read_promises(self) -> None:
    #     """From now on ``account()`` reads promises (signed in again where that needs a
    #     permission more)."""


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


class ContactsHarness(Protocol):
    """An address book the connector reads: a folder of .vcf files, a CardDAV server, the
    local People or Graph server. It writes each ``Card`` the test describes in the source's
    own format (vCard, People JSON, Graph JSON) and says which card fields that format can
    hold at all."""

    type: str
    # fields of Card the source cannot express (e.g. {"anniversary", "starred"}): the suite
    # leaves them out of what it writes and compares
    unsupported: frozenset[str]

    def __init__(self, tmp_path: Path) -> None: ...

    def account(self) -> AccountConfig: ...

    def put_card(self, card: Card) -> str:
        """Write or rewrite the card described (``card.card_id`` is the test's handle, the
        source picks its own id); returns the id the connector will report for it."""
        ...

    def remove_card(self, handle: str) -> None:
        """Delete the card the test put with this ``card_id``."""
        ...

    def expire_cursor(self) -> None:
        """Make the connector's next incremental read fail as an expired cursor does (an
        expired sync token, an invalid delta link); a no-op where there is no such thing."""
        ...
