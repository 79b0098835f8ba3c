"""When birthdays and anniversaries fall: the address book's dates, which often lack a year,
turned into the days they fall on and how many years each one counts.

Pure: people from the address book (``CardPerson``) and the settings in, occurrences out.
Both ``keepwarm birthdays`` and the birthday reminders (``daemon.reminders``) ask here, so
the list and the calendar never disagree.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from daemon.cadence import rule_matches
from daemon.model import CardPerson, PartialDate, Settings

BIRTHDAY = "birthday"
ANNIVERSARY = "anniversary"

# English whatever the locale (strftime's %A and %B follow it): a title must not change
# with the machine it was written on, or every sync would rewrite it
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One birthday or anniversary on the day it falls in one year."""

    kind: str  # BIRTHDAY or ANNIVERSARY
    person: CardPerson
    day: date
    years: int | None  # how old they turn, or how many years married; None: year unknown
    since: PartialDate  # the date as the address book holds it

    @property
    def name(self) -> str:
        """Who it is about: the card's name, else an address, else the card's key."""
        p = self.person
        return p.name or (p.emails[0] if p.emails else p.key)


def in_year(when: PartialDate, year: int) -> date | None:
    """The day ``when`` falls on in ``year``: 29 February falls on 28 February in a year
    that has none (what most people celebrate, and what khal and Google Calendar show);
    None for a date no year has (30 February, month 13), which a card may hold."""
    if not 1 <= when.month <= 12:
        return None
    last = calendar.monthrange(year, when.month)[1]
    if when.month == 2 and when.day == 29 and last == 28:
        return date(year, 2, 28)
    return date(year, when.month, when.day) if 1 <= when.day <= last else None


def occurrences(person: CardPerson, start: date, end: date,
                anniversaries: bool = True) -> Iterator[Occurrence]:
    """Each birthday (and anniversary) of ``person`` from ``start`` to ``end``, both
    included. None before the year it happened: nobody turns 0 or -3."""
    dates = [(BIRTHDAY, person.birthday)]
    if anniversaries:
        dates.append((ANNIVERSARY, person.anniversary))
    for kind, when in dates:
        if when is None:
            continue
        for year in range(start.year, end.year + 1):
            day = in_year(when, year)
            years = None if when.year is None else year - when.year
            if day is not None and start <= day <= end and (years is None or years > 0):
                yield Occurrence(kind, person, day, years, when)


def upcoming(people: Iterable[CardPerson], start: date, end: date) -> list[Occurrence]:
    """Every birthday and anniversary from ``start`` to ``end`` of the people not ignored,
    by day, then kind and name (`keepwarm birthdays`)."""
    found = [o for p in people if not p.ignored for o in occurrences(p, start, end)]
    return sorted(found, key=lambda o: (o.day, o.kind, o.name.lower(), o.person.key))


def lead_days(person: CardPerson, settings: Settings) -> int:
    """How many days ahead to be reminded: the first ``[[cadence.rules]]`` carrying
    ``birthday_lead`` that matches the person's addresses or tags, else ``[birthdays] lead``."""
    for rule in settings.rules:
        if rule.birthday_lead is not None and rule_matches(rule, person.emails, person.tags):
            return rule.birthday_lead
    return settings.birthday_lead_days


def spoken(day: date) -> str:
    """``Friday 12 June``: a date as a title says it, in English whatever the locale."""
    return f"{DAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


def written(when: PartialDate) -> str:
    """A date from the address book as ISO 8601 says it, ``--MM-DD`` without a year."""
    head = f"{when.year:04d}" if when.year is not None else "-"
    return f"{head}-{when.month:02d}-{when.day:02d}"
