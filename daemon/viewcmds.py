"""The commands that look: lapsed, contacts, show, plan, status. They never wait for a
running sync and never write to a calendar."""

from __future__ import annotations

import argparse
import dataclasses
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from daemon import book, cadence, render, sync
from daemon.cmdbase import Add, as_of, open_all
from daemon.config import Config
from daemon.errors import UsageError
from daemon.lock import InstanceLock
from daemon.model import AccountConfig, Status
from daemon.store import Store
from daemon.terminal import out, say


def _statuses(cfg: Config, store: Store, now: datetime) -> list[Status]:
    return sync.compute(store, cfg.settings, now)


def cmd_lapsed(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    now = as_of(args, cfg)
    items = cadence.lapsed(_statuses(cfg, store, now))
    if args.json:
        print(render.dump_json(items, cfg.settings.tz))
    elif not items and not store.account_states() and not store.stored_by_account():
        say("Nothing has been synced yet: run `keepwarm sync` first.")
    elif items:
        out.print(render.lapsed_table(items, f"Lapsed as of {now.date()}"))
    else:
        say(f"Nobody has lapsed as of {now.date()}.")
    return 0


def cmd_contacts(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    items = sorted(_statuses(cfg, store, as_of(args, cfg)),
                   key=lambda s: (not s.tracked, s.due, s.facts.name.lower()))
    if args.json:
        print(render.dump_json(items, cfg.settings.tz))
    else:
        out.print(render.contacts_table(items))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    email = book.resolve(store, args.address)
    now = as_of(args, cfg)
    if email in cfg.settings.own_addresses or email in store.aliases():
        say(f"{email} is one of your own addresses (configured, or seen as From in your "
                  "sent mail); keepwarm never tracks it.")
    elif not store.knows(email):
        say(book.never_seen(store, email))
        return 0
    # what the header counts is what happened up to `now`: later rows say so, not "yes"
    entries = [dataclasses.replace(e, rule=f"after {now:%Y-%m-%d %H:%M}, not counted yet")
               if e.rule is None and e.at > now else e for e in store.timeline(email)]
    if not entries:
        say(f"keepwarm has seen no message or meeting with {email}.")
        return 0
    match = [s for s in _statuses(cfg, store, now) if email in s.facts.emails]
    if match:
        s = match[0]
        f = s.facts
        say(f"{f.name} <{', '.join(f.emails)}>", style="bold")
        say(f"  {f.touchpoints} touchpoint{'s' * (f.touchpoints != 1)} ({f.meetings} "
            f"meeting{'s' * (f.meetings != 1)}), last {s.last_date} by {f.last_channel}")
        say(f"  cadence every {s.interval_days} days: {s.interval_source}")
        state = ("LAPSED, " + f"{s.overdue_days} days overdue" if s.lapsed else
                 f"due {s.due}" if s.tracked else "not tracked")
        say(f"  {state}; {'tracked' if s.tracked else 'not tracked'} because {s.why}")
        if f.snooze_until:
            say(f"  snoozed until {f.snooze_until}")
    else:
        say(f"{email}: no touchpoint counted; see why below.")
    out.print(render.timeline_table(entries, cfg.settings.tz))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    account = sync.reminders_account(cfg)
    if account is None:
        raise UsageError(f"no reminders calendar: set [reminders] calendar in {cfg.path}")
    now = as_of(args, cfg)
    statuses = sync.compute(store, cfg.settings, now)
    writer = sync.connector(account)
    try:
        p = sync.make_plan(cfg, store, statuses, now, writer)
    finally:
        writer.close()
    if not p.changes:
        say(f"Nothing to change: {len(p.reminders)} reminders are as they should be.")
    else:
        out.print(render.plan_table(p, cfg.settings.tz))
    return 0


def _daemon(cfg: Config, store: Store) -> dict[str, Any] | None:
    """The running daemon's published view, or None when no daemon runs."""
    pid = InstanceLock(cfg.state_dir).holder()
    state = store.daemon_state()
    if pid is None or state is None:
        return None
    return state if state.get("pid") == pid else None


def cmd_status(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    if args.skipped:
        return _skipped(store)
    states = store.account_states()
    say(f"config {cfg.path}\nstore  {cfg.store_path}")
    daemon = _daemon(cfg, store)
    if daemon:
        say(f"keepwarm run: process {daemon['pid']}, up since {daemon['started']}")
        if daemon.get("waiting"):
            say(f"  {daemon['waiting']}")
    else:
        say("keepwarm run: not running (start it with `keepwarm run` or the systemd service)")
    live = daemon["accounts"] if daemon else {}
    skipped = Counter(account for account, *_ in store.skipped())
    stored = store.stored_by_account()
    failing = sum(_account_status(acc, states.get(acc.name), live.get(acc.name, {}),
                                  skipped[acc.name], stored.get(acc.name))
                  for acc in cfg.accounts)
    failing += _reminders_status(store)
    counts = store.counts()
    say(", ".join(f"{v} {k}" for k, v in counts.items()))
    today = datetime.now(cfg.settings.tz).date()
    say(f"reminders written today: {store.written_on(today)}")
    return 1 if failing else 0


def _account_status(acc: AccountConfig, st: Mapping[str, Any] | None, info: Mapping[str, Any],
                    skipped: int, stored: tuple[int, int] | None) -> bool:
    """One account's lines of `keepwarm status`; True when it is failing."""
    if st is None:
        if stored:  # a first sync stopped early (Ctrl-C, a crash): what it has is kept
            say(f"  {acc.name} ({acc.type}): first sync not finished, {stored[0]:,} messages "
                f"and {stored[1]:,} meetings stored; the next `keepwarm sync` resumes")
        else:
            say(f"  {acc.name} ({acc.type}): never synced — run `keepwarm sync`")
        return False
    line = f"  {acc.name} ({acc.type}): last success {st['last_success'] or 'never'}"
    if skipped:
        line += (f", {skipped} item{'s' * (skipped != 1)} skipped "
                 "(`keepwarm status --skipped` lists them)")
    if info.get("next_poll"):
        line += f", next poll {info['next_poll']}"
    if info.get("backlog"):
        left = info.get("remaining")
        line += ", still catching up" + (f" (about {left:,} left)" if left else "")
    say(line)
    if info.get("needs_signin"):
        say(f"    needs sign-in: run `keepwarm auth {acc.name}`", style="red")
        return True
    if st["last_error"]:
        say(f"    last sync failed at {st['last_error_at']}: {st['last_error']}", style="red")
        return True
    return False


def _reminders_status(store: Store) -> bool:
    """The reminders calendar's line: failing until a write succeeds."""
    state = store.reminders_state()
    if state is None:
        return False
    say(f"  reminders into {state['calendar']}: last written "
        f"{state.get('last_success') or 'never'}")
    if state.get("last_error"):
        say(f"    last write failed at {state['last_attempt']}: {state['last_error']}",
            style="red")
        return True
    return False


def _skipped(store: Store) -> int:
    """`keepwarm status --skipped`: every item a source could not use, with the reason."""
    rows = store.skipped()
    if not rows:
        say("Nothing was skipped.")
    else:  # tab-separated for cut and awk (rich would expand the tabs)
        print("account\tlocation\treason\tskipped at")
    for account, location, reason, when in rows:
        print(f"{account}\t{location}\t{reason}\t{when}")
    return 0


AS_OF_HELP = "the day to look from, as if it were today (default: today)"


def register(add: Add) -> None:
    for name, text, func in (("lapsed", "who is overdue, most overdue first", cmd_lapsed),
                             ("contacts", "every contact and its cadence", cmd_contacts)):
        sp = add(name, text, func)
        sp.add_argument("--as-of", metavar="YYYY-MM-DD", help=AS_OF_HELP)
        sp.add_argument("--json", action="store_true",
                        help="print JSON (keys listed in the README) instead of a table")
    s = add("show", "one contact's timeline, and why it is (not) due", cmd_show)
    s.add_argument("address", help="the contact's e-mail address")
    s.add_argument("--as-of", metavar="YYYY-MM-DD", help=AS_OF_HELP)
    s = add("plan", "what sync would change in the reminders calendar", cmd_plan)
    s.add_argument("--as-of", metavar="YYYY-MM-DD", help=AS_OF_HELP)
    s = add("status", "accounts, last syncs, errors", cmd_status)
    s.add_argument("--skipped", action="store_true",
                   help="list every item a source could not read, with the reason")
