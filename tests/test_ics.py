"""The ics connector: reading meetings (recurrence, time zones, broken events, cursor) and
writing reminders without changing a byte of anything that is not keepwarm's."""

from __future__ import annotations

import os
import random
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.atomic import write_atomic
from connectors.base import KEEPWARM_PROPERTY
from connectors.ics import IcsConnector
from daemon.errors import CalendarError, SourceError
from daemon.model import (
    AccountConfig,
    Address,
    Attendee,
    Batch,
    Change,
    Create,
    Delete,
    FetchContext,
    Meeting,
    Reminder,
    Skipped,
    Update,
)
from daemon.reminders import cadence_id
from tests.conformance.harnesses.ics import IcsCalendarHarness

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def ctx(now: datetime = NOW) -> FetchContext:
    return FetchContext(
        now=now,
        tz=BERLIN,
        window_start=now - timedelta(days=1095),
        window_end=now + timedelta(days=14),
    )


def connector(path: Path) -> IcsConnector:
    return IcsConnector(AccountConfig(name="cal", type="ics", options={"path": str(path)}))


def ics(*events: str) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//test//EN", *events]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


def vevent(*lines: str) -> str:
    return "\r\n".join(["BEGIN:VEVENT", *lines, "END:VEVENT"])


def read(path: Path, now: datetime = NOW) -> list[Meeting | Skipped]:
    out: list[Meeting | Skipped] = []
    for batch in connector(path).fetch(None, ctx(now)):
        out.extend(o for o in batch.observations if isinstance(o, Meeting | Skipped))
    return out


def meetings(path: Path) -> dict[str, Meeting]:
    return {m.meeting_id: m for m in read(path) if isinstance(m, Meeting)}


WEEKLY = vevent(
    "UID:weekly",
    "DTSTART;TZID=Europe/Berlin:20260302T090000",
    "DTEND;TZID=Europe/Berlin:20260302T093000",
    "RRULE:FREQ=WEEKLY;COUNT=6",
    "EXDATE;TZID=Europe/Berlin:20260309T090000",
    "SUMMARY:Weekly sync",
)
MOVED = vevent(
    "UID:weekly",
    "RECURRENCE-ID;TZID=Europe/Berlin:20260316T090000",
    "DTSTART;TZID=Europe/Berlin:20260316T110000",
    "DURATION:PT1H",
    "SUMMARY:Weekly sync (moved)",
)


