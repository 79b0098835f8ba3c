"""How results look to a person (tables, see daemon.tables) and to a program (JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from daemon import sparkline, words
from daemon.cardstore import card_tags, date_text
from daemon.model import (
    Awaiting,
    Card,
    Change,
    Create,
    IngestResult,
    PartialDate,
    Status,
    TimelineEntry,
    Update,
    change_rid,
)
from daemon.planner import Plan
from daemon.replytimes import ReplyTimes, spoken
from daemon.sync import SyncReport
from daemon.tables import Column, Grid
from daemon.words import plural

# the keys of one contact in `lapsed`, `contacts` and `show --json` (the README lists them)
STATUS_KEYS = ("email", "emails", "name", "last_touch", "last_channel", "due", "cadence_days",
               "cadence_source", "overdue_days", "touchpoints", "meetings", "tracked", "lapsed",
               "tags", "ignored", "snooze_until", "received", "last_received", "why",
               "carded", "birthday", "anniversary", "birthday_text", "card_notes",
               "learned_days", "interval_source", "strength")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def status_json(s: Status, tz: tzinfo) -> dict[str, Any]:
    f = s.facts
    return {
        "email": f.key,
        "emails": list(f.emails),
        "name": f.name,
        "last_touch": f.last_touch.astimezone(tz).isoformat(),
        "last_channel": f.last_channel,
        "due": s.due.isoformat(),
        "cadence_days": s.interval_days,
        "cadence_source": s.interval_source,
        "overdue_days": s.overdue_days,
        "touchpoints": f.touchpoints,
        "meetings": f.meetings,
        "tracked": s.tracked,
        "lapsed": s.lapsed,
        "tags": sorted(f.tags),
        "ignored": f.ignored,
        "snooze_until": f.snooze_until.isoformat() if f.snooze_until else None,
        "received": f.received,
        "last_received": f.last_received.astimezone(tz).isoformat() if f.last_received
        else None,
        "why": s.why,
        "carded": f.carded,
        "birthday": date_text(f.birthday),
        "anniversary": date_text(f.anniversary),
        "birthday_text": f.birthday_text or None,
        "card_notes": list(f.card_notes),
        "learned_days": s.learned_days,
        "interval_source": s.interval_kind,
        "strength": s.strength,
    }


def spoken_date(d: PartialDate) -> str:
    """A birthday as people say it: ``12 April 1986``, or ``12 April`` without a year."""
    return f"{d.day} {MONTHS[d.month - 1]}" + (f" {d.year}" if d.year else "")


def card_lines(cards: Sequence[tuple[str, Card]]) -> list[str]:
    """`show`'s lines about a contact's address-book cards: where each is, its groups, the
    birthday and anniversary, the postal address, and what could not be used of it."""
    lines = []
    for account, card in cards:
        where = card.location or card.card_id
        tags = sorted(card_tags(card), key=str.lower)
        lines.append(f"address book: {account} ({where})"
                     + (f"; {', '.join(tags)}" if tags else ""))
        if card.birthday:
            lines.append(f"birthday {spoken_date(card.birthday)}")
        elif card.birthday_text:
            lines.append(f"birthday as written: {card.birthday_text!r} (not a date)")
        if card.anniversary:
            lines.append(f"anniversary {spoken_date(card.anniversary)}")
        if card.postal:
            lines.append("postal address: " + ", ".join(card.postal.splitlines()))
        lines += [f"note: {n}" for n in card.notes]
    return lines


def cards_json(cards: Sequence[tuple[str, Card]]) -> list[dict[str, Any]]:
    """`show --json`'s ``cards``: the contact's address-book cards (the README lists the
    keys)."""
    return [{"account": account, "card_id": c.card_id, "location": c.location,
             "name": c.name, "emails": list(c.emails), "groups": list(c.groups),
             "starred": c.starred, "birthday": date_text(c.birthday),
             "anniversary": date_text(c.anniversary), "birthday_text": c.birthday_text or None,
             "postal": c.postal or None, "notes": list(c.notes)} for account, c in cards]


def statuses_json(items: Sequence[Status], tz: tzinfo) -> list[dict[str, Any]]:
    return [status_json(s, tz) for s in items]


def _overdue_style(s: Status) -> str:
    """Red from one whole interval overdue, yellow from half of one (a terminal only)."""
    return ("red" if s.overdue_days >= s.interval_days else
            "yellow" if 2 * s.overdue_days >= s.interval_days else "")


def lapsed_grid(items: Sequence[Status], title: str) -> Grid:
    g = Grid(title, (Column("Name", fold=True), Column("Email"),
                     Column("Last touch", drop=2), Column("Cadence", drop=1, right=True),
                     Column("Due", drop=3), Column("Overdue", right=True),
                     Column("Strength", drop=4, right=True)))
    for s in items:
        g.add(s.facts.name, s.facts.key, f"{s.last_date} ({s.facts.last_channel})",
              f"{s.interval_days}d",
              s.due.isoformat(), f"{s.overdue_days}d", str(s.strength),
              style=_overdue_style(s))
    return g


def contacts_grid(items: Sequence[Status], today: date) -> Grid:
    g = Grid(plural(len(items), "contact"),
             (Column("Name", fold=True), Column("Email"),
              Column("Touchpoints", drop=1, right=True), Column("Last touch", drop=3),
              Column("Cadence", drop=2, right=True), Column("Due", drop=4),
              Column("State", fold=True)))
    for s in items:
        g.add(s.facts.name, ", ".join(s.facts.emails), str(s.facts.touchpoints),
              s.last_date.isoformat(), f"{s.interval_days}d", s.due.isoformat(),
              words.state(s, today))
    return g


def sync_summary(console: Console, report: SyncReport) -> None:
    for a in report.accounts:
        if a.error:
            hint = " (needs sign-in)" if a.needs_signin else ""
            # one line however long: a command in it must not break where the width ends
            console.print(f"[red]✗ {escape(a.name)}{hint}: {escape(a.error)}[/red]",
                          soft_wrap=True)
        elif a.address_book_only:
            console.print(f"✓ {escape(a.name)}: {plural(a.cards, 'card')} read, "
                          f"{a.skipped:,} skipped")
        else:
            console.print(f"✓ {escape(a.name)}: {plural(a.messages, 'new message')}, "
                          f"{plural(a.meetings, 'meeting')}, "
                          f"{plural(a.touchpoints, 'new touchpoint')}, "
                          f"{plural(a.duplicates, 'duplicate')}, {a.skipped:,} skipped"
                          + (f", {plural(a.cards, 'card')} read" if a.cards else ""))
    r = report.reminders
    if r is not None:
        if r.error:
            console.print(f"[red]✗ reminders: {escape(r.error)}[/red]", soft_wrap=True)
        else:
            console.print(f"✓ reminders: {r.created:,} created, {r.moved:,} moved, "
                          f"{r.deleted:,} removed")


def _change(c: Change) -> tuple[str, datetime, str, bool]:
    """A change as its action, the reminder's start, its title and whether it is all-day."""
    if isinstance(c, Create):
        return "create", c.reminder.start, c.reminder.title, c.reminder.all_day
    if isinstance(c, Update):
        return ("move" if c.remote.start != c.reminder.start else "update",
                c.reminder.start, c.reminder.title, c.reminder.all_day)
    return "remove", c.remote.start, c.remote.title or c.remote.uid, c.remote.all_day


