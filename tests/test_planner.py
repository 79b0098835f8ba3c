"""Reminder planning: literal placements, idempotence, and what the user did."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as hst

from daemon.model import (
    ContactFacts,
    Create,
    Delete,
    ReminderId,
    ReminderRecord,
    RemoteReminder,
    Settings,
    Status,
    Update,
    Wish,
)
from daemon.planner import Plan, plan, reminder_uid
from daemon.reminders import cadence, cadence_id, describe, signin_id, signin_notices

BERLIN = ZoneInfo("Europe/Berlin")
S = Settings(tz=BERLIN)
MON_8 = datetime(2026, 3, 2, 8, 0, tzinfo=BERLIN)  # a Monday, before 09:30


def st(key: str, due: date, tracked: bool = True, name: str = "") -> Status:
    f = ContactFacts(key=key, emails=(key,), name=name or key.split("@")[0].title(),
                     touchpoints=3, meetings=0, last_touch=datetime(2025, 11, 1, tzinfo=UTC),
                     last_channel="email")
    return Status(f, tracked, "", 90, "default", date(2025, 11, 1), due, (MON_8.date() - due).days)


def at(d: date, hh: int = 9, mm: int = 30) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=BERLIN)


class Calendar:
    """Applies plans like a calendar would, and keeps the records like the store would."""

    def __init__(self, editable: bool = True) -> None:
        self.events: dict[str, RemoteReminder] = {}
        self.records: dict[ReminderId, ReminderRecord] = {}
        self.dismissals: dict[ReminderId, date] = {}
        self.editable = editable

    def run(self, statuses: list[Status], now: datetime = MON_8, settings: Settings = S,
            busy: Sequence[tuple[datetime, datetime]] = ()) -> Plan:
        return self.play(cadence(statuses), now, settings, busy)

    def play(self, wishes: list[Wish], now: datetime = MON_8, settings: Settings = S,
             busy: Sequence[tuple[datetime, datetime]] = ()) -> Plan:
        """Plan ``wishes`` and apply the changes as a calendar would."""
        p = plan(wishes, list(self.events.values()), self.records, self.dismissals,
                 settings, now, self.editable, busy)
        for c in p.changes:
            if isinstance(c, Create | Update):
                r = c.reminder
                self.events[r.uid] = RemoteReminder(r.uid, r.rid, r.start, r.uid, "e",
                                                    r.title, r.description, r.end)
                if isinstance(c, Update) and c.remote.uid != r.uid:
                    del self.events[c.remote.uid]
            else:
                self.events.pop(c.remote.uid, None)
        self.records = {k: replace(r, confirmed=True) for k, r in p.records.items()}
        self.dismissals = p.dismissals
        return p

    def starts(self) -> dict[str, datetime]:
        return {e.rid.contact: e.start for e in self.events.values()}


def kinds(p: Plan) -> list[str]:
    return [type(c).__name__ for c in p.changes]


def test_overdue_contact_gets_a_reminder_today_at_the_set_time() -> None:
    cal = Calendar()
    p = cal.run([st("a@x.org", date(2026, 2, 1))])
    assert kinds(p) == ["Create"]
    r = p.changes[0].reminder  # type: ignore[union-attr]
    assert (r.start, r.end) == (at(date(2026, 3, 2)), at(date(2026, 3, 2), 9, 45))
    assert r.uid == reminder_uid(cadence_id("a@x.org"), date(2026, 2, 1))
    assert r.title == "Follow up: A"


def test_after_the_reminder_time_it_still_goes_on_today() -> None:
    p = Calendar().run([st("a@x.org", date(2026, 2, 1))], now=MON_8.replace(hour=17))
    assert p.changes[0].reminder.start == at(date(2026, 3, 2))  # type: ignore[union-attr]


def test_weekend_and_horizon() -> None:
    cal = Calendar()
    cal.run([st("sat@x.org", date(2026, 3, 7)), st("in14@x.org", date(2026, 3, 16)),
             st("in15@x.org", date(2026, 3, 17)), st("untracked@x.org", date(2026, 1, 1), False)])
    assert cal.starts() == {"sat@x.org": at(date(2026, 3, 9)),
                            "in14@x.org": at(date(2026, 3, 16))}


def test_max_per_day_spills_most_overdue_first() -> None:
    cal = Calendar()
    cal.run([st(f"p{i}@x.org", date(2026, 2, 1) + timedelta(days=i)) for i in range(7)])
    starts = cal.starts()
    assert sorted(k for k, v in starts.items() if v == at(date(2026, 3, 2))) == [
        f"p{i}@x.org" for i in range(5)]
    assert starts["p5@x.org"] == starts["p6@x.org"] == at(date(2026, 3, 3))


def test_a_backlog_fills_the_horizon_and_waits_beyond_it() -> None:
    # 100 overdue contacts, 5 a day, a 14-day horizon from Mon 2 Mar: 11 working days hold 55
    cal = Calendar()
    backlog = [st(f"p{i:03d}@x.org", date(2026, 1, 1) + timedelta(days=i % 50)) for i in range(100)]
    cal.run(backlog)
    starts = cal.starts()
    assert len(starts) == 55
    assert max(starts.values()) == at(date(2026, 3, 16))  # the horizon's last working day
    waiting = {s.facts.key for s in backlog} - set(starts)
    assert min(s.due for s in backlog if s.facts.key in waiting) >= max(
        s.due for s in backlog if s.facts.key in starts)  # the most overdue go first
    # one done: only the reminders within the horizon shift, and the first waiting one moves in
    done = min(starts, key=lambda k: (starts[k], k))
    p = cal.run([s for s in backlog if s.facts.key != done])
    assert len(cal.starts()) == 55
    assert (kinds(p).count("Create"), kinds(p).count("Delete")) == (1, 1)


def test_re_running_changes_nothing() -> None:
    cal = Calendar()
    statuses = [st(f"p{i}@x.org", date(2026, 2, 1) + timedelta(days=3 * i)) for i in range(12)]
    cal.run(statuses)
    assert cal.run(statuses).changes == []
    assert cal.run(statuses, now=MON_8 + timedelta(hours=3)).changes == []


def test_getting_in_touch_removes_the_reminder() -> None:
    cal = Calendar()
    cal.run([st("a@x.org", date(2026, 2, 1)), st("b@x.org", date(2026, 2, 2))])
    p = cal.run([st("a@x.org", date(2026, 5, 30)), st("b@x.org", date(2026, 2, 2))])
    assert kinds(p) == ["Delete"] and p.changes[0].remote.rid == cadence_id("a@x.org")  # type: ignore[union-attr]
    assert list(cal.starts()) == ["b@x.org"]


def test_a_due_date_moving_within_the_horizon_moves_the_same_event() -> None:
    cal = Calendar()
    cal.run([st("a@x.org", date(2026, 3, 4))])
    uid = next(iter(cal.events))
    p = cal.run([st("a@x.org", date(2026, 3, 12))])
    assert kinds(p) == ["Update"]
    assert p.changes[0].reminder.uid == uid  # type: ignore[union-attr]
    assert cal.starts() == {"a@x.org": at(date(2026, 3, 12))}


def test_a_passed_reminder_rolls_forward() -> None:
    cal = Calendar()
    s = [st("a@x.org", date(2026, 2, 1))]
    cal.run(s)
    p = cal.run(s, now=MON_8 + timedelta(days=2))
    assert kinds(p) == ["Update"]
    assert cal.starts() == {"a@x.org": at(date(2026, 3, 4))}


def test_reminders_fill_the_earliest_free_day_when_room_opens_up() -> None:
    cal = Calendar()
    s = [st(f"p{i}@x.org", date(2026, 2, 1) + timedelta(days=i)) for i in range(6)]
    cal.run(s)
    assert cal.starts()["p5@x.org"] == at(date(2026, 3, 3))
    p = cal.run([st("p0@x.org", date(2026, 6, 1)), *s[1:]])  # p0 got in touch
    assert sorted(kinds(p)) == ["Delete", "Update"]
    assert cal.starts()["p5@x.org"] == at(date(2026, 3, 2))


def test_todays_reminders_stay_today_after_their_time_has_passed() -> None:
    cal = Calendar()
    s = [st(f"p{i}@x.org", date(2026, 2, 1) + timedelta(days=i)) for i in range(3)]
    cal.run(s)
    assert cal.run(s, now=MON_8.replace(hour=17)).changes == []


def test_the_same_inputs_give_the_same_calendar_whatever_happened_before() -> None:
    s = [st(f"p{i}@x.org", date(2026, 2, 1) + timedelta(days=2 * i)) for i in range(9)]
    direct = Calendar()
    direct.run(s, now=MON_8 + timedelta(days=3))
    winding = Calendar()
    winding.run(s[::2], now=MON_8)
    winding.run(s[1:], now=MON_8 + timedelta(days=1))
    winding.run(s, now=MON_8 + timedelta(days=3))
    assert winding.starts() == direct.starts()


def test_a_reminder_the_user_moved_keeps_the_users_time() -> None:
    cal = Calendar()
    s = [st("a@x.org", date(2026, 2, 1))]
    cal.run(s)
    uid = next(iter(cal.events))
    cal.events[uid] = replace(cal.events[uid], start=at(date(2026, 3, 5), 14, 0),
                              end=at(date(2026, 3, 5), 15, 0))
    assert cal.run(s).changes == []
    assert cal.run(s, now=MON_8 + timedelta(days=1)).changes == []
    assert cal.records[cadence_id("a@x.org")].pinned
    # a new due date (the user got in touch, then lapsed again) releases the pin
    p = cal.run([st("a@x.org", date(2026, 3, 10))])
    assert kinds(p) == ["Update"] and cal.starts() == {"a@x.org": at(date(2026, 3, 10))}


def test_a_reminder_the_user_deleted_is_dismissed_until_the_next_due_date() -> None:
    cal = Calendar()
    s = [st("a@x.org", date(2026, 2, 1))]
    cal.run(s)
    cal.events.clear()
    assert cal.run(s).changes == []
    assert cal.dismissals == {cadence_id("a@x.org"): date(2026, 2, 1)}
    assert cal.run(s, now=MON_8 + timedelta(days=3)).changes == []
    p = cal.run([st("a@x.org", date(2026, 3, 6))])
    assert kinds(p) == ["Create"] and cal.dismissals == {}


def test_a_calendar_keepwarm_owns_gets_missing_reminders_back() -> None:
    cal = Calendar(editable=False)
    s = [st("a@x.org", date(2026, 2, 1))]
    cal.run(s)
    uid = next(iter(cal.events))
    cal.events[uid] = replace(cal.events[uid], start=at(date(2026, 3, 5)))
    assert kinds(cal.run(s)) == ["Update"]
    cal.events.clear()
    assert kinds(cal.run(s)) == ["Create"] and cal.dismissals == {}


def test_an_unconfirmed_create_is_not_a_dismissal() -> None:
    cal = Calendar()
    s = [st("a@x.org", date(2026, 2, 1))]
    p = plan(cadence(s), [], {}, {}, S, MON_8, True)  # planned, then crashed before writing
    cal.records = p.records
    assert not p.records[cadence_id("a@x.org")].confirmed
    assert kinds(cal.run(s)) == ["Create"]


def test_duplicate_events_for_one_contact_are_collapsed() -> None:
    cal = Calendar()
    s = [st("a@x.org", date(2026, 2, 1))]
    cal.run(s)
    (e,) = cal.events.values()
    cal.events["dup"] = replace(e, uid="dup", remote_id="dup")
    p = cal.run(s)
    assert kinds(p) == ["Delete"] and p.changes[0].remote.uid == "dup"  # type: ignore[union-attr]
    assert list(cal.events) == [e.uid]


def test_orphans_of_unknown_contacts_are_removed() -> None:
    cal = Calendar()
    cal.events["x"] = RemoteReminder("x", cadence_id("gone@x.org"), at(date(2026, 3, 2)), "x")
    assert kinds(cal.run([])) == ["Delete"]
    assert cal.events == {}


def test_description_has_no_relative_dates() -> None:
    title, text = describe(st("a@x.org", date(2026, 2, 1), name="Ann Lee"))
    assert title == "Follow up: Ann Lee"
    assert text.splitlines()[:4] == ["Last touch: 2025-11-01 by e-mail",
                                     "Cadence: every 90 days (default)", "Due: 2026-02-01",
                                     "Addresses: a@x.org"]
    assert "overdue" not in text and "ago" not in text


def test_settings_change_moves_reminders_to_the_new_time() -> None:
    from datetime import time

    cal = Calendar()
    s = [st("a@x.org", date(2026, 2, 1))]
    cal.run(s)
    later = replace(S, reminder_time=time(8, 15))
    p = cal.run(s, now=MON_8.replace(hour=7), settings=later)
    assert kinds(p) == ["Update"] and cal.starts() == {"a@x.org": at(date(2026, 3, 2), 8, 15)}
    assert isinstance(p.changes[0], Update) and not isinstance(p.changes[0], Delete)


NOTICE = ["work"]


def test_a_notice_goes_on_the_first_working_day_slot() -> None:
    s = [st("a@x.org", date(2026, 2, 1))]
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=BERLIN)
    p = plan(cadence(s) + signin_notices(NOTICE, {}, saturday.date()), [], {}, {}, S, saturday,
             True)
    assert {c.reminder.rid: c.reminder.start for c in p.changes  # type: ignore[union-attr]
            } == {cadence_id("a@x.org"): at(date(2026, 3, 9)),
                  signin_id("work"): at(date(2026, 3, 9))}


def test_a_notice_stays_put_is_dismissable_and_is_removed_after_sign_in() -> None:
    cal = Calendar()

    def run(now: datetime, notices: list[str]) -> Plan:
        p = plan(signin_notices(notices, cal.records, now.date()), list(cal.events.values()),
                 cal.records, cal.dismissals, S, now, True)
        for c in p.changes:
            if isinstance(c, Create):
                cal.events[c.reminder.uid] = RemoteReminder(
                    c.reminder.uid, c.reminder.rid, c.reminder.start, c.reminder.uid, "e",
                    c.reminder.title, c.reminder.description, c.reminder.end)
            elif isinstance(c, Delete):
                del cal.events[c.remote.uid]
        cal.records = {k: replace(r, confirmed=True) for k, r in p.records.items()}
        cal.dismissals = p.dismissals
        return p

    assert kinds(run(MON_8, NOTICE)) == ["Create"]
    assert run(MON_8 + timedelta(hours=5), NOTICE).changes == []
    assert kinds(run(MON_8 + timedelta(days=1), NOTICE)) == ["Update"]  # rolls forward daily
    cal.events.clear()  # the user deleted it: seen, not shown again while still parked
    assert run(MON_8 + timedelta(days=2), NOTICE).changes == []
    cal.dismissals.clear()
    cal.records.clear()
    assert kinds(run(MON_8 + timedelta(days=2), NOTICE)) == ["Create"]
    assert kinds(run(MON_8 + timedelta(days=2), [])) == ["Delete"]  # signed in again


# -- kinds: one budget for all, fixed dates never moved ------------------------------------
def fixed(name: str, day: date) -> Wish:
    return Wish(ReminderId("birthday", f"{name}@x.org", day.isoformat()), day,
                f"Birthday: {name}", "", earliest=day, fixed=True, name=name)


def test_fixed_dates_take_their_days_budget_and_are_never_moved() -> None:
    s = [st(f"p{i}@x.org", date(2026, 2, 1) + timedelta(days=i)) for i in range(5)]
    wishes = [*cadence(s), fixed("ann", date(2026, 3, 2)), fixed("bo", date(2026, 3, 2)),
              fixed("cy", date(2026, 3, 7))]  # a Saturday: a fixed date is fixed
    p = plan(wishes, [], {}, {}, replace(S, max_per_day=3), MON_8, True)
    days = {rid.contact: r.start for rid, r in p.reminders.items()}
    assert days["ann@x.org"] == days["bo@x.org"] == at(date(2026, 3, 2))
    assert days["cy@x.org"] == at(date(2026, 3, 7))
    # the follow-ups share the budget: one left on Monday, then three a day from Tuesday
    assert [days[f"p{i}@x.org"] for i in range(5)] == [
        at(date(2026, 3, 2)), *[at(date(2026, 3, 3))] * 3, at(date(2026, 3, 4))]
    # a full day does not move a fixed date either
    crowded = cadence([st(f"q{i}@x.org", date(2026, 2, 1)) for i in range(3)])
    p = plan([fixed("ann", date(2026, 3, 2)), *crowded], [], {}, {},
             replace(S, max_per_day=3), MON_8, True)
    assert sum(r.start == at(date(2026, 3, 2)) for r in p.reminders.values()) == 3
    assert p.reminders[fixed("ann", date(2026, 3, 2)).rid].start == at(date(2026, 3, 2))


def test_several_reminders_of_one_contact_live_side_by_side() -> None:
    cal = Calendar()
    s = [st("ann@x.org", date(2026, 2, 1))]
    birthday = fixed("ann", date(2026, 3, 4))
    p = plan([*cadence(s), birthday], [], {}, {}, S, MON_8, True)
    assert {type(c).__name__ for c in p.changes} == {"Create"} and len(p.changes) == 2
    for c in p.changes:
        r = c.reminder  # type: ignore[union-attr]
        cal.events[r.uid] = RemoteReminder(r.uid, r.rid, r.start, r.uid, "e", r.title,
                                           r.description, r.end)
    cal.records = {k: replace(r, confirmed=True) for k, r in p.records.items()}
    again = plan([*cadence(s), birthday], list(cal.events.values()), cal.records, {}, S, MON_8,
                 True)
    assert again.changes == []
    # the user deletes the birthday: it is dismissed, the follow-up stays
    del cal.events[p.reminders[birthday.rid].uid]
    after = plan([*cadence(s), birthday], list(cal.events.values()), cal.records, {}, S, MON_8,
                 True)
    assert after.changes == [] and after.dismissals == {birthday.rid: date(2026, 3, 4)}


@given(hst.text(), hst.text(), hst.text())
def test_a_marker_names_its_reminder_whatever_the_parts_hold(kind: str, contact: str,
                                                             key: str) -> None:
    rid = ReminderId(kind, contact, key)
    assert ReminderId.parse(rid.marker) == rid
    assert rid.marker.count(":") == 2


def test_markers_written_before_kinds_are_still_read() -> None:
    assert ReminderId.parse("ann@x.org") == cadence_id("ann@x.org")
    assert ReminderId.parse("keepwarm:signin:work") == signin_id("work")
