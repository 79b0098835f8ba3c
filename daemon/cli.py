"""The ``keepwarm`` command. Exit codes: 0 fine, 1 an account or calendar failed,
2 bad config or usage, 130 interrupted."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from daemon import book, cadence, logsetup, render, runtime, service, steering, sync
from daemon.config import Config, default_config_path, load, permission_warnings
from daemon.durations import duration_days, parse_duration
from daemon.errors import ConfigError, KeepwarmError, UsageError
from daemon.lock import InstanceLock
from daemon.model import AccountConfig, Status
from daemon.sqlbase import FAULTS as store_faults
from daemon.sqlbase import fault as store_fault
from daemon.store import Store

log = logging.getLogger("keepwarm")
# Piped output keeps one row per line, so it can be grepped.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)


def complain(text: str) -> None:
    """One line on stderr, never folded (a terminal wraps it; a log keeps it whole)."""
    err.print(text, markup=False, soft_wrap=True)


def say(text: str, style: str | None = None) -> None:
    """Print plain text: names and subjects from mail must never be read as markup."""
    out.print(text, style=style, markup=False, soft_wrap=True)  # URLs must stay whole


def _as_of(args: argparse.Namespace, cfg: Config) -> datetime:
    """``now`` for a command: the real time, or the end of the --as-of day."""
    if getattr(args, "as_of", None):
        try:
            day = date.fromisoformat(args.as_of)
        except ValueError:
            raise UsageError(f"--as-of {args.as_of!r} is not a date like 2026-03-02") from None
        return datetime.combine(day, time(23, 59, 59), tzinfo=cfg.settings.tz)
    return datetime.now(cfg.settings.tz)


def config_path(args: argparse.Namespace) -> Path:
    """--config wins, then $KEEPWARM_CONFIG, then the XDG config folder."""
    return Path(args.config).expanduser() if args.config else default_config_path()


def _open(args: argparse.Namespace, repair: bool = False) -> tuple[Config, Store]:
    """The config and the store with the user's steering; ``repair`` (sync) rebuilds a
    damaged store instead of refusing it."""
    cfg = load(config_path(args))
    for warning in permission_warnings(cfg):
        log.warning("%s", warning)
    args.store_path = cfg.store_path  # for a store fault anywhere later (``main``)
    return cfg, steering.open_store(cfg.store_path, repair=repair)


def cmd_init(args: argparse.Namespace) -> int:
    path = config_path(args)
    if path.exists():
        complain(f"{path} already exists; keepwarm never overwrites a config. Edit it instead.")
        return 1
    service.write_starter(path)
    say(f"Wrote {path}. Add your accounts, then run `keepwarm sync`.")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    cfg, store = _open(args, repair=True)
    if not cfg.accounts:
        raise UsageError(f"{cfg.path} has no [[accounts]] yet: add one (`keepwarm init` "
                         "writes a starter config with examples), then run `keepwarm sync`")
    for name in [args.account or "", *args.accept_shrink]:
        if name and cfg.account(name) is None:
            raise UsageError(f"no account is named {name!r} in {cfg.path}")
    logsetup.summary_follows()
    try:
        return _sync(args, cfg, store)
    except KeyboardInterrupt:
        # every batch is stored with its cursor: what was read is kept, the rest comes next
        complain(f"interrupted: {store.counts()['messages']:,} messages stored; the next "
                 "`keepwarm sync` resumes")
        return 130


def _sync(args: argparse.Namespace, cfg: Config, store: Store) -> int:
    lock = InstanceLock(cfg.state_dir, "cycle.lock", wait=600,
                        what="keepwarm is syncing")
    if lock.holder():
        complain(f"waiting for the running keepwarm (process {lock.holder()}) to finish "
                 "its cycle…")
    with lock, render.SyncProgress(err) as progress:
        now = datetime.now(cfg.settings.tz)
        report = sync.sync(cfg, store, now, only=args.account, write=not args.no_write,
                           progress=progress.update if err.is_terminal else None,
                           accept_shrink=args.accept_shrink)
    render.sync_summary(out, report)
    return 0 if report.ok else 1


def _statuses(cfg: Config, store: Store, now: datetime) -> list[Status]:
    return sync.compute(store, cfg.settings, now)


def cmd_lapsed(args: argparse.Namespace) -> int:
    cfg, store = _open(args)
    now = _as_of(args, cfg)
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
    cfg, store = _open(args)
    items = sorted(_statuses(cfg, store, _as_of(args, cfg)),
                   key=lambda s: (not s.tracked, s.due, s.facts.name.lower()))
    if args.json:
        print(render.dump_json(items, cfg.settings.tz))
    else:
        out.print(render.contacts_table(items))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    cfg, store = _open(args)
    email = book.normalise(args.address)
    now = _as_of(args, cfg)
    if email in cfg.settings.own_addresses or email in store.aliases():
        say(f"{email} is one of your own addresses (configured, or seen as From in your "
                  "sent mail); keepwarm never tracks it.")
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
    cfg, store = _open(args)
    account = sync.reminders_account(cfg)
    if account is None:
        raise UsageError(f"no reminders calendar: set [reminders] calendar in {cfg.path}")
    now = _as_of(args, cfg)
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
    cfg, store = _open(args)
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


def cmd_auth(args: argparse.Namespace) -> int:
    cfg = load(config_path(args))
    account = cfg.account(args.name)
    if account is None:
        raise UsageError(f"no account is named {args.name!r} in {cfg.path}")
    cfg.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    conn = sync.connector(account)
    try:
        conn.authenticate(open_browser=not args.no_browser, say=say)
    finally:
        conn.close()
    say(f"Signed in to {account.name}.")
    pid = InstanceLock(cfg.state_dir).holder()
    if pid:  # wake the daemon: it un-parks the account and polls it now
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGHUP)
            say(f"Told the running keepwarm (process {pid}) to use it now.")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    path = config_path(args)
    cfg = load(path)
    for warning in permission_warnings(cfg):
        log.warning("%s", warning)
    return runtime.run(path, cfg)


def cmd_service(args: argparse.Namespace) -> int:
    cfg = load(config_path(args))
    unit, folders = service.install(cfg)
    say(f"Wrote {unit} for {cfg.path}.\nIt writes only in {', '.join(map(str, folders))}: "
        "run `keepwarm service install` again when the config names other folders.\n"
        "Start it now and at every login with:\n"
        "  systemctl --user daemon-reload && systemctl --user enable --now keepwarm")
    return 0


def _steer(args: argparse.Namespace) -> int:
    cfg, store = _open(args)
    addr = args.address
    if args.cmd == "cadence":
        days = None if args.every == "default" else _days(args.every)
        key = book.set_cadence(store, addr, days)
        what = "the default cadence" if days is None else f"every {days} days"
    elif args.cmd in ("tag", "untag"):
        key = book.set_tags(store, addr, args.tags, add=args.cmd == "tag")
        what = f"{'tagged' if args.cmd == 'tag' else 'untagged'} {' '.join(args.tags)}"
    elif args.cmd == "snooze":
        until = None if args.duration == "off" else (
            datetime.now(cfg.settings.tz).date() + timedelta(days=_days(args.duration)))
        key = book.snooze(store, addr, until)
        what = f"snoozed until {until}" if until else "no longer snoozed"
    elif args.cmd in ("ignore", "unignore"):
        key = book.set_ignored(store, addr, args.cmd == "ignore")
        what = "ignored" if args.cmd == "ignore" else "tracked again"
    else:
        key = book.merge(store, addr, args.other)
        what = f"now also owns {book.normalise(args.other)}"
    say(f"{key}: {what}. Takes effect at the next `keepwarm sync`.")
    return 0


def _days(text: str) -> int:
    try:
        parse_duration(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return duration_days(text)


def cmd_demo(args: argparse.Namespace) -> int:
    from daemon.demo import run_demo

    return run_demo(out)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="keepwarm", description=__doc__)
    p.add_argument("--config", help="config file (default: $KEEPWARM_CONFIG, else "
                                    "~/.config/keepwarm/config.toml)")
    p.add_argument("--log-level", default="warning",
                   choices=["debug", "info", "warning", "error"])
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, func: object) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(func=func)
        return sp

    add("init", "write a starter config (never overwrites)", cmd_init)
    s = add("sync", "pull all accounts, update touchpoints, write reminders", cmd_sync)
    s.add_argument("--account", help="pull only this account")
    s.add_argument("--no-write", action="store_true", help="do not touch the calendar")
    s.add_argument("--accept-shrink", action="append", default=[], metavar="ACCOUNT",
                   help="this once, believe a calendar that lost most of its meetings at "
                        "once (keepwarm refuses it otherwise)")
    for name, text, func in (("lapsed", "who is overdue, most overdue first", cmd_lapsed),
                             ("contacts", "every contact and its cadence", cmd_contacts)):
        sp = add(name, text, func)
        sp.add_argument("--as-of", metavar="YYYY-MM-DD")
        sp.add_argument("--json", action="store_true")
    s = add("show", "one contact's timeline, and why it is (not) due", cmd_show)
    s.add_argument("address")
    s.add_argument("--as-of", metavar="YYYY-MM-DD")
    s = add("plan", "what sync would change in the reminders calendar", cmd_plan)
    s.add_argument("--as-of", metavar="YYYY-MM-DD")
    s = add("status", "accounts, last syncs, errors", cmd_status)
    s.add_argument("--skipped", action="store_true",
                   help="list every item a source could not read, with the reason")
    s = add("run", "keep polling and keep reminders right, until stopped", cmd_run)
    s = add("service", "install keepwarm as a systemd user service", cmd_service)
    s.add_argument("action", choices=["install"])
    s = add("auth", "sign in to an account (Google, Microsoft)", cmd_auth)
    s.add_argument("name", help="the account's name in the config")
    s.add_argument("--no-browser", action="store_true",
                   help="print the sign-in URL instead of opening a browser")
    add("demo", "run the real pipeline on bundled sample data", cmd_demo)
    s = add("cadence", "set a contact's interval (e.g. 30d), or 'default'", _steer)
    s.add_argument("address")
    s.add_argument("every")
    for name in ("tag", "untag"):
        s = add(name, f"{name} a contact (used by [[cadence.rules]] match='tag:NAME')", _steer)
        s.add_argument("address")
        s.add_argument("tags", nargs="+")
    s = add("snooze", "no reminder for a while (e.g. 2w), or 'off'", _steer)
    s.add_argument("address")
    s.add_argument("duration")
    for name, text in (("ignore", "never track this contact"), ("unignore", "track it again")):
        add(name, text, _steer).add_argument("address")
    s = add("merge", "one person, several addresses: OTHER joins ADDRESS's contact", _steer)
    s.add_argument("address")
    s.add_argument("other")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logsetup.setup(args.log_level)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        for line in exc.problems:
            complain(line)
        return exc.exit_code
    except KeepwarmError as exc:
        complain(f"keepwarm: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except store_faults as exc:  # SQLite found damage in the middle of a command
        fault = store_fault(exc, getattr(args, "store_path", Path("the store")))
        complain(f"keepwarm: {fault}")
        return fault.exit_code


if __name__ == "__main__":
    sys.exit(main())
