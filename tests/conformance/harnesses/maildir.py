"""Maildir harness: delivers each message the way an MDA does (write to tmp/, rename to new/),
sent mail to a "Sent" Maildir, received mail to an "INBOX" one (the account's ``received``)."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

from daemon.model import AccountConfig, Meeting

_counter = itertools.count()


def deliver(root: Path, raw: bytes) -> None:
    now = time.time()
    name = f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}Q{next(_counter)}.harness"
    tmp = root / "tmp" / name
    tmp.write_bytes(raw)
    os.rename(tmp, root / "new" / name)


class MaildirHarness:
    type = "maildir"
    promises = False

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "Sent"
        self.inbox = tmp_path / "INBOX"
        for root in (self.root, self.inbox):
            for sub in ("cur", "new", "tmp"):
                (root / sub).mkdir(parents=True, exist_ok=True)

    def account(self) -> AccountConfig:
        return AccountConfig(name="test", type=self.type, options={
            "path": str(self.root), "received": [str(self.inbox)], "promises": self.promises})

    def add_mail(self, raw: bytes) -> None:
        deliver(self.root, raw)

    def add_received(self, raw: bytes) -> None:
        deliver(self.inbox, raw)

    def read_promises(self) -> None:
        self.promises = True

    def add_meeting(self, meeting: Meeting) -> None:
        raise NotImplementedError("a Maildir holds mail, not meetings")
