"""Planner invariants over random contacts, days and user actions (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.model import Create, Delete, Settings, Status, Update
from tests.test_planner import BERLIN, Calendar
from tests.test_planner import st as status

DAY0 = date(2026, 3, 2)

dues = st.dates(min_value=DAY0 - timedelta(days=120), max_value=DAY0 + timedelta(days=40))
contacts = st.dictionaries(st.sampled_from([f"p{i}@x.org" for i in range(25)]),
                           st.tuples(dues, st.booleans()), max_size=25)
knobs = st.tuples(st.integers(1, 6), st.sampled_from([frozenset(range(5)), frozenset({0, 2, 4}),
                                                      frozenset(range(7))]),
                  st.integers(0, 30), st.sampled_from([time(7, 0), time(9, 30), time(13, 0)]))


def build(spec: dict[str, tuple[date, bool]]) -> list[Status]:
    return [status(k, due, tracked) for k, (due, tracked) in sorted(spec.items())]


@settings(max_examples=150, deadline=None)
@given(contacts, knobs, st.integers(0, 23), st.booleans())
def test_invariants(spec: dict[str, tuple[date, bool]],
                    knob: tuple[int, frozenset[int], int, time], hour: int,
                    editable: bool) -> None:
    per_day, working, horizon, at = knob
    s = Settings(tz=BERLIN, max_per_day=per_day, working_days=working, horizon_days=horizon,
                 reminder_time=at)
    now = datetime.combine(DAY0, time(hour), tzinfo=BERLIN)
    cal = Calendar(editable)
    statuses = build(spec)
    cal.run(statuses, now, s)
    starts = cal.starts()
    # one per contact, only for tracked contacts due within the horizon
    assert len(cal.events) == len(starts)
    last = DAY0 + timedelta(days=horizon)
    want = {k for k, (due, tracked) in spec.items() if tracked and due <= last}
    assert set(starts) <= want
    for start in starts.values():
        local = start.astimezone(BERLIN)
        assert local.weekday() in working and local.time() == at
        assert now.date() <= local.date() <= last  # never on a past day, never past the horizon
    days = [v.astimezone(BERLIN).date() for v in starts.values()]
    assert all(days.count(d) <= per_day for d in days)
    # a contact without a reminder found every day it could use within the horizon full
    for k in want - set(starts):
        day = max(spec[k][0], DAY0)
        while day <= last:
            assert day.weekday() not in working or days.count(day) == per_day, (k, day)
            day += timedelta(days=1)
    # never earlier than due (unless overdue, then the first free slot)
    by_key = dict(starts)
    for k in set(starts):
        assert by_key[k].astimezone(BERLIN).date() >= min(spec[k][0], DAY0)
    # idempotent: a second run the same day changes nothing
    assert cal.run(statuses, now, s).changes == []


@settings(max_examples=100, deadline=None)
@given(contacts, contacts, st.lists(st.tuples(st.integers(0, 24), st.sampled_from(
    ["delete", "move"])), max_size=6), st.integers(0, 5))
def test_converges_after_changes_and_user_actions(
        first: dict[str, tuple[date, bool]], second: dict[str, tuple[date, bool]],
        actions: list[tuple[int, str]], days_later: int) -> None:
    cal = Calendar(editable=True)
    now = datetime.combine(DAY0, time(8), tzinfo=BERLIN)
    cal.run(build(first), now)
    events = sorted(cal.events)
    for index, what in actions:
        if not events:
            break
        uid = events[index % len(events)]
        if uid not in cal.events:
            continue
        if what == "delete":
            del cal.events[uid]
        else:
            e = cal.events[uid]
            cal.events[uid] = replace(e, start=e.start + timedelta(hours=5),
                                      end=(e.end or e.start) + timedelta(hours=5))
    later = now + timedelta(days=days_later)
    p = cal.run(build(second), later)
    assert all(isinstance(c, Create | Update | Delete) for c in p.changes)
    assert len({e.rid for e in cal.events.values()}) == len(cal.events)
    assert cal.run(build(second), later).changes == []


TRANSITIONS = [date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28)]  # Europe/Berlin


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(TRANSITIONS), st.integers(-6, 2), contacts, st.integers(1, 4),
       st.sampled_from([time(2, 30), time(9, 30), time(23, 30)]))
def test_daylight_saving_never_shifts_or_doubles_reminders(
        transition: date, offset: int, spec: dict[str, tuple[date, bool]], per_day: int,
        at: time) -> None:
    s = Settings(tz=BERLIN, max_per_day=per_day, reminder_time=at)
    start = transition + timedelta(days=offset)
    shifted = {k: (due - DAY0 + start, tracked) for k, (due, tracked) in spec.items()}
    statuses = build(shifted)
    cal = Calendar()
    for day in range(10):  # a daily run across the transition
        now = datetime.combine(start + timedelta(days=day), time(7, 0), tzinfo=BERLIN)
        cal.run(statuses, now, s)
        assert len({e.rid for e in cal.events.values()}) == len(cal.events)
        local = [e.start.astimezone(BERLIN) for e in cal.events.values()]
        # 02:30 does not exist on the spring-forward day: zoneinfo maps it to 03:30
        assert all(t.time() == at or (at == time(2, 30) and t.time() == time(3, 30))
                   for t in local)
        assert all(t.weekday() < 5 for t in local)
        days = [t.date() for t in local]
        assert all(days.count(d) <= per_day for d in days)
        assert cal.run(statuses, now, s).changes == []
