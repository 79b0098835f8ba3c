"""`keepwarm awaiting` (the user's messages waiting for a reply, by next follow-up) and
`keepwarm done` (stop waiting on a person's threads, or on one message). Waiting is worked
out from the stored mail each time; `done` is the one thing the user adds, kept in the store
and the steering file like the other steering."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime

from daemon import book, promisestate, render, steering, sync
from daemon.cmdbase import Add, as_of, open_all
from daemon.errors import UsageError
from daemon.model import Awaiting, PromiseStatus
from daemon.store import Store
from daemon.terminal import complain, emit_json, say, show
from daemon.viewcmds import AS_OF_HELP, JSON_HELP
from daemon.words import plural


def cmd_awaiting(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    now = as_of(args, cfg)
    tz = cfg.settings.tz
    off = sync.followups_off(cfg, store)
    items = [a for a in sync.awaiting(cfg, store, now) if args.all or a.state == "waiting"]
    if args.json:
        emit_json([render.awaiting_json(a, now.date(), tz) for a in items])
        if off:
            complain(f"follow-ups: {off}")
    elif off:
        say(f"follow-ups: {off}")
    elif not items:
        say(f"No message of yours is waiting for a reply as of {now.date()}"
            + ("." if args.all else " (`--all` adds the threads gone quiet)."))
    else:
        show(render.awaiting_grid(items, now.date(), tz, states=args.all))
    return 0


def _open_threads(items: Sequence[Awaiting], target: str, contact: str | None
                  ) -> list[Awaiting]:
    return [a for a in items if target in a.recipients or (contact and a.contact == contact)]


def _of_person(store: Store, text: str, message: str, items: Sequence[Awaiting],
               promised: Sequence[PromiseStatus]) -> tuple[list[Awaiting], list[PromiseStatus]]:
    """The open threads and promises with the person ``text`` names; a one-line UsageError
    when it is neither a known address nor a Message-ID."""
    try:
        email = book.resolve(store, text)
    except UsageError:
        if message == text:  # no <>: a name, or half an address; resolve's answer fits
            raise
        raise UsageError(f"no message waiting for a reply or promising has the Message-ID "
                         f"{text}; `keepwarm awaiting --all` and `keepwarm promises` list "
                         "them") from None
    contact = store.contact_of(email)
    mine = [s for s in promised if s.promise.email == email
            or (contact and s.promise.contact == contact)]
    threads = _open_threads(items, email, contact)
    if not threads and not mine and not store.knows(email):
        close = book.suggestions(store, email)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UsageError(f"{email} is in no message keepwarm has seen, nor the Message-ID "
                         f"of one waiting for a reply or promising (`keepwarm awaiting "
                         f"--all`, `keepwarm promises`){hint}")
    return threads, mine


def cmd_done(args: argparse.Namespace) -> int:
    """Mark one message's row and promises, or every open thread and promise with a
    person, as done."""
    cfg, store = open_all(args)
    now = datetime.now(cfg.settings.tz)
    off = sync.followups_off(cfg, store)
    items = sync.awaiting(cfg, store, now)
    promised = promisestate.judged(store, cfg.settings, now).open()
    if off and not promised:
        raise UsageError(f"nothing waits for a reply, and no promise is open: follow-ups "
                         f"are {off}")
    text = args.target.strip()
    message = text[1:-1].strip() if text[:1] == "<" and text[-1:] == ">" else text
    threads = [a for a in items if message in a.message_ids]
    mine = [s for s in promised if message in (s.promise.message_id, s.promise.key)]
    if not threads and not mine:
        threads, mine = _of_person(store, text, message, items, promised)
    if not threads and not mine:
        say(f"{book.normalise(text)}: no thread with them is waiting for a reply, and no "
            "promise to them is open; nothing to do.")
        return 0
    store.mark_followup_done([i for a in threads for i in a.message_ids]
                             + [s.promise.key for s in mine], now)
    steering.save(store)
    if threads:
        say(f"No longer waiting for a reply to {_subjects(threads)}.")
    for s in mine:
        say(f"Done: your promise to {s.promise.name} for {s.promise.due.isoformat()}"
            + (f' ("{s.promise.note}")' if s.promise.note else "") + ".")
    say("Takes effect at the next `keepwarm sync`.")
    return 0


def _subjects(threads: Sequence[Awaiting]) -> str:
    subjects = ", ".join(f'"{a.subject}"' if a.subject else "(no subject)" for a in threads)
    who = threads[0].name if len({a.email for a in threads}) == 1 else "them"
    return f"{subjects} ({plural(len(threads), 'thread')} with {who})"


def register(add: Add) -> None:
    s = add("awaiting", "your messages waiting for a reply, by next follow-up", cmd_awaiting)
    s.add_argument("--all", action="store_true",
                   help="also the threads gone quiet (no follow-up step left)")
    s.add_argument("--as-of", metavar="YYYY-MM-DD", help=AS_OF_HELP)
    s.add_argument("--json", action="store_true", help=JSON_HELP)
    s = add("done", "stop waiting for a reply, or close a promise: of a person, or of one "
                    "message", cmd_done)
    s.add_argument("target", metavar="ADDRESS|MESSAGE-ID",
                   help="a person's address (every open thread and promise with them), or "
                        "the Message-ID of one of your messages waiting for a reply or "
                        "promising")
