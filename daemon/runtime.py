"""`keepwarm run`: poll every account on its own schedule, keep reminders right, never stop.

One thread. Each account has a due time; a failing one backs off exponentially (up to
``[daemon] max_backoff``) without delaying the others, and one that needs signing in again is
parked until `keepwarm auth NAME` (which sends SIGHUP) or a config reload. Reminders are
reconciled after any change and at least hourly, since due dates move as days pass. Between
polls the process sleeps on an event: no CPU, woken early by signals. A manual `keepwarm sync`
holding the cycle lock (a backfill can take hours) is waited for without limit, the watchdog
pinged and the wait published meanwhile.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from connectors import registry
from daemon import ingest, steering, sync
from daemon.config import Config, load
from daemon.errors import ConfigError
from daemon.lock import InstanceLock
from daemon.model import AccountConfig
from daemon.notify import Notifier
from daemon.words import plural

log = logging.getLogger(__name__)

MAIL_POLL = 300.0
CALENDAR_POLL = 900.0
RECONCILE_EVERY = 3600.0
POLL_BUDGET = 120.0  # one account's turn; a long backfill goes on after the others had theirs
FIRST_BACKOFF = 60.0
WARN_EVERY = 3600.0
LOCK_POLL = 1.0  # seconds between tries of the cycle lock while a manual sync holds it


@dataclass
class Slot:
    """One account's place in the schedule."""

    account: AccountConfig
    interval: float
    due: float  # monotonic seconds
    failures: int = 0
    needs_signin: str | None = None  # the error that parked it
    last_error: str | None = None
    last_success: str | None = None
    backlog: bool = False  # the last poll stopped early: more to read
    remaining: int | None = None  # then, how much more (when the source can tell)
    warned: float = field(default=-WARN_EVERY)


def default_interval(account: AccountConfig) -> float:
    if account.poll_interval:
        return account.poll_interval
    return MAIL_POLL if registry.connector_class(account.type).reads_mail else CALENDAR_POLL


def backoff(failures: int, longest: float) -> float:
    """The wait before retrying after ``failures`` failures in a row: doubling from a minute,
    never more than ``longest`` (``[daemon] max_backoff``)."""
    return min(longest, FIRST_BACKOFF * 2 ** (failures - 1))


def jitter(seconds: float) -> float:
    """±10%, so accounts (and many users' daemons) do not poll in lockstep."""
    return seconds * random.uniform(0.9, 1.1)


