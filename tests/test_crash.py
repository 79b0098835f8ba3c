"""SIGKILL `keepwarm sync` at random moments: the result must equal one uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from connectors.ics import IcsConnector
from daemon.model import AccountConfig

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 3000


def make_home(root: Path) -> Path:
    cur = root / "Sent" / "cur"
    cur.mkdir(parents=True)
    (root / "Sent" / "new").mkdir()
    rng = random.Random(5)
    now = datetime.now(UTC)
    for i in range(MESSAGES):
        when = now - timedelta(days=rng.randrange(1, 700), minutes=rng.randrange(1440))
        people = rng.sample(range(400), rng.randint(1, 3))
        to = ", ".join(f"P{n} <p{n}@example.org>" for n in people)
        (cur / f"{int(when.timestamp())}.{i}_x.host:2,S").write_text(
            f"From: me@example.com\nTo: {to}\nDate: {format_datetime(when)}\n"
            f"Message-ID: <c{i}@example.com>\nSubject: s{i}\n\nbody\n")
    config = root / "config.toml"
    config.write_text('[identity]\naddresses = ["me@example.com"]\n'
                      '[store]\npath = "kw.db"\n[reminders]\ncalendar = "cal"\nmax_per_day = 3\n'
                      'horizon = "30d"\n'
                      '[[accounts]]\nname = "sent"\ntype = "maildir"\npath = "Sent"\n'
                      '[[accounts]]\nname = "cal"\ntype = "ics"\npath = "reminders.ics"\n')
    return config


def sync(config: Path, kill_after: float | None = None) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "daemon.cli", "--config", str(config), "sync"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_after is None:
        assert proc.wait(timeout=300) == 0
        return
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def state(root: Path) -> tuple[set[tuple[str, ...]], set[tuple[str, str]], set[tuple[str, str]]]:
    db = sqlite3.connect(root / "kw.db")
    rows = set(db.execute("SELECT channel, source_id, email, coalesce(rule, '') "
                          "FROM participants"))
    reminders = set(db.execute("SELECT contact, start FROM reminders WHERE confirmed=1"))
    db.close()
    cal = IcsConnector(AccountConfig("cal", "ics", options={"path": str(root / "reminders.ics")}))
    events = cal.list_reminders()
    assert len({e.rid for e in events}) == len(events), "one reminder per contact"
    return rows, {(e.rid.contact, e.start.isoformat()) for e in events}, reminders


def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    clean, crashy = tmp_path / "clean", tmp_path / "crashy"
    sync(make_home(clean))
    config = make_home(crashy)
    started = time.monotonic()
    rng = random.Random(11)
    for _ in range(8):
        sync(config, kill_after=rng.uniform(0.3, 2.5))
    sync(config)
    assert time.monotonic() - started < 120
    rows, events, records = state(crashy)
    want_rows, want_events, _ = state(clean)
    assert len(rows) == len(want_rows) and rows == want_rows
    assert events == want_events
    assert {(c, datetime.fromisoformat(s).isoformat()) for c, s in records} == {
        (c, datetime.fromisoformat(s).isoformat()) for c, s in events}
