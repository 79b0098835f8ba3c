"""Measure reading an address book of 5,000 cards: a vdir folder of .vcf files, one .vcf
file holding them all, and a CardDAV address book on a local Radicale.

The cards are deterministic (``--seed``): vCard 3.0 and 4.0 mixed as Apple, Google and
Nextcloud write them, 1-3 addresses, a birthday on four in five (a fifth of those without a
year), CATEGORIES on a third, a small PHOTO on one in ten, and one group card per 500 cards.
Each figure is the connector's own ``fetch_cards`` (parse, groups, cursor), not the store:

- vcf folder: the first read (no cursor: every file parsed), the idle read (the cursor of
  the first: one ``stat`` per file, nothing parsed), and a read after one file changed;
- one .vcf file: the first read and the idle one;
- CardDAV: the cards are written into Radicale's storage folder before it starts (PUTting
  5,000 cards one by one takes minutes and measures Radicale), and one untimed PROPFIND
  of the book's sync-token makes Radicale build its item cache (which cards uploaded
  through it have already; timed apart as ``server_warmup``). Then the first sync (the
  principal, the home set, the listing, sync-collection, multiget of 100 a request) and the
  idle sync, each with the HTTP requests sent (``DavSession.requests``), and the sync after
  one card changed. A new connector for each, as the daemon makes, with the copies in a
  state folder.

Benchmarks measure; they assert nothing. Usage:
python bench/contacts.py [--cards 5000] [--seed 1] [--dir /tmp/kwbench-contacts] [--json FILE]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import shutil
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from connectors.carddav import CarddavConnector
from connectors.vcf import VcfConnector
from daemon.model import AccountConfig, CardBatch, FetchContext
from tests.servers.radicale import RadicaleServer

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CTX = FetchContext(now=NOW, tz=ZoneInfo("Europe/Berlin"), window_start=NOW - timedelta(days=1095),
                   window_end=NOW + timedelta(days=14))
FIRST = ["Anna", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "José"]
LAST = ["Meyer", "Okafor", "Nguyen", "García", "Kowalski", "Smith", "Rossi", "Øberg"]
PHOTO = "iVBORw0KGgo" * 300  # ~3 KB of base64, folded below


def one_card(n: int, rnd: random.Random) -> str:
    """Card ``n`` as one of the address books writes it (CRLF lines)."""
    name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)} {n}"
    v4 = n % 2 == 0
    lines = ["BEGIN:VCARD", f"VERSION:{'4.0' if v4 else '3.0'}", f"UID:card-{n:05d}",
             f"FN:{name}", f"N:{name.split()[1]};{name.split()[0]};;;"]
    lines += [f"item{i}.EMAIL;TYPE=INTERNET:p{n}.{i}@example{i}.org"
              for i in range(rnd.randint(1, 3))]
    if rnd.random() < 0.8:
        month, day = rnd.randint(1, 12), rnd.randint(1, 28)
        if rnd.random() < 0.2:
            lines.append(f"BDAY:--{month:02d}{day:02d}" if v4
                         else f"BDAY;X-APPLE-OMIT-YEAR=1604:1604-{month:02d}-{day:02d}")
        else:
            lines.append(f"BDAY:{rnd.randint(1940, 2005)}-{month:02d}-{day:02d}")
    if rnd.random() < 0.33:
        lines.append("CATEGORIES:" + ",".join(rnd.sample(["Clients", "Family", "Golf",
                                                           "Board", "Friends"], 2)))
    if n % 10 == 0:
        lines.append("PHOTO;ENCODING=b;TYPE=PNG:" + "\r\n ".join(
            PHOTO[i:i + 74] for i in range(0, len(PHOTO), 74)))
    lines.append("END:VCARD")
    return "\r\n".join(lines) + "\r\n"


def group_card(g: int, members: range) -> str:
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:group-{g}", f"FN:Group {g}",
             "X-ADDRESSBOOKSERVER-KIND:group",
             *(f"X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:card-{m:05d}" for m in members),
             "END:VCARD"]
    return "\r\n".join(lines) + "\r\n"


def cards(count: int, seed: int) -> dict[str, str]:
    """file name -> vCard text, the people then the groups."""
    rnd = random.Random(seed)
    out = {f"card-{n:05d}.vcf": one_card(n, rnd) for n in range(count)}
    for g in range(count // 500):
        out[f"group-{g}.vcf"] = group_card(g, range(g * 500, g * 500 + 50))
    return out


def timed(fn: Callable[[], list[CardBatch]]) -> tuple[float, list[CardBatch]]:
    started = time.perf_counter()
    batches = fn()
    return round(time.perf_counter() - started, 3), batches


def summary(seconds: float, batches: list[CardBatch], **extra: Any) -> dict[str, Any]:
    return {"seconds": seconds, "cards": sum(len(b.cards) for b in batches),
            "gone": sum(len(b.gone) for b in batches),
            "skipped": sum(len(b.skipped) for b in batches), **extra}


def vcf_runs(path: Path, change: Path | None) -> dict[str, Any]:
    conn = VcfConnector(AccountConfig("bench", "vcf", options={"path": str(path)}))
    seconds, first = timed(lambda: list(conn.fetch_cards(None, CTX)))
    cursor = first[-1].cursor
    out = {"first": summary(seconds, first, cursor_kb=round(len(json.dumps(cursor)) / 1024))}
    seconds, idle = timed(lambda: list(conn.fetch_cards(cursor, CTX)))
    out["idle"] = summary(seconds, idle)
    if change is not None:
        change.write_text(change.read_text().replace("FN:", "FN:Changed "))
        seconds, changed = timed(lambda: list(conn.fetch_cards(cursor, CTX)))
        out["one_changed"] = summary(seconds, changed)
    return out


def carddav_runs(base: Path, texts: dict[str, str]) -> dict[str, Any]:
    server = RadicaleServer(base / "radicale")
    server.start()
    try:
        user = server.add_user("bench", "bench-password")
        book = user.make_addressbook("Contacts", slug="contacts")
        server.stop()  # write the cards straight into its storage, then start it again
        folder = server.storage / "collection-root" / "bench" / "contacts"
        for name, text in texts.items():
            (folder / name).write_text(text)
        server.start()
        started = time.perf_counter()
        warm_up(user.url + "bench/contacts/", "bench", "bench-password")
        out: dict[str, Any] = {"server_warmup_seconds": round(time.perf_counter() - started, 3)}
        state = base / "state"
        account = replace(user.card_account(name="bench", timeout=120), state_dir=str(state))
        cursor = None
        for run in ("first", "idle", "one_changed"):
            if run == "one_changed":
                user.put_card(f"{book}card-00007.vcf", texts["card-00007.vcf"].replace(
                    "FN:", "FN:Changed ").encode())
            conn = CarddavConnector(account)
            seconds, batches = timed(lambda c=conn, k=cursor: list(c.fetch_cards(k, CTX)))
            assert conn._dav is not None
            out[run] = summary(seconds, batches, requests=conn._dav.requests,
                               reports=dict(conn._dav.counts))
            conn.close()
            cursor = batches[-1].cursor
        return out
    finally:
        server.stop()


def warm_up(url: str, user: str, password: str) -> None:
    """One PROPFIND of the book's sync-token, as the server's own clients would have sent."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    body = b'<propfind xmlns="DAV:"><prop><sync-token/></prop></propfind>'
    request = urllib.request.Request(url, data=body, method="PROPFIND", headers={
        "Authorization": f"Basic {token}", "Depth": "0"})
    with urllib.request.urlopen(request, timeout=600) as answer:
        answer.read()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cards", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/kwbench-contacts"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    shutil.rmtree(args.dir, ignore_errors=True)
    folder = args.dir / "vdir"
    folder.mkdir(parents=True)
    texts = cards(args.cards, args.seed)
    for name, text in texts.items():
        (folder / name).write_text(text)
    (args.dir / "all.vcf").write_text("".join(texts.values()))
    results = {"cards": args.cards, "groups": args.cards // 500,
               "vcf_folder": vcf_runs(folder, folder / "card-00007.vcf"),
               "vcf_file": vcf_runs(args.dir / "all.vcf", None),
               "carddav": carddav_runs(args.dir, texts)}
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
