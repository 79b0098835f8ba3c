"""Measure ``keepwarm awaiting`` end to end: the command a user waits for, on a store that
holds the threads of ``bench/followups.py``.

The mail of ``followups.mailbox`` is stored through ``daemon.ingest.store_batch`` (as a
sync stores it) under a config whose maildir account reads received mail and has synced
once, so follow-ups are on. Then ``python -m daemon.cli --config CFG awaiting --as-of DAY``
runs as a child process, its output read from a pipe (tab-separated lines), from a pseudo
terminal (the table a user sees) and with ``--json``; and, in this process, each step of the
command apart: ``Store.thread_mail``, ``Store.contact_facts``, ``followups.awaiting``, the
table. Benchmarks measure; they assert nothing.

Usage: python bench/awaiting.py [--threads 20000] [--noise 80000] [--repeat 5] [--dir DIR]
"""

from __future__ import annotations

import argparse
import io
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta, tzinfo
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from followups import ME, NOW, mailbox  # noqa: E402  (bench/ is the script's folder)
from rich.console import Console  # noqa: E402

from daemon import config, ingest, render, sync, tables  # noqa: E402
from daemon.model import Awaiting, Batch  # noqa: E402
from daemon.store import Store  # noqa: E402

CONFIG = """\
[identity]
addresses = ["{me}"]
timezone = "UTC"
[store]
path = "{db}"
[[accounts]]
name = "mail"
type = "maildir"
path = "Sent"
received = ["INBOX"]
"""


def make_store(root: Path, threads: int, noise: int) -> Path:
    """A config and a store holding the mailbox, as after the account's first sync."""
    for folder in ("Sent", "INBOX"):
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
    path = root / "config.toml"
    path.write_text(CONFIG.format(me=ME.email, db=root / "kw.db"))
    cfg = config.load(path)
    mails = mailbox(threads, noise)
    store = Store(root / "kw.db")
    for i in range(0, len(mails), 5000):
        ingest.store_batch(store, "mail", Batch(mails[i:i + 5000], {"n": i}), cfg.settings, NOW)
    ingest.rejudge(store, cfg.settings, NOW)
    store.record_attempt("mail", NOW, None)
    store.close()
    return path


def child(args: list[str], tty: bool) -> tuple[float, int]:
    """Wall time of one run of the command and the bytes it wrote, to a pipe or a terminal."""
    start = time.perf_counter()
    if not tty:
        out = subprocess.run(args, stdout=subprocess.PIPE, check=True, cwd=ROOT).stdout
        return time.perf_counter() - start, len(out)
    main, sub = pty.openpty()
    env = {**os.environ, "COLUMNS": "160", "LINES": "50"}
    proc = subprocess.Popen(args, stdout=sub, stderr=sub, cwd=ROOT, env=env)
    os.close(sub)
    size = 0
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        size += len(chunk)
    proc.wait()
    os.close(main)
    return time.perf_counter() - start, size


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def draw(found: list[Awaiting], today: date, tz: tzinfo) -> str:
    """The table ``keepwarm awaiting`` prints on a terminal 160 columns wide."""
    console = Console(file=io.StringIO(), width=160, force_terminal=True)
    console.print(tables.table(render.awaiting_grid(found, today, tz, states=False), 160,
                               ascii=False))
    return console.file.getvalue()  # type: ignore[attr-defined]


def steps(path: Path, repeat: int) -> None:
    """Each step of the command in this process, median of ``repeat``."""
    cfg = config.load(path)
    store = Store(cfg.store_path)
    s = cfg.settings
    now = NOW.replace(hour=23, minute=59, second=59)
    since = now - timedelta(days=s.followup_window_days + 7)
    mails = store.thread_mail(since)
    facts = list(store.contact_facts(until=now))
    found = sync.awaiting(cfg, store, now)
    rows = [
        ("Store.thread_mail", timed(lambda: store.thread_mail(since), repeat),
         f"{len(mails):,} messages"),
        ("Store.contact_facts", timed(lambda: store.contact_facts(until=now), repeat),
         f"{len(facts):,} contacts"),
        ("followups.awaiting", timed(lambda: sync.followups.awaiting(
            mails, s.own_addresses | store.aliases(), s, store.followups_done(), now, facts),
            repeat), f"{len(found):,} waiting"),
        ("sync.awaiting (all three)", timed(lambda: sync.awaiting(cfg, store, now), repeat), ""),
        ("the table, 160 columns", timed(lambda: draw(found, now.date(), s.tz), repeat), ""),
    ]
    for name, seconds, note in rows:
        print(f"  {name:<28} {seconds * 1000:7.0f} ms  {note}")
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=20000, help="threads the user started")
    ap.add_argument("--noise", type=int, default=80000, help="other received messages")
    ap.add_argument("--repeat", type=int, default=5, help="runs; the median is reported")
    ap.add_argument("--dir", help="where to build the store (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kwawait-") as tmp:
        root = Path(args.dir or tmp)
        start = time.perf_counter()
        path = make_store(root, args.threads, args.noise)
        print(f"store of {args.threads:,} threads + {args.noise:,} other received messages "
              f"built in {time.perf_counter() - start:.1f} s; load {os.getloadavg()[0]:.2f}")
        cmd = [sys.executable, "-m", "daemon.cli", "--config", str(path), "awaiting",
               "--as-of", NOW.date().isoformat()]
        for label, extra, tty in (("to a pipe (tsv)", [], False),
                                  ("to a terminal (table)", [], True),
                                  ("--json to a pipe", ["--json"], False)):
            runs = [child(cmd + extra, tty) for _ in range(args.repeat)]
            times = [t for t, _ in runs]
            print(f"keepwarm awaiting {label:<22} median {statistics.median(times):.2f} s "
                  f"(range {min(times):.2f}-{max(times):.2f}), {runs[0][1]:,} bytes")
        version = [sys.executable, "-m", "daemon.cli", "--version"]
        floor = [child(version, False)[0] for _ in range(args.repeat)]
        print(f"keepwarm --version (start-up floor)        median {statistics.median(floor):.2f} s")
        steps(path, args.repeat)


if __name__ == "__main__":
    main()