def _members(plan: Plan, c: Change, action: str) -> tuple[tuple[str, str], ...]:
    """Whom a digest that ``c`` writes or moves lists (contact key, name); none for a
    removal (the event's own text says whom it held) or a reminder of one person."""
    return () if action == "remove" else plan.members.get(change_rid(c), ())


def kept(plan: Plan) -> int:
    """How many wanted reminders are in the calendar as they should be."""
    return len(plan.reminders.keys() - {change_rid(c) for c in plan.changes})


def plan_grid(plan: Plan, tz: tzinfo) -> Grid:
    g = Grid("What sync would write", (Column("Action"), Column("When"),
                                        Column("Title", fold=True)))
    for c in plan.changes:
        action, start, title, all_day = _change(c)
        people = [name or key for key, name in _members(plan, c, action)]
        g.add(action, start.astimezone(tz).strftime("%a %Y-%m-%d " + (
            "all day" if all_day else "%H:%M")), title + (
                f" ({', '.join(people)})" if people else ""))
    return g


def plan_json(plan: Plan, tz: tzinfo) -> dict[str, Any]:
    changes = []
    for c in plan.changes:
        action, start, title, _ = _change(c)
        rid = change_rid(c)
        changes.append({"action": action, "start": start.astimezone(tz).isoformat(),
                        "title": title, "kind": rid.kind, "contact": rid.contact or None,
                        "members": [{"contact": key, "name": name}
                                    for key, name in _members(plan, c, action)]})
    return {"changes": changes, "kept": kept(plan)}


def timeline_grid(entries: Sequence[TimelineEntry], tz: tzinfo) -> Grid:
    """Every message and meeting with a contact; the Address column only for a contact with
    several addresses (one address is in the header already)."""
    several = len({e.email for e in entries}) > 1
    g = Grid("Timeline", (Column("When"), Column("Channel", drop=2),
                          *([Column("Address")] if several else []), Column("Role", drop=1),
                          Column("Subject / meeting", fold=True, key="title"),
                          Column("Counted?", fold=True, key="counted")))
    for e in entries:
        g.add(e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"), e.channel,
              *([e.email] if several else []), e.role, e.title,
              "yes" if e.rule is None else f"no: {e.rule}",
              style="" if e.rule is None else "dim")
    return g


def timeline_json(entries: Sequence[TimelineEntry], tz: tzinfo) -> list[dict[str, Any]]:
    return [{"at": e.at.astimezone(tz).isoformat(), "channel": e.channel, "email": e.email,
             "role": e.role, "title": e.title, "counted": e.rule is None, "rule": e.rule}
            for e in entries]


