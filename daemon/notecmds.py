"""`keepwarm note ADDRESS TEXT` (a dated note on someone), `keepwarm note --delete ADDRESS
N` and `keepwarm notes ADDRESS` (a person's notes, numbered oldest first). Notes are the
user's words: the store and the steering file keep them, by the address given, and a
person's notes are those of all of their addresses (``daemon.notestore``)."""

from __future__ import annotations

import argparse
from datetime import datetime

from daemon import book, noteview, steering, tables
from daemon.cmdbase import Add, open_all
from daemon.config import Config
from daemon.errors import UsageError
from daemon.model import Note
from daemon.store import Store
from daemon.terminal import emit_json, say, show
from daemon.viewcmds import JSON_HELP
from daemon.words import plural


def _notes_of(store: Store, email: str) -> tuple[str, list[Note]]:
    """The key of the contact holding ``email`` and its notes, oldest first, from all of
    its addresses."""
    return store.contact_of(email) or email, store.notes(book.addresses(store, email))


def _not_own(cfg: Config, store: Store, email: str) -> None:
    if email in cfg.settings.own_addresses or email in store.aliases():
        raise UsageError(f"{email} is one of your own addresses: a note is about someone "
                         "else")


def cmd_note(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    email = book.resolve(store, args.address)
    _not_own(cfg, store, email)
    if args.delete:
        return _delete(store, email, args.text)
    text = " ".join(args.text).strip()
    if not text:
        raise UsageError(f'a note needs its text: keepwarm note {email} "what to remember"')
    with store.transaction():
        book.contact_of(store, email, create=args.force)
        store.add_note(Note(email, datetime.now(cfg.settings.tz), text))
    steering.save(store)
    _, notes = _notes_of(store, email)
    say(f"{email}: note {len(notes)} added. `keepwarm notes {email}` lists "
        f"{'it' if len(notes) == 1 else 'them'}.", wrap=True)
    return 0


def _delete(store: Store, email: str, words: list[str]) -> int:
    """`keepwarm note --delete ADDRESS N`: the N-th of `keepwarm notes ADDRESS`."""
    key, notes = _notes_of(store, email)
    if not notes:
        raise UsageError(f"{key} has no notes: nothing to delete")
    number = words[0] if len(words) == 1 else ""
    if not number.isdigit() or not 1 <= int(number) <= len(notes):
        span = "1" if len(notes) == 1 else f"a number from 1 to {len(notes)}"
        raise UsageError(f"--delete takes the number of the note: {span} (`keepwarm notes "
                         f"{email}` numbers them), not {' '.join(words) or 'nothing'}")
    store.delete_note(notes[int(number) - 1])
    steering.save(store)
    say(f"{key}: note {number} deleted; {plural(len(notes) - 1, 'note')} left.")
    return 0


def cmd_notes(args: argparse.Namespace) -> int:
    """`keepwarm notes ADDRESS`: numbered, oldest first (the numbers `--delete` takes)."""
    cfg, store = open_all(args)
    email = book.resolve(store, args.address)
    key, notes = _notes_of(store, email)
    if args.json:
        emit_json(noteview.notes_json(notes, cfg.settings.tz))
        return 0
    if not notes:
        known = store.knows(email) or store.contact_of(email) is not None
        say(f"No notes on {key} yet: `keepwarm note {email} \"text\"` adds one."
            if known else book.never_seen(store, email))
        return 0
    grid = tables.Grid(f"Notes on {key}", [tables.Column("#", right=True, key="n"),
                                            tables.Column("Date"),
                                            tables.Column("Text", fold=True)])
    for i, n in enumerate(notes, 1):
        grid.add(str(i), noteview.day(n, cfg.settings.tz), n.text)
    show(grid)
    return 0


def register(add: Add) -> None:
    s = add("note", "add a dated note on a person (shown by `show`, carried by their "
                    "reminders), or --delete one", cmd_note)
    s.add_argument("--force", action="store_true",
                   help="note an address keepwarm has never seen (refused otherwise, as a "
                        "likely typo)")
    s.add_argument("--delete", action="store_true",
                   help="delete the note numbered N (the number `keepwarm notes` shows) "
                        "instead of adding one")
    s.add_argument("address", help="any of the person's addresses, as pasted (Name <addr>, "
                                   "<addr>, mailto:addr)")
    s.add_argument("text", nargs="*", metavar="TEXT",
                   help="the note (the rest of the line); with --delete, the number N")
    s = add("notes", "a person's notes, numbered, oldest first", cmd_notes)
    s.add_argument("address", help="any of the person's addresses, as pasted (Name <addr>, "
                                   "<addr>, mailto:addr)")
    s.add_argument("--json", action="store_true", help=JSON_HELP)
