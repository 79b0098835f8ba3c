"""Measure the follow-up computation (``daemon.followups.awaiting``) on synthetic mail.

The data: THREADS threads the user started (one to three recipients at 3,000 company
domains; every third answered by a colleague, every fifth with a second attempt), plus
NOISE received messages from senders who never wrote to the user in those threads (half
of them list mail), dated over the follow-up window. This is the pure computation the sync
and `keepwarm awaiting` run after ``Store.thread_mail`` (``bench/awaiting.py`` measures the
whole command), timed as a plain call and as ``sync.awaiting`` makes it, with the cyclic
garbage collector paused (``sqlbase.bulk_read``). Benchmarks measure; they assert nothing.

Usage: python bench/followups.py [--threads 20000] [--noise 80000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.followups import awaiting
from daemon.model import Address, Mail, Settings
from daemon.sqlbase import bulk_read

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ME = Address("me@example.com", "Me")


def mailbox(threads: int, noise: int, seed: int = 1) -> list[Mail]:
    rnd = random.Random(seed)
    mails: list[Mail] = []
    for i in range(threads):
        when = NOW - timedelta(minutes=rnd.randrange(60 * 24 * 59))
        to = tuple(Address(f"p{i}-{k}@c{i % 3000}.example", f"P {i}")
                   for k in range(rnd.randint(1, 3)))
        mails.append(Mail(f"m{i}", when, ME, to=to, subject=f"proposal {i}"))
        if i % 5 == 0:
            mails.append(Mail(f"m{i}b", when + timedelta(days=3), ME, to=to,
                              subject=f"Re: proposal {i}", in_reply_to=f"m{i}",
                              references=(f"m{i}",)))
        if i % 3 == 0:
            mails.append(Mail(f"r{i}", when + timedelta(hours=5),
                              Address(f"x{i}@c{i % 3000}.example"), to=(ME,),
                              subject=f"Re: proposal {i}", in_reply_to=f"m{i}",
                              references=(f"m{i}",), received=True))
    for i in range(noise):
        mails.append(Mail(f"n{i}", NOW - timedelta(minutes=rnd.randrange(60 * 24 * 70)),
                          Address(f"n{i % 5000}@news{i % 400}.example"), to=(ME,),
                          subject="news", list_id="news.example" if i % 2 else "",
                          received=True))
    return sorted(mails, key=lambda m: m.date)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=20000, help="threads the user started")
    ap.add_argument("--noise", type=int, default=80000, help="other received messages")
    ap.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    args = ap.parse_args()
    mails = mailbox(args.threads, args.noise)
    settings = Settings(own_addresses=frozenset({ME.email}))
    for label, paused in (("the collector on", False), ("as sync.awaiting runs it", True)):
        times, cpu, found = [], [], []
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            with bulk_read() if paused else contextlib.nullcontext():
                found = awaiting(mails, settings.own_addresses, settings, set(), NOW)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        print(f"{len(mails):,} messages, {args.threads:,} threads: {len(found):,} waiting; "
              f"median {statistics.median(times):.2f} s "
              f"(range {min(times):.2f}-{max(times):.2f}), "
              f"CPU {statistics.median(cpu):.2f} s ({label})")


if __name__ == "__main__":
    main()
