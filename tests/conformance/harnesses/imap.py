"""IMAP harness: a fresh user on the session's Dovecot; mail arrives by IMAP APPEND to Sent,
received mail to INBOX (read by the connector's default received folders)."""

from __future__ import annotations

from pathlib import Path

from daemon.model import AccountConfig, Meeting
from tests.servers import dovecot


class ImapHarness:
    type = "imap"
    promises = False

    def __init__(self, tmp_path: Path) -> None:
        self.server = dovecot.shared()
        self.user = self.server.add_user()

    def account(self) -> AccountConfig:
        return self.server.account(self.user, name="test", received_folders=None,
                                   promises=self.promises)

    def add_mail(self, raw: bytes) -> None:
        self.server.append(self.user, [raw])

    def add_received(self, raw: bytes) -> None:
        self.server.append(self.user, [raw], folder="INBOX")

    def read_promises(self) -> None:
        self.promises = True

    def add_meeting(self, meeting: Meeting) -> None:
        raise NotImplementedError("an IMAP folder holds mail, not meetings")
