"""`keepwarm remind ADDRESS WHEN [NOTE]` (a promise made by hand) and `keepwarm promises`
(every promise, by day). A manual promise is the user's word, kept in the store and the
steering file like the other steering; the others are read from the stored mail each time.
`keepwarm done` (daemon.awaitcmds) closes them."""

from __future__ import annotations

import argparse
import re
from datetime import datetime

from daemon import book, promises, promisestate, promiseview, steering, when
from daemon.birthdays import DAYS
from daemon.cmdbase import Add, as_of, open_all
from daemon.errors import UsageError
from daemon.terminal import emit_json, say, show
from daemon.viewcmds import AS_OF_HELP, JSON_HELP


def cmd_remind(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    email = book.resolve(store, args.address)
    if email in cfg.settings.own_addresses or email in store.aliases():
        raise UsageError(f"{email} is one of your own addresses: a promise is made to "
                         "someone else")
    if not args.force and not store.knows(email):
        raise UsageError(f"{book.never_seen(store, email)} Check the address, or add "
                         "--force to promise it anyway.")
    now = datetime.now(cfg.settings.tz)
    note = " ".join(args.note).strip()
    try:
        p = promises.manual(email, "", args.when, note, now, cfg.settings)
    except ValueError as exc:
        raise UsageError(f"WHEN: {exc}") from None
    store.add_manual_promise(p)
    steering.save(store)
    words = when.in_words(args.when)
    say(f"{email}: promised for {DAYS[p.due.weekday()][:3]} {p.due.isoformat()}"
        + (f" ({words})" if words != p.due.isoformat() else "")
        + (f': "{note}"' if note else "")
        + ". The reminder comes at the next `keepwarm sync`; `keepwarm done "
        f"{email}` closes it.", wrap=True)
    return 0


def cmd_promises(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    now = as_of(args, cfg)
    judged = promisestate.judged(store, cfg.settings, now)
    items = [s for s in judged.statuses if args.all or s.state == "open"]
    if args.json:
        emit_json([promiseview.as_json(s) for s in items])
        return 0
    if not items:
        say(f"No promise of yours is open as of {now.date()}"
            + ("." if args.all else " (`--all` adds the kept and dropped ones)."))
    else:
        show(promiseview.grid(items, now.date(), states=args.all))
    if args.all:
        for n in judged.notes:
            say(promiseview.note_line(n, cfg.settings.tz), wrap=True)
    return 0


def register(add: Add) -> None:
    s = add("remind", "record a promise: you will be in touch with ADDRESS by WHEN",
            cmd_remind)
    s.add_argument("--force", action="store_true",
                   help="promise an address keepwarm has never seen (refused otherwise, as "
                        "a likely typo)")
    s.add_argument("address", help="the person's address, as pasted (Name <addr>, <addr>, "
                                   "mailto:addr)")
    s.add_argument("when", metavar="WHEN",
                   help=f"the day, counted from today: {when.FORMS}")
    s.add_argument("note", nargs="*", metavar="NOTE",
                   help="what you promised, for the reminder's title (the rest of the line)")
    s._negative_number_matcher = re.compile(r"^-\d")  # `-3d` gets the one-line refusal
    s = add("promises", "your promises of the next contact, by day", cmd_promises)
    s.add_argument("--all", action="store_true",
                   help="also the kept and dropped ones, and the notes on promises that "
                        "name no day")
    s.add_argument("--as-of", metavar="YYYY-MM-DD", help=AS_OF_HELP)
    s.add_argument("--json", action="store_true", help=JSON_HELP)
