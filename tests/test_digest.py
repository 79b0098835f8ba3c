"""[reminders] style = "digest": one event a day lists everyone due, reconciled like any."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import icalendar
from hypothesis import given, settings
from hypothesis import strategies as hst

from connectors.base import KEEPWARM_PROPERTY
from daemon import render
from daemon.model import (
    Address,
    Attendee,
    Create,
    Delete,
    Meeting,
    ReminderId,
    Settings,
    Status,
    Update,
    Wish,
)
from daemon.planner import Plan
from daemon.reminders import DIGEST, cadence, digest_id
from tests.servers.faultproxy import FaultProxy
from tests.servers.radicale import User, shared
from tests.test_caldav import NOW as CALDAV_NOW
from tests.test_caldav import World as CalDavWorld
from tests.test_faults import scenario
from tests.test_planner import BERLIN, MON_8, Calendar, at, st
from tests.test_sync import World

D = Settings(tz=BERLIN, reminder_style="digest")
MON = MON_8.date()
TUE = MON + timedelta(days=1)


def due(n: int, day: date = MON - timedelta(days=3)) -> list[Status]:
    return [st(f"p{i}@x.org", day, name=f"Person {i}") for i in range(n)]


def digests(cal: Calendar) -> dict[date, str]:
    """Each digest event's day and title."""
    return {e.start.date(): e.title for e in cal.events.values() if e.rid.kind == DIGEST}


def test_the_day_s_reminders_become_one_event_listing_each_person() -> None:
    cal = Calendar()
    p = cal.run(due(3), MON_8, D)
    assert [type(c) for c in p.changes] == [Create]
    r = p.changes[0].reminder  # type: ignore[union-attr]
    assert (r.rid, r.title, r.start) == (digest_id(MON), "Keep in touch: 3 people", at(MON))
    for i in range(3):  # each person's own lines: why due, how to reach them
        assert f"{i + 1}. Follow up: Person {i}\n" in r.description
        assert f"Addresses: p{i}@x.org" in r.description
        assert (f"Addresses: p{i}@x.org\nWrite: mailto:p{i}@x.org\n"
                f"Why: keepwarm show p{i}@x.org") in r.description
    assert r.description.count("Created by keepwarm") == 1
    # every member has its own record, sharing the digest's UID
    assert {rec.uid for rec in p.records.values()} == {r.uid}
    assert set(p.records) == {digest_id(MON), *(ReminderId("cadence", f"p{i}@x.org")
                                                 for i in range(3))}
    assert cal.run(due(3), MON_8, D).changes == []


def test_one_person_reads_person_and_the_budget_spills_to_the_next_digest() -> None:
    cal = Calendar()
    cal.run(due(1), MON_8, D)
    assert digests(cal) == {MON: "Keep in touch: 1 person"}
    cal.run(due(7), MON_8, D)
    assert digests(cal) == {MON: "Keep in touch: 5 people", TUE: "Keep in touch: 2 people"}


def test_plan_names_whom_each_digest_it_writes_lists() -> None:
    """`keepwarm plan` says who is in a digest, not only how many (the table and --json);
    a digest it removes lists nobody (the event's own text says who it held)."""
    cal = Calendar()
    p = cal.run(due(7), MON_8, D)
    assert p.members[digest_id(TUE)] == (("p5@x.org", "Person 5"), ("p6@x.org", "Person 6"))
    grid = render.plan_grid(p, BERLIN)
    assert [row[2] for row in grid.rows] == [
        "Keep in touch: 5 people (Person 0, Person 1, Person 2, Person 3, Person 4)",
        "Keep in touch: 2 people (Person 5, Person 6)"]
    changes = render.plan_json(p, BERLIN)["changes"]
    assert [len(c["members"]) for c in changes] == [5, 2]
    assert changes[1]["members"][0] == {"contact": "p5@x.org", "name": "Person 5"}
    gone = cal.run([], MON_8, D)  # everyone in touch: both digests go
    assert [c["members"] for c in render.plan_json(gone, BERLIN)["changes"]] == [[], []]
    assert all("(" not in row[2] for row in render.plan_grid(gone, BERLIN).rows)


def test_someone_in_touch_leaves_the_list() -> None:
    cal = Calendar()
    cal.run(due(3), MON_8, D)
    p = cal.run(due(3)[1:], MON_8, D)
    assert [type(c) for c in p.changes] == [Update]
    assert digests(cal) == {MON: "Keep in touch: 2 people"}
    assert "Person 0" not in next(iter(cal.events.values())).description
    cal.run([], MON_8, D)
    assert cal.events == {}


