"""Gmail's per-user quota, spent evenly: a rolling minute of units (``QuotaBudget``) and the
batch size that fits it best (``batch_size``), and how long a backfill takes under it
(``Progress``). Kept apart from the reader so the reader is about what to read and this
about how fast.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

BATCH = 50  # Google: at most 100 per batch, more than 50 not recommended
WINDOW = 60.0  # Gmail's quota period in seconds (bench/gmail.py shrinks it to scale time)
PROGRESS_EVERY = 30.0  # seconds between progress lines


class QuotaBudget:
    """Gmail's per-user quota as a rolling minute of units, paced evenly.

    A token bucket that holds one batch (1,000 units at 20 per get) could, after a pause,
    spend that burst plus a full minute's refill inside one minute, so it would have to run
    well below the ceiling; a log of what was spent in the last 60 s cannot overspend. A
    call's units count from when its answer arrived (the server may have counted them
    later than we sent them), and calls are spaced by their cost, so the rate is steady."""

    def __init__(self, units_per_minute: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.limit = max(1, units_per_minute)
        self.window = WINDOW
        self.clock, self.sleep = clock, sleep
        self.spent: collections.deque[list[float]] = collections.deque()
        self.next_at = 0.0

    @contextmanager
    def spend(self, units: int) -> Iterator[None]:
        units = min(units, self.limit)
        while True:
            now = self.clock()
            while self.spent and self.spent[0][0] <= now - self.window:
                self.spent.popleft()
            room = self.limit - sum(u for _, u in self.spent)
            if room >= units and now >= self.next_at:
                break
            wait = self.next_at - now
            if room < units:  # until enough of the oldest spending leaves the minute
                freed, until = room, now
                for stamp, used in self.spent:
                    freed, until = freed + used, stamp + self.window
                    if freed >= units:
                        break
                wait = max(wait, until - now)
            self.sleep(max(wait, 0.001))
        entry = [float("inf"), float(units)]  # in flight: counts until it has an answer
        self.spent.append(entry)
        self.next_at = now + units * self.window / self.limit
        try:
            yield
        finally:
            entry[0] = self.clock()


def batch_size(units_per_minute: int, get_units: int, most: int = BATCH) -> int:
    """The most messages per batch (at most ``most``) whose cost leaves room in the minute for
    the list calls: with 50 gets at 20 units, 6,000 units hold exactly six batches, and
    one 5-unit list call then keeps a whole batch waiting; 49 leave 120 units spare."""
    units = max(1, get_units)
    spare = units_per_minute // (100 * units) + 10  # the minute's list calls and a profile
    largest = max(1, min(most, (units_per_minute - spare) // units))
    if units_per_minute >= 100 * most * units:
        return largest  # a hundred batches a minute: the rounding costs under 1 %
    for size in range(largest, 0, -1):
        if units_per_minute % (size * units) >= spare:
            return size
    return largest


class Progress:
    """A progress line with an ETA every PROGRESS_EVERY seconds (and one at the start)."""

    def __init__(self, name: str, msg_per_s: float) -> None:
        self.name, self.msg_per_s = name, msg_per_s
        self.last = 0.0

    def note(self, done: int, estimate: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY:
            return
        left = max(estimate - done, 0)
        eta = left / self.msg_per_s if self.msg_per_s else 0.0
        line = (f"{self.name}: sent-mail backfill {done:,} of about {estimate:,} read; "
                f"at most {self.msg_per_s:.1f}/s under the quota, about {span(eta)} left "
                "(keepwarm answers from what it has read; a restart continues here)")
        (log.warning if self.last == 0.0 and left > 1000 else log.info)(line)
        self.last = now


def span(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{max(minutes, 1)}m"
