"""Measure the gmail connector's sent-mail backfill against a quota-enforcing Gmail, and the
cost of an idle incremental sync.

The server is tests.servers.google in a child process (so its CPU time is not ours), with
one user holding ``--count`` sent messages and enforcing Gmail's per-user quota over a
rolling window: answered with 429 when a call's units do not fit. keepwarm is timed through
``daemon.sync.pull`` of a ``gmail`` account configured through ``daemon.config.parse`` into a
fresh store (list, batch, parse, infer, store), with ``quota_units_per_minute`` and
``quota_get_units`` set to the server's. Two quotas: projects since May 2026 (6,000 units a
minute, messages.get = 20: 5 msg/s) and older ones (15,000 and 5: 50 msg/s).

Time is scaled, not the quota: the quota period is 60/scale seconds on both sides (the
server's rolling window and keepwarm's ``connectors.gmailquota.WINDOW``), so every minute's
units, batch sizes and the slot arithmetic stay as in production and only the clock runs
``scale`` times faster. It is the pessimistic direction: each period still loses one batch's
round trip, which is ``scale`` times larger a share of a short period.

Received mail (``--received``, default 0: the sent-mail figures stay comparable): that many
messages in the inbox, one in four a reply in the thread of a sent message, the rest
outside any thread with sent mail. Reported: header reads of received messages (target: only
the replies inside the follow-up window, and no read at all outside threads with sent mail,
which the server's count of messages.get against the sent count shows) and the
``threads.get`` reads per 1,000 sent threads of the window. ``--two-way`` turns on
``[cadence] two_way``, so the first sync also reads the threads of older sent mail (the
reach-back): its cost shows in the counts of ``threads.get`` and ``messages.list``.

Reported: messages per second against the ceiling (the period's units divided by the units
of one messages.get), 429s answered, messages stored (none may be lost), HTTP requests per
1,000 messages, and the requests an idle sync makes. Benchmarks measure; they assert nothing.

Usage: python bench/gmail.py [--count 20000] [--received 0] [--two-way] [--scale-new 20]
                             [--scale-old 6] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from connectors import gmailquota
from daemon.config import parse
from daemon.store import Store
from daemon.sync import pull

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
QUOTAS = {"new (since May 2026)": (6000, 20), "old (before May 2026)": (15000, 5)}
TARGET_SHARE = 0.90
TARGET_REQUESTS = 25


def serve(count: int, received: int, quota: int, get_units: int, window: float) -> None:
    """The child: a fake Google with one user, ``count`` sent and ``received`` received
    messages, until stdin ends."""
    from tests.servers import google

    server = google.GoogleServer()
    user = server.add_user(quota=quota, get_units=get_units, window=window)
    sent: list[str] = []
    for n in range(count):
        when = NOW - timedelta(minutes=60 * n % 900_000 + n)  # newest first, ~2 years
        sent.append(user.add_mail((f"From: Alex Morgan <alex@example.com>\n"
                       f"To: Person {n % 2000} <p{n % 2000}@example.org>\n"
                       f"Cc: Team {n % 7} <team{n % 7}@example.net>\n"
                       f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
                       f"Message-ID: <bench-{n}@example.com>\nSubject: Re: item {n}\n\n"
                       ).encode(), internal=when))
    for n in range(received):
        when = NOW - timedelta(minutes=37 * n % 900_000 + n)
        thread = sent[n % len(sent)] if sent and n % 4 == 0 else ""
        user.add_mail((f"From: Person {n % 2000} <p{n % 2000}@example.org>\n"
                       f"To: Alex Morgan <alex@example.com>\n"
                       f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
                       f"Message-ID: <in-{n}@example.org>\nSubject: item {n}\n\n"
                       ).encode(), internal=when, labels=("INBOX",), thread=thread)
    scopes = ["https://www.googleapis.com/auth/gmail.metadata",
              "https://www.googleapis.com/auth/calendar.events.readonly"]
    print(json.dumps({"url": server.url, "client_id": user.client_id,
                      "secrets": {"installed": {
                          "client_id": user.client_id, "client_secret": user.client_secret,
                          "auth_uri": server.url + "o/oauth2/auth",
                          "token_uri": server.url + "token"}},
                      "token": user.token_info(scopes)}), flush=True)
    sys.stdin.read()


def stats(url: str, client_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "_stats", timeout=10) as answer:
        return dict(json.loads(answer.read())[client_id])


def measure(count: int, received: int, quota: int, get_units: int, scale: float,
            two_way: bool = False) -> dict[str, Any]:
    window = 60.0 / scale
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(count), str(received),
                              str(quota), str(get_units), str(window)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    info = json.loads(child.stdout.readline())
    try:
        with tempfile.TemporaryDirectory(prefix="kwbench-gmail-") as tmp:
            folder = Path(tmp)
            (folder / "client.json").write_text(json.dumps(info["secrets"]))
            token = folder / "google.google-token.json"
            token.write_text(json.dumps(info["token"]))
            token.chmod(0o600)
            config = parse({
                "identity": {"addresses": ["alex@example.com"], "timezone": "Europe/Berlin"},
                "store": {"path": str(folder / "kw.db"), "state_dir": str(folder)},
                "accounts": [{"name": "google", "type": "gmail", "client_secrets": "client.json",
                              "endpoint": info["url"], "quota_units_per_minute": quota,
                              "quota_get_units": get_units}],
                "cadence": {"two_way": two_way},
            }, folder / "config.toml")
            gmailquota.WINDOW = window
            store = Store(config.store_path)
            t0 = time.perf_counter()
            report = pull(store, config.accounts[0], config.settings, NOW)
            seconds = time.perf_counter() - t0
            after_backfill = stats(info["url"], info["client_id"])
            pull(store, config.accounts[0], config.settings, NOW)
            after_idle = stats(info["url"], info["client_id"])
            stored = store.counts()["messages"]
            store.close()
    finally:
        child.stdin.close()
        child.wait(timeout=10)
    calls = after_backfill["calls"]
    requests = sum(n for kind, n in calls.items() if not kind.startswith("batch:"))
    idle = {k: n - calls.get(k, 0) for k, n in after_idle["calls"].items()
            if n != calls.get(k, 0)}
    ceiling = quota / window / get_units
    return {"messages": report.messages, "stored": stored, "seconds": seconds,
            "msg_per_s": count / seconds, "ceiling": ceiling, "share": count / seconds / ceiling,
            "answered_429": after_idle["answered_429"], "requests": requests,
            "per_1000": requests / count * 1000, "calls": calls, "idle": idle,
            "scale": scale, "window_s": window}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=20_000, help="sent messages")
    ap.add_argument("--received", type=int, default=0,
                    help="received messages in the inbox, one in four a reply to sent mail")
    ap.add_argument("--two-way", action="store_true",
                    help="turn on [cadence] two_way: older sent threads are read too")
    ap.add_argument("--scale-new", type=float, default=20.0)
    ap.add_argument("--scale-old", type=float, default=6.0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--serve", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        count, received, quota, units, window = args.serve
        serve(int(count), int(received), int(quota), int(units), float(window))
        return 0
    print(f"# {args.count:,} sent messages, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    results = {}
    for (label, (quota, units)), scale in zip(QUOTAS.items(), (args.scale_new, args.scale_old),
                                              strict=True):
        r = measure(args.count, args.received, quota, units, scale, args.two_way)
        results[label] = r
        real = r["ceiling"] / scale
        print(f"\n{label}: {quota:,} units/min, messages.get = {units} (ceiling {real:g} msg/s; "
              f"time x{scale:g}: {quota:,} units per {r['window_s']:.2f} s)")
        print(f"  backfill    {r['seconds']:.1f} s = {r['msg_per_s']:,.1f} msg/s = "
              f"{r['share']:.1%} of the ceiling {r['ceiling']:,.0f} msg/s "
              f"(target >= {TARGET_SHARE:.0%}); {real * r['share']:.2f} msg/s in real time")
        replies = f" and {r['stored'] - args.count:,} replies" if args.received else ""
        print(f"  429s answered {r['answered_429']}, messages stored {r['stored']:,}: "
              f"{args.count:,} sent{replies} (lost {max(args.count - r['stored'], 0):,})")
        print(f"  HTTP requests {r['requests']:,} = {r['per_1000']:.1f} per 1,000 messages "
              f"(target <= {TARGET_REQUESTS}): "
              + ", ".join(f"{k} {n:,}" for k, n in sorted(r["calls"].items())))
        print("  idle sync   " + ", ".join(f"{k} {n}" for k, n in sorted(r["idle"].items())))
        gets, threads = r["calls"].get("batch:messages.get", 0), r["calls"].get(
            "batch:threads.get", 0)
        print(f"  received    {args.received:,} in the inbox: {gets - args.count:,} header reads "
              f"beyond the sent mail (target 0 outside threads with sent mail); "
              f"{threads:,} threads.get for the "
              + ("sent threads back to forget_after" if args.two_way
                 else "window's sent threads"))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
