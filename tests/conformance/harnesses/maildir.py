"""Maildir harness: delivers each message the way an MDA does (write to tmp/, rename to new/)."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

from daemon.model import AccountConfig, Meeting

_counter = itertools.count()


class MaildirHarness:
    type = "maildir"

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "Sent"
        for sub in ("cur", "new", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def account(self) -> AccountConfig:
        return AccountConfig(name="test", type=self.type, options={"path": str(self.root)})

    def add_mail(self, raw: bytes) -> None:
        now = time.time()
        name = f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}Q{next(_counter)}.harness"
        tmp = self.root / "tmp" / name
        tmp.write_bytes(raw)
        os.rename(tmp, self.root / "new" / name)

    def add_meeting(self, meeting: Meeting) -> None:
        raise NotImplementedError("a Maildir holds mail, not meetings")
