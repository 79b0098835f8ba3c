"""The commands that steer: cadence, tag, untag, snooze, ignore, unignore, merge, unmerge,
and `steering`, which lists what they set. Each change is saved in the store and the
steering file, and takes effect at the next sync."""

from __future__ import annotations

import argparse
import re
from datetime import date, datetime, timedelta

from daemon import book, cmdbase, steering, tables
from daemon.cmdbase import Add, open_all
from daemon.config import Config
from daemon.errors import UsageError
from daemon.store import Store
from daemon.terminal import emit_json, say, show
from daemon.words import plural

MAX_DAYS = 3653  # ten years: anything longer is a slip (years for days), never a plan
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _days(text: str) -> int:
    """A duration argument in days, at most ten years."""
    days = cmdbase.days(text)
    if days > MAX_DAYS:
        raise UsageError(f"{text!r} is more than ten years; to never be reminded of someone, "
                         "use `keepwarm ignore`")
    return days


def snooze_until(text: str, today: date) -> date | None:
    """``off`` (None), a date like 2027-01-15, or a duration from today; the day must lie
    ahead, and within ten years."""
    if text.strip().lower() == "off":
        return None
    if _DATE.match(text.strip()):
        try:
            until = date.fromisoformat(text.strip())
        except ValueError:
            raise UsageError(f"{text!r} is not a date of the calendar") from None
        if until <= today:
            raise UsageError(f"{until} is not after today ({today}): snooze until a later "
                             "day, or `off`")
        if (until - today).days > MAX_DAYS:
            raise UsageError(f"{until} is more than ten years ahead; to never be reminded of "
                             "someone, use `keepwarm ignore`")
        return until
    if not text.strip() or not text.strip()[0].isdigit():
        raise UsageError(f"{text!r} is not a duration like '2w', a date like 2027-01-15, "
                         "or 'off'")
    return today + timedelta(days=_days(text))


def _change(args: argparse.Namespace, cfg: Config, store: Store) -> str:
    """Apply one steering command; what it did, in words starting with the contact."""
    addr, force = args.address, args.force
    own = cfg.settings.own_addresses | store.aliases()
    if args.cmd == "cadence":
        days = None if args.every == "default" else _days(args.every)
        key = book.set_cadence(store, addr, days, force)
        every = "the default cadence" if days is None else f"every {plural(days, 'day')}"
        return f"{key}: {every}"
    if args.cmd in ("tag", "untag"):
        key = book.set_tags(store, addr, args.tags, args.cmd == "tag", force)
        return f"{key}: {args.cmd}ged {' '.join(args.tags)}"
    if args.cmd == "snooze":
        until = snooze_until(args.until, datetime.now(cfg.settings.tz).date())
        key = book.snooze(store, addr, until, force)
        return f"{key}: {f'snoozed until {until}' if until else 'no longer snoozed'}"
    if args.cmd in ("ignore", "unignore"):
        key = book.set_ignored(store, addr, args.cmd == "ignore", own, force)
        return f"{key}: {'ignored' if args.cmd == 'ignore' else 'tracked again'}"
    if args.cmd == "unmerge":
        left = book.unmerge(store, addr, force)
        return f"{book.normalise(addr)}: a contact of its own again, no longer part of {left}"
    key, changed = book.merge(store, addr, args.other, own, force)
    other = book.normalise(args.other)
    return f"{key}: {'now also owns' if changed else 'already owns'} {other}"


def _steer(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    say(f"{_change(args, cfg, store)}. Takes effect at the next `keepwarm sync`.")
    return 0


def _list(args: argparse.Namespace) -> int:
    """`keepwarm steering`: aligned columns on a terminal; tab-separated lines with a
    header otherwise, for cut and awk; or JSON."""
    config, store = open_all(args)
    current = store.steering()
    if args.json:
        emit_json(steering.as_json(current))
        return 0
    rows = steering.lines(current, config.settings.tz)
    if not rows:
        say("Nothing steered yet: keepwarm follows the config's cadences for everyone.")
        return 0
    grid = tables.Grid("What you set", [tables.Column("Contact"), tables.Column("Setting"),
                                        tables.Column("Value", fold=True)])
    for row in rows:
        grid.add(*row)
    show(grid)
    return 0


def register(add: Add) -> None:
    def steer(name: str, text: str) -> argparse.ArgumentParser:
        s = add(name, text, _steer)
        s.add_argument("--force", action="store_true",
                       help="steer an address keepwarm has never seen (refused otherwise, "
                            "as a likely typo)")
        s.add_argument("address", help="any of the contact's addresses, as pasted "
                                       "(Name <addr>, <addr>, mailto:addr)")
        # argparse takes `-3d` for an option and answers with its usage; as a value it gets
        # the one-line refusal that says what is accepted
        s._negative_number_matcher = re.compile(r"^-\d")
        return s

    steer("cadence", "set a contact's interval (e.g. 30d), or 'default'").add_argument(
        "every", help="a duration like 30d, 6w or 1y (at most ten years), or 'default'")
    for name in ("tag", "untag"):
        steer(name, f"{name} a contact (used by [[cadence.rules]] match='tag:NAME')"
              ).add_argument("tags", nargs="+", metavar="TAG", help="one or more tag names")
    steer("snooze", "no reminder until then: a duration (2w), a date (2027-01-15), or 'off'"
          ).add_argument("until", metavar="until",
                         help="how long (2w, 3d), until which day (2027-01-15), or 'off'")
    steer("ignore", "never track this contact")
    steer("unignore", "track it again")
    steer("merge", "one person, several addresses: OTHER joins ADDRESS's contact").add_argument(
        "other", help="the address to join ADDRESS's contact (as pasted)")
    steer("unmerge", "undo a merge: ADDRESS becomes a contact of its own again")
    s = add("steering", "list every cadence, tag, snooze, ignore, merge, dismissed "
                        "reminder, follow-up marked done, note and referral you set", _list)
    s.add_argument("--json", action="store_true", help="print JSON (keys in the README)")
