"""Measure the IMAP source's backfill and idle sync on a local Dovecot, against the floor.

The floor is the least any IMAP importer in Python could do: one imapclient connection, the
same ``UID FETCH`` of the same header fields plus INTERNALDATE in the same chunks of explicit
UIDs, each message's recipients parsed with the standard library (``BytesHeaderParser`` +
``getaddresses``), nothing stored. keepwarm is timed through ``daemon.sync.pull`` of an
``imap`` account configured through ``daemon.config.parse`` into a fresh temporary store
(fetch, parse, infer, store, one transaction per chunk). Then the idle incremental sync: the
same ``pull`` again with nothing new, timed, with the messages the server says it sent (its
own logout line: ``hdr_count``, ``body_count``).

The mail: ``bench/gen_maildir.py``'s deterministic sent folder (100,000 messages by default),
and with ``--received N`` its received mail (N messages) in INBOX, which the floor then reads
after Sent and keepwarm reads as its default received folder; written straight into the
Dovecot user's Maildirs before the server starts (APPENDing
100,000 messages takes minutes; Dovecot indexes the files on the first SELECT). One untimed
floor pass first, so Dovecot's header cache and the page cache are equally warm for every
timed run. Each timed run is its own process, so its peak RSS (``VmHWM``) is its own;
floor and keepwarm runs alternate. Benchmarks measure; they assert nothing.

Usage: python bench/imap.py [--count 100000] [--received 0] [--seed 1]
       [--dir /tmp/kwbench-imap] [--repeat 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from imapclient import IMAPClient

from connectors.imap import BODY_KEY, FETCH_ITEMS
from connectors.imapfolders import CHUNK
from daemon.config import parse
from daemon.store import Store
from daemon.sync import pull
from tests.servers.dovecot import PASSWORD, Dovecot

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
USER = "bench"
TARGET_RATIO = 1.3
TARGET_RSS_MB = 200
TARGET_IDLE_S = 0.2
IDLE_RUNS = 5


def rss_mb() -> float:
    """Peak RSS of this process: VmHWM, since Linux carries ``ru_maxrss`` over an exec (a
    child would report its parent's peak when that is higher)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the two contestants (each runs in a child process) ---------------------------------
def floor(port: int, received: bool) -> dict[str, Any]:
    """A bare single-connection imapclient loop: fetch, parse recipients, nothing else."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    c = IMAPClient("127.0.0.1", port, ssl=False)
    c.login(USER, PASSWORD)
    parser = BytesHeaderParser()
    messages = recipients = 0
    for folder in ("Sent", "INBOX") if received else ("Sent",):
        c.select_folder(folder, readonly=True)
        uids = sorted(c.search(["UID", "1:*"]))
        for i in range(0, len(uids), CHUNK):
            for item in c.fetch(uids[i:i + CHUNK], FETCH_ITEMS).values():
                msg = parser.parsebytes(item[BODY_KEY])
                values = msg.get_all("to", []) + msg.get_all("cc", []) + msg.get_all("bcc", [])
                recipients += len(getaddresses(values))
                messages += 1
    c.logout()
    return {"seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - cpu0,
            "messages": messages, "recipients": recipients, "rss_mb": rss_mb()}


def keepwarm(port: int, secret: Path, received: bool) -> dict[str, Any]:
    """daemon.sync.pull of an imap account into a fresh store, then idle syncs."""
    with tempfile.TemporaryDirectory(prefix="kwbench-store-") as tmp:
        config = parse({
            "identity": {"addresses": ["alex.morgan@example.com"], "timezone": "Europe/Berlin"},
            "store": {"path": f"{tmp}/kw.db"},
            "accounts": [{"name": "imap", "type": "imap", "host": "127.0.0.1", "port": port,
                          "tls": "none", "username": USER,
                          "password_command": f"cat {secret}",
                          **({} if received else {"received_folders": []})}],
        }, Path(tmp) / "config.toml")
        store = Store(config.store_path)
        account = config.accounts[0]
        t0, cpu0 = time.perf_counter(), time.process_time()
        report = pull(store, account, config.settings, NOW)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        idle = []
        for _ in range(IDLE_RUNS):
            t0 = time.perf_counter()
            again = pull(store, account, config.settings, NOW)
            idle.append(time.perf_counter() - t0)
            assert again.messages == 0 and again.duplicates == 0, again
        counts = store.counts()
        store.close()
    return {"seconds": seconds, "cpu_s": cpu, "messages": report.messages,
            "touchpoints": counts["touchpoints"], "rss_mb": rss_mb(), "idle_s": idle}


# -- the parent: server, runs, report ----------------------------------------------------
def generated(base: Path, name: str, count: int, seed: int, *flags: str) -> Path:
    """A Maildir of ``bench/gen_maildir.py``, made once and reused."""
    gen = base / f"gen-{name}-{count}-{seed}" / name
    if not (gen / "cur").is_dir():
        shutil.rmtree(gen.parent, ignore_errors=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_maildir.py"), str(gen),
                        "--count", str(count), "--seed", str(seed), *flags], check=True)
    return gen


def prepare(base: Path, count: int, received: int, seed: int) -> Dovecot:
    """A Dovecot whose user ``bench`` has ``count`` messages in Sent and ``received`` in
    INBOX; reused between runs."""
    folder = base / f"dovecot-{count}-{received}-{seed}"
    fresh = not (folder / "dovecot.conf").exists()
    if fresh:
        shutil.rmtree(folder, ignore_errors=True)
    server = Dovecot(folder)
    if fresh:
        server.add_user(USER)
        shutil.copytree(generated(base, "Sent", count, seed), server.mail / USER / "Sent")
        if received:
            shutil.copytree(generated(base, "INBOX", received, seed, "--received"),
                            server.mail / USER / "INBOX")
        subprocess.run(["chown", "-R", f"{server.uid}:{server.gid}", str(server.mail)],
                       check=True)
    return server.start()


def child(mode: str, port: int, secret: Path, received: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--port", str(port), "--secret", str(secret),
         "--received", str(received)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{mode} run failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return ordered[(len(ordered) - 1) // 2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--received", type=int, default=0, help="received messages in INBOX")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/kwbench-imap"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", choices=("floor", "keepwarm"), help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--secret", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        got = args.received > 0
        result = (floor(args.port, got) if args.child == "floor"
                  else keepwarm(args.port, args.secret, got))
        print(json.dumps(result))
        return 0

    server = prepare(args.dir, args.count, args.received, args.seed)
    try:
        secret = server.folder / "password-bench"
        secret.write_text(PASSWORD + "\n")
        load = os.getloadavg()[0]
        print(f"# {args.count:,} sent + {args.received:,} received messages on Dovecot "
              f"127.0.0.1:{server.port}, {os.cpu_count()} CPUs, load {load:.2f}; "
              "warm-up pass ...", flush=True)
        child("floor", server.port, secret, args.received)
        floors, keeps, idle_fetched = [], [], []
        for i in range(args.repeat):
            floors.append(child("floor", server.port, secret, args.received))
            before = len(server.sessions(USER))
            keeps.append(child("keepwarm", server.port, secret, args.received))
            time.sleep(0.5)  # the logout lines reach the log asynchronously
            sessions = server.sessions(USER)[before:]
            idle_fetched.append(sum(h + b for h, b in sessions[1:]))
            print(f"run {i + 1}: floor {floors[-1]['seconds']:.2f} s, "
                  f"keepwarm {keeps[-1]['seconds']:.2f} s, load {os.getloadavg()[0]:.2f}",
                  flush=True)
    finally:
        server.stop()
    f, k = median(floors), median(keeps)
    # Each floor run and the keepwarm run after it share the machine's load of the moment:
    # the median of those paired ratios is the figure, the medians are shown beside it.
    pairs = sorted(b["seconds"] / a["seconds"] for a, b in zip(floors, keeps, strict=True))
    ratio = statistics.median(pairs)
    idle = statistics.median(t for r in keeps for t in r["idle_s"])
    rows = [
        ("floor (imapclient + BytesHeaderParser)",
         f"{f['seconds']:.2f} s = {f['messages'] / f['seconds']:,.0f} msg/s, "
         f"CPU {f['cpu_s']:.2f} s, peak RSS {f['rss_mb']:.0f} MB"),
        ("keepwarm pull()",
         f"{k['seconds']:.2f} s = {k['messages'] / k['seconds']:,.0f} msg/s, "
         f"CPU {k['cpu_s']:.2f} s, peak RSS {k['rss_mb']:.0f} MB"),
        ("keepwarm / floor time", f"{ratio:.2f}x median of paired runs "
         f"[{pairs[0]:.2f}-{pairs[-1]:.2f}] (target <= {TARGET_RATIO}x: "
         f"{'ok' if ratio <= TARGET_RATIO else 'MISSED'})"),
        ("peak RSS target", f"< {TARGET_RSS_MB} MB: "
         f"{'ok' if k['rss_mb'] < TARGET_RSS_MB else 'MISSED'}"),
        ("idle incremental sync", f"{idle * 1000:.0f} ms median of {IDLE_RUNS * len(keeps)} "
         f"(target < {TARGET_IDLE_S * 1000:.0f} ms: {'ok' if idle < TARGET_IDLE_S else 'MISSED'})"
         f", messages sent by the server: {max(idle_fetched)}"),
    ]
    width = max(len(r[0]) for r in rows)
    print("\n".join(f"{a:<{width}}  {b}" for a, b in rows))
    print("all floor runs (s): " + ", ".join(f"{r['seconds']:.2f}" for r in floors))
    print("all keepwarm runs (s): " + ", ".join(f"{r['seconds']:.2f}" for r in keeps))
    if args.json:
        args.json.write_text(json.dumps({"count": args.count, "received": args.received,
                                         "floor": floors, "keepwarm": keeps,
                                         "idle_fetched": idle_fetched, "ratio": ratio,
                                         "pairs": pairs, "idle_median_s": idle, "load": load},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
