"""Free slots: a reminder steps around the user's busy meetings, within [reminders] hours."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.config import parse
from daemon.errors import ConfigError
from daemon.model import Address, Attendee, Meeting, Settings
from daemon.slots import Busy, Span, free_start
from tests.test_planner import BERLIN, MON_8, Calendar, at
from tests.test_planner import st as status
from tests.test_sync import World

S = Settings(tz=BERLIN)
MON = MON_8.date()


def span(day: date, start: tuple[int, int], end: tuple[int, int]) -> Span:
    return (datetime.combine(day, time(*start), tzinfo=BERLIN),
            datetime.combine(day, time(*end), tzinfo=BERLIN))


def test_a_free_time_is_kept() -> None:
    busy = Busy([span(MON, (8, 0), (9, 30)), span(MON, (9, 45), (11, 0))])  # touching both
    assert free_start(MON, S, busy) == at(MON)


def test_a_meeting_at_the_time_moves_it_to_the_end_of_the_meeting() -> None:
    assert free_start(MON, S, Busy([span(MON, (9, 0), (10, 0))])) == at(MON, 10, 0)


def test_back_to_back_meetings_and_a_gap_too_short_are_stepped_over() -> None:
    busy = Busy([span(MON, (9, 0), (10, 0)), span(MON, (10, 0), (11, 0)),
                 span(MON, (11, 10), (12, 0))])  # 11:00-11:10 is shorter than 15 minutes
    assert free_start(MON, S, busy) == at(MON, 12, 0)


def test_a_day_full_within_hours_has_no_slot() -> None:
    assert free_start(MON, S, Busy([span(MON, (9, 0), (16, 50))])) is None
    # the last slot ends exactly when the hours do
    assert free_start(MON, S, Busy([span(MON, (9, 0), (16, 45))])) == at(MON, 16, 45)


def test_a_time_before_hours_moves_to_the_start_of_hours() -> None:
    s = Settings(tz=BERLIN, reminder_time=time(7, 0))
    assert free_start(MON, s, Busy([span(MON, (6, 30), (7, 30))])) == at(MON, 9, 0)


def test_a_meeting_in_another_zone_overlaps_on_the_clock() -> None:
    # 08:15-09:15 UTC is 09:15-10:15 in Berlin (winter)
    busy = Busy([(datetime(2026, 3, 2, 8, 15, tzinfo=UTC), datetime(2026, 3, 2, 9, 15,
                                                                  tzinfo=UTC))])
    got = free_start(MON, S, busy)
    assert got == at(MON, 10, 15) and got is not None and got.tzinfo is BERLIN


minutes = st.integers(6 * 60, 19 * 60).map(lambda m: m - m % 5)
spans = st.lists(st.tuples(minutes, st.integers(5, 240)), max_size=8)


def clock(day: date, minute: int) -> datetime:
    return datetime.combine(day, time(), tzinfo=BERLIN) + timedelta(minutes=minute)


@settings(max_examples=300, deadline=None)
@given(spans, minutes, st.sampled_from([5, 15, 30, 60]))
def test_the_start_is_the_first_free_minute_at_or_after_the_time(
        raw: list[tuple[int, int]], at_minute: int, length: int) -> None:
    s = Settings(tz=BERLIN, reminder_time=clock(MON, at_minute).time(),
                 reminder_duration=timedelta(minutes=length))
    busy_spans = [(clock(MON, a), clock(MON, a + n)) for a, n in raw]
    busy = Busy(busy_spans)

    def free(start: datetime) -> bool:
        return all(e <= start or start + s.reminder_duration <= b for b, e in busy_spans)

    got = free_start(MON, s, busy)
    if free(clock(MON, at_minute)):
        assert got == clock(MON, at_minute)
        return
    # brute force, minute by minute: the first start after the time within 09:00-17:00
    later = [clock(MON, m) for m in range(max(at_minute + 1, 9 * 60), 17 * 60 - length + 1)]
    first = next((t for t in later if free(t)), None)
    assert got == first
    # the same spans in any order, or with copies, give the same start
    assert free_start(MON, s, Busy(busy_spans[::-1] + busy_spans)) == got


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 13), minutes, st.integers(5, 300)), max_size=15),
       st.integers(1, 4), st.integers(0, 15))
def test_planned_reminders_sit_in_free_time_within_hours_and_converge(
        raw: list[tuple[int, int, int]], per_day: int, n: int) -> None:
    s = Settings(tz=BERLIN, max_per_day=per_day)
    busy = [(clock(MON + timedelta(days=d), a), clock(MON + timedelta(days=d), a + m))
            for d, a, m in raw]
    statuses = [status(f"p{i}@x.org", MON - timedelta(days=i)) for i in range(n)]
    cal = Calendar()
    p = cal.run(statuses, MON_8, s, busy)
    for r in p.reminders.values():
        free = all(e <= r.start or r.end <= b for b, e in busy)
        on_time = r.start.timetz() == s.reminder_time.replace(tzinfo=BERLIN)
        within = time(9) <= r.start.time() and r.end.time() <= time(17)
        assert free and (on_time or within)
        assert r.start.weekday() < 5
    assert cal.run(statuses, MON_8, s, busy).changes == []  # a pure function



def test_the_planner_moves_a_reminder_off_a_meeting_and_a_full_day_to_the_next() -> None:
    cal = Calendar()
    tue = MON + timedelta(days=1)
    busy = [span(MON, (9, 0), (17, 0)), span(tue, (9, 15), (10, 0))]
    cal.run([status("a@x.org", MON - timedelta(days=3))], MON_8, S, busy)
    assert cal.starts() == {"a@x.org": at(tue, 10, 0)}
    # the meeting is cancelled: back to today at the set time
    cal.run([status("a@x.org", MON - timedelta(days=3))], MON_8, S, [])
    assert cal.starts() == {"a@x.org": at(MON)}


def test_a_reminder_the_user_moved_keeps_its_time_even_onto_a_meeting() -> None:
    cal = Calendar()
    statuses = [status("a@x.org", MON - timedelta(days=3))]
    cal.run(statuses)
    uid = next(iter(cal.events))
    cal.events[uid] = replace(cal.events[uid], start=at(MON, 14, 0), end=at(MON, 14, 15))
    p = cal.run(statuses, MON_8, S, [span(MON, (13, 0), (15, 0))])
    assert p.changes == [] and cal.starts() == {"a@x.org": at(MON, 14, 0)}


def test_hours_and_style_are_checked_with_the_fix_named(tmp_path: Path) -> None:
    raw = {"reminders": {"hours": "17:00-09:00", "style": "weekly"}}
    with pytest.raises(ConfigError) as err:
        parse(raw, tmp_path / "config.toml")
    lines = str(err.value).splitlines()
    assert any("reminders.hours" in line and "'09:00-17:00'" in line for line in lines)
    assert any("reminders.style" in line and '"digest"' in line for line in lines)
    ok = parse({"reminders": {"hours": "8:30 - 18:00", "style": "digest"}},
               tmp_path / "config.toml").settings
    assert (ok.reminder_hours, ok.reminder_style) == ((time(8, 30), time(18)), "digest")
    assert parse({}, tmp_path / "c.toml").settings.reminder_hours == (time(9), time(17))


def test_sync_steps_around_the_meetings_it_read_but_not_declined_nor_free_ones(
        tmp_path: Path) -> None:
    world = World(tmp_path)
    world.send("work", "b0", 60, "bo@x.org")
    world.send("work", "b1", 40, "bo@x.org")
    me, cy = Address("me@work.example"), Address("cy@x.org", "Cy")
    monday = datetime(2026, 3, 2, tzinfo=BERLIN)
    world.data["home"].meetings["busy"] = Meeting(
        "busy", monday.replace(hour=9), monday.replace(hour=11), me, (Attendee(cy, "accepted"),))
    world.data["home"].meetings["no"] = Meeting(
        "no", monday.replace(hour=11), monday.replace(hour=12), cy,
        (Attendee(me, "declined"),))
    world.data["home"].meetings["off"] = Meeting(
        "off", monday.replace(hour=11), monday.replace(hour=12), me, (Attendee(cy),),
        status="cancelled")
    world.data["home"].meetings["free"] = Meeting(  # shown as free: the user is available
        "free", monday.replace(hour=11), monday.replace(hour=12), me, (Attendee(cy),),
        free=True)
    world.sync()
    assert world.reminders() == {"bo@x.org": monday.replace(hour=11)}
    assert world.sync().reminders.__dict__ == {  # type: ignore[union-attr]
        "created": 0, "moved": 0, "deleted": 0, "error": None}
