"""mbox harness: appends each message with a ``From `` line and mboxrd ``>From`` escaping,
sent mail to "Sent", received mail to "Inbox" (the account's ``received``)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from daemon.model import AccountConfig, Meeting

_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


def mbox_entry(raw: bytes, when: float | None = None) -> bytes:
    """One message as an mbox client appends it: separator line, escaped body, blank line."""
    stamp = time.asctime(time.gmtime(time.time() if when is None else when)).encode()
    body = _FROM_LINE.sub(rb">\1", raw)
    if not body.endswith(b"\n"):
        body += b"\n"
    return b"From - " + stamp + b"\n" + body + b"\n"


class MboxHarness:
    type = "mbox"
    promises = False

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "Sent"
        self.inbox = tmp_path / "Inbox"
        self.path.touch()
        self.inbox.touch()

    def account(self) -> AccountConfig:
        return AccountConfig(name="test", type=self.type, options={
            "path": str(self.path), "received": [str(self.inbox)], "promises": self.promises})

    def add_mail(self, raw: bytes) -> None:
        with self.path.open("ab") as f:
            f.write(mbox_entry(raw))

    def add_received(self, raw: bytes) -> None:
        with self.inbox.open("ab") as f:
            f.write(mbox_entry(raw))

    def read_promises(self) -> None:
        self.promises = True

    def add_meeting(self, meeting: Meeting) -> None:
        raise NotImplementedError("an mbox holds mail, not meetings")