def test_deleting_a_digest_dismisses_its_people_until_they_are_due_again() -> None:
    cal = Calendar()
    cal.run(due(2), MON_8, D)
    cal.events.clear()  # the user deletes the digest
    p = cal.run(due(2), MON_8, D)
    assert p.changes == [] and cal.events == {}
    assert set(p.dismissals) == {digest_id(MON), *(ReminderId("cadence", f"p{i}@x.org")
                                                   for i in range(2))}
    # the next day still nothing for them; someone newly due today waits for tomorrow
    cal.run([*due(2), st("new@x.org", MON)], MON_8, D)
    assert digests(cal) == {TUE: "Keep in touch: 1 person"}
    assert "new@x.org" in next(iter(cal.events.values())).description
    # a new due date is a new cycle: they are back
    later = [replace(s, due=MON + timedelta(days=2)) for s in due(2)]
    cal.run(later, MON_8, D)
    assert digests(cal)[MON + timedelta(days=2)] == "Keep in touch: 2 people"


def test_a_digest_the_user_moved_keeps_its_time() -> None:
    cal = Calendar()
    cal.run(due(2), MON_8, D)
    uid = next(iter(cal.events))
    cal.events[uid] = replace(cal.events[uid], start=at(MON, 16, 0), end=at(MON, 16, 15))
    p = cal.run(due(3), MON_8, D)
    assert [type(c) for c in p.changes] == [Update]
    assert digests(cal) == {MON: "Keep in touch: 3 people"}
    assert next(iter(cal.events.values())).start == at(MON, 16, 0)


def test_a_digest_steps_around_a_meeting_like_a_single_reminder() -> None:
    cal = Calendar()
    busy = [(at(MON, 9, 0), at(MON, 10, 30))]
    cal.run(due(2), MON_8, D, busy)
    assert [e.start for e in cal.events.values()] == [at(MON, 10, 30)]


def fixed(kind: str, name: str, all_day: bool = False, budgeted: bool = True) -> Wish:
    return Wish(ReminderId(kind, f"{name}@x.org", "k"), MON, f"{kind}: {name}", "text",
                earliest=MON, fixed=True, budgeted=budgeted, name=name, all_day=all_day)


def test_promises_birthdays_and_notices_keep_their_own_events() -> None:
    cal = Calendar()
    own = [fixed("promise", "Pat"), fixed("birthday", "Bea", all_day=True, budgeted=False),
           Wish(ReminderId("notice", "", "signin:x"), MON, "sign in", "t", earliest=MON,
                budgeted=False)]
    thread = Wish(ReminderId("followup", "fay@x.org", "t1"), MON, "Follow up: Fay — no reply",
                  "No reply from Fay\n\nCreated by keepwarm. It removes this event.",
                  earliest=MON, name="Fay")
    p = cal.play([*cadence(due(1)), thread, *own], MON_8, D)
    made = {c.reminder.title: c.reminder for c in p.changes if isinstance(c, Create)}
    assert sorted(made) == ["Keep in touch: 2 people", "birthday: Bea", "promise: Pat",
                            "sign in"]
    assert "2. Follow up: Fay — no reply\nNo reply from Fay\n\nCreated by keepwarm. A" in (
        made["Keep in touch: 2 people"].description)
    assert made["birthday: Bea"].all_day
    # the promise still counts against the day's budget: four people fit beside it
    cal.play(cadence(due(6)) + own, MON_8, D)
    assert digests(cal) == {MON: "Keep in touch: 4 people", TUE: "Keep in touch: 2 people"}


def test_switching_style_replaces_events_with_fresh_uids_both_ways() -> None:
    cal = Calendar()
    each = Settings(tz=BERLIN)
    cal.run(due(2), MON_8, each)
    singles = set(cal.events)
    p = cal.run(due(2), MON_8, D)
    assert sorted(type(c).__name__ for c in p.changes) == ["Create", "Delete", "Delete"]
    digest_uid = next(iter(cal.events))
    p = cal.run(due(2), MON_8, each)
    assert sorted(type(c).__name__ for c in p.changes) == ["Create", "Create", "Delete"]
    assert digest_uid not in cal.events and len(cal.events) == 2
    assert set(cal.events) == singles  # each reminder's own UID for its due date
    assert cal.run(due(2), MON_8, each).changes == []


def flaky_run(cal: Calendar, statuses: list[Status], applied: int) -> Plan:
    """A sync that crashed after ``applied`` changes: the records stay unconfirmed."""
    before = dict(cal.events)
    p = cal.run(statuses, MON_8, D)
    for c in p.changes[applied:]:  # undo what the crash prevented
        if isinstance(c, Create):
            cal.events.pop(c.reminder.uid, None)
        elif isinstance(c, Update | Delete):
            cal.events[c.remote.uid] = before[c.remote.uid]
    cal.records = {k: replace(r, confirmed=False) for k, r in p.records.items()}
    return p


