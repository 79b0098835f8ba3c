"""The daemon's schedule, backoff and sign-in parking, in-process with a controlled clock."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.memory import MemoryConnector, MemoryData
from daemon.cli import main
from daemon.config import load
from daemon.errors import AuthError, TransientError
from daemon.lock import InstanceLock
from daemon.model import Address, Mail
from daemon.runtime import FIRST_BACKOFF, POLL_BUDGET, Runtime
from daemon.store import Store

_keys = itertools.count()


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Daemon:
    def __init__(self, tmp_path: Path) -> None:
        n = next(_keys)
        self.keys = {name: f"rt-{name}-{n}" for name in ("work", "home", "cal")}
        self.data = {k: MemoryConnector.DATA.setdefault(v, MemoryData())
                     for k, v in self.keys.items()}
        text = ('[identity]\naddresses = ["me@x.example"]\n[store]\npath = "kw.db"\n'
                'state_dir = "state"\n[reminders]\ncalendar = "cal"\n'
                '[daemon]\nmax_backoff = "10min"\n')
        text += "".join(f'[[accounts]]\nname = "{k}"\nkey = "{v}"\npoll_interval = "5min"\n'
                        f'type = "{"memory-oauth" if k == "work" else "memory"}"\n'
                        for k, v in self.keys.items())
        self.path = tmp_path / "config.toml"
        self.path.write_text(text)
        self.config = load(self.path)
        self.clock = Clock()
        self.rt = Runtime(self.path, self.config, clock=self.clock)

    def send(self, account: str, mid: str, days_ago: int, to: str) -> None:
        self.data[account].mail.append(Mail(mid, datetime.now(UTC) - timedelta(days=days_ago),
                                                Address("me@x.example"), to=(Address(to),)))

    def polls(self) -> dict[str, str | None]:
        states = self.rt.store.account_states()
        return {k: v["last_attempt"] for k, v in states.items()}  # type: ignore[misc]

    def notices(self) -> list[str]:
        return sorted(r.title for r in self.data["cal"].reminders.values()
                      if r.rid.kind == "notice")


@pytest.fixture
def d(tmp_path: Path) -> Daemon:
    return Daemon(tmp_path)


def test_each_account_is_polled_on_its_own_schedule(d: Daemon) -> None:
    d.rt.step()
    first = d.polls()
    assert set(first) == {"work", "home", "cal"}
    d.clock.t += 60
    d.rt.step()
    assert d.polls() == first  # nothing due yet
    d.clock.t += 5 * 60 * 1.1 + 1
    d.rt.step()
    assert all(d.polls()[k] != first[k] or first[k] is None for k in first)


def test_a_failing_account_backs_off_without_holding_up_the_others(d: Daemon) -> None:
    d.data["work"].fail = TransientError("connection refused")
    waits = []
    for _ in range(6):
        d.rt.step()
        slot = d.rt.slots["work"]
        waits.append((slot.due - d.clock.t) / FIRST_BACKOFF)
        d.clock.t = slot.due + 0.01
    # 1, 2, 4, 8 minutes (±10% jitter), then capped at max_backoff = 10 min
    for wait, want in zip(waits, [1, 2, 4, 8, 10, 10], strict=True):
        assert 0.89 * want <= wait <= 1.11 * want
    assert d.rt.slots["home"].failures == 0 and d.rt.slots["home"].last_success
    d.data["work"].fail = None
    d.rt.step()
    assert d.rt.slots["work"].failures == 0 and "failing" not in d.rt.summary()


def test_needs_sign_in_is_parked_loud_and_lifted_by_a_reload(
        d: Daemon, caplog: pytest.LogCaptureFixture) -> None:
    d.send("home", "m1", 200, "ann@y.example")
    d.send("home", "m2", 100, "ann@y.example")
    d.data["work"].fail = AuthError("token revoked; run `keepwarm auth work`")
    d.rt.step()
    assert d.rt.slots["work"].needs_signin
    assert "needs sign-in: work" in d.rt.summary()
    assert d.notices() == ["keepwarm: sign in to work again"]
    assert sum("needs signing in again" in r.message for r in caplog.records) == 1
    attempts = d.polls()["work"]
    d.clock.t += 24 * 3600
    d.rt.step()
    assert d.polls()["work"] == attempts  # parked: not polled again
    assert sum("needs signing in again" in r.message for r in caplog.records) == 2  # hourly
    d.data["work"].fail = None
    d.rt.reload_wanted = True  # what `keepwarm auth work` triggers with SIGHUP
    d.rt.step()
    assert not d.rt.slots["work"].needs_signin and d.notices() == []


def test_a_refused_password_backs_off_and_never_asks_for_a_sign_in(d: Daemon) -> None:
    """Only an OAuth account can be signed in again; a password account whose password is
    refused fails like any other account (backing off, retried), without a calendar notice
    naming `keepwarm auth`, a command that refuses password accounts."""
    d.data["home"].fail = AuthError("the server refused the password of account 'home'; "
                                    "check password_command")
    d.rt.step()
    slot = d.rt.slots["home"]
    assert not slot.needs_signin and slot.failures == 1 and slot.due > d.clock.t
    assert "failing: home" in d.rt.summary() and "sign-in" not in d.rt.summary()
    assert d.notices() == []
    d.data["home"].fail = None
    d.clock.t = slot.due
    d.rt.step()
    assert slot.failures == 0 and d.polls()["home"] is not None


def test_a_bad_config_on_reload_keeps_the_running_one(d: Daemon,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    d.path.write_text('[[accounts]]\nname = "x"\ntype = "fax"\n')
    d.rt.reload_wanted = True
    d.rt.step()
    assert set(d.rt.slots) == {"work", "home", "cal"}
    assert any("config reload failed" in r.message for r in caplog.records)


def test_reminders_are_reconciled_after_changes_and_hourly(d: Daemon) -> None:
    d.rt.step()
    assert not d.rt.dirty
    d.send("work", "a1", 300, "bo@y.example")
    d.send("work", "a2", 120, "bo@y.example")
    d.clock.t += 400
    d.rt.step()
    assert [r.rid.contact for r in d.data["cal"].reminders.values()] == ["bo@y.example"]
    nxt = d.rt.next_reconcile
    assert nxt - d.clock.t == pytest.approx(3600)


def test_a_long_backfill_takes_turns(d: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(500):
        d.send("work", f"b{i}", 300 - i // 2, f"p{i % 7}@y.example")
    d.rt.poll_budget = -1.0  # every batch ends the turn
    d.rt.step()
    slot = d.rt.slots["work"]
    assert slot.backlog and slot.due <= d.clock.t
    assert d.rt.store.counts()["messages"] == 100  # one batch of the memory connector
    assert slot.remaining == 400  # the source's estimate, for `keepwarm status`
    d.rt.publish()
    capsys.readouterr()
    with InstanceLock(d.config.state_dir):  # `status` believes a daemon that holds it
        main(["--config", str(d.path), "status"])
    line = next(x for x in capsys.readouterr().out.splitlines() if "work (memory-oauth)" in x)
    assert line.endswith(", still catching up (about 400 left)")
    for _ in range(4):
        d.rt.step()
    assert d.rt.store.counts()["messages"] == 500
    d.rt.poll_budget = POLL_BUDGET
    d.rt.step()
    assert not d.rt.slots["work"].backlog and d.rt.slots["work"].due > d.clock.t
    assert d.rt.slots["work"].remaining is None


HOLD = ("import sys, time\nfrom pathlib import Path\nfrom daemon.lock import InstanceLock\n"
        "InstanceLock(Path(sys.argv[1]), 'cycle.lock').acquire()\nprint('held', flush=True)\n"
        "time.sleep(600)\n")


def test_the_cycle_waits_for_a_manual_sync_until_it_ends_even_by_a_kill(d: Daemon) -> None:
    """However many tries it takes (``lock_poll`` apart), the cycle waits for the process that
    holds the cycle lock; a manual sync killed halfway frees it (flock dies with its holder)."""
    root = str(Path(__file__).resolve().parent.parent)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(d.config.state_dir)],
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": root})
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        seen: list[object] = []

        def look_then_kill() -> None:  # what `keepwarm status` reads meanwhile, then the kill
            try:
                store = Store(d.config.store_path)
                seen.append((store.daemon_state() or {}).get("waiting"))
                store.close()
            finally:
                holder.kill()

        d.rt = Runtime(d.path, d.config, clock=d.clock, lock_poll=0.01)
        threading.Timer(1.0, look_then_kill).start()
        started = time.monotonic()
        d.rt.step()
        assert time.monotonic() - started >= 1.0  # a hundred tries and more
    finally:
        holder.kill()
        holder.wait()
    (waiting,) = seen
    assert str(waiting).startswith(f"waiting for a manual sync (pid {holder.pid}) since ")
    assert set(d.polls()) == {"work", "home", "cal"}
    assert d.rt.waiting is None and (d.rt.store.daemon_state() or {})["waiting"] is None