def show_json(email: str, s: Status | None, entries: Sequence[TimelineEntry],
              counts: Sequence[int], end: date, tz: tzinfo) -> dict[str, Any]:
    """`show --json`: the contact as `contacts --json` has it (its keys null when nothing
    was counted), then the timeline and the touches per month of the sparkline."""
    contact = status_json(s, tz) if s else dict.fromkeys(STATUS_KEYS) | {
        "email": email, "emails": [email], "tracked": False, "lapsed": False}
    first = sparkline.months(end, len(counts))[0]
    return contact | {"state": words.state(s, end) if s else None,
                      "timeline": timeline_json(entries, tz),
                      "sparkline": {"start": f"{first:%Y-%m}", "end": f"{end:%Y-%m}",
                                    "counts": list(counts)}}


class SyncProgress:
    """A live line per account while a sync reads (a terminal only): the count, the rate, the
    time spent, and a bar with the time left when the source can estimate what remains
    (a Gmail backfill under its quota can take hours)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                 TextColumn("{task.fields[items]:>14}"),
                                 TextColumn("{task.fields[rate]}"), BarColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=console, transient=True,
                                 disable=not console.is_terminal)
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> SyncProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, account: str, result: IngestResult, remaining: int | None = None) -> None:
        if account not in self.tasks:
            self.tasks[account] = self.progress.add_task(account, total=None, rate="",
                                                         items="")
        task_id = self.tasks[account]
        self.progress.advance(task_id, result.messages + result.duplicates + result.meetings
                              + result.skipped)
        task = self.progress.tasks[task_id]
        self.progress.update(task_id, items=plural(int(task.completed), "item"))
        if remaining is not None:
            self.progress.update(task_id, total=task.completed + remaining)
        if task.elapsed and task.elapsed >= 1:  # before a second has passed, a rate is noise
            self.progress.update(task_id, rate=f"{task.completed / task.elapsed:,.0f}/s")


def waiting_days(a: Awaiting, today: date, tz: tzinfo) -> int:
    """Days since the first of the unanswered messages in a row."""
    return (today - a.sent[0].astimezone(tz).date()).days


def awaiting_json(a: Awaiting, today: date, tz: tzinfo) -> dict[str, Any]:
    """One thread as `awaiting --json` has it (the README lists the keys)."""
    return {"email": a.email, "name": a.name, "subject": a.subject,
            "message_id": a.message_id, "thread": a.thread,
            "sent": [d.astimezone(tz).isoformat() for d in a.sent],
            "waiting_days": waiting_days(a, today, tz), "attempt": a.attempt,
            "next_followup": a.next_followup.isoformat() if a.next_followup else None,
            "state": a.state, "link": a.link}


def awaiting_grid(items: Sequence[Awaiting], today: date, tz: tzinfo, states: bool) -> Grid:
    """The threads by next follow-up; ``states`` adds whether each waits or has gone quiet."""
    c = Column
    g = Grid(f"Waiting for a reply as of {today}", (
        c("Next follow-up", key="next_followup"), c("Name", fold=True), c("Email"),
        c("Subject", fold=True), c("Sent", drop=2), c("Attempt", drop=1, right=True),
        c("Waiting", drop=3, right=True, key="waiting_days"),
        *([c("State", drop=4)] if states else [])))
    for a in items:
        g.add(a.next_followup.isoformat() if a.next_followup else "", a.name, a.email,
              a.subject, ", ".join(d.astimezone(tz).date().isoformat() for d in a.sent),
              str(a.attempt), f"{waiting_days(a, today, tz)}d",
              *([a.state.replace("_", " ")] if states else []))
    return g



def awaiting_line(a: Awaiting, today: date, tz: tzinfo) -> str:
    """One open thread under a contact in `show`."""
    subject = f'"{a.subject}"' if a.subject else "(no subject)"
    head = (f"waiting for a reply to {subject} for "
            f"{plural(waiting_days(a, today, tz), 'day')}: ")
    if a.next_followup is None:
        return head + f"gone quiet after {plural(a.attempt, 'attempt')}"
    return head + f"attempt {a.attempt}, next follow-up {a.next_followup}"


def reply_times_line(t: ReplyTimes) -> str:
    """`show`'s line on how quickly each side answers, or '' when no answer was seen."""
    parts = []
    if t.theirs is not None:
        parts.append(f"they answer you in {spoken(t.theirs)}")
    if t.mine is not None:
        parts.append(f"you answer them in {spoken(t.mine)}")
    if not parts:
        return ""
    counts = f"{plural(t.theirs_count, 'answer')} of theirs, {t.mine_count} of yours"
    return f"{' and '.join(parts)} (medians over the last year: {counts})"


def reply_times_json(t: ReplyTimes) -> dict[str, Any]:
    def hours(d: timedelta | None) -> float | None:
        return None if d is None else round(d.total_seconds() / 3600, 1)

    return {"their_reply_hours": hours(t.theirs), "my_reply_hours": hours(t.mine),
            "their_replies": t.theirs_count, "my_replies": t.mine_count}
