"""Measure the body scan of ``promises = true``: reading a sent message's body, cutting it to
the new text (connectors.bodytext) and finding its promises (daemon.promisetext), on a
Maildir of typical replies; and the same Maildir read headers-only, as without promises.

The messages are written here, deterministically (``--seed``), as mail clients send replies:
a ~1 KB header block, multipart/alternative with a quoted-printable text/plain part and an
HTML part, 1-3 KB of new text (one message in five holds a promise with a time), a signature
and 1-3 KB of quoted history under an "On ... wrote:" line; one in fifty carries a 100 KB
PDF attachment. Three timings, each the median of ``--repeat`` warm runs (the files are
read once before, so the page cache holds them; no network is involved anywhere):

1. ``MaildirConnector.fetch`` with ``promises = false``: the header-only path;
2. the same with ``promises = true``: header and body read, new text cut, promises found;
3. the scan alone on bytes already in memory: ``bodytext.message_text`` + ``promisetext.find``.

Usage: python bench/bodyscan.py [--count 20000] [--seed 1] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import quopri
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from connectors.bodytext import message_text
from connectors.maildir import MaildirConnector
from daemon.model import AccountConfig, FetchContext, Mail
from daemon.promisetext import find

TZ = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
TARGET_MSG_S = 2000
PLAIN = (
    "Thanks for the update on the rollout.", "I had a look at the numbers you sent over.",
    "The second draft reads much better than the first one.",
    "We should keep the scope as it is for now.", "Could you check the figures for March?",
    "Our legal team is still reviewing the contract.", "The invoice went out last week.",
    "I called Peter yesterday and he agreed.", "That sounds like a good plan to me.",
    "Let me know if anything is unclear.", "The venue can host up to forty people.",
    "I attached the slides from the workshop.", "Happy to hear the pilot went well!",
    "If you like, I could ask Maria to join.", "Did you get a chance to look at the proposal?",
    "The shipment is delayed by two days.", "We met the deadline for the first milestone.",
)
PROMISES = (
    "I'll call you on Tuesday to go through it.", "I will send the draft by Friday.",
    "Let's talk next week.", "I'll get back to you in January.",
    "I'll follow up end of the month.", "Will ping you tomorrow.",
    "Ich melde mich nächste Woche bei Ihnen.",
)
NAMES = ("Jane Doe", "Peter Miller", "Maria Garcia", "Tom Becker", "Anna Schmidt")


def new_text(rng: random.Random) -> str:
    """1-3 KB of what the user wrote, a promise in one message of five."""
    lines = ["Hi " + rng.choice(NAMES).split()[0] + ",", ""]
    size = rng.randint(1000, 3000)
    while sum(len(x) + 1 for x in lines) < size:
        lines.append(" ".join(rng.choices(PLAIN, k=rng.randint(2, 5))))
        lines.append("")
    if rng.random() < 0.2:
        lines.insert(rng.randrange(2, len(lines)), rng.choice(PROMISES))
    return "\n".join([*lines, "Best,", "Alex"])


def message(n: int, rng: random.Random) -> bytes:
    when = NOW - timedelta(days=rng.randint(1, 300), minutes=rng.randint(0, 1440))
    them = rng.choice(NAMES)
    quoted = "\n".join("> " + " ".join(rng.choices(PLAIN, k=3))
                       for _ in range(rng.randint(8, 24)))
    plain = (f"{new_text(rng)}\n\n-- \nAlex Morgan | Example Ltd | +49 30 1234567\n\n"
             f"On {when:%a, %d %b %Y} at 09:12, {them} <them{n % 50}@example.org> wrote:\n"
             f"{quoted}\n")
    html = ("<div dir=\"ltr\">" + "".join(f"<div>{line or '<br>'}</div>"
                                          for line in plain.split("\n")[:40])
            + "</div><div class=\"gmail_quote\"><blockquote>"
            + quoted.replace("\n", "<br>") + "</blockquote></div>")
    boundary = f"b{n:08d}"
    head = ["Return-Path: <alex.morgan@example.com>",
            *(f"Received: from mx{i}.example.com (mx{i}.example.com [10.0.0.{i}]) by "
              f"smtp.example.com with ESMTPS id {n:x}{i}; {when:%a, %d %b %Y %H:%M:%S} +0000"
              for i in range(3)),
            f"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; b={'x' * 300}",
            "From: Alex Morgan <alex.morgan@example.com>", f"To: {them} <them{n % 50}@example.org>",
            f"Date: {when:%a, %d %b %Y %H:%M:%S} +0000", f"Message-ID: <b{n}@example.com>",
            f"Subject: Re: project update {n % 97}", "MIME-Version: 1.0",
            f'Content-Type: multipart/mixed; boundary="{boundary}m"']
    alt = (f"--{boundary}\nContent-Type: text/plain; charset=UTF-8\n"
           f"Content-Transfer-Encoding: quoted-printable\n\n"
           f"{quopri.encodestring(plain.encode()).decode()}\n"
           f"--{boundary}\nContent-Type: text/html; charset=UTF-8\n"
           f"Content-Transfer-Encoding: quoted-printable\n\n"
           f"{quopri.encodestring(html.encode()).decode()}\n--{boundary}--\n")
    body = (f"--{boundary}m\nContent-Type: multipart/alternative; boundary=\"{boundary}\"\n\n"
            f"{alt}")
    if n % 50 == 25:
        body += (f"--{boundary}m\nContent-Type: application/pdf; name=\"a.pdf\"\n"
                 "Content-Disposition: attachment\nContent-Transfer-Encoding: base64\n\n"
                 + ("QUJD" * 19 + "\n") * 1350)
    body += f"--{boundary}m--\n"
    return ("\n".join(head) + "\n\n" + body).encode()


def write_maildir(root: Path, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    out = []
    for n in range(count):
        data = message(n, rng)
        (root / "cur" / f"{1_700_000_000 + n}.M{n}P1.bench:2,S").write_bytes(data)
        out.append(data)
    return out


def median_s(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fetch_all(root: Path, promises: bool) -> tuple[int, int]:
    """(messages, promises found) of one whole read of the Maildir."""
    ctx = FetchContext(now=NOW, tz=TZ, window_start=NOW - timedelta(days=1095),
                       window_end=NOW + timedelta(days=14))
    conn = MaildirConnector(AccountConfig("bench", "maildir", options={
        "path": str(root), "promises": promises}))
    mails = [o for b in conn.fetch(None, ctx) for o in b.observations if isinstance(o, Mail)]
    return len(mails), sum(len(m.promises) for m in mails)


def scan(messages: list[bytes]) -> int:
    return sum(len(find(message_text(m), NOW, TZ)) for m in messages)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=20_000, help="messages (default 20000)")
    ap.add_argument("--seed", type=int, default=1, help="the generator's seed")
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing; the median counts")
    ap.add_argument("--keep", type=Path, help="write the Maildir here and keep it")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kwbodies-") as tmp:
        root = args.keep or Path(tmp) / "Sent"
        messages = write_maildir(root, args.count, args.seed)
        size = sum(len(m) for m in messages) / len(messages)
        for entry in os.scandir(root / "cur"):  # warm: the page cache holds every file
            Path(entry.path).read_bytes()
        headers_s = median_s(lambda: fetch_all(root, False), args.repeat)
        bodies_s = median_s(lambda: fetch_all(root, True), args.repeat)
        scan_s = median_s(lambda: scan(messages), args.repeat)
        n, found = fetch_all(root, True)
    rows = [("MaildirConnector.fetch, promises = false", headers_s),
            ("MaildirConnector.fetch, promises = true", bodies_s),
            ("message_text + find, bytes in memory", scan_s)]
    print(f"{n:,} messages, {size / 1024:.1f} KiB each on average, {found:,} promises found; "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median of {args.repeat}")
    for what, seconds in rows:
        rate = n / seconds
        mark = f"  (>= {TARGET_MSG_S:,}/s: {'ok' if rate >= TARGET_MSG_S else 'MISSED'})"
        print(f"{what:<42} {seconds:6.2f} s = {rate:7,.0f} msg/s"
              f"{mark if 'true' in what or 'memory' in what else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
