"""Count the People API requests of a gmail account's address book (``contacts = true``):
a first sync, an idle sync, one changed contact, and the full listing after an expired sync
token; and time each.

The server is tests.servers.google in a child process (so its CPU time is not ours), with
one user holding ``--count`` contacts: each with two addresses, one in three in one of 20
user groups, one in ten starred, one in two with a birthday (a quarter of those without a
year), one in twenty with an anniversary. keepwarm reads them through
``GmailConnector.fetch_cards`` with the real Google client library, as a sync does; the store
is not part of it. Target: at most 6 requests for 5,000 contacts, 1 for an idle sync.
Benchmarks measure; they assert nothing.

Usage: python bench/people.py [--count 5000] [--json FILE]
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
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from connectors.gmail import GmailConnector
from daemon.model import AccountConfig, FetchContext

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
CTX = FetchContext(now=NOW, tz=ZoneInfo("Europe/Berlin"), window_start=NOW - timedelta(days=1095),
                   window_end=NOW + timedelta(days=14))
TARGET_REQUESTS = 6


def person(n: int, groups: list[str]) -> dict[str, Any]:
    primary = {"metadata": {"primary": True}}
    member = ["contactGroups/myContacts", *([groups[n % 20]] if n % 3 == 0 else []),
              *(["contactGroups/starred"] if n % 10 == 0 else [])]
    out: dict[str, Any] = {
        "names": [{**primary, "displayName": f"Person {n}", "givenName": "Person"}],
        "emailAddresses": [{**primary, "value": f"p{n}@example.org"},
                           {"value": f"person.{n}@work{n % 50}.example"}],
        "memberships": [{"contactGroupMembership": {"contactGroupResourceName": r}}
                        for r in member]}
    if n % 2 == 0:
        out["birthdays"] = [{**primary, "date": {"month": n % 12 + 1, "day": n % 28 + 1,
                                                 **({"year": 1950 + n % 50} if n % 8 else {})}}]
    if n % 20 == 0:
        out["events"] = [{"type": "anniversary", "date": {"year": 2000 + n % 20, "month": 6,
                                                          "day": 1}}]
    return out


def serve(count: int) -> None:
    """The child: a fake Google with one user and ``count`` contacts, until stdin ends; a
    line on stdin ``expire`` expires the sync tokens, ``change`` changes one contact."""
    from tests.servers import google

    server = google.GoogleServer()
    user = server.add_user()
    groups = [user.contacts.group(f"Group {g}") for g in range(20)]
    names = [user.contacts.put(person(n, groups)) for n in range(count)]
    scopes = ["https://www.googleapis.com/auth/contacts.readonly"]
    print(json.dumps({"url": server.url, "client_id": user.client_id,
                      "secrets": {"installed": {
                          "client_id": user.client_id, "client_secret": user.client_secret,
                          "auth_uri": server.url + "o/oauth2/auth",
                          "token_uri": server.url + "token"}},
                      "token": user.token_info(scopes)}), flush=True)
    for line in sys.stdin:
        with server.lock:
            if line.strip() == "expire":
                user.contacts.expire_tokens()
            elif line.strip() == "change":
                user.contacts.put({**person(1, groups), "resourceName": names[1]})
        print("ok", flush=True)


def calls(url: str, client_id: str) -> Counter[str]:
    with urllib.request.urlopen(url + "_stats", timeout=10) as answer:
        return Counter(json.loads(answer.read())[client_id]["calls"])


def measure(count: int) -> dict[str, Any]:
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(count)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    info = json.loads(child.stdout.readline())
    out: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="kwbench-people-") as tmp:
            folder = Path(tmp)
            (folder / "client.json").write_text(json.dumps(info["secrets"]))
            (folder / "google.google-token.json").write_text(json.dumps(info["token"]))
            (folder / "google.google-token.json").chmod(0o600)
            options = GmailConnector.with_defaults({
                "client_secrets": str(folder / "client.json"), "endpoint": info["url"],
                "mail": False, "calendar": False, "contacts": True})
            account = AccountConfig("google", "gmail", options=options, state_dir=tmp)
            cursor = None
            for step in ("first sync", "idle sync", "change", "expire"):
                if step in ("change", "expire"):
                    child.stdin.write(step + "\n")
                    child.stdin.flush()
                    child.stdout.readline()
                before = calls(info["url"], info["client_id"])
                t0 = time.perf_counter()
                batches = list(GmailConnector(account).fetch_cards(cursor, CTX))
                seconds = time.perf_counter() - t0
                cursor = batches[-1].cursor
                made = calls(info["url"], info["client_id"]) - before
                out[step] = {"seconds": seconds, "requests": dict(made),
                             "cards": sum(len(b.cards) for b in batches),
                             "full": batches[-1].full}
    finally:
        child.stdin.close()
        child.wait(timeout=10)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=5000, help="contacts in the address book")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    print(f"# {args.count:,} contacts, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    results = measure(args.count)
    for step, r in results.items():
        total = sum(r["requests"].values())
        target = {"first sync": f" (target <= {TARGET_REQUESTS})", "idle sync": " (target 1)"}
        print(f"{step:<11} {r['seconds']:6.2f} s, {r['cards']:,} cards"
              f"{' (full listing)' if r['full'] else ''}, {total} requests"
              f"{target.get(step, '')}: "
              + ", ".join(f"{k} {n}" for k, n in sorted(r["requests"].items())))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