# -- reading -------------------------------------------------------------------------
def test_weekly_rule_with_exdate_override_and_dst(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(ics(WEEKLY, MOVED))
    got = meetings(path)
    # 03-09 excluded; 04-06 is after the window end (04-03); 03-29 is the DST change.
    assert sorted(got) == [
        "weekly/20260302T080000Z",
        "weekly/20260316T080000Z",
        "weekly/20260323T080000Z",
        "weekly/20260330T070000Z",
    ]
    moved = got["weekly/20260316T080000Z"]
    assert moved.start == datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
    assert moved.end == datetime(2026, 3, 16, 11, 0, tzinfo=UTC)
    assert moved.summary == "Weekly sync (moved)"
    summer = got["weekly/20260330T070000Z"]
    assert summer.start == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert summer.end == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    assert summer.location == "ics:cal.ics#weekly"
    assert all(m.start.tzinfo is not None and not m.all_day for m in got.values())


def test_floating_utc_all_day_and_duration(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(
        ics(
            vevent("UID:floating", "DTSTART:20260305T100000", "DTEND:20260305T110000"),
            vevent("UID:utc", "DTSTART:20260305T100000Z", "DTEND:20260305T103000Z"),
            vevent("UID:allday", "DTSTART;VALUE=DATE:20260305"),
            vevent("UID:dur", "DTSTART:20260306T090000Z", "DURATION:PT45M"),
            vevent("UID:instant", "DTSTART:20260307T090000Z"),
        )
    )
    got = meetings(path)
    assert got["floating"].start == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)  # 10:00 Berlin
    assert got["floating"].end == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    assert got["utc"].start == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    assert got["utc"].end == datetime(2026, 3, 5, 10, 30, tzinfo=UTC)
    assert got["allday"].all_day is True
    assert got["allday"].start == datetime(2026, 3, 5, tzinfo=BERLIN)
    assert got["allday"].end == datetime(2026, 3, 6, tzinfo=BERLIN)
    assert got["dur"].end == datetime(2026, 3, 6, 9, 45, tzinfo=UTC)
    assert got["instant"].end == got["instant"].start


def test_all_day_recurrence_ids_are_dates(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(
        ics(vevent("UID:daily", "DTSTART;VALUE=DATE:20260301", "RRULE:FREQ=DAILY;COUNT=2"))
    )
    assert sorted(meetings(path)) == ["daily/20260301", "daily/20260302"]


def test_people_partstat_and_status(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(
        ics(
            vevent(
                "UID:people",
                "DTSTART:20260310T090000Z",
                "DTEND:20260310T100000Z",
                "SUMMARY:Plan\x1bning",
                "ORGANIZER;CN=\"Ann ^'A^' Lee\":MAILTO:Ann@Example.COM",
                "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com",
                "ATTENDEE;PARTSTAT=DECLINED:mailto:carol@example.com",
                "ATTENDEE;PARTSTAT=TENTATIVE:mailto:dan@example.com",
                "ATTENDEE;PARTSTAT=DELEGATED:mailto:eve@example.com",
                "ATTENDEE;PARTSTAT=X-ODD:mailto:fay@example.com",
                "ATTENDEE:mailto:gus@example.com",
            ),
            vevent("UID:cancelled", "DTSTART:20260311T090000Z", "STATUS:CANCELLED"),
            vevent("UID:tentative", "DTSTART:20260311T090000Z", "STATUS:TENTATIVE"),
            vevent("UID:confirmed", "DTSTART:20260311T090000Z", "STATUS:CONFIRMED"),
        )
    )
    got = meetings(path)
    people = got["people"]
    assert people.organizer == Address("ann@example.com", 'Ann "A" Lee')
    assert people.summary == "Planning"
    assert people.attendees == (
        Attendee(Address("bob@example.com", "Bob"), "accepted"),
        Attendee(Address("carol@example.com"), "declined"),
        Attendee(Address("dan@example.com"), "tentative"),
        Attendee(Address("eve@example.com"), "delegated"),
        Attendee(Address("fay@example.com"), "needs-action"),
        Attendee(Address("gus@example.com"), "needs-action"),
    )
    assert people.status == "confirmed"
    assert got["cancelled"].status == "cancelled"
    assert got["tentative"].status == "tentative"
    assert got["confirmed"].status == "confirmed"


def test_broken_events_are_skipped_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(
        ics(
            vevent("UID:good1", "DTSTART:20260310T090000Z"),
            vevent("UID:nostart", "SUMMARY:no start"),
            vevent("UID:baddate", "DTSTART:notadate"),
            vevent("UID:mixed", "DTSTART;VALUE=DATE:20260310", "DTEND:20260310T100000Z"),
            vevent("DTSTART:20260310T090000Z", "SUMMARY:no uid"),
            vevent("UID:good2", "DTSTART:20260312T090000Z"),
        )
    )
    got = read(path)
    assert sorted(m.meeting_id for m in got if isinstance(m, Meeting)) == ["good1", "good2"]
    skipped = {s.location: s.reason for s in got if isinstance(s, Skipped)}
    assert set(skipped) == {
        "ics:cal.ics#nostart",
        "ics:cal.ics#baddate",
        "ics:cal.ics#mixed",
        "ics:cal.ics#event-4",
    }
    assert skipped["ics:cal.ics#nostart"] == "event has no DTSTART"
    assert "DTSTART" in skipped["ics:cal.ics#baddate"]


def test_keepwarm_events_are_not_meetings(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(
        ics(
            vevent("UID:mine", "DTSTART:20260310T090000Z"),
            vevent("UID:kw-1", "DTSTART:20260311T090000Z", f"{KEEPWARM_PROPERTY}:a@b.c"),
        )
    )
    assert sorted(meetings(path)) == ["mine"]


def test_missing_and_unparseable_files_raise_source_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ics"
    with pytest.raises(SourceError, match=r"nope\.ics.*accounts\[cal\]\.path"):
        list(connector(missing).fetch(None, ctx()))
    garbage = tmp_path / "garbage.ics"
    garbage.write_bytes(b"this is not a calendar\n")
    with pytest.raises(SourceError, match="not a readable iCalendar file"):
        list(connector(garbage).fetch(None, ctx()))


def test_cursor_unchanged_changed_and_next_day(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(ics(WEEKLY))
    conn = connector(path)
    first = list(conn.fetch(None, ctx()))
    assert [(len(b.observations), b.snapshot, b.last) for b in first] == [(4, True, True)]
    cursor = first[-1].cursor
    assert list(conn.fetch(cursor, ctx())) == [Batch([], cursor)]
    path.write_bytes(ics(WEEKLY, MOVED))
    changed = list(conn.fetch(cursor, ctx()))
    assert [(len(b.observations), b.snapshot, b.last) for b in changed] == [(4, True, True)]
    assert changed[0].cursor != cursor
    tomorrow = list(conn.fetch(changed[0].cursor, ctx(NOW + timedelta(days=1))))
    assert tomorrow[-1].snapshot is True and tomorrow[-1].last is True


def test_large_snapshot_is_batched_with_last_on_the_final_batch(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(ics(vevent("UID:d", "DTSTART:20240101T090000Z", "RRULE:FREQ=DAILY")))
    batches = list(connector(path).fetch("old", ctx()))
    assert [len(b.observations) for b in batches] == [500, 324]  # 824 days up to now + 14
    assert [b.last for b in batches] == [False, True]
    assert all(b.snapshot for b in batches)
    assert batches[0].cursor == "old"  # a crash mid-snapshot must redo the snapshot
    assert isinstance(batches[1].cursor, dict) and batches[1].cursor["day"] == "2026-03-20"


def test_empty_calendar_still_ends_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(ics())
    batches = list(connector(path).fetch(None, ctx()))
    assert [(list(b.observations), b.snapshot, b.last) for b in batches] == [([], True, True)]


# -- writing -------------------------------------------------------------------------
def reminder(
    uid: str, day: int = 1, title: str = "Call Bob", contact: str = "bob@x.org"
) -> Reminder:
    start = datetime(2026, 4, day, 9, 0, tzinfo=UTC)
    return Reminder(
        uid=uid,
        rid=cadence_id(contact),
        title=title,
        description=f"Last contact long ago.\nSay hi to {contact}",
        start=start,
        end=start + timedelta(minutes=15),
    )


def test_create_update_delete_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "reminders.ics"
    conn = connector(path)
    assert conn.list_reminders() == []
    applied = conn.apply([Create(reminder("kw-a")), Create(reminder("kw-b", 2))])
    assert [a.remote_id for a in applied] == ["kw-a", "kw-b"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    assert data.startswith(b"BEGIN:VCALENDAR\r\nPRODID:-//keepwarm//keepwarm//EN\r\n")
    assert b"X-WR-CALNAME:keepwarm\r\n" in data
    remotes = {r.uid: r for r in conn.list_reminders()}
    a = remotes["kw-a"]
    assert (a.rid.contact, a.title, a.remote_id) == ("bob@x.org", "Call Bob", "kw-a")
    assert a.description == "Last contact long ago.\nSay hi to bob@x.org"
    assert a.start == datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    assert a.end == datetime(2026, 4, 1, 9, 15, tzinfo=UTC)
    assert a.etag == applied[0].etag
    moved = conn.apply([Update(a, reminder("kw-a", 5, "Call Bob now"))])
    remotes = {r.uid: r for r in conn.list_reminders()}
    assert remotes["kw-a"].start == datetime(2026, 4, 5, 9, 0, tzinfo=UTC)
    assert remotes["kw-a"].title == "Call Bob now"
    assert remotes["kw-a"].etag == moved[0].etag != a.etag
    deleted = conn.apply([Delete(remotes["kw-b"])])
    assert deleted[0].etag == ""
    assert [r.uid for r in conn.list_reminders()] == ["kw-a"]


def test_conflict_rules(tmp_path: Path) -> None:
    conn = connector(tmp_path / "r.ics")
    conn.apply([Create(reminder("kw-a"))])
    stale = conn.list_reminders()[0]
    conn.apply([Update(stale, reminder("kw-a", 3))])
    # a stale etag still applies: the file is keepwarm's
    conn.apply([Update(stale, reminder("kw-a", 4))])
    assert conn.list_reminders()[0].start.day == 4
    # deleting what is not there succeeds and changes nothing
    before = (tmp_path / "r.ics").read_bytes()
    gone = conn.apply([Delete(stale), Delete(stale)])
    assert len(gone) == 2 and conn.list_reminders() == []
    assert before != (tmp_path / "r.ics").read_bytes()


def test_our_events_have_no_people_or_alarms_and_clean_text(tmp_path: Path) -> None:
    path = tmp_path / "r.ics"
    conn = connector(path)
    conn.apply([Create(reminder("kw-\x00a", title="Call\x00 Bob\x1b[31m\tnow"))])
    data = path.read_bytes()
    for word in (b"ATTENDEE", b"ORGANIZER", b"VALARM", b"\x00", b"\x1b"):
        assert word not in data
    assert b"TRANSP:TRANSPARENT\r\n" in data
    remote = conn.list_reminders()[0]
    assert remote.uid == "kw-a"
    assert remote.title == "Call Bob[31m now"
    assert remote.description == "Last contact long ago.\nSay hi to bob@x.org"


def test_applying_the_same_state_twice_keeps_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "r.ics"
    conn = connector(path)
    state = [Create(reminder(f"kw-{n}", n + 1)) for n in range(3)]
    conn.apply(state)
    first = path.read_bytes()
    time.sleep(1.05)  # a new DTSTAMP second: unchanged events must keep their old one
    applied = conn.apply(list(reversed(state)))
    assert path.read_bytes() == first
    assert {a.etag for a in applied} == {r.etag for r in conn.list_reminders()}


def test_our_events_are_sorted_by_uid_whatever_the_apply_order(tmp_path: Path) -> None:
    path = tmp_path / "r.ics"
    conn = connector(path)
    for uid in ("kw-c", "kw-a", "kw-b"):
        conn.apply([Create(reminder(uid))])
    data = path.read_bytes()
    positions = [data.index(f"UID:{uid}\r\n".encode()) for uid in ("kw-a", "kw-b", "kw-c")]
    assert positions == sorted(positions)


def test_existing_file_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "r.ics"
    path.write_bytes(ics())
    path.chmod(0o644)
    connector(path).apply([Create(reminder("kw-a"))])
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_read_only_reminders_file_is_refused_in_one_line_never_replaced(
        tmp_path: Path) -> None:
    """As vim refuses it: the atomic rename would replace a chmod 444 file (the folder
    allows it), root or not."""
    path = tmp_path / "r.ics"
    conn = connector(path)
    conn.apply([Create(reminder("kw-a"))])
    before, inode = path.read_bytes(), path.stat().st_ino
    path.chmod(0o444)
    with pytest.raises(CalendarError) as refused:
        conn.apply([Create(reminder("kw-b", 2))])
    assert str(refused.value) == (
        f"{path} is read-only, so keepwarm does not write reminders into it; make it writable "
        f"(chmod u+w {path}) or point accounts[cal].path elsewhere")
    assert path.read_bytes() == before and path.stat().st_ino == inode
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert [r.uid for r in conn.list_reminders()] == ["kw-a"]
    conn.apply([Create(reminder("kw-a"))])  # nothing changes: nothing to refuse
    path.chmod(0o644)
    conn.apply([Create(reminder("kw-b", 2))])
    assert [r.uid for r in conn.list_reminders()] == ["kw-a", "kw-b"]


def test_unsplittable_file_is_not_edited(tmp_path: Path) -> None:
    path = tmp_path / "r.ics"
    path.write_bytes(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n")
    with pytest.raises(CalendarError, match="not an iCalendar file keepwarm can safely edit"):
        connector(path).apply([Create(reminder("kw-a"))])
    assert path.read_bytes() == b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n"


SPLIT_UE = "ü".encode()
USER_FILE = (
    b"BEGIN:VCALENDAR\r\n"
    b"PRODID:-//Odd Corp//Odd App 1.0//EN\r\n"
    b"VERSION:2.0\r\n"
    b"X-WR-CALNAME:Mine\r\n"
    b"BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
    b"TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    b"BEGIN:VEVENT\r\nUID:user-alarm\r\nDTSTART;TZID=Europe/Berlin:20260310T090000\r\n"
    b"SUMMARY:Dentist\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\n"
    b"DESCRIPTION:Reminder\r\nEND:VALARM\r\nEND:VEVENT\r\n"
    b"BEGIN:VEVENT\r\nUID:user-fold\r\nDTSTART:20260311T090000Z\r\nSUMM\r\n\tARY:Odd fo\r\n"
    b" lding;with\\, escapes in M" + SPLIT_UE[:1] + b"\r\n " + SPLIT_UE[1:] + b"nchen\r\n"
    b"DESCRIPTION:latin-1 caf\xe9\r\nEND:VEVENT\r\n"
    b"BEGIN:VTODO\r\nUID:todo-1\r\nSUMMARY:a task\r\nEND:VTODO\r\n"
    b"END:VCALENDAR\r\n"
)


def test_user_blocks_survive_random_applies_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "r.ics"
    path.write_bytes(USER_FILE)
    harness = IcsCalendarHarness(tmp_path)
    harness.path = path
    harness.add_user_event("user-late", "Added later")
    before = path.read_bytes()
    users = harness.user_events()
    assert set(users) == {"user-alarm", "user-fold", "user-late"}
    conn = connector(path)
    rng = random.Random(20260320)
    for _ in range(60):
        remotes = {r.uid: r for r in conn.list_reminders()}
        changes: list[Change] = []
        for uid in rng.sample([f"kw-{n}" for n in range(8)], rng.randint(1, 4)):
            wanted = reminder(uid, rng.randint(1, 28), rng.choice(["A", "B\x07", "Ü" * 90]))
            if uid not in remotes:
                changes.append(Create(wanted))
            elif rng.random() < 0.5:
                changes.append(Delete(remotes[uid]))
            else:
                changes.append(Update(remotes[uid], wanted))
        conn.apply(changes)
        assert harness.user_events() == users
    data = path.read_bytes()
    assert data.startswith(USER_FILE[: USER_FILE.index(b"BEGIN:VEVENT")])  # props and VTIMEZONE
    assert b"BEGIN:VTODO\r\nUID:todo-1\r\nSUMMARY:a task\r\nEND:VTODO\r\n" in data
    for remote in conn.list_reminders():
        conn.apply([Delete(remote)])
    assert path.read_bytes() == before


def test_reminders_file_as_source_reads_only_user_events(tmp_path: Path) -> None:
    path = tmp_path / "r.ics"
    path.write_bytes(USER_FILE)
    connector(path).apply([Create(reminder("kw-a"))])
    got = meetings(path)
    assert sorted(got) == ["user-alarm", "user-fold"]
    assert got["user-fold"].summary == "Odd folding;with, escapes in München"
    assert got["user-alarm"].start == datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


def test_write_atomic_sets_mode_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two", mode=0o640)
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["state.json"]
