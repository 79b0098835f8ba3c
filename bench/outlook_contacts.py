"""Measure reading an Outlook address book through the local Microsoft Graph: the requests
and the time of a first sync, an idle sync and a sync after a few edits.

The server is tests/servers/microsoft.py with its address book (tests/servers/graph_contacts.py)
in this process: ``--count`` contacts (one to three addresses each, a category on one in
five, a birthday on half of them, a tenth without a year), nine in ten in the default
Contacts folder and the rest in a folder "Work"; Graph's cap of 200 contacts a page applies.
Measured is ``OutlookConnector.fetch_cards`` alone (the store's side of cards is measured
with it elsewhere), median of ``--repeat`` first syncs.

Benchmarks measure; they assert nothing.

Usage: python bench/outlook_contacts.py [--count 5000] [--repeat 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from connectors.outlook import OutlookConnector
from daemon.model import AccountConfig, FetchContext
from tests.servers.microsoft import MicrosoftServer, trust

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CTX = FetchContext(now=NOW, tz=UTC, window_start=NOW - timedelta(days=1095),
                   window_end=NOW + timedelta(days=14))


def fill(server: MicrosoftServer, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    work = server.book.add_folder("Work")
    for n in range(count):
        emails = [{"name": f"Person {n}", "address": f"p{n}.{k}@example{n % 37}.org"}
                  for k in range(rng.randint(1, 3))]
        birthday = None
        if n % 2 == 0:
            year = 1604 if n % 20 == 0 else rng.randint(1940, 2005)
            birthday = f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00Z"
        server.book.add(work if n % 10 == 9 else "AAMkCFcontacts", displayName=f"Person {n}",
                        emailAddresses=emails, birthday=birthday,
                        categories=["Clients"] if n % 5 == 0 else [])


def timed_fetch(account: AccountConfig, cursor: Any) -> tuple[float, int, Any]:
    """(seconds, cards, new cursor) of one fetch_cards."""
    conn = OutlookConnector(account)
    start = time.perf_counter()
    try:
        batches = list(conn.fetch_cards(cursor, CTX))
    finally:
        conn.close()
    return time.perf_counter() - start, sum(len(b.cards) for b in batches), batches[-1].cursor


def requests(server: MicrosoftServer) -> dict[str, int]:
    counted = Counter(h.path.removeprefix("/v1.0").split("?")[0] for h in server.log
                      if h.path.startswith("/v1.0/"))
    server.log.clear()
    return dict(counted)


def measure(count: int, repeat: int) -> dict[str, Any]:
    trust()
    server = MicrosoftServer(max_page=1000).start()
    try:
        fill(server, count)
        with tempfile.TemporaryDirectory() as tmp:
            account = server.account(Path(tmp), contacts=True)
            server.sign_in(account)
            server.log.clear()
            firsts = []
            for _ in range(repeat):
                seconds, cards, cursor = timed_fetch(account, None)
                firsts.append(seconds)
                first = requests(server)
            idle_seconds, _, cursor = timed_fetch(account, cursor)
            idle = requests(server)
            for cid in list(server.book.contacts)[:10]:
                server.book.edit(cid, displayName="Edited")
            _, edited_cards, _ = timed_fetch(account, cursor)
            edited = requests(server)
    finally:
        server.stop()
    return {"count": count, "cards": cards, "first_seconds": statistics.median(firsts),
            "first_requests": sum(first.values()), "first": first,
            "idle_seconds": idle_seconds, "idle_requests": sum(idle.values()), "idle": idle,
            "edited_cards": edited_cards, "edited_requests": sum(edited.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="contacts in the address book")
    parser.add_argument("--repeat", type=int, default=3, help="first syncs to take the median of")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    result = measure(args.count, args.repeat)
    print(f"{result['cards']} contacts: first sync {result['first_seconds']:.2f} s in "
          f"{result['first_requests']} requests {result['first']}")
    print(f"idle sync: {result['idle_requests']} requests {result['idle']}, "
          f"{result['idle_seconds'] * 1000:.0f} ms")
    print(f"after 10 edits: {result['edited_cards']} cards in {result['edited_requests']} "
          "requests")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
