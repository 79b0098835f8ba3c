"""The kinds of reminder keepwarm writes, each a pure function from what it knows to the
``Wish``es the planner places: ``cadence`` (a contact is due), ``followup`` (a message of the
user's got no reply), ``birthday`` and ``anniversary`` (from the address book) and
``notice`` (keepwarm's own messages to the user, e.g. an account that needs signing in
again) and ``promise`` (a day the user promised the next contact, ``daemon.promises``);
``thanks`` (a thank-you after a first meeting or a referral) is in ``daemon.thanks``.

A kind decides what a reminder says, which due date (cycle) it belongs to and where it may
go; the planner decides where it does go, under one budget for all kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta, tzinfo
from typing import TYPE_CHECKING
from urllib.parse import quote

from daemon import noteview
from daemon.birthdays import BIRTHDAY, Occurrence, lead_days, occurrences, spoken, written
from daemon.model import (
    CADENCE,
    NOTICE,
    Awaiting,
    CardPerson,
    Change,
    Create,
    Note,
    Promise,
    PromiseStatus,
    Reminder,
    ReminderId,
    ReminderRecord,
    RemoteReminder,
    Settings,
    Status,
    Update,
    Wish,
    change_rid,
)
from daemon.when import in_words, short
from daemon.words import plural

if TYPE_CHECKING:  # the planner imports the digest, which imports this module
    from daemon.planner import Plan

FOLLOWUP = "followup"  # a thread waits for a reply; key: the thread
PROMISE = "promise"  # a day the user promised; key: the message id, or a manual promise's id


def cadence_id(contact: str) -> ReminderId:
    return ReminderId(CADENCE, contact)


def signin_id(account: str) -> ReminderId:
    return ReminderId(NOTICE, "", f"signin:{account}")


def describe(s: Status, subjects: bool = True) -> tuple[str, str]:
    """Title and description of a follow-up; nothing relative to today, so an unchanged
    contact's event never needs rewriting. ``subjects`` False (a shared calendar) leaves out
    what the messages and meetings were about."""
    lines = [
        *_cadence_lines(s, subjects),
        "",
        "Created by keepwarm. It moves or removes this event as soon as you get in touch.",
        f"Why: keepwarm show {s.facts.key}",
    ]
    return f"Follow up: {s.facts.name}", "\n".join(lines)


def _cadence_lines(s: Status, subjects: bool) -> list[str]:
    f = s.facts
    channel = "a meeting" if f.last_channel == "meeting" else "e-mail"
    said = [f'Last message: "{f.last_subject}"'] if f.last_subject else []
    said += [f'Last meeting: "{f.last_meeting}"'] if f.last_meeting else []
    return [
        f"Last touch: {s.last_date.isoformat()} by {channel}",
        *(said if subjects else []),
        f"Cadence: every {plural(s.interval_days, 'day')} ({s.interval_source})",
        f"Due: {s.due.isoformat()}",
        f"Addresses: {', '.join(f.emails)}",
        *([f"Open: {f.last_link}"] if f.last_link else []),
        f"Write: {mailto(f.emails[0] if f.emails else f.key)}",
    ]


def mailto(email: str) -> str:
    """A link that starts a message to ``email`` (RFC 6068: what a URL cannot hold escaped)."""
    return "mailto:" + quote(email, safe="@")


def cadence(statuses: Iterable[Status], subjects: bool = True) -> list[Wish]:
    """A follow-up for every tracked contact, from its due date on (the planner leaves out
    those it finds no room for within the horizon)."""
    return [Wish(cadence_id(s.facts.key), s.due, *describe(s, subjects), earliest=s.due,
                 name=s.facts.name)
            for s in statuses if s.tracked]


def with_alarm(p: Plan, held: Sequence[RemoteReminder], alarm: timedelta | None) -> Plan:
    """The plan with ``[reminders] alarm`` on every reminder with a time (an all-day one
    would ring the evening before: a birthday gets none): on those it writes, and on those
    the calendar ``held`` unchanged but with another alarm (the setting changed), which it
    now updates. An unchanged reminder whose alarm is right is never written."""
    def alarmed(r: Reminder) -> Reminder:
        return r if r.all_day or r.alarm == alarm else replace(r, alarm=alarm)

    changes: list[Change] = [
        Create(alarmed(c.reminder)) if isinstance(c, Create)
        else Update(c.remote, alarmed(c.reminder)) if isinstance(c, Update) else c
        for c in p.changes]
    changing = {change_rid(c) for c in changes}
    records = dict(p.records)
    for event in held:
        want = p.reminders.get(event.rid)
        if (want is not None and event.rid not in changing and event.uid == want.uid
                and alarmed(want).alarm != event.alarm):
            changing.add(event.rid)
            changes.append(Update(event, alarmed(want)))
            records[event.rid] = replace(records[event.rid], confirmed=False)
    return replace(p, changes=changes, records=records,
                   reminders={rid: alarmed(r) for rid, r in p.reminders.items()})


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


def followup_id(a: Awaiting) -> ReminderId:
    return ReminderId(FOLLOWUP, a.contact or a.email, a.thread)


def _subject(a: Awaiting, tz: tzinfo, subjects: bool) -> str:
    """What the thread is called: its subject, or (``subjects`` False) the day it began."""
    if not subjects:
        return f"your message of {a.sent[0].astimezone(tz).date().isoformat()}"
    return f'"{a.subject}"' if a.subject else "(no subject)"


def _followup_lines(a: Awaiting, tz: tzinfo, subjects: bool) -> list[str]:
    sent = ", ".join(d.astimezone(tz).date().isoformat() for d in a.sent)
    # a reply by mailto: names the subject in its link
    link = a.link if subjects or not a.link.startswith("mailto:") else mailto(a.email)
    return [f"No reply from {a.name} <{a.email}> to {_subject(a, tz, subjects)}",
            f"Sent: {sent} (attempt {a.attempt})",
            f"Follow up on: {a.next_followup}",
            f"Open: {link}",
            *([] if link.startswith("mailto:") else [f"Write: {mailto(a.email)}"])]


def describe_followups(items: Sequence[Awaiting], with_cadence: Status | None,
                       tz: tzinfo, subjects: bool = True) -> tuple[str, str]:
    """One reminder for a person's threads due the same day, and for their cadence too when
    it is due that day: the title says both, the description each."""
    title = (f"Follow up: {items[0].name} — no reply to "
             + ", ".join(_subject(a, tz, subjects) for a in items))
    blocks = [_followup_lines(a, tz, subjects) for a in items]
    if with_cadence is not None:
        title += " (also due to keep in touch)"
        blocks.append(["Also due to keep in touch:", *_cadence_lines(with_cadence, subjects)])
    done = items[0].email
    footer = ["Created by keepwarm. It removes this event when they answer or write to you, "
              f"or after: keepwarm done {done}", "Why: keepwarm awaiting"]
    return title, "\n\n".join("\n".join(b) for b in [*links_once(blocks), footer])


def links_once(blocks: Sequence[list[str]]) -> list[list[str]]:
    """The blocks with each ``Open:`` or ``Write:`` line only where it first appears: the
    threads of one person and their cadence share a ``Write:`` link, often an ``Open:``."""
    seen: set[str] = set()
    out = []
    for block in blocks:
        kept = []
        for line in block:
            if line.startswith(("Open: ", "Write: ")):
                if line in seen:
                    continue
                seen.add(line)
            kept.append(line)
        out.append(kept)
    return out


def contacts(statuses: Iterable[Status], waiting: Iterable[Awaiting], as_of: date,
             tz: tzinfo, subjects: bool = True) -> list[Wish]:
    """The cadence and follow-up wishes together, at most one per person per day (from
    ``as_of`` on, when each would show): a follow-up due the day a cadence reminder is
    replaces it and says both, and threads with one person due the same day share one.
    ``subjects``: ``[reminders] include_subject``."""
    statuses = list(statuses)
    tracked = {s.facts.key: s for s in statuses if s.tracked}
    snoozed = {s.facts.key: s.facts.snooze_until for s in statuses if s.facts.snooze_until}
    days: dict[tuple[str, date], list[Awaiting]] = {}
    for a in waiting:
        if a.next_followup is not None:
            day = max(a.next_followup, snoozed.get(a.contact, date.min), as_of)
            days.setdefault((a.contact, day), []).append(a)
    wishes, merged = [], set()
    for (contact, day), items in sorted(days.items()):
        s = tracked.get(contact)
        both = s if s and contact not in merged and max(s.due, as_of) == day else None
        if both is not None:
            merged.add(contact)
        items.sort(key=lambda a: (a.next_followup or day, a.thread))
        first = items[0]
        earliest = max(first.next_followup or day, snoozed.get(contact, date.min))
        wishes.append(Wish(followup_id(first), first.next_followup or day,
                           *describe_followups(items, both, tz, subjects),
                           earliest=earliest, name=first.name))
    return wishes + cadence((s for k, s in tracked.items() if k not in merged), subjects)


def birthday_title(o: Occurrence, lead: int) -> str:
    """``Birthday: Jane Doe (turns 40)``, ``Anniversary: Jane Doe (30 years)``; ahead of
    the day (a lead), the day too: ``... on Friday 12 June``."""
    if o.kind == BIRTHDAY:
        title = f"Birthday: {o.name}" + (f" (turns {o.years})" if o.years else "")
    else:
        title = f"Anniversary: {o.name}" + (f" ({plural(o.years, 'year')})" if o.years else "")
    return title + (f" on {spoken(o.day)}" if lead else "")


def _birthday_text(o: Occurrence) -> str:
    p = o.person
    lines = [f"{o.kind.capitalize()}: {o.day.isoformat()} ({spoken(o.day)})",
             f"In the address book: {written(o.since)}"
             + ("" if o.since.year is not None else " (no year)"),
             *([f"Addresses: {', '.join(p.emails)}"] if p.emails else []),
             "", "Created by keepwarm from your address book"
             + (f" ({p.source})" if p.source else "") + ". Deleting this event dismisses "
             "this year's only.",
             f"Why: keepwarm show {p.emails[0]}" if p.emails else "Why: keepwarm birthdays"]
    return "\n".join(lines)


def birthdays(people: Iterable[CardPerson], settings: Settings, as_of: date,
              records: Mapping[ReminderId, ReminderRecord]) -> list[Wish]:
    """An all-day event per birthday and anniversary whose day (the occurrence less the
    person's lead) is within the horizon: fixed on that day, outside ``max_per_day``, one
    id per occurrence (key: its date), so deleting one year's dismisses that year only.

    A lead day already past when the occurrence is first planned (a card added two days
    before the birthday, with a lead of a week) is today; once written it stays on its day
    (its record says which) until the occurrence has passed, rather than move every day."""
    if not settings.birthdays:
        return []
    last = as_of + timedelta(days=settings.horizon_days)
    wishes = []
    for person in people:
        if person.ignored:
            continue
        lead = lead_days(person, settings)
        for o in occurrences(person, as_of, last + timedelta(days=lead),
                             settings.anniversaries):
            rid = ReminderId(o.kind, person.key, o.day.isoformat())
            day = o.day - timedelta(days=lead)
            if day < as_of:
                kept = records.get(rid)
                day = kept.start.astimezone(settings.tz).date() if kept else as_of
            if day <= last:
                wishes.append(Wish(rid, o.day, birthday_title(o, lead), _birthday_text(o),
                                   earliest=day, fixed=True, budgeted=False, name=o.name,
                                   all_day=True))
    return wishes


def promise_id(p: Promise) -> ReminderId:
    return ReminderId(PROMISE, p.contact or p.email, p.key)


def promise_title(p: Promise, tz: tzinfo) -> str:
    """``Promised: Jane Doe — "I'll call you on Tuesday" (2 Dec)``; for a plus tag
    ``Follow up: Jane Doe — "Proposal Q3" (you set 3 days on 2 Dec)``; the date is when
    the promise was made, so the title never changes while it waits."""
    made = short(p.made.astimezone(tz).date())
    if p.source == "tag":
        subject = f'"{p.note}"' if p.note else "(no subject)"
        return f"Follow up: {p.name} — {subject} (you set {in_words(p.when)} on {made})"
    return f"Promised: {p.name}" + (f' — "{p.note}"' if p.note else "") + f" ({made})"


def _promise_origin(p: Promise, tz: tzinfo) -> str:
    on = p.made.astimezone(tz).date().isoformat()
    if p.source == "tag":
        subject = f'"{p.note}"' if p.note else "(no subject)"
        return f"Set on {on} with the tag {p.when}{'-always' if p.always else ''} on {subject}"
    how = " with keepwarm remind" if p.source == "manual" else ""
    return f"Promised on {on}{how}" + (f': "{p.note}"' if p.note else "")


def _promise_text(p: Promise, tz: tzinfo) -> str:
    answer = (" on its day or later" if p.always else "" if p.source == "manual"
              else " (or they answer before the day)")
    lines = [_promise_origin(p, tz),
             f"Due: {p.due.isoformat()}",
             f"To: {', '.join(p.people)}",
             *([f"Message: <{p.message_id}>"] if p.message_id else []),
             "", f"Created by keepwarm. It removes this event once you are in touch with them"
             f"{answer}, or after: keepwarm done {p.message_id or p.email}",
             "Why: keepwarm promises"]
    return "\n".join(lines)


def promises(statuses: Iterable[PromiseStatus], as_of: date, tz: tzinfo,
             subjects: bool = True) -> list[Wish]:
    """A reminder per open promise, fixed on its day at ``reminders.time`` (no budget moves
    a promised day; it still counts against that day's), and once overdue on today, as an
    overdue cadence reminder is, until a touchpoint or ``keepwarm done`` ends it. Kept and
    dropped ones want none, so the next sync removes theirs. ``subjects`` False: no note
    (a subject or a sentence of the user's) in it."""
    wishes = []
    for s in statuses:
        if s.state == "open":
            p = s.promise if subjects else replace(s.promise, note="")
            wishes.append(Wish(promise_id(p), p.due, promise_title(p, tz),
                               _promise_text(p, tz), earliest=max(p.due, as_of), fixed=True,
                               name=p.name))
    return wishes


def with_notes(wishes: Iterable[Wish], latest: Mapping[str, Note], include: bool,
               tz: tzinfo) -> list[Wish]:
    """Every wish for a person with their latest note (``keepwarm note``; ``latest``: contact
    key -> note) as one line ``Note (2026-12-01): text`` before the "Created by keepwarm"
    footer: what the user wanted to remember is there when they act. Done here, once, for
    every kind; a digest lists each member's note with them. ``include`` False
    (``[reminders] include_notes``, a calendar others see): none."""
    if not include or not latest:
        return list(wishes)
    out = []
    for w in wishes:
        note = latest.get(w.rid.contact) if w.rid.contact else None
        if note is None:
            out.append(w)
            continue
        line = f"Note {noteview.dated(note, tz)}"
        lines = w.description.split("\n")
        at = next((i for i, t in enumerate(lines) if t.startswith("Created by keepwarm")),
                  len(lines))
        at -= 1 if at > 0 and not lines[at - 1] else 0  # before the blank line that parts it
        out.append(replace(w, description="\n".join([*lines[:at], line, *lines[at:]])))
    return out


DIGEST = "digest"  # [reminders] style = "digest": one event a day lists those due; key: the day


def digest_id(day: date) -> ReminderId:
    return ReminderId(DIGEST, "", day.isoformat())


def digest(day: date, members: Sequence[Wish]) -> Wish:
    """The day's one event listing everyone due on it: each person's own reminder (title,
    then its lines, which say why they are due and how to reach them) without the line on
    what keepwarm does with that event, said once for the whole list instead; a blank line
    parts one person from the next, none is left within."""
    sections = []
    for n, w in enumerate(members, 1):
        lines = [line for line in w.description.splitlines()
                 if line and not line.startswith("Created by keepwarm")]
        sections.append("\n".join([f"{n}. {w.title}", *lines]))
    footer = ("Created by keepwarm. A person leaves this list once you are in touch; "
              "deleting this event dismisses everyone on it until they are due again.")
    return Wish(digest_id(day), day, f"Keep in touch: {plural(len(members), 'person', 'people')}",
                "\n\n".join([*sections, footer]), earliest=day, name="")
