"""How often the user is in touch with a contact (the learned rhythm) and how close they are
(the strength): both read from the days of their touchpoints.

Pure: touch times, a timezone and the as-of date in, numbers out. A day is the unit, as for
cadences: three messages to someone on one afternoon are one day in touch with them, so
neither number moves when a touch is added to a day that already has one of its kind.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, tzinfo

# a rhythm needs this many touch days (four gaps): fewer say more about chance than habit
MIN_DAYS = 5
# the share of gaps at or below the rhythm: a high quantile, so a slow patch is not "late"
QUANTILE = 0.75
# the interval keepwarm uses is this many rhythms of quiet (before the configured one)
SLACK = 1.5
# strength: a day in touch counts half as much every HALF_LIFE days
HALF_LIFE = 90.0
MESSAGE_WEIGHT = 1.0  # a day with sent mail only
MEETING_WEIGHT = 3.0  # a day with a meeting: an hour together is worth several messages
ONE_WAY_FACTOR = 0.5  # a contact who never wrote back nor met the user: half as close
# the weighted sum at which strength reaches 63 (1 - 1/e): mail every 13 days, kept up
SCALE = 10.0

MEETING = "meeting"  # the channel of a meeting's touchpoints (``ContactFacts.touches``)


def touch_days(touches: Mapping[tuple[str, str], int], tz: tzinfo,
               until: date) -> dict[date, bool]:
    """Each local day with a touchpoint up to ``until`` -> whether a meeting was among them.
    ``touches``: (channel, message or meeting id) -> epoch seconds, as in ``ContactFacts``."""
    days: dict[date, bool] = {}
    for (channel, _), at in touches.items():
        day = datetime.fromtimestamp(at, tz).date()
        if day <= until:
            days[day] = days.get(day, False) or channel == MEETING
    return days


def learned(days: Iterable[date], since: date) -> tuple[int, int] | None:
    """(rhythm in days, how many gaps it is read from), or None with fewer than ``MIN_DAYS``
    touch days from ``since`` on: the ``QUANTILE`` of the gaps between them, by nearest
    rank (a gap that really occurred, never an average of two)."""
    recent = sorted(d for d in set(days) if d >= since)
    if len(recent) < MIN_DAYS:
        return None
    gaps = sorted((b - a).days for a, b in itertools.pairwise(recent))
    return gaps[math.ceil(QUANTILE * len(gaps)) - 1], len(gaps)


def learned_interval(rhythm: int, floor: int) -> int:
    """The interval a rhythm suggests: ``SLACK`` rhythms of quiet, never below ``floor``."""
    return max(floor, int(SLACK * rhythm))


def strength(days: Mapping[date, bool], two_way: bool, as_of: date) -> int:
    """0-100: every day in touch, weighted by its kind and halved every ``HALF_LIFE`` days
    before ``as_of``, summed and squashed (100 is never quite reached by a real history)."""
    total = sum((MEETING_WEIGHT if met else MESSAGE_WEIGHT)
                * 0.5 ** (max(0, (as_of - day).days) / HALF_LIFE)
                for day, met in days.items() if day <= as_of)
    if not two_way:
        total *= ONE_WAY_FACTOR
    return min(100, int(100 * (1 - math.exp(-total / SCALE))))


def window_start(as_of: date, forget_after_days: int) -> date:
    """The first day a rhythm is learned from: what ``forget_after`` still remembers."""
    return as_of - timedelta(days=forget_after_days)


def priority(overdue_days: int, interval_days: int, strength_score: int) -> float:
    """How much a lapsed contact matters: intervals overdue times strength, so a close
    contact slightly overdue comes before a faint one long overdue."""
    return overdue_days / max(1, interval_days) * strength_score

