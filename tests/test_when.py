"""The WHEN forms of plus tags and ``keepwarm remind`` (daemon.when): each form literally
around month ends, leap days and the year's end, then properties over many days."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as hst

from daemon.when import add_months, in_words, resolve, short

WEEK = frozenset(range(5))  # Monday to Friday
BASES = hst.dates(date(1950, 1, 1), date(2150, 12, 31))
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.mark.parametrize(("text", "base", "day"), [
    ("3d", date(2026, 12, 30), date(2027, 1, 2)),  # over the year's end
    ("1d", date(2024, 2, 28), date(2024, 2, 29)),  # a leap day
    ("1d", date(2025, 2, 28), date(2025, 3, 1)),
    ("2w", date(2026, 12, 20), date(2027, 1, 3)),
    ("1m", date(2026, 1, 31), date(2026, 2, 28)),  # clamped to the month's end
    ("1m", date(2024, 1, 31), date(2024, 2, 29)),  # ... in a leap year
    ("1m", date(2026, 3, 31), date(2026, 4, 30)),
    ("1m", date(2026, 12, 15), date(2027, 1, 15)),  # over the year's end
    ("12m", date(2024, 2, 29), date(2025, 2, 28)),
    ("48m", date(2024, 2, 29), date(2028, 2, 29)),
    ("1wd", date(2026, 12, 4), date(2026, 12, 7)),  # Friday -> Monday
    ("5wd", date(2026, 12, 4), date(2026, 12, 11)),
    ("3wd", date(2026, 12, 31), date(2027, 1, 5)),  # Thu -> Fri, Mon, Tue
    ("1wd", date(2026, 12, 5), date(2026, 12, 7)),  # from a Saturday
    ("tomorrow", date(2026, 12, 31), date(2027, 1, 1)),
    ("tomorrow", date(2028, 2, 28), date(2028, 2, 29)),
    ("nextweek", date(2026, 12, 30), date(2027, 1, 4)),  # Wednesday -> the Monday after
    ("nextweek", date(2026, 12, 27), date(2026, 12, 28)),  # Sunday -> the next day
    ("nextweek", date(2026, 12, 28), date(2027, 1, 4)),  # Monday -> a week later
    ("tue", date(2026, 12, 29), date(2027, 1, 5)),  # a Tuesday: never the same day
    ("tue", date(2026, 12, 31), date(2027, 1, 5)),
    ("tuesday", date(2026, 12, 28), date(2026, 12, 29)),
    ("Tues", date(2026, 12, 28), date(2026, 12, 29)),
    ("thur", date(2024, 2, 27), date(2024, 2, 29)),
    ("sun", date(2026, 12, 26), date(2026, 12, 27)),
    ("2027-01-15", date(2026, 12, 4), date(2027, 1, 15)),
    ("20240229", date(2024, 1, 1), date(2024, 2, 29)),
    ("2026-12-04", date(2026, 12, 4), date(2026, 12, 4)),  # today is a day too
    (" 3D ", date(2026, 12, 4), date(2026, 12, 7)),  # case and blanks do not matter
    ("FRIDAY", date(2026, 12, 4), date(2026, 12, 11)),
])
def test_each_form_names_its_day(text: str, base: date, day: date) -> None:
    assert resolve(text, base, WEEK) == day


def test_working_days_are_the_configured_ones() -> None:
    sun_to_thu = frozenset({6, 0, 1, 2, 3})
    assert resolve("1wd", date(2026, 12, 3), sun_to_thu) == date(2026, 12, 6)  # Thu -> Sun
    assert resolve("2d", date(2026, 12, 3), sun_to_thu) == date(2026, 12, 5)  # days are days


@pytest.mark.parametrize(("text", "says"), [
    ("3x", "3d, 2w, 1m, 5wd, tue, tomorrow, nextweek, 2026-12-24 or 20261224"),
    ("", "is not a day like"),
    ("mo", "is not a day like"),  # too short to name a weekday
    ("tuesdays", "is not a day like"),
    ("0d", "count from 1"),
    ("2025-02-29", "not a date of the calendar"),
    ("20261301", "not a date of the calendar"),
    ("2026-12-03", "is before 2026-12-04"),
    ("9999w", "more than ten years"),
    ("2037-01-01", "more than ten years"),
])
def test_anything_else_is_refused_naming_the_forms(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as caught:
        resolve(text, date(2026, 12, 4), WEEK)
    assert "\n" not in str(caught.value)


def test_working_days_need_a_working_day() -> None:
    with pytest.raises(ValueError, match="no working days"):
        resolve("2wd", date(2026, 12, 4), frozenset())


@given(BASES, hst.integers(1, 3000))
def test_days_and_weeks_are_calendar_days(base: date, n: int) -> None:
    assert resolve(f"{n}d", base, WEEK) == base + timedelta(days=n)
    if n <= 500:
        assert resolve(f"{n}w", base, WEEK) == base + timedelta(weeks=n)


@given(BASES, hst.integers(1, 119))
def test_months_keep_the_day_of_the_month_or_end_it(base: date, n: int) -> None:
    day = resolve(f"{n}m", base, WEEK)
    assert (day.year * 12 + day.month) - (base.year * 12 + base.month) == n
    last = calendar.monthrange(day.year, day.month)[1]
    assert day.day == min(base.day, last)
    assert add_months(base, n) == day


@given(BASES, hst.sampled_from(range(7)))
def test_a_weekday_is_the_next_one_after_the_base(base: date, weekday: int) -> None:
    day = resolve(WEEKDAYS[weekday], base, WEEK)
    assert day.weekday() == weekday
    assert 1 <= (day - base).days <= 7


@given(BASES)
def test_nextweek_is_the_monday_of_the_next_week(base: date) -> None:
    day = resolve("nextweek", base, WEEK)
    assert day.weekday() == 0 and 1 <= (day - base).days <= 7
    assert day.isocalendar()[:2] != base.isocalendar()[:2]
    assert resolve("tomorrow", base, WEEK) == base + timedelta(days=1)


@given(BASES, hst.integers(1, 60),
       hst.sets(hst.integers(0, 6), min_size=1).map(frozenset))
def test_working_days_count_only_working_days(base: date, n: int,
                                               working: frozenset[int]) -> None:
    day = resolve(f"{n}wd", base, working)
    assert day.weekday() in working
    counted = sum((base + timedelta(days=i)).weekday() in working
                  for i in range(1, (day - base).days + 1))
    assert counted == n


@given(BASES, hst.integers(0, 3650))
def test_both_date_forms_name_the_same_day(base: date, ahead: int) -> None:
    day = base + timedelta(days=ahead)
    assert resolve(day.isoformat(), base, WEEK) == day
    assert resolve(day.strftime("%Y%m%d"), base, WEEK) == day


@pytest.mark.parametrize(("text", "words"), [
    ("3d", "3 days"), ("1d", "1 day"), ("2w", "2 weeks"), ("1m", "1 month"),
    ("5wd", "5 working days"), ("tue", "Tuesday"), ("TOMORROW", "tomorrow"),
    ("nextweek", "next week"), ("2026-12-24", "24 Dec 2026"), ("20261224", "24 Dec 2026"),
])
def test_a_form_in_words_for_a_title(text: str, words: str) -> None:
    assert in_words(text) == words
    assert short(date(2026, 12, 2)) == "2 Dec"
