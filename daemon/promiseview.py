"""How promises are shown: `keepwarm promises` (a table, tab-separated lines, or JSON),
the lines under a person in `show`, and the count of notes in `status`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, tzinfo
from typing import Any

from daemon.model import PromiseNote, PromiseStatus
from daemon.promisestate import Promised
from daemon.tables import Column, Grid
from daemon.words import plural


def as_json(s: PromiseStatus) -> dict[str, Any]:
    """One promise as `promises --json` has it (the README lists the keys)."""
    p = s.promise
    return {"email": p.email, "name": p.name, "due": p.due.isoformat(), "note": p.note,
            "source": p.source, "message_id": p.message_id or None, "state": s.state}


def _state(s: PromiseStatus) -> str:
    if s.state == "open":
        return "overdue" if s.overdue else "open"
    return f"{s.state}: {s.why}" if s.why else s.state


def grid(items: Sequence[PromiseStatus], today: date, states: bool) -> Grid:
    """The promises by day; ``states`` adds how each stands (open, overdue, kept, dropped)."""
    c = Column
    g = Grid(f"Your promises as of {today}", (
        c("Due"), c("Name", fold=True), c("Email"), c("Source", drop=2),
        c("Note", fold=True), c("Message-ID", drop=1, key="message_id"),
        *([c("State", fold=True)] if states else [])))
    for s in items:
        p = s.promise
        g.add(p.due.isoformat(), p.name, p.email, p.source, p.note, p.message_id,
              *([_state(s)] if states else []), style="red" if s.overdue else "")
    return g


def line(s: PromiseStatus, tz: tzinfo) -> str:
    """One promise under a person in `show`."""
    p = s.promise
    what = f' "{p.note}"' if p.note else ""
    made = p.made.astimezone(tz).date().isoformat()
    head = f"promised{what} for {p.due.isoformat()} ({p.source}, {made}): "
    return head + (_state(s) if s.state != "open" or s.overdue else "open")


def note_line(n: PromiseNote, tz: tzinfo) -> str:
    """A promise that names no day, under a person in `show` or after `promises --all`."""
    return (f"promise note ({n.at.astimezone(tz).date().isoformat()}, <{n.message_id}>): "
            f"{n.text}: {n.problem}")


def person_lines(promised: Promised, tz: tzinfo) -> list[str]:
    """A person's promises (all of them, kept and dropped too) and notes, for `show`."""
    return ([line(s, tz) for s in promised.statuses]
            + [note_line(n, tz) for n in promised.notes])


def notes_summary(count: int) -> str | None:
    """The line `status` says of the notes, or None when there are none."""
    if not count:
        return None
    return (f"{plural(count, 'promise note')}, with no reminder (a tag naming no day, or a "
            "promise with no time): `keepwarm promises --all`")
