"""Measure `keepwarm report` at 10,000 contacts and 200,000 touchpoints: the command itself
(a new process, imports included, as a user runs it), the page's size, and how long headless
Chromium takes to draw it.

The store is built once through the real ingest (``ingest.store_batch``) into ``--dir`` and
kept for the next run: messages to one person each, over two years, the people drawn from a
Pareto law so a few are written to often and most rarely (as in a real mailbox), plus
meetings of two people. Every message and meeting is a touchpoint (nothing to filter).

Chromium's figure is the time of a headless screenshot of the report less that of a blank
page (the browser's start), each the median of 3 runs. Last, what learning the rhythms costs:
``cadence.statuses`` over the store's facts with ``[cadence] learn`` on and off.

Benchmarks measure; they assert nothing. Usage:
python bench/report.py [--contacts 10000] [--touchpoints 200000] [--dir /tmp/kwbench-report]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from daemon import cadence, ingest
from daemon.config import load
from daemon.model import Address, Attendee, Batch, Mail, Meeting, Observation
from daemon.store import Store

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ME = Address("me@bench.example", "Me")
MEETING_SHARE = 0.1  # of the touchpoints: meetings of two people, so half as many meetings
CONFIG = """\
[identity]
addresses = ["me@bench.example"]
timezone = "Europe/Berlin"
[store]
path = "keepwarm.db"
state_dir = "state"
[cadence]
default = "90d"
forget_after = "730d"
"""


def observations(contacts: int, touchpoints: int, rng: random.Random) -> list[Observation]:
    people = [Address(f"person{i}@d{i % 97}.example", f"Person {i}") for i in range(contacts)]
    # the first ``contacts`` touches reach everyone once; the rest follow a Pareto law
    picks = list(range(contacts)) + [min(contacts - 1, int(rng.paretovariate(0.9)) - 1)
                                      for _ in range(touchpoints - contacts)]
    rng.shuffle(picks)
    meetings = int(touchpoints * MEETING_SHARE) // 2
    out: list[Observation] = []
    for n in range(meetings):
        start = NOW - timedelta(minutes=rng.randint(60, 730 * 1440))
        out.append(Meeting(f"meet{n}", start, start + timedelta(hours=1), organizer=ME,
                           attendees=(Attendee(people[picks[2 * n]], "accepted"),
                                      Attendee(people[(picks[2 * n + 1] + 1) % contacts
                                                      if picks[2 * n + 1] == picks[2 * n]
                                                      else picks[2 * n + 1]], "accepted")),
                           summary="Catch-up"))
    for n, i in enumerate(picks[2 * meetings:]):
        out.append(Mail(f"m{n}@bench.invalid",
                        NOW - timedelta(seconds=rng.randint(0, 730 * 86400)), ME,
                        to=(people[i],), subject=f"About {n % 50}"))
    return out


def build_store(folder: Path, contacts: int, touchpoints: int) -> Path:
    """The config of a store of that size, built unless ``folder`` holds it already."""
    config = folder / "config.toml"
    marker = folder / f"built-{contacts}-{touchpoints}"
    if marker.exists():
        return config
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config.write_text(CONFIG, encoding="utf-8")
    cfg = load(config)
    store = Store(cfg.store_path)
    items = observations(contacts, touchpoints, random.Random(16))
    for start in range(0, len(items), 5000):
        ingest.store_batch(store, "bench", Batch(items[start:start + 5000], {"n": start}),
                           cfg.settings, NOW)
    print(f"store: {store.counts()}")
    store.close()
    marker.touch()
    return config


def timed_run(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return time.perf_counter() - start


def chromium_s(page: Path, folder: Path) -> float:
    """Median seconds of a headless screenshot of ``page``."""
    chromium = shutil.which("chromium")
    assert chromium, "no chromium: apt-get install chromium"
    return statistics.median(timed_run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={folder / 'chromium'}", "--window-size=1280,1600",
         f"--screenshot={folder / 'shot.png'}", page.as_uri()]) for _ in range(3))


def statuses_ms(config: Path) -> dict[bool, float]:
    """Median milliseconds of ``cadence.statuses`` over the store's facts, with
    ``[cadence] learn`` on and off: what learning the rhythms costs."""
    cfg = load(config)
    store = Store(cfg.store_path)
    facts = list(store.contact_facts(until=NOW))
    store.close()
    out = {}
    for learn in (True, False):
        settings = dataclasses.replace(cfg.settings, learn=learn)
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            cadence.statuses(facts, settings, NOW.date())
            runs.append(time.perf_counter() - start)
        out[learn] = 1000 * statistics.median(runs)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--contacts", type=int, default=10_000)
    p.add_argument("--touchpoints", type=int, default=200_000)
    p.add_argument("--dir", type=Path, default=Path("/tmp/kwbench-report"))
    args = p.parse_args()
    start = time.perf_counter()
    config = build_store(args.dir, args.contacts, args.touchpoints)
    print(f"store ready in {time.perf_counter() - start:.1f} s: {args.dir}")
    page = args.dir / "report.html"
    cmd = [sys.executable, "-m", "daemon.cli", "--config", str(config), "report",
           "--as-of", f"{NOW.date()}", "--out", str(page)]
    write_s = statistics.median(timed_run(cmd) for _ in range(3))
    blank = args.dir / "blank.html"
    blank.write_text("<!doctype html><title>blank</title>", encoding="utf-8")
    draw_s, blank_s = chromium_s(page, args.dir), chromium_s(blank, args.dir)
    print(f"keepwarm report (whole command, median of 3): {write_s:.2f} s")
    print(f"report.html: {page.stat().st_size / 1024:.0f} KiB")
    print(f"chromium screenshot: {draw_s:.2f} s, of a blank page {blank_s:.2f} s: "
          f"the report draws in {max(0.0, draw_s - blank_s):.2f} s")
    ms = statuses_ms(config)
    print(f"cadence.statuses (median of 5): {ms[True]:.0f} ms learning rhythms, "
          f"{ms[False]:.0f} ms with learn = false")
    return 0


if __name__ == "__main__":
    sys.exit(main())
