"""What `keepwarm report` shows, worked out from what the store and the other parts of the
core already computed: the strongest relationships month by month, who is due soon, touches
per week, the intervals in use, the follow-ups waiting and the birthdays coming.

Pure: statuses, touches, follow-ups and birthdays in, a ``Report`` out; ``daemon.reporthtml``
draws it. Nothing here reads a clock: ``today`` is given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from daemon.birthdays import Occurrence
from daemon.model import Awaiting, Status

MONTHS = 24  # the heatmap's span, as `keepwarm show`'s sparkline
WEEKS = 104  # touches per week over two years
STRONGEST = 40  # the heatmap's rows
DUE_WITHIN = 14  # days: who is due soon (the reminders' usual horizon)
DUE_SHOWN = 100  # rows of the due list at most; the page says how many more
# the edges of the interval histogram's buckets, in days: "up to 7", "8-14", ...
INTERVAL_EDGES = (7, 14, 30, 60, 90, 180, 365)

# (contact key, channel: email | meeting, the message's or meeting's id, when)
Touch = tuple[str, str, str, datetime]


@dataclass(frozen=True, slots=True)
class Row:
    """One relationship in the heatmap."""

    key: str
    name: str
    strength: int  # 0-100
    months: tuple[int, ...]  # touches per month, oldest first
    lapsed: bool
    overdue_days: int


@dataclass(frozen=True, slots=True)
class Due:
    """Someone due within ``DUE_WITHIN`` days, or overdue already."""

    key: str
    name: str
    email: str
    due: date
    overdue_days: int
    interval_days: int
    thread_link: str  # a follow-up waiting on them opens here; '' if none


@dataclass(frozen=True, slots=True)
class Report:
    today: date
    contacts: int  # not ignored
    tracked: int
    lapsed: int
    months: tuple[date, ...]  # first day of each heatmap month
    rows: tuple[Row, ...]
    due: tuple[Due, ...]
    due_more: int  # due, but past DUE_SHOWN
    weeks: tuple[date, ...]  # the Monday of each week
    weekly_mail: tuple[int, ...]
    weekly_meetings: tuple[int, ...]
    intervals: tuple[tuple[str, int], ...]  # (bucket label, tracked contacts in it)
    awaiting: tuple[Awaiting, ...]
    birthdays: tuple[Occurrence, ...]


def month_starts(end: date, n: int = MONTHS) -> tuple[date, ...]:
    """The first days of the ``n`` months up to and including ``end``'s, oldest first."""
    index = end.year * 12 + end.month - 1
    return tuple(date(i // 12, i % 12 + 1, 1) for i in range(index - n + 1, index + 1))


def since(now: datetime) -> datetime:
    """The oldest touch the report needs: the first day of its first month or week."""
    first = month_starts(now.date())[0]
    start = min(first, now.date() - timedelta(weeks=WEEKS))
    return datetime.combine(start, datetime.min.time(), tzinfo=now.tzinfo)


def build(statuses: Sequence[Status], touches: Iterable[Touch], awaiting: Sequence[Awaiting],
          birthdays: Sequence[Occurrence], now: datetime, tz: tzinfo) -> Report:
    """The report as of ``now``; ``touches`` from ``since(now)`` to ``now``."""
    today = now.astimezone(tz).date()
    shown = [s for s in statuses if not s.facts.ignored]
    local = [(key, channel, source, at.astimezone(tz).date())
             for key, channel, source, at in touches]  # once: 200,000 conversions cost
    by_contact: dict[str, list[tuple[str, date]]] = {}
    for key, channel, _, day in local:
        by_contact.setdefault(key, []).append((channel, day))
    months = month_starts(today)
    weeks, mail, meetings = weekly(local, today)
    due, more = due_soon(shown, awaiting, today)
    return Report(
        today=today, contacts=len(shown), tracked=sum(s.tracked for s in shown),
        lapsed=sum(s.lapsed for s in shown), months=months,
        rows=strongest(shown, by_contact, months, today), due=due, due_more=more,
        weeks=weeks, weekly_mail=mail, weekly_meetings=meetings,
        intervals=interval_histogram(s.interval_days for s in shown if s.tracked),
        awaiting=tuple(a for a in awaiting if a.state == "waiting"),
        birthdays=tuple(birthdays))


def strongest(statuses: Sequence[Status], by_contact: dict[str, list[tuple[str, date]]],
              months: Sequence[date], today: date) -> tuple[Row, ...]:
    """The ``STRONGEST`` contacts by strength (ties: by name), with their months."""
    slot = {(m.year, m.month): i for i, m in enumerate(months)}
    rows = []
    for s in statuses:
        mine = by_contact.get(s.facts.key, [])
        counts = [0] * len(months)
        for _, day in mine:
            i = slot.get((day.year, day.month))
            if i is not None:
                counts[i] += 1
        rows.append(Row(s.facts.key, s.facts.name or s.facts.key, s.strength,
                        tuple(counts), s.lapsed, s.overdue_days))
    rows.sort(key=lambda r: (-r.strength, r.name.lower(), r.key))
    return tuple(rows[:STRONGEST])


def due_soon(statuses: Sequence[Status], awaiting: Sequence[Awaiting],
             today: date) -> tuple[tuple[Due, ...], int]:
    """The tracked contacts due by ``DUE_WITHIN`` days from ``today`` (the overdue first),
    at most ``DUE_SHOWN``, and how many more there are."""
    links = {a.contact or a.email: a.link for a in awaiting if a.state == "waiting"}
    end = today + timedelta(days=DUE_WITHIN)
    due = sorted((s for s in statuses if s.tracked and s.due <= end),
                 key=lambda s: (s.due, s.facts.name.lower(), s.facts.key))
    return tuple(Due(s.facts.key, s.facts.name or s.facts.key, s.facts.emails[0]
                     if s.facts.emails else s.facts.key, s.due, s.overdue_days,
                     s.interval_days, links.get(s.facts.key, ""))
                 for s in due[:DUE_SHOWN]), max(0, len(due) - DUE_SHOWN)


def weekly(touches: Iterable[tuple[str, str, str, date]], today: date
           ) -> tuple[tuple[date, ...], tuple[int, ...], tuple[int, ...]]:
    """Messages and meetings per week (Monday to Sunday) over the last ``WEEKS`` weeks,
    each once however many contacts it reached; ``touches`` as ``Touch``, by local day."""
    last = today - timedelta(days=today.weekday())
    weeks = tuple(last - timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS))
    first = weeks[0]
    mail, meetings = [0] * WEEKS, [0] * WEEKS
    for channel, _, day in {(channel, source, day) for _, channel, source, day in touches}:
        i = (day - first).days // 7
        if 0 <= i < WEEKS:
            (meetings if channel == "meeting" else mail)[i] += 1
    return weeks, tuple(mail), tuple(meetings)


def interval_histogram(intervals: Iterable[int]) -> tuple[tuple[str, int], ...]:
    """How many tracked contacts have an interval in each bucket of ``INTERVAL_EDGES``."""
    labels = []
    low = 1
    for edge in INTERVAL_EDGES:
        labels.append(f"{low}-{edge} days")
        low = edge + 1
    labels.append(f"over {INTERVAL_EDGES[-1]} days")
    counts: Counter[int] = Counter()
    for days in intervals:
        counts[next((i for i, e in enumerate(INTERVAL_EDGES) if days <= e),
                    len(INTERVAL_EDGES))] += 1
    return tuple((label, counts[i]) for i, label in enumerate(labels))
