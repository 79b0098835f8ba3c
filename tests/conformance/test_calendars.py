"""The contract every reminders calendar keeps (run for each harness in conftest.py)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors import registry
from connectors.base import Connector
from daemon.errors import ReadOnlyError
from daemon.model import (
    AccountConfig,
    Create,
    Delete,
    Reminder,
    ReminderId,
    ReminderRecord,
    RemoteReminder,
    Settings,
    Update,
    Wish,
)
from daemon.planner import local_days, midnight, plan
from daemon.reminders import cadence_id, signin_id, with_alarm

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def writer(h: Any) -> Connector:
    return registry.connector_class(h.type)(h.account())


def reminder(n: int, day: int = 0, title: str = "") -> Reminder:
    start = T0 + timedelta(days=day)
    return Reminder(f"keepwarm-test-{n}", cadence_id(f"p{n}@example.org"),
                    title or f"Follow up: P{n}",
                    f"Last touch: 2025-01-0{n % 9 + 1}\nCadence: every 90 days",
                    start, start + timedelta(minutes=15))


def by_contact(w: Connector) -> dict[str, RemoteReminder]:
    return {r.rid.contact: r for r in w.list_reminders()}


def test_create_list_move_delete(calendar_harness: Any) -> None:
    w = writer(calendar_harness)
    assert w.list_reminders() == []
    applied = w.apply([Create(reminder(n)) for n in range(3)])
    assert [a.remote_id != "" for a in applied] == [True] * 3
    got = by_contact(w)
    assert sorted(got) == ["p0@example.org", "p1@example.org", "p2@example.org"]
    r1 = got["p1@example.org"]
    want = reminder(1)
    assert (r1.uid, r1.start, r1.end, r1.title, r1.description) == (
        want.uid, want.start, want.end, want.title, want.description)
    w.apply([Update(r1, reminder(1, day=2)), Delete(got["p2@example.org"])])
    got = by_contact(w)
    assert sorted(got) == ["p0@example.org", "p1@example.org"]
    assert got["p1@example.org"].start == T0 + timedelta(days=2)
    assert got["p1@example.org"].etag != r1.etag or not r1.etag


def birthday(n: int, day: date, tz: ZoneInfo) -> Reminder:
    return Reminder(f"keepwarm-bday-{n}", ReminderId("birthday", f"p{n}@example.org",
                                                     day.isoformat()),
                    f"Birthday: P{n} (turns 40)", f"Born: 1986-{day:%m-%d}",
                    midnight(day, tz), midnight(day + timedelta(days=1), tz), all_day=True)


@pytest.mark.parametrize("zone", ["Pacific/Auckland", "America/Toronto", "Pacific/Chatham"])
def test_all_day_reminders_are_written_and_read_back_as_dates(calendar_harness: Any,
                                                              zone: str) -> None:
    """A birthday is a date, not a time: every calendar writes it as an all-day event and
    lists it back as one, on the same date however far the user's zone is from UTC (in
    Auckland, midnight is the previous day in UTC), next to timed reminders; in a zone a
    calendar does not name (Graph: Toronto, Chatham's +13:45) too."""
    tz = ZoneInfo(zone)
    day = date(2026, 3, 4)
    w = writer(calendar_harness)
    w.apply([Create(birthday(1, day, tz)), Create(reminder(2))])
    got = by_contact(w)
    b = got["p1@example.org"]
    assert b.all_day and not got["p2@example.org"].all_day
    assert (b.start.date(), b.start.time(), b.end and b.end.date()) == (
        day, time(0), day + timedelta(days=1))
    want = birthday(1, day, tz)
    local = local_days(b, tz)
    assert (local.uid, local.rid, local.start, local.end, local.title, local.description) == (
        want.uid, want.rid, want.start, want.end, want.title, want.description)
    moved = birthday(1, day + timedelta(days=2), tz)
    w.apply([Update(b, moved)])
    again = by_contact(w)["p1@example.org"]
    assert again.all_day and (again.start.date(), again.end and again.end.date()) == (
        day + timedelta(days=2), day + timedelta(days=3))
    w.apply([Delete(again)])
    assert sorted(by_contact(w)) == ["p2@example.org"]


def test_reminders_written_before_kinds_are_found_and_kept_by_their_ids(
        calendar_harness: Any) -> None:
    """Events an older keepwarm wrote (marker: the bare contact, or keepwarm:signin:NAME)
    are listed with the ids the planner asks for, so an upgrade adopts them, and they can be
    moved and removed like any other."""
    calendar_harness.add_user_event("user-1", "Dentist")
    w = writer(calendar_harness)
    w.list_reminders()  # a writer may make its calendar now
    calendar_harness.add_old_reminder("keepwarm-old-1", "p1@example.org", T0)
    calendar_harness.add_old_reminder("keepwarm-old-2", "keepwarm:signin:work", T0)
    found = {r.uid: r for r in w.list_reminders()}
    assert {uid: (r.rid, r.start) for uid, r in found.items()} == {
        "keepwarm-old-1": (cadence_id("p1@example.org"), T0),
        "keepwarm-old-2": (signin_id("work"), T0)}
    old = found["keepwarm-old-1"]
    moved = Reminder(old.uid, old.rid, "Follow up: P1", "moved", T0 + timedelta(days=1),
                     T0 + timedelta(days=1, minutes=15))
    w.apply([Update(old, moved), Delete(found["keepwarm-old-2"])])
    (now,) = w.list_reminders()
    assert (now.uid, now.rid, now.start) == (old.uid, old.rid, moved.start)
    assert list(calendar_harness.user_events()) == ["user-1"]


def test_an_alarm_is_written_read_back_and_left_alone_while_unchanged(
        calendar_harness: Any) -> None:
    """``[reminders] alarm``: every calendar writes a reminder's display alarm and lists it
    back as written, so a plan against it wants no change; an update without one removes
    it, and an all-day reminder next to it has none."""
    tz = ZoneInfo("Europe/Berlin")
    w = writer(calendar_harness)
    ten = timedelta(minutes=10)
    rings = replace(reminder(1), alarm=ten)
    w.apply([Create(rings), Create(reminder(2)), Create(birthday(3, date(2026, 3, 4), tz))])
    got = by_contact(w)
    assert {c: r.alarm for c, r in got.items()} == {
        "p1@example.org": ten, "p2@example.org": None, "p3@example.org": None}
    wish = Wish(rings.rid, date(2026, 3, 2), rings.title, rings.description,
                earliest=date(2026, 3, 2), fixed=True, name="P1")
    settings = Settings(tz=UTC, reminder_time=time(8, 30))
    record = ReminderRecord(rings.rid, rings.uid, rings.start, date(2026, 3, 2),
                            confirmed=True, remote_id=got["p1@example.org"].remote_id,
                            etag=got["p1@example.org"].etag)
    held = [got["p1@example.org"]]
    again = plan([wish], held, {rings.rid: record}, {}, settings, T0 - timedelta(hours=1),
                 w.user_editable)
    assert with_alarm(again, held, ten).changes == []
    [louder] = with_alarm(again, held, timedelta(minutes=30)).changes
    assert isinstance(louder, Update) and louder.reminder.alarm == timedelta(minutes=30)
    w.apply([Update(got["p1@example.org"], reminder(1, day=1))])
    assert by_contact(w)["p1@example.org"].alarm is None


def test_empty_change_list_changes_nothing(calendar_harness: Any) -> None:
    calendar_harness.add_user_event("user-1", "Dentist")
    w = writer(calendar_harness)
    w.apply([Create(reminder(1))])
    before = (calendar_harness.user_events(), by_contact(w))
    assert w.apply([]) == []
    assert (calendar_harness.user_events(), by_contact(w)) == before


def test_user_events_are_never_touched(calendar_harness: Any) -> None:
    for n in range(4):
        calendar_harness.add_user_event(f"user-{n}", f"Lunch {n} ü")
    original = calendar_harness.user_events()
    assert len(original) == 4
    w = writer(calendar_harness)
    rng = random.Random(7)
    for _ in range(25):
        current = by_contact(w)
        changes: list[Any] = []
        for n in range(6):
            r = current.get(f"p{n}@example.org")
            roll = rng.random()
            if r is None and roll < 0.5:
                changes.append(Create(reminder(n, rng.randrange(10))))
            elif r is not None and roll < 0.3:
                changes.append(Delete(r))
            elif r is not None and roll < 0.6:
                changes.append(Update(r, reminder(n, rng.randrange(10), title="Moved")))
        w.apply(changes)
        assert {r.uid for r in w.list_reminders()}.isdisjoint(original)
    assert calendar_harness.user_events() == original


def test_reminders_are_listed_only_from_keepwarm_events(calendar_harness: Any) -> None:
    calendar_harness.add_user_event("user-x", "Follow up: somebody")
    w = writer(calendar_harness)
    assert w.list_reminders() == []


def test_read_only_connectors_refuse_writes(tmp_path: Any) -> None:
    ro = [t for t in registry.types() if not registry.connector_class(t).writes_reminders]
    assert ro, "at least one source-only connector exists"
    for type_name in ro:
        cls = registry.connector_class(type_name)
        conn = cls.__new__(cls)
        Connector.__init__(conn, AccountConfig(name="ro", type=type_name))
        with pytest.raises(ReadOnlyError):
            conn.apply([Create(reminder(1))])
        with pytest.raises(ReadOnlyError):
            conn.list_reminders()
