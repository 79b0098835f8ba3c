"""The kinds of reminder keepwarm writes, each a pure function from what it knows to the
``Wish``es the planner places: ``cadence`` (a contact is due) and ``notice`` (keepwarm's
own messages to the user, e.g. an account that needs signing in again).

A kind decides what a reminder says, which due date (cycle) it belongs to and where it may
go; the planner decides where it does go, under one budget for all kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from daemon.model import CADENCE, NOTICE, ReminderId, ReminderRecord, Status, Wish
from daemon.words import plural


def cadence_id(contact: str) -> ReminderId:
    return ReminderId(CADENCE, contact)


def signin_id(account: str) -> ReminderId:
    return ReminderId(NOTICE, "", f"signin:{account}")


def describe(s: Status) -> tuple[str, str]:
    """Title and description of a follow-up; nothing relative to today, so an unchanged
    contact's event never needs rewriting."""
    f = s.facts
    channel = "a meeting" if f.last_channel == "meeting" else "e-mail"
    lines = [
        f"Last touch: {s.last_date.isoformat()} by {channel}",
        f"Cadence: every {plural(s.interval_days, 'day')} ({s.interval_source})",
        f"Due: {s.due.isoformat()}",
        f"Addresses: {', '.join(f.emails)}",
        "",
        "Created by keepwarm. It moves or removes this event as soon as you get in touch.",
        f"Why: keepwarm show {f.key}",
    ]
    return f"Follow up: {f.name}", "\n".join(lines)


def cadence(statuses: Iterable[Status]) -> list[Wish]:
    """A follow-up for every tracked contact, from its due date on (the planner leaves out
    those it finds no room for within the horizon)."""
    return [Wish(cadence_id(s.facts.key), s.due, *describe(s), earliest=s.due,
                 name=s.facts.name)
            for s in statuses if s.tracked]


def signin_notices(accounts: Iterable[str], records: Mapping[ReminderId, ReminderRecord],
                   as_of: date) -> list[Wish]:
    """A calendar notice per account that needs signing in again: expired sign-ins are how
    tools like this die silently, so keepwarm says it where the user looks every day. Its
    cycle starts the day it was first raised; it takes no follow-up's room."""
    out = []
    for name in accounts:
        rid = signin_id(name)
        due = records[rid].due if rid in records else as_of
        out.append(Wish(
            rid, due, f"keepwarm: sign in to {name} again",
            f"keepwarm cannot read the account {name!r} until you sign in again.\n"
            f"Run: keepwarm auth {name}\n\nkeepwarm removes this event once you have.",
            earliest=as_of, budgeted=False, name=name))
    return out
