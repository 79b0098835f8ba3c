"""The commands that steer: cadence, tag, untag, snooze, ignore, unignore, merge. Each is
saved in the store and the steering file, and takes effect at the next sync."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta

from daemon import book, cmdbase
from daemon.cmdbase import Add, open_all
from daemon.terminal import say
from daemon.words import plural


def _steer(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    addr = args.address
    if args.cmd == "cadence":
        days = None if args.every == "default" else cmdbase.days(args.every)
        key = book.set_cadence(store, addr, days)
        what = "the default cadence" if days is None else f"every {plural(days, 'day')}"
    elif args.cmd in ("tag", "untag"):
        key = book.set_tags(store, addr, args.tags, add=args.cmd == "tag")
        what = f"{'tagged' if args.cmd == 'tag' else 'untagged'} {' '.join(args.tags)}"
    elif args.cmd == "snooze":
        until = None if args.duration == "off" else (
            datetime.now(cfg.settings.tz).date() + timedelta(days=cmdbase.days(args.duration)))
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


def register(add: Add) -> None:
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
