"""Birthdays and anniversaries as vCards write them, read into ``PartialDate``s.

The forms people's address books hold: a full date (``19860412``, ``1986-04-12``, with a
time or a zone after it: the date part is the day); a date without a year (vCard 4's
``--0412`` and ``--04-12``, which Google also writes into vCard 3 exports); Apple's
``X-APPLE-OMIT-YEAR=1604`` with the year 1604, and the bare year 1604 Apple writes without
the parameter; Google's year 0. ``VALUE=text`` or words (``April 12``, ``12.4.``) are kept as
text and never guessed. A value that looks like one of the date forms but is no day of the
calendar (``1986-02-30``, ``1986-04``) is left out with a note the user sees in ``show``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from connectors.text import clean_text
from daemon.model import PartialDate

_DATE = re.compile(r"(?P<year>\d{4}|--)-?(?P<month>\d\d)-?(?P<day>\d\d)(?:[T ].*)?",
                   re.IGNORECASE)
_DATEISH = re.compile(r"(?:\d{4}|--)[\dT:Z+ .\-]*", re.IGNORECASE)
UNKNOWN_YEARS = frozenset({0, 1604})  # Google's "no year", Apple's
_LEAP = 2000  # a year without one: 29 February exists
MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class DateProp:
    """One date property of a card: BDAY, ANNIVERSARY or X-ANNIVERSARY (Apple's labelled
    X-ABDATE comes as the last), its parameters (keys upper-cased) and raw value."""

    name: str
    params: Mapping[str, Sequence[str]]
    value: str


@dataclass(frozen=True, slots=True)
class Dates:
    birthday: PartialDate | None = None
    anniversary: PartialDate | None = None
    birthday_text: str = ""
    notes: tuple[str, ...] = ()


def read_dates(props: Sequence[DateProp]) -> Dates:
    """The card's birthday and anniversary: the first usable of each; a birthday in words
    is kept only when no date says it."""
    birthday = anniversary = None
    text = ""
    notes: list[str] = []
    for prop in props:
        value = clean_text(prop.value)
        if not value:
            continue
        found, note = read_date(value, prop.params)
        if note:
            notes.append(f"{prop.name} {value[:MAX_TEXT]} {note}")
        elif found is None and prop.name == "BDAY":
            text = text or value[:MAX_TEXT]
        elif found is None:
            notes.append(f"{prop.name} {value[:MAX_TEXT]!r} is text, not a date")
        elif prop.name == "BDAY":
            birthday = birthday or found
        else:
            anniversary = anniversary or found
    return Dates(birthday, anniversary, "" if birthday else text, tuple(dict.fromkeys(notes)))


def read_date(value: str, params: Mapping[str, Sequence[str]]) -> tuple[PartialDate | None, str]:
    """(the date, '') for a date; (None, '') for text; (None, why) for a value that looks
    like a date and is not one."""
    kinds = {v.strip().lower() for v in params.get("VALUE", ())}
    if "text" in kinds:
        return None, ""
    match = _DATE.fullmatch(value)
    if match is None:
        return None, "is not a date" if _DATEISH.fullmatch(value) else ""
    year = None if match["year"] == "--" else int(match["year"])
    omit = {v.strip() for v in params.get("X-APPLE-OMIT-YEAR", ())}
    if year in UNKNOWN_YEARS or (year is not None and str(year) in omit):
        year = None
    month, day = int(match["month"]), int(match["day"])
    try:
        date(year or _LEAP, month, day)
    except ValueError:
        return None, "is not a date"
    return PartialDate(month, day, year), ""
