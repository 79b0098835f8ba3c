"""Soak ``keepwarm run`` against a local Dovecot and Radicale: does it leak, and does it idle?

The daemon runs as the user runs it (``python -m daemon.cli --config CFG run``, with an
sd_notify socket and ``WATCHDOG_USEC`` as systemd's unit gives it) with two accounts: ``mail``
(IMAP, a Sent folder of a few hundred messages) and ``cal`` (CalDAV: meetings from "Work",
and the reminders calendar). Both have ``poll_interval = "1s"``, the smallest duration the
config accepts, so a cycle takes about a second and nothing in the daemon is bypassed.

A *cycle* is one poll of every account plus the reminder reconcile it triggers. Cycle n is
complete when both accounts have been polled n times; polls are counted from the store
(``account_state.last_attempt``, a new microsecond stamp per poll, read every 0.1 s through a
read-only connection), reconciles from Radicale's own request log (each one lists the
reminders calendar: one REPORT of it, or the MKCALENDAR that creates it). After each cycle
the benchmark APPENDs three messages to Sent (one to a known contact, dated now, and two to a
new one, dated weeks ago, so reminders are created, moved and removed), and every 10th cycle
it adds, moves or deletes a meeting. The daemon's VmRSS, open fds and threads come from
/proc/PID at every cycle; growth is from cycle ``--warmup`` to the last. Then no more mail:
CPU (utime + stime from /proc/PID/stat) over ``--idle-seconds`` still at 1 s polls, then
again after SIGHUP reloads a config with the default intervals (5 min mail, 15 min calendars)
-- the idle daemon the target is about. Benchmarks measure; they assert nothing and exit 0.

Usage: python bench/soak.py [--cycles 1000] [--idle-seconds 60] [--warmup 50]
       [--dir /tmp/kwbench-soak] [--json FILE]
       python bench/soak.py --from-json FILE    # the table of a saved run again
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere
sys.path.insert(0, str(Path(__file__).resolve().parent))

from daemonwatch import ROOT, Daemon, LogCount, Polls, fd_kinds, idle_cpu, sample

from tests.servers.dovecot import Dovecot
from tests.servers.radicale import RadicaleServer, User

ME = "me@example.com"
USER = "soak"
INITIAL_MESSAGES = 300
INITIAL_PEOPLE = 100
TARGET_RSS_MB = 10.0
TARGET_CPU_PCT = 1.0
STALL_S = 120.0  # no cycle for this long: the daemon is stuck
MEASURED = ("daemon/runtime.py", "daemon/sync.py", "daemon/store.py", "daemon/notify.py",
            "daemon/lock.py", "connectors/imap.py", "connectors/caldav.py", "connectors/dav.py",
            "connectors/davcache.py")


# -- what the user does meanwhile ---------------------------------------------------------
def message(n: str, to: str, when: datetime) -> bytes:
    return (f"From: Me <{ME}>\r\nTo: {to}\r\nSubject: soak {n}\r\n"
            f"Date: {format_datetime(when)}\r\nMessage-ID: <soak-{n}@example.com>\r\n"
            "Content-Type: text/plain\r\n\r\nhello\r\n").encode()


class World:
    """The mail the user sends and the meetings they have, deterministic per seed."""

    def __init__(self, dovecot: Dovecot, user: User, work: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.user, self.work = user, work
        self.people = [f"Person {i} <p{i}@example.org>" for i in range(INITIAL_PEOPLE)]
        self.meetings: list[str] = []  # UIDs, oldest first
        self.imap = dovecot.client(USER)
        self.appended = self.meeting_changes = 0

    def initial(self) -> None:
        now = datetime.now(UTC)
        weights = [1 / (i + 1) for i in range(INITIAL_PEOPLE)]
        for i in range(INITIAL_MESSAGES):
            to = ", ".join(set(self.rng.choices(self.people, weights, k=self.rng.randint(1, 2))))
            self.append(message(f"i{i}", to, now - timedelta(days=self.rng.uniform(20, 700))))
        for i in range(5):
            self.meeting(f"soak-meeting-i{i}", now - timedelta(days=self.rng.uniform(2, 200)))

    def append(self, raw: bytes, when: datetime | None = None) -> None:
        self.imap.append("Sent", raw, msg_time=when or datetime.now(UTC))
        self.appended += 1

    def cycle(self, n: int) -> None:
        """Three messages: one to a known contact now, two to a new contact weeks ago; every
        10th cycle a meeting is added, moved or deleted."""
        now = datetime.now(UTC)
        self.append(message(f"c{n}a", self.rng.choice(self.people),
                            now - timedelta(minutes=self.rng.uniform(1, 120))))
        new = f"New {n} <new{n}@example.net>"
        for tag, days in (("b", self.rng.uniform(20, 60)), ("c", self.rng.uniform(61, 150))):
            self.append(message(f"c{n}{tag}", new, now - timedelta(days=days)))
        self.people.append(new)
        if n % 10:
            return
        if n % 30 == 10 or not self.meetings:
            self.meeting(f"soak-meeting-{n}", now - timedelta(days=self.rng.uniform(1, 10)))
        elif n % 30 == 20:
            self.meeting(self.meetings[-1], now - timedelta(days=self.rng.uniform(11, 20)))
        elif len(self.meetings) > 1:
            self.user.delete(f"{self.work}{self.meetings.pop(0)}.ics")
        self.meeting_changes += 1

    def meeting(self, uid: str, start: datetime) -> None:
        """Create or move (same UID, same URL) a 30-minute meeting with one contact."""
        stamp = "%Y%m%dT%H%M%SZ"
        start = start.replace(minute=0, second=0, microsecond=0)
        ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//keepwarm soak//EN\r\n"
               f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{datetime.now(UTC):{stamp}}\r\n"
               f"DTSTART:{start:{stamp}}\r\nDTEND:{start + timedelta(minutes=30):{stamp}}\r\n"
               f"SUMMARY:Catch-up\r\nORGANIZER:mailto:{ME}\r\n"
               f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{self.rng.choice(self.people).split('<')[1][:-1]}"
               "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        self.user.put(f"{self.work}{uid}.ics", ics.encode())
        if uid not in self.meetings:
            self.meetings.append(uid)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.imap.logout()


def config_text(dovecot: Dovecot, user: User, folder: Path, fast: bool) -> str:
    poll = 'poll_interval = "1s"\n' if fast else ""
    return (f'[identity]\naddresses = ["{ME}"]\ntimezone = "Europe/Berlin"\n'
            '[store]\npath = "kw.db"\nstate_dir = "state"\n[reminders]\ncalendar = "cal"\n'
            f'[[accounts]]\nname = "mail"\ntype = "imap"\nhost = "127.0.0.1"\n'
            f'port = {dovecot.port}\ntls = "none"\nusername = "{USER}"\n'
            f'password_command = "cat {folder / "mail.secret"}"\n{poll}'
            f'[[accounts]]\nname = "cal"\ntype = "caldav"\nurl = "{user.url}"\n'
            f'username = "{USER}"\npassword_command = "cat {folder / "cal.secret"}"\n'
            f'calendars = ["Work"]\n{poll}')


# -- the run ------------------------------------------------------------------------------
def growth(samples: list[dict[str, Any]], warmup: int, key: str) -> dict[str, Any]:
    """The value at the warm-up cycle and at the end, the range after warm-up, the least
    squares slope per 1,000 cycles, and min and max over the first and the last tenth. fds
    and threads are sampled whenever a cycle completes, often while the daemon still holds a
    connection (more often late in the run, when cycles are longer), so their at-rest count
    is the minimum of a window."""
    after = [s for s in samples if s["cycle"] >= warmup]
    xs, ys = [s["cycle"] for s in after], [s[key] for s in after]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    tenth = max(1, len(after) // 10)
    return {"warm": ys[0], "end": ys[-1], "min": min(ys), "max": max(ys),
            "slope_per_1000": slope * 1000, "first_tenth_min": min(ys[:tenth]),
            "first_tenth_max": max(ys[:tenth]), "last_tenth_min": min(ys[-tenth:]),
            "last_tenth_max": max(ys[-tenth:])}


def summary(r: dict[str, Any]) -> dict[str, Any]:
    """The figures derived from a run's samples (also for a saved run: ``--from-json``)."""
    out: dict[str, Any] = {k: growth(r["samples"], r["warmup"], k)
                           for k in ("rss_kb", "anon_kb", "fds", "threads")}
    by_cycle = {s["cycle"]: s for s in r["samples"]}
    first, last = r["samples"][0], r["samples"][-1]
    early = max((c for c in by_cycle if c <= first["cycle"] + 100), default=first["cycle"])
    late = min((c for c in by_cycle if c >= last["cycle"] - 100), default=last["cycle"])

    def ms(a: dict[str, Any], b: dict[str, Any]) -> float:
        return 1000 * (b["cpu_s"] - a["cpu_s"]) / max(1, b["cycle"] - a["cycle"])

    out["cpu_ms_per_cycle"] = {"all": ms(first, last), "first_100": ms(first, by_cycle[early]),
                               "last_100": ms(by_cycle[late], last)}
    out["s_per_cycle"] = {"first_100": (by_cycle[early]["t"] - first["t"]) / max(
        1, early - first["cycle"]), "last_100": (last["t"] - by_cycle[late]["t"]) / max(
        1, last["cycle"] - late)}
    return out


