"""Birthdays and anniversaries as days (daemon.birthdays), the wishes they become
(reminders.birthdays) and their config ([birthdays], a rule's birthday_lead)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon import birthdays, reminders
from daemon.birthdays import ANNIVERSARY, BIRTHDAY, in_year, occurrences
from daemon.config import load
from daemon.errors import ConfigError
from daemon.model import (
    CadenceRule,
    CardPerson,
    PartialDate,
    ReminderId,
    ReminderRecord,
    Settings,
)

JUNE_1 = date(2026, 6, 1)  # a Monday
S = Settings(horizon_days=14)


BORN = PartialDate(6, 12, 1986)


def jane(born: PartialDate | None = BORN, **kw: object) -> CardPerson:
    return CardPerson(**{"key": "jane@x.org", "name": "Jane Doe", "emails": ("jane@x.org",),
                         "birthday": born, "source": "book", **kw})  # type: ignore[arg-type]


# -- the day a date falls on -------------------------------------------------------------
valid = st.dates(min_value=date(2000, 1, 1), max_value=date(2000, 12, 31))  # 2000 is leap
years = st.integers(1900, 2200)


@given(valid, years)
def test_a_date_falls_on_its_month_and_day_and_29_february_on_the_28th(d: date, y: int) -> None:
    got = in_year(PartialDate(d.month, d.day), y)
    assert got is not None and got.year == y
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if (d.month, d.day) == (2, 29) and not leap:
        assert got == date(y, 2, 28)
    else:
        assert (got.month, got.day) == (d.month, d.day)


def test_a_date_no_year_has_falls_on_no_day() -> None:
    assert [in_year(PartialDate(m, d), 2028) for m, d in ((2, 30), (13, 1), (0, 5), (4, 31),
                                                         (6, 0))] == [None] * 5


@settings(max_examples=200)
@given(valid, st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)),
       st.integers(0, 2000))
def test_occurrences_are_the_days_a_calendar_shows(d: date, start: date, span: int) -> None:
    """Against a day-by-day walk: every day in the window whose month and day match (or the
    28th of a February without a 29th, for the 29th), no other; in order, 365 or 366 days
    apart, so every window of 366 days holds one."""
    end = start + timedelta(days=span)
    person = jane(PartialDate(d.month, d.day))
    got = [o.day for o in occurrences(person, start, end)]
    want, day = [], start
    while day <= end:
        if in_year(PartialDate(d.month, d.day), day.year) == day:
            want.append(day)
        day += timedelta(days=1)
    assert got == want
    assert all((b - a).days in (365, 366) for a, b in itertools.pairwise(got))
    if span >= 365:
        assert got


@given(valid, st.integers(1900, 2090), st.dates(min_value=date(1950, 1, 1),
                                                 max_value=date(2100, 1, 1)))
def test_years_count_from_the_year_and_start_at_one(d: date, born: int, start: date) -> None:
    person = jane(PartialDate(d.month, d.day, born))
    for o in occurrences(person, start, start + timedelta(days=800)):
        assert o.years == o.day.year - born and o.years >= 1
    assert all(o.years is None for o in occurrences(
        jane(PartialDate(d.month, d.day)), start, start + timedelta(days=800)))


def test_a_window_across_new_year_holds_both_years() -> None:
    people = [jane(PartialDate(1, 2)), jane(PartialDate(12, 30), key="b@x.org", name="Bo")]
    got = birthdays.upcoming(people, date(2026, 12, 20), date(2027, 1, 10))
    assert [(o.day, o.name) for o in got] == [(date(2026, 12, 30), "Bo"),
                                              (date(2027, 1, 2), "Jane Doe")]


def test_upcoming_sorts_by_day_and_leaves_out_the_ignored() -> None:
    people = [jane(anniversary=PartialDate(6, 2, 2016)),
              jane(PartialDate(6, 2), key="a@x.org", name="Al", emails=("a@x.org",)),
              jane(PartialDate(6, 3), key="i@x.org", name="Ig", ignored=True)]
    got = birthdays.upcoming(people, JUNE_1, JUNE_1 + timedelta(days=30))
    assert [(o.day, o.kind, o.name, o.years) for o in got] == [
        (date(2026, 6, 2), ANNIVERSARY, "Jane Doe", 10),
        (date(2026, 6, 2), BIRTHDAY, "Al", None),
        (date(2026, 6, 12), BIRTHDAY, "Jane Doe", 40)]


# -- the wishes ----------------------------------------------------------------------------
def wish_days(people: list[CardPerson], s: Settings = S, as_of: date = JUNE_1,
              records: dict[ReminderId, ReminderRecord] | None = None
              ) -> list[tuple[str, date, date]]:
    return [(w.rid.kind, w.earliest, w.due)
            for w in reminders.birthdays(people, s, as_of, records or {})]


def test_a_birthday_is_a_fixed_all_day_wish_outside_the_budget() -> None:
    (w,) = reminders.birthdays([jane()], S, JUNE_1, {})
    assert w.rid == ReminderId("birthday", "jane@x.org", "2026-06-12")
    assert (w.due, w.earliest, w.fixed, w.budgeted, w.all_day) == (
        date(2026, 6, 12), date(2026, 6, 12), True, False, True)
    assert w.title == "Birthday: Jane Doe (turns 40)"
    assert "2026-06-12" in w.description and "keepwarm show jane@x.org" in w.description


def test_titles() -> None:
    day = date(2026, 6, 12)
    o = birthdays.Occurrence(BIRTHDAY, jane(), day, None, PartialDate(6, 12))
    assert reminders.birthday_title(o, 0) == "Birthday: Jane Doe"
    assert reminders.birthday_title(o, 3) == "Birthday: Jane Doe on Friday 12 June"
    a = birthdays.Occurrence(ANNIVERSARY, jane(), day, 30, PartialDate(6, 12, 1996))
    assert reminders.birthday_title(a, 0) == "Anniversary: Jane Doe (30 years)"
    one = birthdays.Occurrence(ANNIVERSARY, jane(), day, 1, PartialDate(6, 12, 2025))
    assert reminders.birthday_title(one, 7) == "Anniversary: Jane Doe (1 year) on Friday 12 June"
    nameless = birthdays.Occurrence(BIRTHDAY, jane(name=""), day, 40, PartialDate(6, 12, 1986))
    assert reminders.birthday_title(nameless, 0) == "Birthday: jane@x.org (turns 40)"


def test_switches_ignored_people_and_cards_without_an_address() -> None:
    married = jane(anniversary=PartialDate(6, 5, 2000))
    assert sorted(k for k, _, _ in wish_days([married])) == ["anniversary", "birthday"]
    assert wish_days([married], Settings(horizon_days=14, anniversaries=False)) == [
        ("birthday", date(2026, 6, 12), date(2026, 6, 12))]
    assert wish_days([married], Settings(horizon_days=14, birthdays=False)) == []
    assert wish_days([jane(ignored=True)]) == []
    card = CardPerson("card:book/uid-7", "No Mail", birthday=PartialDate(6, 3))
    (w,) = reminders.birthdays([card], S, JUNE_1, {})
    assert w.rid == ReminderId("birthday", "card:book/uid-7", "2026-06-03")
    assert "Why: keepwarm birthdays" in w.description


def test_the_horizon_and_the_lead() -> None:
    assert wish_days([jane(PartialDate(6, 15))], Settings(horizon_days=14)) == [
        ("birthday", date(2026, 6, 15), date(2026, 6, 15))]
    assert wish_days([jane(PartialDate(6, 15))], Settings(horizon_days=14),
                     as_of=date(2026, 6, 1) - timedelta(days=1)) == []
    lead = Settings(horizon_days=14, birthday_lead_days=7)
    assert wish_days([jane(PartialDate(6, 20))], lead) == [
        ("birthday", date(2026, 6, 13), date(2026, 6, 20))]


def test_a_rule_sets_the_lead_by_address_or_tag_first_match_wins() -> None:
    s = Settings(horizon_days=14, birthday_lead_days=1, rules=(
        CadenceRule("*@nowhere.org", 30, None, 9),
        CadenceRule("tag:family", None, None, 5),
        CadenceRule("x.org", 60, None, None),  # carries no lead: skipped
        CadenceRule("x.org", None, None, 2)))
    family = jane(PartialDate(6, 12), tags=frozenset({"family"}))
    assert birthdays.lead_days(family, s) == 5
    assert birthdays.lead_days(jane(), s) == 2
    assert birthdays.lead_days(jane(emails=("j@else.org",)), s) == 1


def test_a_lead_day_already_past_is_today_then_stays_on_its_day() -> None:
    s = Settings(horizon_days=14, birthday_lead_days=7)
    person = [jane(PartialDate(6, 4))]
    assert wish_days(person, s) == [("birthday", JUNE_1, date(2026, 6, 4))]
    rid = ReminderId("birthday", "jane@x.org", "2026-06-04")
    written = ReminderRecord(rid, "u", datetime(2026, 6, 1, tzinfo=UTC), date(2026, 6, 4))
    assert wish_days(person, s, as_of=date(2026, 6, 2), records={rid: written}) == [
        ("birthday", JUNE_1, date(2026, 6, 4))]
    assert wish_days(person, s, as_of=date(2026, 6, 5), records={rid: written}) == []


@settings(max_examples=200)
@given(st.lists(st.tuples(valid, st.one_of(st.none(), st.integers(1900, 2030))), max_size=6),
       st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31)),
       st.integers(0, 60), st.integers(1, 400))
def test_every_occurrence_whose_day_is_within_the_horizon_and_no_other(
        dates: list[tuple[date, int | None]], as_of: date, lead: int, horizon: int) -> None:
    """Across leap years, year ends and leads that cross them: a wish for each birthday on
    or after today whose lead day is within the horizon, on that day (today when it has
    passed), one id per occurrence, never a day past the horizon."""
    s = Settings(horizon_days=horizon, birthday_lead_days=lead)
    people = [jane(PartialDate(d.month, d.day, y), key=f"p{i}@x.org")
              for i, (d, y) in enumerate(dates)]
    wishes = reminders.birthdays(people, s, as_of, {})
    last = as_of + timedelta(days=horizon)
    want = set()
    for p in people:
        day = as_of
        while day <= last + timedelta(days=lead):
            assert p.birthday is not None
            born = p.birthday.year
            if in_year(p.birthday, day.year) == day and (born is None or day.year > born):
                want.add((p.key, day))
            day += timedelta(days=1)
    assert {(w.rid.contact, w.due) for w in wishes} == want
    assert len({w.rid for w in wishes}) == len(wishes)
    for w in wishes:
        assert w.earliest == max(w.due - timedelta(days=lead), as_of) <= last
        assert w.rid.key == w.due.isoformat()


# -- config ----------------------------------------------------------------------------------
def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load(path)
    return [p.split(": ", 1)[1] for p in exc.value.problems]


def test_config_defaults_and_values(tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    s = load(tmp_path / "empty.toml").settings
    assert (s.birthdays, s.birthday_lead_days, s.anniversaries) == (True, 0, True)
    path = tmp_path / "config.toml"
    path.write_text('[birthdays]\nenabled = false\nlead = "1w"\nanniversaries = false\n'
                    '[[cadence.rules]]\nmatch = "tag:family"\nbirthday_lead = "3d"\n'
                    '[[cadence.rules]]\nmatch = "x.org"\nevery = "30d"\nbirthday_lead = "0d"\n')
    s = load(path).settings
    assert (s.birthdays, s.birthday_lead_days, s.anniversaries) == (False, 7, False)
    assert s.rules == (CadenceRule("tag:family", None, None, 3),
                       CadenceRule("x.org", 30, None, 0))


def test_config_problems(tmp_path: Path) -> None:
    got = problems(tmp_path, '[birthdays]\nlead = "-2d"\nenabled = "yes"\nanniversary = true\n'
                             '[[cadence.rules]]\nbirthday_lead = "2y"\n'
                             '[[cadence.rules]]\nmatch = "x.org"\nbirthday_lead = "soon"\n')
    assert got == [
        "birthdays.anniversary: unknown key; did you mean 'anniversaries'?",
        "cadence.rules[0].birthday_lead: must be at most 1y, not '2y'",
        "cadence.rules[0]: needs 'match'",
        "cadence.rules[1].birthday_lead: 'soon' is not a duration like '30d', '2w', '15min' "
        "(units: s min h d w y)",
        "birthdays.enabled: must be true or false, not a string 'yes'",
        "birthdays.lead: must be longer than zero, like '30d', not '-2d'"]
