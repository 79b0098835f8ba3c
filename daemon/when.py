"""The day a promise names, written the short way a plus tag (``me+kw-3d@example.com``) or
``keepwarm remind`` takes it: ``3d``, ``2w``, ``1m``, ``5wd``, ``tue``, ``tomorrow``,
``nextweek``, ``2026-12-24`` or ``20261224``.

Pure: the text, the day it counts from (a message's Date in the user's zone, or today) and
the working days go in; a date comes out, or a ValueError naming the forms. Days, weeks and
months are calendar ones (a month keeps the day of the month, clamped to the month's end, as
``date -d '+1 month'`` users expect of a calendar app, not of coreutils); working days only
when written ``wd``, as khal and every calendar count them.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Collection
from datetime import date, timedelta

from daemon.birthdays import DAYS, MONTHS
from daemon.followups import add_working_days
from daemon.words import plural

FORMS = "3d, 2w, 1m, 5wd, tue, tomorrow, nextweek, 2026-12-24 or 20261224"
# a promise further out than this is a typo (the same bound as a snooze)
LONGEST = timedelta(days=3653)
_COUNT = re.compile(r"(\d{1,4})(wd|d|w|m)")
_ISO = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")
_UNITS = {"d": "day", "w": "week", "m": "month", "wd": "working day"}


def _weekday(text: str) -> int | None:
    """Monday = 0 for ``tue``, ``tues``, ``tuesday`` (any start of a day's name of three
    letters or more), else None."""
    if len(text) < 3:
        return None
    return next((i for i, name in enumerate(DAYS) if name.lower().startswith(text)), None)


def add_months(day: date, n: int) -> date:
    """``n`` calendar months later, on the same day of the month or the month's last."""
    month = day.month - 1 + n
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _counted(n: int, unit: str, base: date, working_days: Collection[int]) -> date:
    if unit == "d":
        return base + timedelta(days=n)
    if unit == "w":
        return base + timedelta(weeks=n)
    if unit == "m":
        return add_months(base, n)
    if not working_days:
        raise ValueError("no working days are configured to count working days in")
    return add_working_days(base, n, frozenset(working_days))


def _named(text: str, base: date) -> date | None:
    """The day a word names, or None when ``text`` is no such word."""
    if text == "tomorrow":
        return base + timedelta(days=1)
    if text == "nextweek":
        return base + timedelta(days=7 - base.weekday())
    weekday = _weekday(text)
    if weekday is None:
        return None
    return base + timedelta(days=(weekday - base.weekday() - 1) % 7 + 1)


def _day(text: str, base: date, working_days: Collection[int]) -> date:
    if m := _COUNT.fullmatch(text):
        if int(m.group(1)) == 0:
            raise ValueError(f"{text!r} is no time from now: count from 1, like {FORMS}")
        return _counted(int(m.group(1)), m.group(2), base, working_days)
    if m := _ISO.fullmatch(text):
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise ValueError(f"{text!r} is not a date of the calendar") from None
    named = _named(text, base)
    if named is None:
        raise ValueError(f"{text!r} is not a day like {FORMS}")
    return named


def resolve(text: str, base: date, working_days: Collection[int]) -> date:
    """The day ``text`` names counted from ``base`` (a weekday is the next one after it,
    never ``base`` itself). Case and surrounding blanks do not matter. A date before
    ``base`` or more than ten years after it is refused: a typo, not a promise."""
    word = text.strip().lower() if isinstance(text, str) else ""
    try:
        day = _day(word, base, working_days)
    except OverflowError:
        day = date.max
    if day < base:
        raise ValueError(f"{text!r} is before {base.isoformat()}: a promise is for later")
    if day - base > LONGEST:
        raise ValueError(f"{text!r} is more than ten years after {base.isoformat()}")
    return day


def in_words(text: str) -> str:
    """What ``text`` says in words, for a reminder's title: ``3 days``, ``2 working days``,
    ``Tuesday``, ``next week``, ``24 Dec 2026``; ``text`` as written if it is none of them."""
    word = text.strip().lower()
    if m := _COUNT.fullmatch(word):
        return plural(int(m.group(1)), _UNITS[m.group(2)])
    if m := _ISO.fullmatch(word):
        return f"{int(m.group(3))} {MONTHS[int(m.group(2)) - 1][:3]} {m.group(1)}"
    if word == "nextweek":
        return "next week"
    weekday = _weekday(word)
    return DAYS[weekday] if weekday is not None else word


def short(day: date) -> str:
    """``2 Dec``: a day as a title says it, in English whatever the locale."""
    return f"{day.day} {MONTHS[day.month - 1][:3]}"