@settings(max_examples=80, deadline=None)
@given(hst.lists(hst.tuples(hst.integers(0, 11), hst.integers(-20, 6)), max_size=12),
       hst.lists(hst.integers(0, 11), max_size=6), hst.integers(0, 3), hst.booleans())
def test_digests_converge_after_a_crash_and_user_deletes(
        spec: list[tuple[int, int]], touched: list[int], applied: int,
        delete_first: bool) -> None:
    people = {i: st(f"p{i}@x.org", MON + timedelta(days=d)) for i, d in spec}
    cal = Calendar()
    cal.run(list(people.values()), MON_8, D)
    if delete_first and cal.events:
        del cal.events[min(cal.events)]
    rest = [s for i, s in people.items() if i not in touched]
    flaky_run(cal, rest, applied)
    cal.run(rest, MON_8, D)
    assert cal.run(rest, MON_8, D).changes == []
    # one digest a day at most, each listing people who are still due
    days = [e.start.date() for e in cal.events.values()]
    assert len(days) == len(set(days))
    keys = {s.facts.key for s in rest}
    for e in cal.events.values():
        assert e.rid.kind == DIGEST and e.start.timetz() == time(9, 30, tzinfo=BERLIN)
        assert all(k.removeprefix("mailto:") in keys for k in e.description.split()
                   if k.endswith("@x.org"))
        assert e.title.startswith("Keep in touch: ")


def test_sync_writes_a_digest_and_a_deleted_one_dismisses(tmp_path: Path) -> None:
    world = World(tmp_path, reminders={"calendar": "cal", "style": "digest"})
    for who in ("bo", "cy"):
        world.send("work", f"{who}0", 60, f"{who}@x.org")
        world.send("work", f"{who}1", 40, f"{who}@x.org")
    world.sync()
    events = list(world.data["cal"].reminders.values())
    assert [(e.title, e.start) for e in events] == [
        ("Keep in touch: 2 people", datetime(2026, 3, 2, 9, 30, tzinfo=BERLIN))]
    world.data["cal"].reminders.clear()
    world.sync()
    assert world.data["cal"].reminders == {}
    assert world.sync(MON_8 + timedelta(days=1)).reminders.created == 0  # type: ignore[union-attr]


def digest_world(folder: Path, user: User, **options: Any) -> CalDavWorld:
    """test_faults' CalDAV world with style = "digest" and a busy hour at 09:00 on
    alternate days of the scenario, so both the digest and the free slot are exercised."""
    world = CalDavWorld(folder, user, **options)
    world.config = replace(world.config, settings=replace(world.config.settings,
                                                          reminder_style="digest"))
    spans = [(datetime.combine(CALDAV_NOW.date() + timedelta(days=day), time(9),
                               tzinfo=BERLIN), timedelta(hours=1)) for day in range(0, 14, 2)]
    # the last day the first sync's window reaches (it reads the meetings once)
    spans.append((datetime(2026, 3, 16, 7, 30, tzinfo=BERLIN), timedelta(hours=2.5)))
    for n, (start, length) in enumerate(spans):
        world.mail.meetings[f"m{n}"] = Meeting(
            f"m{n}", start, start + length, Address("me@work.example"),
            (Attendee(Address("team@y.org"), "accepted"),))
    return world


def server_digests(world: CalDavWorld) -> list[tuple[str, ...]]:
    out = []
    for data in world.user.objects(world.calendar_url()).values():
        for event in icalendar.Calendar.from_ical(data).walk("VEVENT"):
            if KEEPWARM_PROPERTY in event:
                out.append((str(event[KEEPWARM_PROPERTY]), str(event["SUMMARY"]),
                            str(event["DESCRIPTION"]), event["DTSTART"].dt.isoformat()))
    return sorted(out)


def test_digests_through_caldav_resets_stalls_and_drops_end_as_a_clean_run(
        tmp_path: Path) -> None:
    clean = digest_world(tmp_path / "clean", shared().add_user())
    scenario(clean, retry_until_ok=False)
    want = server_digests(clean)
    assert len(want) >= 3 and all(m.startswith("digest::") for m, *_ in want)
    starts = {m: datetime.fromisoformat(start) for m, *_, start in want}
    assert starts["digest::2026-03-16"] == datetime(2026, 3, 16, 10, tzinfo=BERLIN), starts
    server = shared()
    user = server.add_user()
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    with FaultProxy(port, fault_rate=0.2, seed=5) as proxy:
        proxied = User(user.name, user.password, f"http://127.0.0.1:{proxy.port}/", server)
        faulty = digest_world(tmp_path / "faulty", proxied, timeout=1, retries=1)
        faulty.user = user  # inspect the server directly, not through the faults
        scenario(faulty, retry_until_ok=True)
    assert sum(n for kind, n in proxy.faults.items() if kind != "none") >= 5, proxy.faults
    assert server_digests(faulty) == want
