"""The gmail connector's Google Calendar side against the fake Google server: meetings in
(full list, sync tokens, 410, deletions) and reminders out (etags, lost answers, never a
foreign event), with the real Google client library."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors import gcalreminders
from connectors.gmail import GmailConnector
from daemon.errors import SourceError
from daemon.model import (
    Address,
    Attendee,
    Batch,
    Create,
    Delete,
    FetchContext,
    Meeting,
    OwnAddress,
    Reminder,
    RemoteReminder,
    Update,
)
from daemon.reminders import cadence_id
from tests.servers.google import User

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime.now(UTC).replace(microsecond=0)
CTX = FetchContext(now=NOW, tz=BERLIN, window_start=NOW - timedelta(days=365),
                   window_end=NOW + timedelta(days=14))
HOUR = timedelta(hours=1)
T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
FAST = 0.01  # seconds before a first retry: the faults are the fake server's, no need to wait


def event(uid: str, start: datetime, **extra: Any) -> dict[str, Any]:
    return {"iCalUID": uid, "summary": f"About {uid}", "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + HOUR).isoformat()}, **extra}


def read(user: User, tmp_path: Path, cursor: Any = None, **options: Any
         ) -> tuple[list[Batch], Any]:
    conn = GmailConnector(user.account(tmp_path, mail=False, **options), backoff=FAST)
    batches = list(conn.fetch(cursor, CTX))
    return batches, json.loads(json.dumps(batches[-1].cursor))


def meetings(batches: list[Batch]) -> dict[str, Meeting]:
    return {m.meeting_id: m for b in batches for m in b.observations if isinstance(m, Meeting)}


# -- meetings -------------------------------------------------------------------------------
def test_events_map_like_the_icalendar_sources(google_user: User, tmp_path: Path) -> None:
    cal = google_user.calendar()
    start = NOW.replace(minute=0, second=0) - timedelta(days=3)
    cal.put(event("a@x", start, organizer={"email": "Boss@Example.org", "displayName": "Boss"},
                  attendees=[{"email": google_user.email, "self": True,
                              "responseStatus": "accepted"},
                             {"email": "x@example.org", "displayName": "X",
                              "responseStatus": "declined"},
                             {"email": "room@resource.calendar.google.com", "resource": True,
                              "responseStatus": "accepted"},
                             {"email": "y@example.org", "responseStatus": "needsAction"}]))
    cal.put(event("r@x", start, recurringEventId="base", status="tentative",
                  originalStartTime={"dateTime": (start - HOUR).isoformat()}))
    cal.put({"iCalUID": "d@x", "start": {"date": "2026-03-02"}, "end": {"date": "2026-03-03"}})
    cal.put(event("c@x", start, status="cancelled"))
    cal.put(event("loc@x", start, eventType="workingLocation"))
    cal.put(event("kw@x", start, extendedProperties={"private": {"keepwarm": "p@example.org"}}))
    batches, _ = read(google_user, tmp_path)
    got = meetings(batches)
    stamp = (start - HOUR).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    assert sorted(got) == ["a@x", "c@x", "d@x", f"r@x/{stamp}"]
    a = got["a@x"]
    assert a.organizer == Address("boss@example.org", "Boss")
    assert a.attendees == (Attendee(Address(google_user.email), "accepted"),
                           Attendee(Address("x@example.org", "X"), "declined"),
                           Attendee(Address("y@example.org"), "needs-action"))
    assert (a.start, a.end, a.summary, a.status) == (start, start + HOUR, "About a@x",
                                                     "confirmed")
    assert got[f"r@x/{stamp}"].status == "tentative" and got["c@x"].status == "cancelled"
    d = got["d@x"]
    assert d.all_day and d.start == datetime(2026, 3, 2, tzinfo=BERLIN)
    assert OwnAddress(google_user.email) in [o for b in batches for o in b.observations]
    assert batches[-1].snapshot and batches[-1].last


def test_incremental_with_sync_token_then_410_and_deletions_list_again(
        google_user: User, tmp_path: Path) -> None:
    cal = google_user.calendar()
    start = NOW - timedelta(days=2)
    first = cal.put(event("a@x", start))
    cal.put(event("b@x", start))
    batches, cursor = read(google_user, tmp_path)
    assert sorted(meetings(batches)) == ["a@x", "b@x"]
    cal.put({**first, "summary": "Moved", "start": {"dateTime": (start + HOUR).isoformat()},
             "end": {"dateTime": (start + 2 * HOUR).isoformat()}})
    batches, cursor = read(google_user, tmp_path, cursor)
    assert [(m.meeting_id, m.summary) for m in meetings(batches).values()] == [("a@x", "Moved")]
    assert not any(b.snapshot for b in batches)
    cal.expire_tokens()  # 410 Gone: a full list, a snapshot
    batches, cursor = read(google_user, tmp_path, cursor)
    assert sorted(meetings(batches)) == ["a@x", "b@x"] and batches[-1].last
    cal.remove(first["id"])  # comes back with only its id: list again, a@x is not in it
    batches, cursor = read(google_user, tmp_path, cursor)
    assert sorted(meetings(batches)) == ["b@x"] and batches[-1].snapshot
    before = list(google_user.calls)
    read(google_user, tmp_path, cursor)
    assert google_user.calls[len(before):] == ["events.list"]


def test_calendars_by_name_are_found_once_then_read_by_sync_token(
        google_user: User, tmp_path: Path) -> None:
    team = google_user.add_calendar("Team")
    team.put(event("t@x", NOW - timedelta(days=1)))
    batches, cursor = read(google_user, tmp_path, calendars=["primary", "Team"])
    assert sorted(meetings(batches)) == ["t@x"]
    assert google_user.count("calendarList.list") == 1
    before = list(google_user.calls)
    read(google_user, tmp_path, cursor, calendars=["primary", "Team"])
    assert google_user.calls[len(before):] == ["events.list", "events.list"]


def test_a_calendar_that_is_gone_says_what_to_fix(google_user: User, tmp_path: Path) -> None:
    gone = "gone@group.calendar.google.com"
    with pytest.raises(SourceError, match=f"cannot read calendar '{gone}'.*fix its calendars"):
        read(google_user, tmp_path, calendars=[gone])
    (tmp_path / "named").mkdir()
    with pytest.raises(SourceError, match="has no calendar named 'Team'; fix its calendars"):
        read(google_user, tmp_path / "named", calendars=["Team"])


# -- reminders ------------------------------------------------------------------------------
def reminder(n: int, day: int = 0, title: str = "") -> Reminder:
    start = T0 + timedelta(days=day)
    return Reminder(f"keepwarm-test-{n}", cadence_id(f"p{n}@example.org"),
                    title or f"Follow up: P{n}",
                    f"Last touch: 2025-01-0{n % 9 + 1}\nCadence: every 90 days",
                    start, start + timedelta(minutes=15))


def writer(user: User, tmp_path: Path, **options: Any) -> GmailConnector:
    return GmailConnector(user.account(tmp_path, name="cal", holds_reminders=True, mail=False,
                                       calendar=False, **options), backoff=FAST)


def ours(user: User) -> list[dict[str, Any]]:
    return [e for c in user.calendars.values() for e in c.visible().values()
            if "keepwarm" in e.get("extendedProperties", {}).get("private", {})]


def test_reminder_events_are_tagged_free_and_invite_nobody(google_user: User,
                                                           tmp_path: Path) -> None:
    w = writer(google_user, tmp_path)
    (applied,) = w.apply([Create(reminder(1))])
    (stored,) = ours(google_user)
    assert applied.remote_id == stored["id"] == gcalreminders.event_id("keepwarm-test-1")
    assert stored["extendedProperties"]["private"] == {
        "keepwarm": cadence_id("p1@example.org").marker, "keepwarmuid": "keepwarm-test-1",
        "keepwarmapp": "1"}
    assert stored["transparency"] == "transparent" and "attendees" not in stored
    assert stored["reminders"] == {"useDefault": False, "overrides": []}
    cal = google_user.calendars[next(i for i, c in google_user.calendars.items()
                                     if c.summary == "keepwarm")]
    assert cal.created_by == google_user.client_id  # made by keepwarm: app.created suffices
    r = w.list_reminders()[0]
    w.apply([Update(r, reminder(1, day=1))])
    w.apply([Delete(w.list_reminders()[0])])
    assert google_user.sent_updates == ["none", "none", "none"]


def test_the_reminders_calendar_is_found_again_and_never_made_twice(
        google_user: User, tmp_path: Path) -> None:
    google_user.fault("calendars.insert", lost=True)  # made, but the answer is lost
    assert writer(google_user, tmp_path).list_reminders() == []  # looked again: found it
    assert google_user.count("calendars.insert") == 1  # never sent twice
    w = writer(google_user, tmp_path)
    w.apply([Create(reminder(1))])
    assert writer(google_user, tmp_path).list_reminders()[0].rid.contact == "p1@example.org"
    assert [c.summary for c in google_user.calendars.values()].count("keepwarm") == 1


def test_a_lost_create_answer_does_not_duplicate_and_a_deleted_id_is_not_reused(
        google_user: User, tmp_path: Path) -> None:
    w = writer(google_user, tmp_path)
    google_user.fault("events.insert", lost=True)
    w.apply([Create(reminder(1))])
    assert len(ours(google_user)) == 1
    (r,) = w.list_reminders()
    w.apply([Delete(r)])
    (again,) = w.apply([Create(reminder(1, day=3))])  # the same uid: Google keeps its id
    assert again.remote_id != r.remote_id
    assert [e["id"] for e in ours(google_user)] == [again.remote_id]


def test_user_changes_win_over_stale_writes(google_user: User, tmp_path: Path) -> None:
    w = writer(google_user, tmp_path)
    w.apply([Create(reminder(1)), Create(reminder(2))])
    r1, r2 = sorted(w.list_reminders(), key=lambda r: r.rid.contact)
    cal = next(c for c in google_user.calendars.values() if c.summary == "keepwarm")
    moved = T0 + timedelta(days=5)
    cal.put({**cal.events[r1.remote_id], "start": {"dateTime": moved.isoformat()}})
    cal.remove(r2.remote_id)
    assert w.apply([Update(r1, reminder(1, day=1)), Update(r2, reminder(2, day=1))]) == []
    assert cal.events[r1.remote_id]["start"]["dateTime"] == moved.isoformat()
    (gone,) = w.apply([Delete(r2)])  # already deleted by the user: done
    assert gone.change == Delete(r2)


def test_foreign_events_are_never_listed_or_touched(google_user: User, tmp_path: Path) -> None:
    cal = google_user.calendar()
    start = T0
    lookalike = cal.put(event("u1@x", start, extendedProperties={
        "private": {"keepwarmapp": "1"}}))  # the filter matches, the contact key is missing
    plain = cal.put(event("u2@x", start))
    before = {k: json.dumps(v, sort_keys=True) for k, v in cal.visible().items()}
    w = writer(google_user, tmp_path, reminders_calendar="primary")
    assert w.list_reminders() == []
    forged = [RemoteReminder("u1@x", cadence_id("p1@example.org"), start, lookalike["id"],
                             lookalike["etag"]),
              RemoteReminder("u2@x", cadence_id("p2@example.org"), start, plain["id"])]
    assert w.apply([Update(forged[0], reminder(1)), Delete(forged[1])]) == []
    assert {k: json.dumps(v, sort_keys=True) for k, v in cal.visible().items()} == before
    w.apply([Create(reminder(3))])
    (r3,) = w.list_reminders()
    batches, _ = read(google_user, tmp_path)  # keepwarm's own events are no meetings
    assert sorted(meetings(batches)) == ["u1@x", "u2@x"] and r3.rid.contact == "p3@example.org"


def test_a_named_calendar_must_exist(google_user: User, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="has no calendar 'Follow-ups'"):
        writer(google_user, tmp_path, reminders_calendar="Follow-ups").list_reminders()
    google_user.add_calendar("Follow-ups")
    w = writer(google_user, tmp_path, reminders_calendar="Follow-ups")
    w.apply([Create(reminder(1))])
    assert w.list_reminders()[0].uid == "keepwarm-test-1"


# -- the calendar list ----------------------------------------------------------------------
class Cycles:
    """What each sync asks of one account (its meetings, mail and reminders), each time by
    a new connector, as separate ``keepwarm sync`` processes do, on a clock the test moves."""

    def __init__(self, user: User, tmp_path: Path) -> None:
        self.user, self.now = user, 1_800_000_000.0
        self.account = user.account(tmp_path, holds_reminders=True, calendars=["primary", "Team"])
        self.cursor: Any = None

    def connector(self) -> GmailConnector:
        return GmailConnector(self.account, backoff=FAST, clock=lambda: self.now)

    def sync(self) -> list[str]:
        """The requests of one cycle."""
        before = len(self.user.calls)
        conn = self.connector()
        batches = list(conn.fetch(self.cursor, CTX))
        conn.list_reminders()
        self.cursor = json.loads(json.dumps(batches[-1].cursor))
        return self.user.calls[before:]


IDLE = ["events.list", "events.list", "history.list", "events.list"]  # 2 calendars, mail, reminders


def test_an_idle_cycle_lists_no_calendars_until_an_hour_has_passed(
        google_user: User, tmp_path: Path) -> None:
    google_user.add_calendar("Team").put(event("t@x", NOW - timedelta(days=1)))
    cycles = Cycles(google_user, tmp_path)
    assert "calendarList.list" in cycles.sync()  # finds Team, then makes keepwarm's calendar
    kept = tmp_path / "google.calendars.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert cycles.sync() == IDLE and cycles.sync() == IDLE
    cycles.now += 3599
    assert cycles.sync() == IDLE
    cycles.now += 1
    assert cycles.sync() == ["events.list", "events.list", "history.list",
                             "calendarList.list", "events.list"]
    assert cycles.sync() == IDLE
    assert google_user.count("calendars.insert") == 1


def test_a_calendar_that_answers_404_or_410_lists_the_calendars_again(
        google_user: User, tmp_path: Path) -> None:
    team = google_user.add_calendar("Team")
    team.put(event("t@x", NOW - timedelta(days=1)))
    cycles = Cycles(google_user, tmp_path)
    cycles.sync()
    cycles.connector().apply([Create(reminder(1))])
    assert cycles.sync() == IDLE
    # the user deletes keepwarm's calendar, and makes Team again: both ids are gone
    del google_user.calendars[next(c.id for c in google_user.calendars.values()
                                   if c.summary == "keepwarm")]
    del google_user.calendars[team.id]
    google_user.add_calendar("Team").put(event("t2@x", NOW - timedelta(days=2)))
    calls = cycles.sync()
    assert calls.count("calendarList.list") == 2  # once for Team's 404, once for keepwarm's
    assert calls.count("calendars.insert") == 1
    conn = cycles.connector()
    batches = list(conn.fetch(None, CTX))
    assert sorted(meetings(batches)) == ["t2@x"]  # the new Team
    conn.apply([Create(reminder(1))])
    assert [r.rid.contact for r in conn.list_reminders()] == ["p1@example.org"]
    assert cycles.sync() == IDLE
    google_user.calendar().expire_tokens()  # 410 to the sync token
    assert "calendarList.list" in cycles.sync()
    assert cycles.sync() == IDLE