def soak(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    dovecot = Dovecot(folder / "dovecot").start()
    radicale = RadicaleServer(folder / "radicale")
    # info level: Radicale logs every request, which is how reconciles are counted
    radicale.config.write_text(radicale.config.read_text().replace("level = warning",
                                                                   "level = info"))
    radicale.start()
    daemon: Daemon | None = None
    world: World | None = None
    try:
        dovecot.add_user(USER)
        user = radicale.add_user(USER)
        work = user.make_calendar("Work", "work")
        for name, secret in (("mail", dovecot.password), ("cal", user.password)):
            (folder / f"{name}.secret").write_text(secret + "\n")
            (folder / f"{name}.secret").chmod(0o600)
        world = World(dovecot, user, work, args.seed)
        world.initial()
        config = folder / "config.toml"
        config.write_text(config_text(dovecot, user, folder, fast=True))
        config.chmod(0o600)
        reconciles = LogCount(radicale.log,
                              rf"(REPORT|MKCALENDAR) request for '/{USER}/keepwarm/'")
        polls = Polls(folder / "kw.db", ("mail", "cal"))
        load = [os.getloadavg()[0]]
        started = time.monotonic()
        daemon = Daemon(config, folder)
        samples: list[dict[str, Any]] = []
        done, progress = 0, started
        while done < args.cycles:
            daemon.check()
            now_done = min(polls.cycles(), args.cycles)
            if now_done == done:
                if time.monotonic() - progress > STALL_S:
                    raise RuntimeError(f"no cycle for {STALL_S:.0f} s after cycle {done}:\n"
                                       + daemon.log.read_text()[-3000:])
                time.sleep(0.1)
                continue
            samples.append(sample(daemon.pid, now_done, started))
            for n in range(done + 1, now_done + 1):
                world.cycle(n)
            done, progress = now_done, time.monotonic()
            if done % 100 == 0:
                s = samples[-1]
                print(f"cycle {done}: {s['t']:.0f} s, RSS {s['rss_kb'] / 1024:.1f} MB, "
                      f"fds {s['fds']}, threads {s['threads']}, reconciles {reconciles.read()}, "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)
        soak_s = time.monotonic() - started
        soak_reconciles = reconciles.read()
        load.append(os.getloadavg()[0])
        end_fds = fd_kinds(daemon.pid)
        print(f"# {args.cycles} cycles in {soak_s:.0f} s; idle {args.idle_seconds:g} s at 1 s "
              "polls ...", flush=True)
        busy_idle = idle_cpu(daemon, polls, args.idle_seconds)
        daemon.check()
        config.write_text(config_text(dovecot, user, folder, fast=False))
        before, rec_before = polls.read(), reconciles.read()
        os.kill(daemon.pid, signal.SIGHUP)  # reload: both accounts polled once, then default
        deadline = time.monotonic() + STALL_S
        while not (all(polls.read().get(a, 0) > before.get(a, 0) for a in ("mail", "cal"))
                   and reconciles.read() > rec_before):
            daemon.check()
            if time.monotonic() > deadline:
                raise RuntimeError("no poll after the reload:\n" + daemon.log.read_text()[-3000:])
            time.sleep(0.1)
        time.sleep(2)
        print(f"# reloaded with the default intervals; idle {args.idle_seconds:g} s ...",
              flush=True)
        idle = idle_cpu(daemon, polls, args.idle_seconds)
        after_idle = sample(daemon.pid, done, started)
        daemon.check()
        code, stop_s = daemon.stop()
        mail_polls = polls.read().get("mail", 0)
        sessions = len(dovecot.sessions(USER, at_least=mail_polls))  # World's is still open
        load.append(os.getloadavg()[0])
        store = sqlite3.connect(f"file:{folder / 'kw.db'}?mode=ro", uri=True)
        counts = {t: store.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("messages", "meetings", "addresses", "reminders")}
        store.close()
        return {
            "cycles": args.cycles, "warmup": args.warmup, "soak_s": soak_s,
            "reconciles": soak_reconciles, "polls": polls.read(), "imap_sessions": sessions,
            "load": load,
            "appended": world.appended, "meeting_changes": world.meeting_changes,
            "store": counts, "daemon_log": daemon.log_summary(),
            "notify": dict(daemon.notices), "fd_kinds_end": end_fds,
            "after_idle": after_idle, "idle_fast": busy_idle, "idle_default": idle,
            "stop_exit": code, "stop_s": stop_s,
            "samples": samples,
        }
    finally:
        if daemon is not None and daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait()
        if world is not None:
            world.close()
        dovecot.kill()
        radicale.stop()


def report(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    d = summary(r)
    rss, cpu, pace, rest = d["rss_kb"], d["cpu_ms_per_cycle"], d["s_per_cycle"], r["after_idle"]
    grew = (rss["end"] - rss["warm"]) / 1024
    log, w = r["daemon_log"], r["warmup"]
    yes = {True: "yes", False: "NO"}

    def at_rest(key: str) -> tuple[str, str, str, str]:
        g = d[key]  # flat: the at-rest count at the end and after idling is the early one
        flat = g["last_tenth_min"] <= g["first_tenth_min"] and rest[key] <= g["first_tenth_min"]
        return (f"open {key}" if key == "fds" else key,
                f"at rest {g['first_tenth_min']} -> {g['last_tenth_min']}, {rest[key]} after "
                f"idling; up to {g['first_tenth_max']} mid-cycle early, {g['last_tenth_max']} "
                f"late (range {g['min']}-{g['max']})", "flat", yes[flat])

    return [
        ("cycles", f"{r['cycles']} in {r['soak_s']:.0f} s ({pace['first_100']:.2f} s each in "
         f"the first 100, {pace['last_100']:.2f} s in the last), {r['reconciles']} reconciles; "
         f"polls {r['polls']} (Dovecot: {r['imap_sessions']} sessions)", "1,000",
         yes[r["cycles"] >= 1000]),
        ("changes made", f"{r['appended']} messages appended, {r['meeting_changes']} meetings "
         f"added/moved/deleted; reminders {log.get('created', 0)} created, "
         f"{log.get('moved', 0)} moved, {log.get('removed', 0)} removed", "-", "-"),
        (f"VmRSS cycle {w} -> {r['cycles']}",
         f"{rss['warm'] / 1024:.1f} -> {rss['end'] / 1024:.1f} MB (+{grew:.2f} MB); "
         f"trend {rss['slope_per_1000'] / 1024:+.2f} MB/1000 cycles; peak (VmHWM) "
         f"{rest['hwm_kb'] / 1024:.1f} MB", f"< {TARGET_RSS_MB:g} MB growth",
         yes[grew < TARGET_RSS_MB]),
        at_rest("fds"),
        at_rest("threads"),
        ("CPU while soaking", f"{cpu['all']:.0f} ms per cycle ({cpu['first_100']:.0f} ms in the "
         f"first 100, {cpu['last_100']:.0f} ms in the last 100)", "-", "-"),
        ("idle CPU, 1 s polls, nothing new",
         f"{r['idle_fast']['pct']:.2f} % of a core over {r['idle_fast']['wall_s']:.0f} s "
         f"({r['idle_fast']['cycles']} cycles, {r['idle_fast']['ms_per_cycle']:.0f} ms each)",
         "-", "-"),
        ("idle CPU, default intervals", f"{r['idle_default']['pct']:.3f} % of a core over "
         f"{r['idle_default']['wall_s']:.0f} s ({r['idle_default']['cycles']} polls)",
         f"< {TARGET_CPU_PCT:g} %", yes[r["idle_default"]["pct"] < TARGET_CPU_PCT]),
        ("daemon log", f"{log['warnings']} warnings, {log['errors']} errors; SIGTERM -> exit "
         f"{r['stop_exit']} in {r['stop_s']:.2f} s", "-", "-"),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--idle-seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=int, default=50, help="RSS growth is from this cycle on")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/kwbench-soak"),
                    help="servers, config, store and logs (emptied first, kept after)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--from-json", type=Path, help="print the table of a saved run, run nothing")
    args = ap.parse_args(argv)
    if args.from_json:
        show(json.loads(args.from_json.read_text()))
        return 0
    if args.cycles < args.warmup + 10:
        ap.error("--cycles must be at least --warmup + 10")
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    args.dir.chmod(0o755)  # Dovecot's mail user (nobody, under root) must get through
    print(f"# soak: {args.cycles} cycles, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.2f}; folder {args.dir}", flush=True)
    result = soak(args, args.dir)
    result["code"] = {rel: hashlib.sha256((ROOT / rel).read_bytes()).hexdigest()[:12]
                      for rel in MEASURED if (ROOT / rel).exists()}
    result["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    show(result)
    if args.json:
        args.json.write_text(json.dumps({**result, "summary": summary(result)}, indent=1))
    return 0


def show(result: dict[str, Any]) -> None:
    rows = [("Figure", "Result", "Target", "Met"), *report(result)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print("load (1 min) before/after soak/after idle: "
          + ", ".join(f"{x:.2f}" for x in result["load"]))
    print(f"fds at the end of the soak: {result['fd_kinds_end']}")


if __name__ == "__main__":
    sys.exit(main())