class Runtime:
    def __init__(self, config_path: Path, config: Config,
                 clock: Callable[[], float] = time.monotonic,
                 poll_budget: float = POLL_BUDGET, lock_poll: float = LOCK_POLL) -> None:
        self.config_path = config_path
        self.config = config
        self.clock = clock
        self.poll_budget = poll_budget  # seconds of one account's turn
        self.lock_poll = lock_poll
        self.waiting: str | None = None  # "waiting for a manual sync (pid N) since T"
        self.waiting_for: int | None = None  # that pid
        self.store = steering.open_store(config.store_path, repair=True)
        self.notifier = Notifier()
        self.wake = threading.Event()
        self.stopping = False
        self.reload_wanted = False
        self.started = datetime.now(UTC)
        self.slots: dict[str, Slot] = {}
        self.dirty = True  # reconcile at the next chance
        self.next_reconcile = clock()
        self.reconcile_failures = 0
        self._build_slots()

    # -- signals -----------------------------------------------------------------
    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        self.wake.set()

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self.reload_wanted = True
        self.wake.set()

    # -- the loop ----------------------------------------------------------------
    def run(self) -> int:
        log.info("started: %s", self.summary())
        self.notifier.ready(self.summary())
        try:
            while not self.stopping:
                self.step()
                self.sleep()
        finally:
            self.notifier.stopping()
            self.publish()
            self.store.close()
        log.info("stopped")
        return 0

    def step(self) -> None:
        """One pass: take the cycle lock, reload if asked, poll what is due, reconcile if
        needed, report."""
        cycle = self.take_cycle()
        if cycle is None:
            return
        try:
            if self.reload_wanted:  # also a SIGHUP that came while waiting for the lock
                self.reload()
            self.poll_due()
            self.maybe_reconcile()
        finally:
            cycle.release()
        self.warn_parked()
        self.publish()
        self.notifier.status(self.summary())

    def take_cycle(self) -> InstanceLock | None:
        """The cycle lock, however long a manual `keepwarm sync` holds it: a Gmail backfill
        takes hours, and a daemon that gave up would only be restarted to wait again. None
        when told to stop while waiting."""
        cycle = InstanceLock(self.config.state_dir, "cycle.lock")
        while not cycle.try_acquire():
            if self.stopping:
                self.waiting = None
                return None
            self.wait_beat(cycle.holder())
        if self.waiting is not None:
            log.info("the manual sync is over: polling")
            self.waiting = None
        return cycle

    def wait_beat(self, holder: int | None) -> None:
        """One beat of the wait for a manual sync: say whom we wait for (when that is new),
        ping the watchdog, sleep until the next try or a signal."""
        if self.waiting is None or holder != self.waiting_for:
            who = f" (pid {holder})" if holder else ""
            since = datetime.now(UTC).isoformat(timespec="seconds")
            self.waiting, self.waiting_for = f"waiting for a manual sync{who} since {since}", holder
            log.info("%s", self.waiting)
            self.publish()
            self.notifier.status(self.summary())
        self.notifier.watchdog()
        self.wake.wait(min(self.lock_poll, self.notifier.watchdog_every or self.lock_poll))
        self.wake.clear()

    def poll_due(self) -> None:
        settings = self.config.settings
        for slot in sorted(self.slots.values(), key=lambda s: s.due):
            if self.stopping:
                return
            if slot.needs_signin or slot.due > self.clock():
                continue
            report = sync.pull_one(
                self.store, slot.account, settings, datetime.now(settings.tz),
                progress=lambda *_: self.notifier.watchdog(),
                stop=self._turn_over(self.clock() + self.poll_budget))
            self.record(slot, report)

    def _turn_over(self, deadline: float) -> Callable[[], bool]:
        """An account's turn ends at shutdown or when its time budget is spent."""
        return lambda: self.stopping or self.clock() > deadline

    def record(self, slot: Slot, report: sync.AccountReport) -> None:
        now = self.clock()
        if report.needs_signin:
            slot.needs_signin = slot.last_error = report.error
            slot.warned = now - WARN_EVERY  # say it at once
            self.dirty = True  # the calendar notice
        elif report.error:
            slot.failures += 1
            slot.last_error = report.error
            wait = backoff(slot.failures, self.config.max_backoff)
            slot.due = now + jitter(wait)
            log.warning("%s: retrying in %d s", slot.account.name, wait)
        else:
            slot.failures = 0
            slot.last_error = None
            slot.last_success = datetime.now(UTC).isoformat(timespec="seconds")
            slot.backlog = not report.complete
            slot.remaining = report.remaining if slot.backlog else None
            slot.due = now if slot.backlog else now + jitter(slot.interval)
            if report.messages or report.meetings or report.touchpoints or report.cards:
                self.dirty = True

    def maybe_reconcile(self) -> None:
        if self.stopping or not self.config.settings.reminders_calendar:
            return
        if not self.dirty and self.clock() < self.next_reconcile:
            return
        settings = self.config.settings
        now = datetime.now(settings.tz)
        ingest.rejudge(self.store, settings, now)
        statuses = sync.compute(self.store, settings, now)
        parked = sorted(name for name, s in self.slots.items() if s.needs_signin)
        report = sync.reconcile(self.config, self.store, statuses, now, parked)
        if report is not None and report.error:
            self.reconcile_failures += 1
            wait = backoff(self.reconcile_failures, self.config.max_backoff)
            self.next_reconcile = self.clock() + jitter(wait)
        else:
            self.reconcile_failures = 0
            self.dirty = False
            self.next_reconcile = self.clock() + RECONCILE_EVERY
            if report and (report.created or report.moved or report.deleted):
                log.info("reminders: %d created, %d moved, %d removed", report.created,
                         report.moved, report.deleted)

    def warn_parked(self) -> None:
        for name, slot in self.slots.items():
            if slot.needs_signin and self.clock() - slot.warned >= WARN_EVERY:
                log.warning("%s needs signing in again: run `keepwarm auth %s` (%s)", name,
                            name, slot.needs_signin)
                slot.warned = self.clock()

    def sleep(self) -> None:
        if self.stopping:
            return
        wake_at = [s.due for s in self.slots.values() if not s.needs_signin]
        wake_at += [s.warned + WARN_EVERY for s in self.slots.values() if s.needs_signin]
        if self.config.settings.reminders_calendar:
            wake_at.append(self.next_reconcile)
        timeout = max(0.0, min(wake_at, default=self.clock() + RECONCILE_EVERY) - self.clock())
        if self.notifier.watchdog_every:
            timeout = min(timeout, self.notifier.watchdog_every)
        self.wake.wait(timeout)
        self.wake.clear()
        self.notifier.watchdog()

    # -- config reload -----------------------------------------------------------
    def reload(self) -> None:
        self.reload_wanted = False
        try:
            new = load(self.config_path)
        except ConfigError as exc:
            log.error("config reload failed, keeping the running config: %s",
                      "; ".join(exc.problems))
            return
        if new.store_path != self.config.store_path:
            log.warning("the store path changed; restart keepwarm to use %s", new.store_path)
            new = Config(new.path, new.settings, self.config.store_path, self.config.state_dir,
                         new.accounts, new.max_backoff)
        self.config = new
        self._build_slots()
        self.dirty = True
        log.info("config reloaded: %s", self.summary())

    def _build_slots(self) -> None:
        """Accounts that read; unchanged ones keep their schedule, parked ones get a new try."""
        old = self.slots
        self.slots = {}
        for account in self.config.accounts:
            if not sync.reads(account):
                continue
            slot = old.get(account.name)
            if slot is None or slot.account != account:
                slot = Slot(account, default_interval(account), self.clock())
            if slot.needs_signin:
                slot.needs_signin = None
                slot.due = self.clock()
            self.slots[account.name] = slot

    # -- what it tells --------------------------------------------------------------
    def summary(self) -> str:
        parked = [n for n, s in self.slots.items() if s.needs_signin]
        failing = [n for n, s in self.slots.items() if s.last_error and not s.needs_signin]
        parts = [self.waiting] if self.waiting else []
        parts.append(plural(len(self.slots), "account"))
        if parked:
            parts.append(f"needs sign-in: {', '.join(parked)} (keepwarm auth NAME)")
        if failing:
            parts.append(f"failing: {', '.join(failing)}")
        if not parked and not failing:
            parts.append("all fine")
        return "; ".join(parts)

    def publish(self) -> None:
        """The daemon's view for `keepwarm status`, kept in the store (atomic, lock-free)."""
        wall, mono = datetime.now(UTC), self.clock()
        state = {
            "pid": os.getpid(),
            "started": self.started.isoformat(timespec="seconds"),
            "updated": wall.isoformat(timespec="seconds"),
            "waiting": self.waiting,
            "accounts": {name: {
                "next_poll": None if s.needs_signin else
                (wall + timedelta(seconds=max(0.0, s.due - mono))).isoformat(timespec="seconds"),
                "failures": s.failures,
                "needs_signin": s.needs_signin,
                "last_error": s.last_error,
                "last_success": s.last_success,
                "backlog": s.backlog,
                "remaining": s.remaining,
            } for name, s in self.slots.items()},
        }
        self.store.set_daemon_state(state)


def run(config_path: Path, config: Config) -> int:
    """The `keepwarm run` command: one instance per store, until SIGTERM."""
    with InstanceLock(config.state_dir):
        runtime = Runtime(config_path, config)
        runtime.install_signals()
        return runtime.run()
