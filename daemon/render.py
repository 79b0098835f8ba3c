"""How results look to a person (rich tables) and to a program (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import tzinfo
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
from rich.table import Table

from daemon.model import Create, Delete, IngestResult, Status, TimelineEntry, Update
from daemon.planner import Plan
from daemon.sync import SyncReport


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
    }


def dump_json(items: Sequence[Status], tz: tzinfo) -> str:
    return json.dumps([status_json(s, tz) for s in items], indent=2, ensure_ascii=False)


def lapsed_table(items: Sequence[Status], title: str) -> Table:
    t = Table(title=title)
    for col in ("Name", "Email", "Last touch", "Cadence", "Due", "Overdue"):
        t.add_column(col, justify="right" if col in ("Cadence", "Overdue") else "left")
    for s in items:
        t.add_row(escape(s.facts.name), s.facts.key, f"{s.last_date} ({s.facts.last_channel})",
                  f"{s.interval_days}d", s.due.isoformat(), f"{s.overdue_days}d")
    return t


def contacts_table(items: Sequence[Status]) -> Table:
    t = Table(title=f"{len(items)} contacts")
    for col in ("Name", "Email", "Touchpoints", "Last touch", "Cadence", "Due", "State"):
        t.add_column(col)
    for s in items:
        state = ("lapsed" if s.lapsed else "tracked" if s.tracked else "not tracked")
        if s.facts.tags:
            state += " [" + ", ".join(sorted(s.facts.tags)) + "]"
        t.add_row(escape(s.facts.name), ", ".join(s.facts.emails), str(s.facts.touchpoints),
                  s.last_date.isoformat(), f"{s.interval_days}d", s.due.isoformat(), state)
    return t


def sync_summary(console: Console, report: SyncReport) -> None:
    for a in report.accounts:
        if a.error:
            hint = " (needs sign-in)" if a.needs_signin else ""
            console.print(f"[red]✗ {escape(a.name)}{hint}: {escape(a.error)}[/red]")
        else:
            console.print(f"✓ {escape(a.name)}: {a.messages} new messages, {a.meetings} meetings, "
                          f"{a.touchpoints} new touchpoints, {a.duplicates} duplicates, "
                          f"{a.skipped} skipped")
    r = report.reminders
    if r is not None:
        if r.error:
            console.print(f"[red]✗ reminders: {escape(r.error)}[/red]")
        else:
            console.print(f"✓ reminders: {r.created} created, {r.moved} moved, "
                          f"{r.deleted} removed")


def plan_table(plan: Plan, tz: tzinfo) -> Table:
    t = Table(title="What sync would write")
    for col in ("Action", "When", "Title"):
        t.add_column(col)
    for c in plan.changes:
        if isinstance(c, Create):
            t.add_row("create", c.reminder.start.astimezone(tz).strftime("%a %Y-%m-%d %H:%M"),
                      escape(c.reminder.title))
        elif isinstance(c, Update):
            t.add_row("move" if c.remote.start != c.reminder.start else "update",
                      c.reminder.start.astimezone(tz).strftime("%a %Y-%m-%d %H:%M"),
                      escape(c.reminder.title))
        elif isinstance(c, Delete):
            t.add_row("remove", c.remote.start.astimezone(tz).strftime("%a %Y-%m-%d %H:%M"),
                      escape(c.remote.title or c.remote.uid))
    return t


def timeline_table(entries: Sequence[TimelineEntry], tz: tzinfo) -> Table:
    t = Table(title="Timeline")
    for col in ("When", "Channel", "Address", "Subject / meeting", "Counted?"):
        t.add_column(col)
    for e in entries:
        t.add_row(e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"), e.channel,
                  f"{e.email} ({e.role})", escape(e.title[:60]),
                  "[green]yes[/green]" if e.rule is None else
                  f"[yellow]no: {escape(e.rule)}[/yellow]")
    return t


class SyncProgress:
    """A live line per account while a sync reads (a terminal only): the count, the rate, the
    time spent, and a bar with the time left when the source can estimate what remains
    (a Gmail backfill under its quota can take hours)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                 TextColumn("{task.completed:>8.0f} items"),
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
            self.tasks[account] = self.progress.add_task(account, total=None, rate="")
        task_id = self.tasks[account]
        self.progress.advance(task_id, result.messages + result.duplicates + result.meetings
                              + result.skipped)
        task = self.progress.tasks[task_id]
        if remaining is not None:
            self.progress.update(task_id, total=task.completed + remaining)
        if task.elapsed and task.elapsed >= 1:  # before a second has passed, a rate is noise
            self.progress.update(task_id, rate=f"{task.completed / task.elapsed:,.0f}/s")
