"""The learned rhythm and the strength (daemon.rhythm): literal cases and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from daemon import rhythm

AS_OF = date(2026, 6, 1)
BERLIN = ZoneInfo("Europe/Berlin")


def every(*gaps: int, start: date = date(2026, 1, 1)) -> list[date]:
    """Touch days with these gaps between them, from ``start``."""
    days = [start]
    for g in gaps:
        days.append(days[-1] + timedelta(days=g))
    return days


def test_five_touch_days_make_a_rhythm_four_do_not() -> None:
    assert rhythm.learned(every(10, 10, 10), date(2025, 1, 1)) is None
    assert rhythm.learned(every(10, 10, 10, 10), date(2025, 1, 1)) == (10, 4)


def test_the_rhythm_is_the_75th_percentile_by_nearest_rank() -> None:
    # gaps 1..8: the 6th of 8 (ceil(0.75 * 8)); a slow patch is not yet lateness
    assert rhythm.learned(every(3, 8, 1, 6, 2, 7, 5, 4), date(2025, 1, 1)) == (6, 8)
    # one long gap among many short ones does not count as the rhythm
    assert rhythm.learned(every(14, 14, 14, 14, 14, 14, 90), date(2025, 1, 1)) == (14, 7)


def test_only_days_since_the_window_count() -> None:
    days = every(10, 10, 10, 10, start=date(2025, 1, 1))
    assert rhythm.learned(days, date(2025, 1, 15)) is None  # only three left


def test_learned_interval_is_one_and_a_half_rhythms_never_below_the_floor() -> None:
    assert rhythm.learned_interval(14, 7) == 21  # every two weeks: three quiet weeks
    assert rhythm.learned_interval(3, 7) == 7
    assert rhythm.learned_interval(7, 7) == 10


def test_touch_days_are_local_days_and_a_meeting_marks_its_day() -> None:
    late = int(datetime(2026, 1, 10, 23, 30, tzinfo=UTC).timestamp())  # Jan 11 in Berlin
    noon = int(datetime(2026, 1, 11, 12, tzinfo=UTC).timestamp())
    after = int(datetime(2026, 7, 1, tzinfo=UTC).timestamp())
    touches = {("email", "m1"): late, ("meeting", "g1"): noon, ("email", "m2"): after}
    assert rhythm.touch_days(touches, BERLIN, AS_OF) == {date(2026, 1, 11): True}


def test_strength_literal_values() -> None:
    assert rhythm.strength({}, True, AS_OF) == 0
    # one meeting today: 3 -> 100 * (1 - e^-0.3) = 25.9
    assert rhythm.strength({AS_OF: True}, True, AS_OF) == 25
    # a message 90 days ago counts half: 0.5 -> 4.9
    assert rhythm.strength({AS_OF - timedelta(days=90): False}, True, AS_OF) == 4
    # one-way: half as close
    assert rhythm.strength({AS_OF: True}, False, AS_OF) == 13


def test_a_meeting_weighs_more_than_a_message_and_two_way_more_than_one_way() -> None:
    day = {AS_OF - timedelta(days=5): False}
    met = {AS_OF - timedelta(days=5): True}
    assert rhythm.strength(met, True, AS_OF) > rhythm.strength(day, True, AS_OF)
    assert rhythm.strength(day, True, AS_OF) > rhythm.strength(day, False, AS_OF)


def test_weekly_mail_for_a_year_is_strong() -> None:
    weekly = {AS_OF - timedelta(days=7 * k): False for k in range(52)}
    assert 80 <= rhythm.strength(weekly, True, AS_OF) <= 90  # 83: a sum of 17.6


def test_priority_weighs_intervals_overdue_by_strength() -> None:
    close = rhythm.priority(3, 10, 80)  # slightly overdue, close
    faint = rhythm.priority(60, 90, 5)  # long overdue, faint
    assert close > faint


# -- properties ------------------------------------------------------------------------------
history = st.dictionaries(st.integers(min_value=0, max_value=3 * 365), st.booleans(),
                          max_size=60)


def days_of(h: dict[int, bool]) -> dict[date, bool]:
    return {AS_OF - timedelta(days=age): met for age, met in h.items()}


@given(history, st.booleans())
def test_strength_is_bounded(h: dict[int, bool], two_way: bool) -> None:
    assert 0 <= rhythm.strength(days_of(h), two_way, AS_OF) <= 100


@given(history, st.booleans(), st.integers(min_value=1, max_value=400))
def test_strength_is_monotone_in_recency(h: dict[int, bool], two_way: bool,
                                         later: int) -> None:
    """The same history seen ``later`` days on (every touch older) is never stronger."""
    assert (rhythm.strength(days_of(h), two_way, AS_OF + timedelta(days=later))
            <= rhythm.strength(days_of(h), two_way, AS_OF))


@given(history, st.booleans(), st.integers(min_value=0, max_value=3 * 365))
def test_a_newer_touch_never_weakens(h: dict[int, bool], two_way: bool, age: int) -> None:
    """Moving the oldest touch to a more recent, untouched day keeps or raises strength."""
    if not h:
        return
    oldest = max(h)
    if age >= oldest or age in h:
        return
    moved = {a: m for a, m in h.items() if a != oldest} | {age: h[oldest]}
    assert rhythm.strength(days_of(moved), two_way, AS_OF) >= rhythm.strength(
        days_of(h), two_way, AS_OF)


@given(st.lists(st.tuples(st.integers(min_value=1_700_000_000, max_value=1_780_000_000),
                          st.booleans()), min_size=1, max_size=40), st.data())
def test_a_touch_on_a_day_already_touched_changes_nothing(
        times: list[tuple[int, bool]], data: st.DataObject) -> None:
    """Another message on a day with a touch, or another meeting on a day with a meeting:
    the same days, so the same rhythm and the same strength."""
    touches = {("meeting" if met else "email", str(i)): at for i, (at, met) in enumerate(times)}
    (channel, _), at = data.draw(st.sampled_from(sorted(touches.items())))
    extra = at + data.draw(st.integers(min_value=-30, max_value=30))
    if datetime.fromtimestamp(extra, BERLIN).date() != datetime.fromtimestamp(
            at, BERLIN).date():
        return
    as_of = date(2026, 6, 1)
    before = rhythm.touch_days(touches, BERLIN, as_of)
    after = rhythm.touch_days(touches | {(channel, "another"): extra}, BERLIN, as_of)
    assert after == before
    since = rhythm.window_start(as_of, 3 * 365)
    assert rhythm.learned(after, since) == rhythm.learned(before, since)
    assert rhythm.strength(after, True, as_of) == rhythm.strength(before, True, as_of)


@given(st.lists(st.integers(min_value=1, max_value=200), min_size=4, max_size=40))
def test_the_rhythm_is_one_of_the_gaps_at_least_the_median(gaps: list[int]) -> None:
    got = rhythm.learned(every(*gaps), date(2020, 1, 1))
    assert got is not None
    days, count = got
    assert count == len(gaps) and days in gaps
    assert sum(g <= days for g in gaps) >= 0.75 * len(gaps)
