"""The day a time phrase in a promise names ("on Tuesday", "by the end of the month",
"nächste Woche"), resolved against the day the message was sent.

Pure and small on purpose: the forms a promise uses are few, and a general date parser reads
ordinary words as dates ("Do", "a") and has put "Friday" into the past (docs/DESIGN.md,
"Promises found in text"). ``daemon.promisetext`` finds the commitment first and asks this
module about that sentence only. Working days are Monday to Friday, and 1 January and
25 December are never one: a reminder on New Year's Day helps nobody.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, timedelta

from daemon.when import add_months

_MONTHS = {
    "january": 1, "jan": 1, "januar": 1, "jänner": 1, "february": 2, "feb": 2, "februar": 2,
    "march": 3, "mar": 3, "märz": 3, "maerz": 3, "april": 4, "apr": 4, "may": 5, "mai": 5,
    "june": 6, "jun": 6, "juni": 6, "july": 7, "jul": 7, "juli": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "oktober": 10, "okt": 10,
    "november": 11, "nov": 11, "december": 12, "dec": 12, "dezember": 12, "dez": 12,
}
_WEEKDAYS = {
    "monday": 0, "mon": 0, "montag": 0, "tuesday": 1, "tue": 1, "tues": 1, "dienstag": 1,
    "wednesday": 2, "wed": 2, "weds": 2, "mittwoch": 2, "thursday": 3, "thu": 3, "thur": 3,
    "thurs": 3, "donnerstag": 3, "friday": 4, "fri": 4, "freitag": 4, "saturday": 5, "sat": 5,
    "samstag": 5, "sonnabend": 5, "sunday": 6, "sun": 6, "sonntag": 6,
}
RECENT = timedelta(days=92)  # a year-less date this recently past is not a promise's day
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "ein": 1, "einem": 1, "einer": 1, "two": 2, "zwei": 2,
    "three": 3, "drei": 3, "four": 4, "vier": 4, "five": 5, "fünf": 5, "six": 6, "sechs": 6,
    "seven": 7, "sieben": 7, "eight": 8, "acht": 8, "nine": 9, "neun": 9, "ten": 10,
    "zehn": 10, "a couple of": 2, "a couple": 2, "couple of": 2, "a few": 3, "few": 3,
    "ein paar": 3, "paar": 3, "einigen": 3,
}
# words that are also ordinary English words name a month or day only when capitalised
_CASED = {"may", "mar", "sat", "sun", "wed", "jun", "jan"}


def _alternation(words: dict[str, int]) -> str:
    parts = [f"(?-i:{w.capitalize()})" if w in _CASED else w
             for w in sorted(words, key=len, reverse=True)]
    return "(?:" + "|".join(parts) + ")"


MONTH = _alternation(_MONTHS)
# a month on its own ("in January") only by its full name: "for Jan" is more often a person
MONTH_NAME = _alternation({w: n for w, n in _MONTHS.items() if len(w) > 4 or w in (
    "may", "mai", "märz", "juni", "juli", "june", "july")})
WEEKDAY = _alternation(_WEEKDAYS)
NUMBER = r"(?:\d{1,3}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + ")"


def working(day: date) -> bool:
    return day.weekday() < 5 and (day.month, day.day) not in ((1, 1), (12, 25))


def on_or_after(day: date) -> date:
    """The first working day from ``day`` on."""
    while not working(day):
        day += timedelta(days=1)
    return day


def last_working(year: int, month: int) -> date:
    """The last working day of a month ("end of the month")."""
    day = date(year, month, calendar.monthrange(year, month)[1])
    while not working(day):
        day -= timedelta(days=1)
    return day


def _month_after(year: int, month: int, n: int = 1) -> tuple[int, int]:
    index = year * 12 + month - 1 + n
    return index // 12, index % 12 + 1


def _add_working(day: date, n: int) -> date:
    for _ in range(n):
        day = on_or_after(day + timedelta(days=1))
    return day


def _monday(day: date, weeks: int = 0) -> date:
    return day - timedelta(days=day.weekday()) + timedelta(weeks=weeks)


def _weekday(today: date, wanted: int, qualifier: str) -> date:
    """A weekday: the next one after ``today`` (never today); "next Tuesday" is the Tuesday
    of next week, as a calendar reads it."""
    if qualifier in ("next", "nächsten", "nächster", "nächste"):
        return _monday(today, 1) + timedelta(days=wanted)
    return today + timedelta(days=(wanted - today.weekday() - 1) % 7 + 1)


def _friday_ahead(today: date) -> date:
    friday = _monday(today) + timedelta(days=4)
    return friday if friday >= today else friday + timedelta(weeks=1)


def _month_end_ahead(today: date) -> date:
    end = last_working(today.year, today.month)
    return end if end >= today else last_working(*_month_after(today.year, today.month))


def _month_named(today: date, month: int, part: str) -> date:
    """"In January", "mid-January", "end of January": the next such month (this year's if
    still ahead); in the month itself, never before the next working day."""
    year = today.year if month >= today.month else today.year + 1
    if part in ("end", "late", "ende"):
        day = last_working(year, month)
    else:
        day = on_or_after(date(year, month, 15 if part in ("mid", "middle", "mitte") else 1))
    return day if day > today else _add_working(today, 1)


def _easter(year: int) -> date:
    """Easter Sunday (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (h + m - 7 * ((a + 11 * h + 22 * m) // 451) + 114)
    return date(year, n // 31, n % 31 + 1)


def _after_holidays(today: date, which: str) -> date:
    """"After the holidays": in summer (June to August) the first working day of September;
    else the first working day after 6 January (Epiphany ends the Christmas holidays in
    much of Europe). "After Christmas" is the first working day after 26 December (the next
    working day once that is past), "after Easter" the first after Easter Monday."""
    if which == "easter":
        monday = _easter(today.year) + timedelta(days=1)
        if monday < today:
            monday = _easter(today.year + 1) + timedelta(days=1)
        return on_or_after(monday + timedelta(days=1))
    if which == "christmas":  # after the 26th, and never before tomorrow
        return max(on_or_after(date(today.year, 12, 27)), _add_working(today, 1))
    if which == "summer" or 6 <= today.month <= 8:
        return on_or_after(date(today.year + (today.month >= 9), 9, 1))
    year = today.year if today <= date(today.year, 1, 6) else today.year + 1
    return on_or_after(date(year, 1, 7))


def _explicit(today: date, day: int, month: int, year: int | None) -> date | None:
    """A date as written; without a year the next such day from today on, unless it passed
    less than three months ago: "your mail of 30 November" looks back, not a year ahead.
    A day that does not exist, or one before the message, names nothing."""
    if year is not None:
        year += 2000 if year < 100 else 0
        try:
            named = date(year, month, day)
        except ValueError:
            return None
        return named if named >= today else None
    for candidate in range(today.year, today.year + 9):  # 29 February: the next leap year
        try:
            named = date(candidate, month, day)
        except ValueError:
            continue
        if named >= today:
            return named
        if today - named <= RECENT:
            return None
    return None


Resolver = Callable[[re.Match[str], date], date | None]


def _n(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS.get(word.lower(), 0)


def _iso(m: re.Match[str], today: date) -> date | None:
    return _explicit(today, int(m[3]), int(m[2]), int(m[1]))


def _dotted(m: re.Match[str], today: date) -> date | None:
    return _explicit(today, int(m[1]), int(m[2]), int(m[3]) if m[3] else None)


def _day_month(m: re.Match[str], today: date) -> date | None:
    return _explicit(today, int(m[1]), _MONTHS[m[2].lower()], int(m[3]) if m[3] else None)


def _month_day(m: re.Match[str], today: date) -> date | None:
    return _explicit(today, int(m[2]), _MONTHS[m[1].lower()], int(m[3]) if m[3] else None)


def _day_of_month(m: re.Match[str], today: date) -> date | None:
    """"By the 15th": the next 15th from today on (skipping months without one)."""
    for ahead in range(3):
        year, month = _month_after(today.year, today.month, ahead)
        if int(m[1]) <= calendar.monthrange(year, month)[1]:
            named = date(year, month, int(m[1]))
            if named >= today:
                return named
    return None


def _week(m: re.Match[str], today: date) -> date | None:
    named = m.groupdict()
    part, which = (named.get("part") or "").lower(), named["which"].lower()
    nxt = which.startswith(("next", "the coming", "the following", "coming", "nächst",
                            "kommend"))
    if part.startswith(("early", "beginning", "start", "the b", "the s", "anfang")):
        return _monday(today, 1) if nxt else _add_working(today, 1)
    if part.startswith(("mid", "the m", "mitte")):
        wednesday = _monday(today, 1 if nxt else 0) + timedelta(days=2)
        return wednesday if wednesday >= today else _friday_ahead(today)
    if part or not nxt:  # end of the week, later this week, this week: its Friday
        return _monday(today, 1) + timedelta(days=4) if nxt else _friday_ahead(today)
    return _monday(today, 1)


def _month(m: re.Match[str], today: date) -> date | None:
    named = m.groupdict()
    part, which = (named.get("part") or "").lower(), named["which"].lower()
    if which.startswith(("next", "the coming", "the following", "nächst", "kommend")):
        year, month = _month_after(today.year, today.month)
        if part.startswith(("end", "late", "the end", "ende")):
            return last_working(year, month)
        mid = part.startswith(("mid", "the m", "mitte"))
        return on_or_after(date(year, month, 15 if mid else 1))
    if part.startswith(("mid", "the m", "mitte")) and today.day < 15:
        return on_or_after(date(today.year, today.month, 15))
    return _month_end_ahead(today)


def _month_only(m: re.Match[str], today: date) -> date | None:
    words = (m["part"] or m["part2"] or "").lower().removeprefix("the ").split()
    part = words[0].rstrip("-") if words else ""
    return _month_named(today, _MONTHS[m["month"].lower()], part)


def _amount(m: re.Match[str], today: date) -> date | None:
    n, unit = _n(m[1] or m[3]), (m[2] or m[4]).lower()
    if m[1] and m[1].lower() in ("a few", "few", "ein paar", "paar", "einigen"):
        return _add_working(today, n)  # vague: three working days
    if n <= 0 or n > 400:
        return None
    if unit.startswith(("working", "business", "werk", "arbeit")):
        return _add_working(today, n)
    if unit.startswith(("month", "monat")):
        return add_months(today, n)
    weeks = unit.startswith(("week", "woche")) or unit == "fortnight"
    return today + timedelta(days=n * (14 if unit == "fortnight" else 7 if weeks else 1))


def _weekend(m: re.Match[str], today: date) -> date | None:
    saturday = _monday(today, 1 if m[1] else 0) + timedelta(days=5)
    return saturday if saturday >= today else today


def _holidays(m: re.Match[str], today: date) -> date | None:
    word = m[1].lower()
    which = ("easter" if word in ("easter", "ostern") else
             "christmas" if word in ("christmas", "xmas", "weihnachten") else
             "summer" if word.startswith(("summer", "sommer")) else "")
    return _after_holidays(today, which)


def _before_christmas(m: re.Match[str], today: date) -> date | None:
    eve = date(today.year, 12, 23)
    while not working(eve):
        eve -= timedelta(days=1)
    return eve if eve >= today else None


def _quarter(m: re.Match[str], today: date) -> date | None:
    year, month = _month_after(today.year, today.month, 3 - (today.month - 1) % 3)
    return on_or_after(date(year, month, 1))


def _year_end(m: re.Match[str], today: date) -> date | None:
    return last_working(today.year, 12)


def _new_year(m: re.Match[str], today: date) -> date | None:
    return on_or_after(date(today.year + 1, 1, 1))


def _shift(days: int) -> Resolver:
    return lambda m, today: today + timedelta(days=days)


def _on_weekday(m: re.Match[str], today: date) -> date | None:
    return _weekday(today, _WEEKDAYS[m["day"].lower()], (m["which"] or "").lower())


_F = re.IGNORECASE
_PART = (r"(?:(?P<part>early|beginning of|start of|the beginning of|the start of|mid-?|"
         r"middle of|the middle of|late|later|end of|the end of|anfang|mitte|ende)\s*)")
_PREP = r"(?:in|im|by|until|till|before|bis|vor|for|during|ab|from|after|nach)"
# explicit dates, tried in this order: the first that matches wins
EXPLICIT: tuple[tuple[re.Pattern[str], Resolver], ...] = (
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), _iso),
    (re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})?(?!\d)"), _dotted),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th|\.)?\s+(?:of\s+)?({MONTH})\b\.?"
                rf"(?:,?\s+(\d{{4}})\b)?", _F), _day_month),
    (re.compile(rf"\b({MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?!\d|[.:]\d)"
                rf"(?:,?\s+(\d{{4}})\b)?", _F), _month_day),
    (re.compile(rf"\b(?:on|by|until|till|before|for|am|bis zum|zum|{WEEKDAY},?)\s+"
                rf"(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th|\.(?!\d))", _F), _day_of_month),
)
# relative phrases: the leftmost wins
RELATIVE: tuple[tuple[re.Pattern[str], Resolver], ...] = (
    (re.compile(r"\b(?:later today|today|tonight|this (?:afternoon|evening|morning)|"
                r"heute|noch heute|im laufe des tages|nachher|"
                r"(?:in|within) (?:an?|one|\d+|a few|a couple of|the) (?:hours?|minutes?|mins?)|"
                r"in (?:einer|\d+) (?:stunden?|minuten?))\b", _F), _shift(0)),
    (re.compile(r"\b(?:the )?day after tomorrow\b|\bübermorgen\b", _F), _shift(2)),
    (re.compile(r"\b(?:tomorrow|tmrw|tmw|first thing in the morning)\b|"
                r"(?<!\bam )(?<!\bguten )(?<!\bjeden )(?<!\bden )\bmorgen\b", _F), _shift(1)),
    (re.compile(rf"\b(?:(?P<which>next|this|coming|nächsten|nächster|nächste|kommenden|"
                rf"diesen)\s+)?(?P<day>{WEEKDAY})\b\.?", _F), _on_weekday),
    (re.compile(r"\b(next |nächstes )?(?:weekend|wochenende)\b", _F), _weekend),
    (re.compile(rf"\b{_PART}?(?P<which>next|the coming|the following|coming|this)\s+week\b",
                _F), _week),
    (re.compile(rf"\b{_PART}(?P<which>the)\s+week\b", _F), _week),
    (re.compile(r"\b(?:(?P<part>anfang|mitte|ende)\s+)?(?:der\s+)?(?P<which>nächste[rn]?|"
                r"kommende[rn]?|diese[rn]?)\s+woche\b", _F), _week),
    (re.compile(r"\b(?P<part>anfang|mitte|ende|im laufe)\s+(?P<which>der)\s+woche\b", _F),
     _week),
    (re.compile(rf"\b{_PART}?(?P<which>next|the coming|the following|this)\s+month\b", _F),
     _month),
    (re.compile(rf"\b{_PART}(?P<which>the)\s+month\b", _F), _month),
    (re.compile(r"\b(?P<which>month[- ]end|eom|end of month|monatsende|ende monat)\b", _F),
     _month),
    (re.compile(r"\b(?:(?P<part>anfang|mitte|ende)\s+)?(?P<which>nächsten|kommenden|"
                r"diese[sn]|des)\s+monats?\b", _F), _month),
    (re.compile(r"\b(?:(?:the )?end of (?:the|this) year|year[- ]end|jahresende|"
                r"ende (?:des|dieses) jahres)\b", _F), _year_end),
    (re.compile(r"\b(?:after|over|nach|following)\s+(?:the\s+|den\s+|dem\s+)?(holidays|break|"
                r"christmas|xmas|new year'?s?|easter|summer(?: holidays| break)?|feiertagen|"
                r"ferien|weihnachten|neujahr|jahreswechsel|ostern|sommer\w*|festtagen)\b", _F),
     _holidays),
    (re.compile(r"\b(?:before|by|vor)\s+(?:christmas|xmas|weihnachten|the holidays|"
                r"den feiertagen)\b", _F), _before_christmas),
    (re.compile(r"\b(?:next year|(?:in )?the new year|nächstes jahr|im neuen jahr)\b", _F),
     _new_year),
    (re.compile(r"\b(?:next|nächsten|kommenden) (?:quarter|quartal)\b", _F), _quarter),
    (re.compile(rf"\b(?:{_PART}(?:{_PREP}\s+)?|{_PREP}\s+)(?P<part2>early |mid-?|late )?"
                rf"(?P<month>{MONTH_NAME})\b(?!\s*\d)", _F), _month_only),
    (re.compile(rf"\b(?:in|within|inside of|innerhalb von|in the next|over the next|binnen|"
                rf"in den nächsten)\s+({NUMBER})\s+(working days?|business days?|days?|weeks?|"
                rf"months?|fortnight|werktagen|arbeitstagen|tagen|wochen|woche|monaten|monat)\b"
                rf"|\b({NUMBER})\s+(days?|weeks?)\s+from\s+(?:today|now)\b", _F), _amount),
    (re.compile(r"\b(?:in|over|within|during)\s+(?:the\s+)?(?:next|coming)\s+(?:few\s+|"
                r"couple of\s+)?days\b|\bin den (?:nächsten|kommenden) tagen\b", _F),
     lambda m, today: _add_working(today, 3)),
)


