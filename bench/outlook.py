"""Measure the outlook connector's backfill and idle sync against the local Microsoft Graph.

The server is tests/servers/microsoft.py (HTTPS on loopback, a real MSAL sign-in through its
device-code endpoint) running in a child process, so its JSON encoding does not share the
measured process's interpreter. It holds ``--count`` sent messages (deterministic: one to
three To, up to two Cc, display names, one in ten with list headers in
``internetMessageHeaders``), ``--received`` received ones (four in five in the Inbox, the
rest in the Archive; one in three in the conversation of a sent message) and a few hundred
meetings in two calendars. The Graph page cap is 1,000, as Graph's for messages.

Measured, each on a fresh store (median of ``--repeat``):

- the connector alone: ``OutlookConnector.fetch`` from no cursor to the deltaLink;
- keepwarm's whole backfill: ``daemon.sync.pull`` of the account configured through
  ``daemon.config.parse`` (fetch, parse, infer, store, one transaction per page);
- HTTP requests of the backfill per 1,000 messages, counted by the server (target <= 5);
- the idle incremental sync: ``pull`` again with nothing new; the requests it makes are
  listed (target: one delta request per mail folder - Sent Items, Inbox, Archive - and one
  per calendar).

Benchmarks measure; they assert nothing.

Usage: python bench/outlook.py [--count 20000] [--received 20000] [--repeat 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from connectors.outlook import OutlookConnector
from daemon.config import parse
from daemon.model import FetchContext, Mail
from daemon.store import Store
from daemon.sync import pull
from tests.servers.microsoft import CLIENT_ID, USER, MicrosoftServer, certificate, trust

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TARGET_REQUESTS_PER_1000 = 5
IDLE_RUNS = 5
CALENDARS = ["default", "Work"]


# -- the server (child process) -------------------------------------------------------
def fill(server: MicrosoftServer, count: int, received: int, seed: int) -> None:
    rng = random.Random(seed)
    people = [(f"Person {n}", f"person{n}@example{n % 37}.org") for n in range(1500)]

    def some(k: int) -> list[dict[str, Any]]:
        return [{"emailAddress": {"name": n, "address": a}} for n, a in rng.sample(people, k)]

    for n in range(count):
        sent = NOW - timedelta(minutes=rng.randrange(60 * 24 * 700))
        headers = [{"name": "List-Id", "value": "<news.example.org>"},
                   {"name": "Precedence", "value": "bulk"}] if n % 10 == 0 else []
        server.add_message(**{
            "from": {"emailAddress": {"name": "Me", "address": USER}},
            "toRecipients": some(rng.randint(1, 3)), "ccRecipients": some(rng.randint(0, 2)),
            "bccRecipients": [], "sentDateTime": sent.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "internetMessageId": f"<bench{n}@contoso.example>", "subject": f"Re: topic {n % 97}",
            "internetMessageHeaders": headers})
    fill_received(server, received, rng, people)
    server.add_calendar("Work")
    for n in range(300):
        start = (NOW - timedelta(hours=rng.randrange(24 * 300))).replace(minute=0, second=0)
        server.add_event("Calendar" if n % 2 else "Work", subject=f"Meeting {n}",
                         start={"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                         end={"dateTime": (start + timedelta(hours=1)).strftime(
                             "%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                         organizer={"emailAddress": {"name": "Me", "address": USER}},
                         attendees=[{**p, "status": {"response": "accepted"}} for p in some(2)],
                         responseStatus={"response": "organizer"})


def fill_received(server: MicrosoftServer, count: int, rng: random.Random,
                  people: list[tuple[str, str]]) -> None:
    """Received mail to me from the same people, some of it answers in a conversation."""
    sent = [it.data["conversationId"] for it in server.state.messages.values()]
    for n in range(count):
        name, address = rng.choice(people)
        when = NOW - timedelta(minutes=rng.randrange(60 * 24 * 700))
        extra = {"conversationId": rng.choice(sent)} if sent and n % 3 == 0 else {}
        server.add_message("archive" if n % 5 == 4 else "inbox", **{
            "from": {"emailAddress": {"name": name, "address": address}},
            "toRecipients": [{"emailAddress": {"name": "Me", "address": USER}}],
            "sentDateTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "internetMessageId": f"<in{n}@example.org>", "subject": f"Re: topic {n % 97}",
            **extra})


def serve(conn: Connection, count: int, received: int, seed: int) -> None:
    """Run the server until told to stop; answer 'hits' with the requests since last asked."""
    trust()
    server = MicrosoftServer(max_page=1000).start()
    fill(server, count, received, seed)
    conn.send(server.url)
    while True:
        command = conn.recv()
        if command == "hits":
            conn.send([(h.method, h.path, h.status) for h in server.log])
            server.log.clear()
        else:
            server.stop()
            conn.send("stopped")
            return


# -- the measured side -----------------------------------------------------------------
def config(url: str, tmp: Path) -> Any:
    return parse({
        "identity": {"addresses": [USER], "timezone": "Europe/Berlin"},
        "store": {"path": str(tmp / "kw.db"), "state_dir": str(tmp / "state")},
        "accounts": [{"name": "ms", "type": "outlook", "client_id": CLIENT_ID,
                      "authority_host": url, "graph_endpoint": f"{url}/v1.0",
                      "calendars": CALENDARS}],
    }, tmp / "config.toml")


def graph_requests(hits: list[tuple[str, str, int]]) -> Counter[str]:
    return Counter(f"{m} {p.split('/v1.0', 1)[-1]}" for m, p, _ in hits if "/v1.0/" in p)


def run(url: str, conn: Connection, count: int, repeat: int) -> dict[str, Any]:
    """``count``: every message the server holds, sent and received."""
    fetch_s, pull_s, idle_s = [], [], []
    requests: Counter[str] = Counter()
    idle_requests: Counter[str] = Counter()
    messages = 0
    with tempfile.TemporaryDirectory(prefix="kwbench-outlook-") as tmp_name:
        tmp = Path(tmp_name)
        cfg = config(url, tmp)
        account = cfg.accounts[0]
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        OutlookConnector(account).authenticate(False, lambda line: None)
        ctx = FetchContext(NOW, ZoneInfo("Europe/Berlin"),
                           NOW - timedelta(days=cfg.settings.forget_after_days),
                           NOW + timedelta(days=cfg.settings.horizon_days))
        for i in range(repeat):
            conn.send("hits")
            conn.recv()
            connector = OutlookConnector(account)
            t0 = time.perf_counter()
            got = sum(1 for b in connector.fetch(None, ctx) for o in b.observations
                      if isinstance(o, Mail))
            fetch_s.append(time.perf_counter() - t0)
            connector.close()
            conn.send("hits")
            requests = graph_requests(conn.recv())
            store = Store(tmp / f"kw{i}.db")
            t0 = time.perf_counter()
            report = pull(store, account, cfg.settings, NOW)
            pull_s.append(time.perf_counter() - t0)
            messages = report.messages
            assert got == messages == count, (got, messages)
            for _ in range(IDLE_RUNS):
                conn.send("hits")
                conn.recv()
                t0 = time.perf_counter()
                again = pull(store, account, cfg.settings, NOW)
                idle_s.append(time.perf_counter() - t0)
                conn.send("hits")
                idle_requests = graph_requests(conn.recv())
                assert again.messages == 0 and again.meetings == 0, again
            store.close()
            print(f"run {i + 1}: fetch {fetch_s[-1]:.2f} s, pull {pull_s[-1]:.2f} s", flush=True)
    return {"count": messages, "fetch_s": fetch_s, "pull_s": pull_s, "idle_s": idle_s,
            "backfill_requests": dict(requests), "idle_requests": dict(idle_requests)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=20_000, help="sent messages")
    ap.add_argument("--received", type=int, default=20_000,
                    help="received messages (Inbox and Archive)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    certificate()  # made once, before the fork, so both processes use the same one
    trust()
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=serve, args=(child, args.count, args.received, args.seed),
                         daemon=True)
    server.start()
    url = parent.recv()
    print(f"# {args.count:,} sent and {args.received:,} received messages, "
          f"{len(CALENDARS)} calendars on {url}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
    try:
        result = run(url, parent, args.count + args.received, args.repeat)
    finally:
        parent.send("stop")
        parent.recv()
        server.join(5)
    fetch_s, pull_s = statistics.median(result["fetch_s"]), statistics.median(result["pull_s"])
    mail_requests = sum(n for k, n in result["backfill_requests"].items()
                        if "messages/delta" in k)
    total = sum(result["backfill_requests"].values())
    per_1000 = total / (result["count"] / 1000)
    idle = statistics.median(result["idle_s"])
    rows = [
        ("connector fetch", f"{fetch_s:.2f} s = {result['count'] / fetch_s:,.0f} msg/s"),
        ("keepwarm pull()", f"{pull_s:.2f} s = {result['count'] / pull_s:,.0f} msg/s"),
        ("backfill Graph requests", f"{total} ({mail_requests} mail delta pages), "
         f"{per_1000:.2f} per 1,000 messages (target <= {TARGET_REQUESTS_PER_1000}: "
         f"{'ok' if per_1000 <= TARGET_REQUESTS_PER_1000 else 'MISSED'})"),
        ("idle incremental sync", f"{idle * 1000:.0f} ms median of {len(result['idle_s'])}, "
         "requests: " + ", ".join(f"{n} x {k}" for k, n in sorted(
             result["idle_requests"].items()))),
    ]
    width = max(len(r[0]) for r in rows)
    print("\n".join(f"{a:<{width}}  {b}" for a, b in rows))
    print("backfill requests: " + ", ".join(f"{n} x {k}" for k, n in sorted(
        result["backfill_requests"].items())))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
