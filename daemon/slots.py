"""When in a day a reminder goes: at ``[reminders] time``, or, when a meeting the user
attends is then, at the first free moment after it within ``[reminders] hours``.

Pure: the busy spans come in, a time (or None: no room that day) comes out, so the same
calendar always gives the same placement and an interrupted sync converges. Times are
compared in UTC, so a span written in another zone, or across a change of summer time,
overlaps exactly when it does on the clock.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import UTC, date, datetime
from itertools import accumulate

from daemon.model import Settings

Span = tuple[datetime, datetime]  # start (inclusive), end (exclusive); timezone-aware


class Busy:
    """The user's busy spans, sorted once, for asking cheaply whether a span is free."""

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        utc = sorted((s.astimezone(UTC), e.astimezone(UTC)) for s, e in spans if e > s)
        self.starts = [s for s, _ in utc]
        self.ends = sorted(e for _, e in utc)
        # the latest end among the spans starting before each index: one bisect tells
        # whether any of them reaches past a given moment
        self.reach = list(accumulate((e for _, e in utc), max))

    def free(self, start: datetime, end: datetime) -> bool:
        """Whether no busy span overlaps [start, end); touching ends do not overlap."""
        before = bisect_left(self.starts, end.astimezone(UTC))
        return before == 0 or self.reach[before - 1] <= start.astimezone(UTC)

    def ends_between(self, after: datetime, until: datetime) -> list[datetime]:
        """The ends of busy spans in (after, until], earliest first."""
        lo = bisect_left(self.ends, after.astimezone(UTC))
        return [e for e in self.ends[lo:] if after < e <= until]


def free_start(day: date, settings: Settings, busy: Busy) -> datetime | None:
    """``time`` on ``day`` unless a busy span overlaps the reminder there; then the first
    start after it within ``hours`` that leaves the whole ``duration`` free; None when the
    day has none. Only a span's end (or the start of ``hours``) can be that first start:
    any later free moment has a busy span ending just before it."""
    tz, length = settings.tz, settings.reminder_duration
    at = datetime.combine(day, settings.reminder_time, tzinfo=tz)
    if busy.free(at, at + length):
        return at
    first, last = (datetime.combine(day, t, tzinfo=tz) for t in settings.reminder_hours)
    close = last - length  # the latest start that still ends within hours
    candidates = [first] if first > at else []
    candidates += [e.astimezone(tz) for e in busy.ends_between(at, close)]
    for start in sorted(candidates):
        if first <= start <= close and busy.free(start, start + length):
            return start
    return None