# the end of a working day: today, unless the sentence names another day ("by COB tomorrow")
END_OF_DAY: tuple[tuple[re.Pattern[str], Resolver], ...] = (
    (re.compile(r"\b(?:(?:the )?end of (?:the |business )?day|eod|cob|eob|"
                r"close of (?:business|play))\b", _F), _shift(0)),
)


def _first(patterns: tuple[tuple[re.Pattern[str], Resolver], ...], text: str, today: date,
           leftmost: bool) -> tuple[bool, date | None]:
    best: tuple[int, re.Match[str], Resolver] | None = None
    for pattern, resolve in patterns:
        m = pattern.search(text)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), m, resolve)
            if not leftmost:
                break
    if best is None:
        return False, None
    try:
        return True, best[2](best[1], today)
    except (ValueError, OverflowError):  # a date past year 9999
        return True, None


def find(text: str, today: date) -> tuple[bool, date | None]:
    """Whether ``text`` names a time, and the day it names from ``today`` (None: a time
    that names no day ahead, e.g. 30 February). A written date that names a day wins over
    a relative phrase; one that names none ("of 30 November") gives way to it."""
    found, day = _first(EXPLICIT, text, today, leftmost=False)
    if day is not None:
        return found, day
    relative, later = _first(RELATIVE, text, today, leftmost=True)
    if not relative:
        relative, later = _first(END_OF_DAY, text, today, leftmost=True)
    return found or relative, later
