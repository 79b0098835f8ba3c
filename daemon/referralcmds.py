"""`keepwarm referred ADDRESS --by SOURCE` (who referred whom, and when) and `keepwarm
referrals` (each source with the people they referred). A referral is the user's word:
the store and the steering file keep it, by the two addresses given. The source gets
the tag ``referral-source``, a tag like any other (cadence rules match it, `untag`
removes it and the referral stays); its thank-you reminder is ``daemon.thanks``'s."""

from __future__ import annotations

import argparse
from datetime import date, datetime

from daemon import book, noteview, steering, tables
from daemon.cmdbase import Add, open_all
from daemon.errors import UsageError
from daemon.model import Referral
from daemon.terminal import emit_json, say, show
from daemon.viewcmds import JSON_HELP

REFERRAL_SOURCE = "referral-source"  # the tag a source gets


def _day(text: str | None, today: date) -> date:
    """--date: a day like 2026-11-02, not after today (default: today)."""
    if text is None:
        return today
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--date {text!r} is not a date like 2026-11-02") from None
    if day > today:
        raise UsageError(f"--date {day} is after today ({today}): give the day they were "
                         "referred")
    return day


def cmd_referred(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    person, source = book.resolve(store, args.address), book.resolve(store, args.by)
    day = _day(args.date, datetime.now(cfg.settings.tz).date())
    if person == source:
        raise UsageError(f"{person} cannot have referred themselves: --by names the person "
                         "who referred them")
    own = cfg.settings.own_addresses | store.aliases()
    for one in (person, source):
        if one in own:
            raise UsageError(f"{one} is one of your own addresses: a referral is between "
                             "two other people")
    again = any((r.source, r.referred) == (source, person) for r in store.referrals())
    with store.transaction():
        referred_key = book.contact_of(store, person, create=args.force)
        key = book.contact_of(store, source, create=args.force)
        if key == referred_key:
            raise UsageError(f"{source} and {person} are one person ({key}): --by names "
                             "someone else")
        store.tag(key, [REFERRAL_SOURCE], True)
        store.put_referral(Referral(source, person, day, not args.no_thanks))
    steering.save(store)
    say(f"{person}: {'now ' if again else ''}referred by {source} on {day}; {key} is "
        f"tagged {REFERRAL_SOURCE}."
        + ("" if args.no_thanks else f" A reminder to thank {source} comes at the next "
                                     "`keepwarm sync`."), wrap=True)
    return 0


def cmd_referrals(args: argparse.Namespace) -> int:
    """Each source with whom they referred; most referrals first, then by name."""
    _, store = open_all(args)
    sources = noteview.by_source(store.referrals(), book.who(store))
    if args.json:
        emit_json(sources)
        return 0
    if not sources:
        say("No referral recorded yet: `keepwarm referred ADDRESS --by SOURCE` records one.")
        return 0
    grid = tables.Grid("Who referred whom", [
        tables.Column("Source", fold=True), tables.Column("Source email", drop=2),
        tables.Column("Referred", fold=True), tables.Column("Email", drop=1),
        tables.Column("Date")])
    for s in sources:
        for p in s["referred"]:
            grid.add(s["name"], s["source"], p["name"], p["email"], p["date"])
    show(grid)
    return 0


def register(add: Add) -> None:
    s = add("referred", "record that SOURCE referred ADDRESS to you (tags the source "
                        "referral-source; a reminder to thank them)", cmd_referred)
    s.add_argument("address", help="the person referred, as pasted (Name <addr>, <addr>, "
                                   "mailto:addr)")
    s.add_argument("--by", required=True, metavar="SOURCE",
                   help="who referred them, as pasted")
    s.add_argument("--no-thanks", action="store_true",
                   help="no reminder to thank the source for this one")
    s.add_argument("--date", metavar="YYYY-MM-DD",
                   help="the day they were referred (default: today)")
    s.add_argument("--force", action="store_true",
                   help="accept an address keepwarm has never seen (refused otherwise, as "
                        "a likely typo)")
    s = add("referrals", "each referral source with the people they referred, most "
                         "referrals first", cmd_referrals)
    s.add_argument("--json", action="store_true", help=JSON_HELP)
