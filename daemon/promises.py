"""Promises of the next contact ("you'll hear from me on Tuesday"): which ones the user made,
and whether each is open, kept or dropped.

Pure: messages (headers, and the sentences a connector found where the user opted in),
the user's addresses and the settings go in; ``Promise``s and the ``PromiseNote``s of what
could not be dated come out. ``judge`` then says where each stands from the touchpoints
and the received mail per person. Three sources, from the least intrusive up:

- a plus tag on a sent message: ``me+followup-3d@example.com`` or ``me+kw-tue@...`` in its
  To, Cc or Bcc, where ``me@example.com`` is one of the user's addresses (headers only);
- ``keepwarm remind ADDRESS WHEN [NOTE]`` (``manual``);
- a sentence of the user's own text (``Mail.promises``, found by the connector).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from daemon import inference, when
from daemon.cadence import local_date
from daemon.model import (
    Address,
    Mail,
    Promise,
    PromiseNote,
    PromiseState,
    PromiseStatus,
    Settings,
)
from daemon.words import plural

# local+followup-WHEN@domain or local+kw-WHEN@domain, WHEN optionally ending in -always
_TAG = re.compile(r"(?P<local>[^+@]+)\+(?:followup|kw)(?:-(?P<when>[^@]*))?@(?P<domain>[^@]+)",
                  re.IGNORECASE)
ALWAYS = "-always"


@dataclass(frozen=True, slots=True)
class Tag:
    """A plus tag found in a recipient: the address as written, the day as written
    (without ``-always``), and whether it keeps its reminder whatever happens first."""

    address: str
    when: str
    always: bool


def tag_of(email: str, own: Collection[str]) -> Tag | None:
    """The tag ``email`` carries when it is a plus-address of one of ``own``, else None
    (``me+shop@x`` is the user's, but no tag)."""
    if "+" not in email:  # most addresses: no regex
        return None
    m = _TAG.fullmatch(email.lower())
    if m is None or f"{m['local']}@{m['domain']}" not in own:
        return None
    text = m["when"] or ""
    always = text.endswith(ALWAYS)
    return Tag(email, text[: -len(ALWAYS)] if always else text, always)


def others(mail: Mail, own: Collection[str], ignore: inference.Patterns) -> list[Address]:
    """Who a promise in ``mail`` is to: its recipients but the user (tags included) and
    automated addresses, in To, Cc, Bcc order, each once."""
    found: dict[str, Address] = {}
    for a in mail.recipients:
        if not inference.is_own(a.email, own) and ignore.match(a.email) is None:
            found.setdefault(a.email, a)
    return list(found.values())


def key(message_id: str, n: int) -> str:
    """The reminder key of a message's ``n``-th promise (0: its tags first, then its
    sentences, so a sentence found later never renumbers a tag's)."""
    return message_id if n == 0 else f"{message_id}#{n + 1}"


def from_mail(mail: Mail, own: Collection[str], settings: Settings
              ) -> tuple[list[Promise], list[PromiseNote]]:
    """The promises one message of the user's makes, and notes on the ones it cannot date.
    Mail not from the user (by From: the copy a Bcc tag puts in the inbox is the user's own
    too) makes none."""
    if mail.sender is None or not inference.is_own(mail.sender.email, own):
        return [], []
    tags = [t for t in (tag_of(a.email, own) for a in mail.recipients) if t is not None]
    if not tags and not mail.promises:
        return [], []
    people = others(mail, own, inference.compiled(settings.ignore))
    base = local_date(mail.date, settings.tz)
    made: list[Promise] = []
    notes: list[PromiseNote] = []

    def note(text: str, problem: str) -> None:
        notes.append(PromiseNote(mail.message_id, mail.date, text, problem,
                                 people[0].email if people else ""))

    def promise(due: date, text: str, tag: Tag | None) -> None:
        if not people:
            note(text, "sent to no one but you: no one to follow up with")
            return
        made.append(Promise(
            people[0].email, people[0].name or people[0].email, due, mail.date,
            "tag" if tag else "detected", key(mail.message_id, len(made)),
            mail.message_id, text, tag.when if tag else "", bool(tag and tag.always),
            tuple(a.email for a in people[1:])))

    for tag in tags:
        try:
            due = when.resolve(tag.when, base, settings.working_days)
        except ValueError as e:
            note(tag.address, f"a plus tag that names no day: {e}")
        else:
            promise(due, mail.subject, tag)
    for found in mail.promises:
        if found.due is None:
            note(found.sentence, "a promise that names no time: no reminder")
        else:
            promise(found.due, found.sentence, None)
    return made, notes


def collect(mails: Iterable[Mail], own: Collection[str], settings: Settings
            ) -> tuple[list[Promise], list[PromiseNote]]:
    """Every promise in ``mails`` (one per key: the sent copy and the inbox copy of one
    message are one), by day then key, and every note, oldest first."""
    found: dict[str, Promise] = {}
    notes: dict[tuple[str, str], PromiseNote] = {}
    for mail in mails:
        made, noted = from_mail(mail, own, settings)
        for p in made:
            found.setdefault(p.key, p)
        for n in noted:
            notes.setdefault((n.message_id, n.text), n)
    return (sorted(found.values(), key=lambda p: (p.due, p.key)),
            sorted(notes.values(), key=lambda n: (n.at, n.message_id, n.text)))


def manual(email: str, name: str, text: str, note: str, now: datetime, settings: Settings
           ) -> Promise:
    """What ``keepwarm remind ADDRESS WHEN [NOTE]`` records, counted from today in the
    user's zone; a ValueError naming the forms when WHEN is none of them. Its key is
    stable for what was said and when, so the steering file can hold it."""
    due = when.resolve(text, local_date(now, settings.tz), settings.working_days)
    digest = hashlib.sha1(f"{email}\n{now.isoformat()}\n{note}".encode()).hexdigest()[:12]
    return Promise(email, name or email, due, now, "manual", f"manual-{digest}",
                   note=note, when=text.strip())


def _first(times: Iterable[datetime], after: datetime, now: datetime,
           keep: Callable[[datetime], bool]) -> datetime | None:
    return min((t for t in times if after < t <= now and keep(t)), default=None)


def judge_one(p: Promise, touched: Mapping[str, Sequence[datetime]],
              heard: Mapping[str, Sequence[datetime]], done: Mapping[str, datetime],
              now: datetime, tz: tzinfo) -> PromiseStatus:
    """Where one promise stands; see ``judge``."""
    def day(t: datetime) -> date:
        return local_date(t, tz)

    touches = [t for e in p.people for t in touched.get(e, ())]
    answers = [t for e in p.people for t in heard.get(e, ())]
    ends: list[tuple[datetime, PromiseState, str]] = []
    marked = done.get(p.key) or (done.get(p.message_id) if p.message_id else None)
    if marked is not None and marked <= now:
        ends.append((marked, "kept", "marked done"))
    if t := _first(touches, p.made, now, lambda x: not p.always or day(x) >= p.due):
        late = "" if day(t) <= p.due else f", {plural((day(t) - p.due).days, 'day')} late"
        ends.append((t, "kept", f"in touch on {day(t).isoformat()}{late}"))
    if p.source != "manual" and not p.always and (
            t := _first(answers, p.made, now, lambda x: day(x) < p.due)):
        ends.append((t, "dropped", f"they wrote on {day(t).isoformat()}, before the day"))
    if ends:
        at, state, why = min(ends)
        return PromiseStatus(p, state, closed=at, why=why)
    overdue = day(now) > p.due
    return PromiseStatus(p, "open", overdue=overdue,
                         why=f"overdue since {p.due.isoformat()}" if overdue else "")


def judge(promises: Iterable[Promise], touched: Mapping[str, Sequence[datetime]],
          heard: Mapping[str, Sequence[datetime]], done: Mapping[str, datetime],
          now: datetime, tz: tzinfo) -> list[PromiseStatus]:
    """Each promise's state as of ``now`` (nothing later is seen), from the user's
    touchpoints (``touched``) and the mail people wrote (``heard``), each a list of times
    per address (give a merged contact's times under each of its addresses), and the
    ``keepwarm done`` marks (promise key or Message-ID -> when).

    Kept: ``done``, or a touchpoint with them after the promise, on its day at the latest
    or, once overdue, at any time. Dropped: a tag's or a sentence's promise they answered
    before its day (nothing left to promise; a manual one is the user's own word and is
    not). ``-always``: only a touchpoint on its day or later, or ``done``, ends it. Else
    open, overdue once its day has passed. The first of these to happen decides."""
    return [judge_one(p, touched, heard, done, now, tz) for p in promises]
