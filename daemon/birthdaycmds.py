"""`keepwarm birthdays`: the birthdays and anniversaries coming up, from the address books.

It lists what the address books say, whether or not `[birthdays]` writes reminders of it
(a look, like `khal list`, changes nothing); people the user ignores are left out, as in
the calendar. A birthday written as words is never guessed into a date: `show` has it.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from typing import Any

from connectors import registry
from daemon import birthdays
from daemon.birthdays import Occurrence
from daemon.cmdbase import Add, as_of, days, open_all
from daemon.config import Config
from daemon.errors import UsageError
from daemon.tables import Column, Grid
from daemon.terminal import emit_json, say, show
from daemon.viewcmds import AS_OF_HELP, JSON_HELP

LONGEST = 3660  # days: --days beyond ten years is a typo


def cmd_birthdays(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    today = as_of(args, cfg).date()
    end = today + timedelta(days=ahead(args.days))
    items = birthdays.upcoming(store.card_people(cfg.settings.own_addresses), today, end)
    if args.json:
        emit_json([as_json(o) for o in items])
    elif items:
        show(grid(items, today, end))
    elif not reads_address_book(cfg):
        say("No account reads an address book: add a carddav or vcf account, or "
            "contacts = true to a gmail or outlook account, then `keepwarm sync`.")
    else:
        say(f"No birthday or anniversary from {today} to {end}.")
    return 0


def ahead(text: str) -> int:
    """``--days``: a number of days (0: today only) or a duration like ``2w``."""
    n = int(text) if text.strip().isdigit() else days(text)
    if n > LONGEST:
        raise UsageError(f"--days {text}: at most {LONGEST} days (ten years)")
    return n


def reads_address_book(cfg: Config) -> bool:
    return any(registry.connector_class(a.type).reads_cards(a.options) for a in cfg.accounts)


def as_json(o: Occurrence) -> dict[str, Any]:
    """One occurrence as `birthdays --json` has it (the README lists the keys)."""
    p = o.person
    return {"email": p.emails[0] if p.emails else None, "name": o.name, "kind": o.kind,
            "date": o.day.isoformat(), "years": o.years, "source": p.source}


def grid(items: list[Occurrence], today: date, end: date) -> Grid:
    c = Column
    g = Grid(f"Birthdays and anniversaries from {today} to {end}", (
        c("Date"), c("Kind"), c("Name", fold=True), c("Email", drop=2),
        c("Years", drop=3, right=True), c("Source", drop=1)))
    for o in items:
        p = o.person
        g.add(o.day.isoformat(), o.kind, o.name, p.emails[0] if p.emails else "",
              "" if o.years is None else str(o.years), p.source)
    return g


def register(add: Add) -> None:
    s = add("birthdays", "upcoming birthdays and anniversaries from your address books",
            cmd_birthdays)
    s.add_argument("--days", default="30", metavar="N",
                   help="how many days ahead to look: a number (0: today only) or a "
                        "duration like 2w (default: 30)")
    s.add_argument("--as-of", metavar="YYYY-MM-DD", help=AS_OF_HELP)
    s.add_argument("--json", action="store_true", help=JSON_HELP)
