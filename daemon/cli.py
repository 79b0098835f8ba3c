"""keepwarm reads the headers of your mail, the meetings in your calendars and your address
books, and puts reminders into your own calendar: when someone is due, when a message of
yours got no reply, for a promise you made, and for birthdays.

Exit codes: 0 fine, 1 an account or calendar failed, 2 bad config or usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from daemon import (
    awaitcmds,
    birthdaycmds,
    exportcmds,
    logsetup,
    notecmds,
    promisecmds,
    referralcmds,
    render,
    reportcmds,
    runtime,
    service,
    shellaids,
    steercmds,
    sync,
    viewcmds,
)
from daemon.cmdbase import Add, config_path, open_all
from daemon.config import Config, load, permission_warnings
from daemon.errors import ConfigError, KeepwarmError, UsageError
from daemon.lock import InstanceLock
from daemon.sqlbase import FAULTS as store_faults
from daemon.sqlbase import fault as store_fault
from daemon.store import Store
from daemon.terminal import complain, err, hang_up, out, say
from daemon.words import plural

log = logging.getLogger("keepwarm")


def cmd_init(args: argparse.Namespace) -> int:
    path = config_path(args)
    if path.exists():
        complain(f"{path} already exists; keepwarm never overwrites a config. Edit it instead.")
        return 1
    service.write_starter(path)
    say(f"Wrote {path}. Add your accounts, then run `keepwarm sync`.")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    cfg, store = open_all(args, repair=True)
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
        complain(f"interrupted: {plural(store.counts()['messages'], 'message')} stored; the next "
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


def cmd_demo(args: argparse.Namespace) -> int:
    from daemon.demo import run_demo

    return run_demo(out)


def cmd_completion(args: argparse.Namespace) -> int:
    _write_utf8(shellaids.completion(parser(), args.shell))
    return 0


def cmd_manpage(args: argparse.Namespace) -> int:
    _write_utf8(shellaids.manpage(parser(), SUMMARY))
    return 0


def _write_utf8(text: str) -> None:
    """A script or a page goes to a file or a program (a shell, man), never to be shown as
    is: UTF-8 whatever the locale, so an ASCII-only one (cron, LC_ALL=POSIX) cannot fail."""
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


SUMMARY = "follow-up reminders in your calendar from your sent mail and meetings"


class Parser(argparse.ArgumentParser):
    """argparse with git's courtesy: a mistyped command or choice names the closest one."""

    def error(self, message: str) -> NoReturn:
        found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if found:
            choices = [c.strip("'") for c in found.group(2).split(", ")]  # quoted before 3.12.8
            close = difflib.get_close_matches(found.group(1), choices, n=1)
            if close:
                message = (f"{found.group(1)!r} is not a choice here; did you mean "
                           f"{close[0]!r}? (`{self.prog} --help` lists them)")
        super().error(message)


def parser() -> argparse.ArgumentParser:
    """The whole command line; completion scripts and the man page are made from it too."""
    p = Parser(prog="keepwarm", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action=shellaids.VersionAction,
                   help="print keepwarm's version and exit")
    p.add_argument("--config", metavar=shellaids.FILE_METAVAR,
                   help="the config file (default: $KEEPWARM_CONFIG, else "
                        "$XDG_CONFIG_HOME/keepwarm/config.toml)")
    p.add_argument("--log-level", default="warning",
                   choices=["debug", "info", "warning", "error"],
                   help="how much keepwarm logs on stderr (default: warning)")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND",
                           help="what to do; `keepwarm COMMAND --help` tells more")

    def add(name: str, help_text: str,
            func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(func=func)
        return sp

    _register(add)
    viewcmds.register(add)
    steercmds.register(add)
    awaitcmds.register(add)
    promisecmds.register(add)
    notecmds.register(add)
    referralcmds.register(add)
    birthdaycmds.register(add)
    reportcmds.register(add)
    exportcmds.register(add)
    s = add("completion", "print the shell completion script for bash, zsh or fish",
            cmd_completion)
    s.add_argument("shell", choices=shellaids.SHELLS,
                   help="the shell to complete in, e.g. `source <(keepwarm completion bash)`")
    add("manpage", "print keepwarm's man page (roff), e.g. `keepwarm manpage | man -l -`",
        cmd_manpage)
    return p


def _register(add: Add) -> None:
    """The commands that set keepwarm up and run it."""
    add("init", "write a starter config (never overwrites)", cmd_init)
    s = add("sync", "pull all accounts, update touchpoints, write reminders", cmd_sync)
    s.add_argument("--account", help="pull only this account")
    s.add_argument("--no-write", action="store_true", help="do not touch the calendar")
    s.add_argument("--accept-shrink", action="append", default=[], metavar="ACCOUNT",
                   help="this once, believe a calendar that lost most of its meetings, or "
                        "an address book most of its cards, at once (refused otherwise)")
    s = add("run", "keep polling and keep reminders right, until stopped", cmd_run)
    s = add("service", "install keepwarm as a systemd user service", cmd_service)
    s.add_argument("action", choices=["install"],
                   help="install: write the systemd user unit for this installation and config")
    s = add("auth", "sign in to an account (Google, Microsoft)", cmd_auth)
    s.add_argument("name", help="the account's name in the config")
    s.add_argument("--no-browser", action="store_true",
                   help="print the sign-in URL instead of opening a browser")
    add("demo", "run the real pipeline on bundled sample data", cmd_demo)


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
    except BrokenPipeError:  # the reader of a pipe has all it wants
        hang_up()
        return 141
    except store_faults as exc:  # SQLite found damage in the middle of a command
        fault = store_fault(exc, getattr(args, "store_path", Path("the store")))
        complain(f"keepwarm: {fault}")
        return fault.exit_code


if __name__ == "__main__":
    sys.exit(main())
