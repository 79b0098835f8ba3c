"""``keepwarm run`` seen from outside, for the soak benchmark: the process in /proc (memory,
fds, threads, CPU), its polls in the store, its reconciles in the CalDAV server's log, its
sd_notify messages. Nothing here reaches into the daemon: what it reports is what an
administrator could see of a running service."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # fields from 3 (state) on
    return (int(fields[11]) + int(fields[12])) / TICKS


def sample(pid: int, cycle: int, started: float) -> dict[str, Any]:
    """Memory (VmRSS, RssAnon, VmHWM in KiB), open fds, threads and CPU of the process."""
    status = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "VmHWM"):
            status[key] = value.split()[0]
    return {"cycle": cycle, "t": round(time.monotonic() - started, 2),
            "rss_kb": int(status["VmRSS"]), "anon_kb": int(status["RssAnon"]),
            "hwm_kb": int(status["VmHWM"]), "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": len(os.listdir(f"/proc/{pid}/task")), "cpu_s": cpu_seconds(pid)}


def fd_kinds(pid: int) -> dict[str, int]:
    """What the open fds are: file names, or 'socket', 'pipe' ..."""
    kinds: Counter[str] = Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            kinds[target.split(":")[0] if ":[" in target else Path(target).name] += 1
    return dict(sorted(kinds.items()))


class Polls:
    """Polls per account: every poll writes a new ``last_attempt`` stamp to the store, so
    reading more often than an account is polled (0.1 s against >= 0.9 s) misses none."""

    def __init__(self, db: Path, accounts: tuple[str, ...]) -> None:
        self.db, self.accounts = db, accounts
        self.conn: sqlite3.Connection | None = None
        self.last: dict[str, str] = {}
        self.count: Counter[str] = Counter()

    def read(self) -> dict[str, int]:
        with contextlib.suppress(sqlite3.Error):
            if self.conn is None and self.db.exists():
                self.conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True,
                                            isolation_level=None, timeout=5)
            if self.conn is not None:
                for name, stamp in self.conn.execute(
                        "SELECT account, last_attempt FROM account_state"):
                    if stamp and stamp != self.last.get(name):
                        self.last[name] = stamp
                        self.count[name] += 1
        return dict(self.count)

    def cycles(self) -> int:
        counts = self.read()
        return min(counts.get(name, 0) for name in self.accounts)


class LogCount:
    """Lines of a growing log that match ``pattern``, read incrementally."""

    def __init__(self, path: Path, pattern: str) -> None:
        self.path, self.pattern, self.offset, self.count = path, re.compile(pattern), 0, 0

    def read(self) -> int:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        whole = data[:data.rfind(b"\n") + 1]
        self.offset += len(whole)
        self.count += len(self.pattern.findall(whole.decode("utf-8", "replace")))
        return self.count


class Daemon:
    """`keepwarm run` as systemd runs it: sd_notify socket, watchdog, log to a file."""

    def __init__(self, config: Path, folder: Path) -> None:
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(folder / "notify.sock"))
        self.notify.setblocking(False)
        self.notices: Counter[str] = Counter()
        self.log = folder / "daemon.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(folder / "notify.sock"),
               "WATCHDOG_USEC": str(600 * 10**6)}  # the unit's WatchdogSec=10min
        for name in ("JOURNAL_STREAM", "WATCHDOG_PID"):
            env.pop(name, None)
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "daemon.cli", "--config", str(config), "--log-level",
                 "info", "run"], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                cwd=ROOT)
        self.pid = self.proc.pid

    def check(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while True:
                for line in self.notify.recv(4096).decode().splitlines():
                    self.notices[line.split("=")[0]] += 1
        if self.proc.poll() is not None:
            raise RuntimeError(f"keepwarm run exited {self.proc.returncode}:\n"
                               + self.log.read_text()[-3000:])

    def stop(self) -> tuple[int | None, float]:
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None, time.monotonic() - t0
        self.notify.close()
        return self.proc.returncode, time.monotonic() - t0

    def log_summary(self) -> dict[str, int]:
        text = self.log.read_text(errors="replace")
        out = {"warnings": text.count(": WARNING: "), "errors": text.count(": ERROR: ")}
        for m in re.finditer(r"reminders: (\d+) created, (\d+) moved, (\d+) removed", text):
            for key, value in zip(("created", "moved", "removed"), m.groups(), strict=True):
                out[key] = out.get(key, 0) + int(value)
        return out


def idle_cpu(daemon: Daemon, polls: Polls, seconds: float) -> dict[str, float]:
    """The daemon's CPU over ``seconds`` as a share of one core, and the cycles it ran."""
    before, cycles0, t0 = cpu_seconds(daemon.pid), polls.cycles(), time.monotonic()
    while time.monotonic() < t0 + seconds:
        daemon.check()
        polls.read()
        time.sleep(0.1)
    cpu, wall = cpu_seconds(daemon.pid) - before, time.monotonic() - t0
    cycles = polls.cycles() - cycles0
    return {"cpu_s": cpu, "wall_s": wall, "pct": 100 * cpu / wall, "cycles": cycles,
            "ms_per_cycle": 1000 * cpu / cycles if cycles else 0.0}
