"""The caldav connector against a real Radicale: meetings in, reminders out, and the user's
own events never touched.

The user's side (their calendar app) is played with plain HTTP from tests.servers.radicale.
"""

from __future__ import annotations

import itertools
import logging
import random
import shutil
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from connectors import registry
from connectors.base import KEEPWARM_PROPERTY
from connectors.caldav import CaldavConnector
from connectors.ics import IcsConnector
from connectors.memory import MemoryConnector, MemoryData
from daemon import reminder_state, sync
from daemon.config import Config, parse
from daemon.errors import AuthError, ConfigError, SourceError, TransientError
from daemon.model import (
    AccountConfig,
    Address,
    Batch,
    Create,
    Delete,
    FetchContext,
    Mail,
    Meeting,
    Reminder,
    ReminderId,
    Update,
)
from daemon.reminders import cadence_id
from daemon.store import Store
from tests.servers.faultplan import Fault, FaultPlan
from tests.servers.faultproxy import HttpFaultProxy
from tests.servers.radicale import RadicaleServer, User
from tests.servers.syncpager import SyncPager

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # Monday 08:00 in Berlin
MONDAY = datetime(2026, 3, 2, 9, 30, tzinfo=BERLIN)
_keys = itertools.count()

VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
"""
STANDUP = VTIMEZONE + """BEGIN:VEVENT
UID:standup-1
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20260202T100000
DTEND;TZID=Europe/Berlin:20260202T101500
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE;TZID=Europe/Berlin:20260216T100000
SUMMARY:Standup
ORGANIZER;CN=Boss:mailto:boss@x.org
ATTENDEE;CN=Ann;PARTSTAT=ACCEPTED:mailto:Ann@X.org
ATTENDEE;CN=Bo;PARTSTAT=TENTATIVE:mailto:bo@x.org
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:soon
TRIGGER:-PT10M
END:VALARM
END:VEVENT
BEGIN:VEVENT
UID:standup-1
DTSTAMP:20260101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20260209T100000
DTSTART;TZID=Europe/Berlin:20260209T140000
DTEND;TZID=Europe/Berlin:20260209T141500
SUMMARY:Standup (moved)
ORGANIZER;CN=Boss:mailto:boss@x.org
ATTENDEE;CN=Ann;PARTSTAT=DECLINED:mailto:ann@x.org
END:VEVENT
"""
CANCELLED = """BEGIN:VEVENT
UID:cancelled-1
DTSTAMP:20260101T000000Z
DTSTART:20260225T120000Z
DTEND:20260225T130000Z
STATUS:CANCELLED
SUMMARY:Lunch
ATTENDEE:mailto:cy@x.org
END:VEVENT
"""
ALL_DAY = """BEGIN:VEVENT
UID:offsite-1
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20260220
DTEND;VALUE=DATE:20260221
SUMMARY:Offsite
ATTENDEE;PARTSTAT=ACCEPTED:mailto:dee@x.org
END:VEVENT
"""
OURS = f"""BEGIN:VEVENT
UID:keepwarm-abc-20260303
DTSTAMP:20260101T000000Z
DTSTART:20260303T083000Z
DTEND:20260303T084500Z
SUMMARY:Follow up: Ann
{KEEPWARM_PROPERTY}:ann@x.org
END:VEVENT
"""
ANCIENT = """BEGIN:VEVENT
UID:ancient-1
DTSTAMP:20200101T000000Z
DTSTART:20200105T120000Z
DTEND:20200105T130000Z
SUMMARY:Long ago
END:VEVENT
"""
DINNER = """BEGIN:VEVENT
UID:dinner-1
DTSTAMP:20260101T000000Z
DTSTART:20260227T180000Z
DTEND:20260227T200000Z
SUMMARY:Dinner
ATTENDEE;PARTSTAT=ACCEPTED:mailto:eve@x.org
END:VEVENT
"""
TODO = """BEGIN:VTODO
UID:todo-1
DTSTAMP:20260101T000000Z
SUMMARY:Taxes
END:VTODO
"""


def ics(body: str) -> bytes:
    text = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//user//app//EN\n{body}END:VCALENDAR\n"
    return text.replace("\n", "\r\n").encode()


def ctx(now: datetime = NOW) -> FetchContext:
    return FetchContext(now=now, tz=BERLIN, window_start=now - timedelta(days=400),
                        window_end=now + timedelta(days=14))


def fetch(user: User, cursor: Any = None, now: datetime = NOW,
          **options: Any) -> tuple[list[Batch], Any]:
    conn = CaldavConnector(user.account(name="cal", **options))
    try:
        batches = list(conn.fetch(cursor, ctx(now)))
    finally:
        conn.close()
    return batches, batches[-1].cursor


def meetings(batches: list[Batch]) -> dict[str, Meeting]:
    return {o.meeting_id: o for b in batches for o in b.observations if isinstance(o, Meeting)}


@pytest.fixture
def calendars(radicale_user: User) -> dict[str, str]:
    """A user with the calendars of a typical account, filled with events."""
    u = radicale_user
    cals = {name: u.make_calendar(name) for name in ("Work", "Family", "keepwarm")}
    cals["Tasks"] = u.make_calendar("Tasks", components="VTODO")
    for uid, body in (("standup", STANDUP), ("cancelled", CANCELLED), ("offsite", ALL_DAY),
                      ("ours", OURS), ("ancient", ANCIENT)):
        u.put(f"{cals['Work']}{uid}.ics", ics(body))
    u.put(f"{cals['Family']}dinner.ics", ics(DINNER))
    u.put(f"{cals['keepwarm']}user-note.ics", ics(DINNER.replace("dinner-1", "note-1")))
    u.put(f"{cals['Tasks']}todo.ics", ics(TODO))
    return cals


# -- meetings ----------------------------------------------------------------------
def test_meetings_are_read_expanded_and_mapped(radicale_user: User,
                                               calendars: dict[str, str]) -> None:
    batches, _ = fetch(radicale_user)
    got = meetings(batches)
    assert sorted(got) == [
        "cancelled-1", "dinner-1", "offsite-1",
        "standup-1/20260202T090000Z", "standup-1/20260209T090000Z",
        "standup-1/20260223T090000Z", "standup-1/20260302T090000Z",
        "standup-1/20260309T090000Z"]
    moved = got["standup-1/20260209T090000Z"]
    assert (moved.start, moved.summary) == (datetime(2026, 2, 9, 13, 0, tzinfo=UTC),
                                            "Standup (moved)")
    assert [(a.address.email, a.status) for a in moved.attendees] == [("ann@x.org", "declined")]
    first = got["standup-1/20260202T090000Z"]
    assert first.organizer == Address("boss@x.org", "Boss")
    assert [(a.address.email, a.status) for a in first.attendees] == [
        ("ann@x.org", "accepted"), ("bo@x.org", "tentative")]
    assert first.location == "caldav:cal/Work#standup-1"
    assert got["cancelled-1"].status == "cancelled"
    offsite = got["offsite-1"]
    assert (offsite.all_day, offsite.start, offsite.end) == (
        True, datetime(2026, 2, 20, tzinfo=BERLIN), datetime(2026, 2, 21, tzinfo=BERLIN))
    assert all(b.snapshot for b in batches) and batches[-1].last


def test_meetings_match_the_ics_connector_exactly(radicale_user: User, tmp_path: Path,
                                                  calendars: dict[str, str]) -> None:
    path = tmp_path / "same.ics"
    path.write_bytes(ics(STANDUP + CANCELLED + ALL_DAY + OURS + ANCIENT + DINNER))
    from_file = IcsConnector(AccountConfig(name="ics", type="ics", options={"path": str(path)}))
    by_file = meetings(list(from_file.fetch(None, ctx())))
    by_dav = meetings(fetch(radicale_user)[0])
    assert len(by_dav) == 8
    assert {k: replace(m, location="") for k, m in by_dav.items()} == {
        k: replace(m, location="") for k, m in by_file.items()}


def test_calendars_are_chosen_by_display_name(radicale_user: User,
                                              calendars: dict[str, str]) -> None:
    assert sorted(meetings(fetch(radicale_user, calendars=["family"])[0])) == ["dinner-1"]
    by_principal = fetch(radicale_user, url=radicale_user.home, calendars=["Family"])[0]
    assert sorted(meetings(by_principal)) == ["dinner-1"]  # the principal URL works too
    with_own = meetings(fetch(radicale_user, calendars=["Family", "keepwarm"])[0])
    assert sorted(with_own) == ["dinner-1", "note-1"]
    with pytest.raises(SourceError) as exc:
        fetch(radicale_user, calendars=["Work", "Holidays"])
    message = str(exc.value)
    assert "'Holidays'" in message and "accounts[cal].calendars" in message
    assert "'Family'" in message  # it says what is there


def test_an_unchanged_account_yields_nothing_and_a_deletion_is_seen(
        radicale_user: User, calendars: dict[str, str]) -> None:
    _, cursor = fetch(radicale_user)
    again, cursor2 = fetch(radicale_user, cursor)
    assert [(list(b.observations), b.snapshot) for b in again] == [([], False)]
    assert cursor2 == cursor
    # keepwarm writing into its own calendar is not a change of the meeting calendars
    conn = CaldavConnector(radicale_user.account(name="cal", holds_reminders=True))
    conn.apply([Create(reminder(1))])
    conn.close()
    assert meetings(fetch(radicale_user, cursor)[0]) == {}
    radicale_user.delete(f"{calendars['Family']}dinner.ics")
    batches, cursor3 = fetch(radicale_user, cursor)
    assert "dinner-1" not in meetings(batches) and len(meetings(batches)) == 7
    assert batches[-1].snapshot and batches[-1].last and cursor3 != cursor
    # the next day re-reads (the window and the recurrences moved)
    later, _ = fetch(radicale_user, cursor3, now=NOW + timedelta(days=1))
    assert len(meetings(later)) == 7


# -- the local copy: only what changed is downloaded ---------------------------------------
BRUNCH = DINNER.replace("dinner-1", "brunch-1").replace("SUMMARY:Dinner", "SUMMARY:Brunch")


def synced(user: User, state: Path, cursor: Any = None, now: datetime = NOW,
           cls: type[CaldavConnector] = CaldavConnector,
           **options: Any) -> tuple[list[Batch], Any, Counter[str]]:
    """One fetch with the copies in ``state``: batches, cursor, and the requests it made
    (by kind, PROPFINDs aside) with the objects it downloaded."""
    conn = cls(replace(user.account(name="cal", **options), state_dir=str(state)))
    try:
        batches = list(conn.fetch(cursor, ctx(now)))
        assert conn._dav is not None
        counts = +conn._dav.counts  # unary plus: without the zero counts
    finally:
        conn.close()
    return batches, batches[-1].cursor, counts


def nothing(batches: list[Batch]) -> bool:
    return [(list(b.observations), b.snapshot) for b in batches] == [([], False)]


def test_a_second_sync_downloads_only_what_changed(tmp_path: Path, radicale_user: User,
                                                   calendars: dict[str, str]) -> None:
    u, state = radicale_user, tmp_path / "state"
    batches, cursor, counts = synced(u, state)
    assert len(meetings(batches)) == 8
    assert counts == Counter({"sync-collection": 2, "multiget": 2, "objects": 6})
    folder = state / "cal.caldav"
    files = sorted(folder.glob("*.json"))
    assert len(files) == 2 and {f.stat().st_mode & 0o777 for f in files} == {0o600}
    assert folder.stat().st_mode & 0o777 == 0o700
    assert b"standup-1" in b"".join(f.read_bytes() for f in files)

    again, cursor2, counts = synced(u, state, cursor)
    assert nothing(again) and cursor2 == cursor
    assert counts == Counter()  # the PROPFIND's sync-tokens equal the copies'

    u.put(f"{calendars['Family']}brunch.ics", ics(BRUNCH))
    batches, cursor, counts = synced(u, state, cursor)
    assert counts == Counter({"sync-collection": 1, "multiget": 1, "objects": 1})
    got = meetings(batches)
    assert len(got) == 9 and got["brunch-1"].summary == "Brunch"
    assert batches[-1].snapshot and batches[-1].last

    u.put(f"{calendars['Family']}dinner.ics",
          ics(DINNER.replace("SUMMARY:Dinner", "SUMMARY:Supper")))
    batches, cursor, counts = synced(u, state, cursor)
    assert counts == Counter({"sync-collection": 1, "multiget": 1, "objects": 1})
    assert meetings(batches)["dinner-1"].summary == "Supper" and len(meetings(batches)) == 9

    # a recurring event changed: one object downloaded, still expanded (COUNT=4 ends 23 Feb)
    u.put(f"{calendars['Work']}standup.ics", ics(STANDUP.replace("COUNT=6", "COUNT=4")))
    batches, cursor, counts = synced(u, state, cursor)
    assert counts == Counter({"sync-collection": 1, "multiget": 1, "objects": 1})
    assert sorted(m for m in meetings(batches) if m.startswith("standup")) == [
        "standup-1/20260202T090000Z", "standup-1/20260209T090000Z",
        "standup-1/20260223T090000Z"]

    u.delete(f"{calendars['Work']}standup.ics")
    batches, cursor, counts = synced(u, state, cursor)
    assert counts == Counter({"sync-collection": 1})
    assert sorted(meetings(batches)) == ["brunch-1", "cancelled-1", "dinner-1", "offsite-1"]

    later, _, counts = synced(u, state, cursor, now=NOW + timedelta(days=1))
    assert counts == Counter() and len(meetings(later)) == 4  # a new day: from the copies


def test_a_snapshot_lost_in_a_crash_comes_again_from_the_copies(
        tmp_path: Path, radicale_user: User, calendars: dict[str, str]) -> None:
    u, state = radicale_user, tmp_path / "state"
    _, cursor, _ = synced(u, state)
    u.delete(f"{calendars['Family']}dinner.ics")
    synced(u, state, cursor)  # copies saved, but the store never committed this snapshot
    batches, cursor2, counts = synced(u, state, cursor)
    assert counts == Counter()  # nothing new on the server ...
    assert sorted(meetings(batches)) == sorted(  # ... yet the whole snapshot comes again
        ["cancelled-1", "offsite-1", *(f"standup-1/2026{d}T090000Z"
                                      for d in ("0202", "0209", "0223", "0302", "0309"))])
    assert batches[-1].last and cursor2 != cursor
    # copies lost (or unreadable) while the store is current: rebuilt, nothing to store
    (state / "cal.caldav" / "junk.json").write_text("{}")
    for path in (state / "cal.caldav").glob("*.json"):
        path.write_text("not json")
    again, cursor3, counts = synced(u, state, cursor2)
    assert counts == Counter({"sync-collection": 2, "multiget": 1, "objects": 5})
    assert nothing(again) and cursor3 == cursor2
    assert len(list((state / "cal.caldav").glob("*.json"))) == 2  # and "junk" pruned


def test_a_forgotten_sync_token_reads_the_calendar_once_from_scratch(
        tmp_path: Path, radicale_user: User, calendars: dict[str, str],
        caplog: pytest.LogCaptureFixture) -> None:
    u, state = radicale_user, tmp_path / "state"
    _, cursor, _ = synced(u, state)
    u.put(f"{calendars['Work']}brunch.ics", ics(BRUNCH))
    forgotten = list((u.server.storage / "collection-root" / u.name).rglob("sync-token"))
    assert len(forgotten) >= 2
    for folder in forgotten:  # the server expires every token it handed out
        shutil.rmtree(folder)
    caplog.set_level(logging.INFO, logger="connectors.davcache")
    batches, cursor, counts = synced(u, state, cursor)
    # Work: refused (403 valid-sync-token), then listed from scratch, all 6 objects again;
    # Family: its PROPFIND token is the copy's, so not even asked
    assert counts == Counter({"sync-collection": 2, "multiget": 1, "objects": 6})
    assert caplog.text.count("no longer knows the sync-token") == 1
    assert sorted(meetings(batches)) == sorted(meetings(fetch(u)[0]))
    assert len(meetings(batches)) == 9 and "brunch-1" in meetings(batches)
    again, _, counts = synced(u, state, cursor)
    assert nothing(again) and counts == Counter()


def test_truncated_change_lists_are_followed_page_by_page(
        tmp_path: Path, radicale_user: User, calendars: dict[str, str]) -> None:
    u, state = radicale_user, tmp_path / "state"
    with SyncPager(u.url) as pager:
        batches, cursor, counts = synced(u, state, url=pager.url)
        assert pager.truncated == 4  # Work's five members came one per answer
        assert counts == Counter({"sync-collection": 6, "multiget": 2, "objects": 6})
        assert meetings(batches) == meetings(fetch(u)[0])
        u.put(f"{calendars['Work']}brunch.ics", ics(BRUNCH))
        u.delete(f"{calendars['Work']}cancelled.ics")
        batches, _, counts = synced(u, state, cursor, url=pager.url)
        assert pager.truncated == 5
        assert counts == Counter({"sync-collection": 2, "multiget": 1, "objects": 1})
        assert "brunch-1" in meetings(batches) and "cancelled-1" not in meetings(batches)


def test_a_server_refusing_sync_collection_is_read_by_etags(
        tmp_path: Path, radicale_user: User, calendars: dict[str, str]) -> None:
    u, state = radicale_user, tmp_path / "state"
    with SyncPager(u.url, refuse=True) as refusing:
        batches, cursor, counts = synced(u, state, url=refusing.url)
        assert meetings(batches) == meetings(fetch(u)[0])
        assert counts == Counter({"sync-collection": 2, "query": 2, "multiget": 2,
                                  "objects": 5})
        u.put(f"{calendars['Family']}brunch.ics", ics(BRUNCH))
        batches, _, counts = synced(u, state, cursor, url=refusing.url)
        # not asked again; Family's ctag moved: listed; Work's did not: not even listed
        assert counts == Counter({"query": 1, "multiget": 1, "objects": 1})
        assert len(meetings(batches)) == 9


class NoSyncTokens(CaldavConnector):
    """The same connector on a server without sync-token or ctag (the ETag fallback).
    Radicale always has both, so the test hides them from the connector."""

    def _chosen(self, calendars: list[Any]) -> list[Any]:
        return [replace(c, sync_token="", ctag="") for c in super()._chosen(calendars)]


class CtagOnly(CaldavConnector):
    """A server with getctag but no sync-token (older CalendarServer-style servers)."""

    def _chosen(self, calendars: list[Any]) -> list[Any]:
        return [replace(c, sync_token="") for c in super()._chosen(calendars)]


def test_without_sync_tokens_etags_tell_what_changed(tmp_path: Path, radicale_user: User,
                                                     calendars: dict[str, str]) -> None:
    u, state = radicale_user, tmp_path / "state"
    first, cursor, counts = synced(u, state, cls=NoSyncTokens)
    assert len(meetings(first)) == 8
    # only the window's objects: "ancient" (2020) is neither listed nor downloaded
    assert counts == Counter({"query": 2, "multiget": 2, "objects": 5})
    again, cursor2, counts = synced(u, state, cursor, cls=NoSyncTokens)
    assert nothing(again) and cursor2 == cursor
    assert counts == Counter({"query": 2})  # ETags listed, nothing downloaded
    u.put(f"{calendars['Family']}dinner.ics",
          ics(DINNER.replace("SUMMARY:Dinner", "SUMMARY:Supper")))
    u.delete(f"{calendars['Work']}cancelled.ics")
    changed, cursor, counts = synced(u, state, cursor, cls=NoSyncTokens)
    assert counts == Counter({"query": 2, "multiget": 1, "objects": 1})
    assert meetings(changed)["dinner-1"].summary == "Supper"
    assert "cancelled-1" not in meetings(changed) and len(meetings(changed)) == 7
    assert "standup-1/20260302T090000Z" in meetings(changed)  # recurrences still expanded


def test_with_only_a_ctag_an_unchanged_calendar_is_not_listed(
        tmp_path: Path, radicale_user: User, calendars: dict[str, str]) -> None:
    u, state = radicale_user, tmp_path / "state"
    _, cursor, counts = synced(u, state, cls=CtagOnly)
    assert counts == Counter({"query": 2, "multiget": 2, "objects": 5})
    again, _, counts = synced(u, state, cursor, cls=CtagOnly)
    assert nothing(again) and counts == Counter()
    u.put(f"{calendars['Family']}brunch.ics", ics(BRUNCH))
    batches, cursor, counts = synced(u, state, cursor, cls=CtagOnly)
    assert counts == Counter({"query": 1, "multiget": 1, "objects": 1})  # Family only
    assert len(meetings(batches)) == 9
    _, _, counts = synced(u, state, cursor, now=NOW + timedelta(days=1), cls=CtagOnly)
    assert counts == Counter({"query": 2})  # a new day, a new range: listed again


# -- reminders through daemon.sync ----------------------------------------------------
def reminder(n: int, day: int = 0) -> Reminder:
    start = NOW + timedelta(days=day)
    return Reminder(f"keepwarm-test-{n}", cadence_id(f"p{n}@x.org"), f"Follow up: P{n}",
                    "Why: test",
                    start, start + timedelta(minutes=15))


class World:
    """A memory mail account plus the Radicale user's account as the reminders calendar."""

    def __init__(self, tmp_path: Path, user: User, **cal_options: Any) -> None:
        self.user = user
        key = f"caldav-mail-{next(_keys)}"
        self.mail: MemoryData = MemoryConnector.DATA.setdefault(key, MemoryData())
        raw: dict[str, Any] = {
            "identity": {"addresses": ["me@work.example"], "timezone": "Europe/Berlin"},
            "store": {"path": str(tmp_path / "kw.db"), "state_dir": str(tmp_path / "state")},
            "reminders": {"calendar": "cal"},
            "accounts": [{"name": "mail", "type": "memory", "key": key},
                         {"name": "cal", "type": "caldav", **user.options(**cal_options)}],
        }
        self.config: Config = parse(raw, tmp_path / "config.toml")
        self.store = Store(self.config.store_path)
        self.calendar_name = cal_options.get("reminders_calendar", "keepwarm")

    def send(self, mid: str, days_ago: float, to: str, now: datetime = NOW) -> None:
        self.mail.mail.append(Mail(mid, now - timedelta(days=days_ago),
                                       Address("me@work.example"), to=(Address(to),)))

    def sync(self, now: datetime = NOW) -> sync.SyncReport:
        report = sync.sync(self.config, self.store, now)
        assert all(a.error is None for a in report.accounts), report.accounts
        return report

    def calendar_url(self) -> str:
        (url,) = self.user.calendars()[self.calendar_name]
        return url

    def events(self) -> dict[str, tuple[str, icalendar.Component]]:
        """contact -> (URL, event) of keepwarm's events as the server has them."""
        out = {}
        for url, data in self.user.objects(self.calendar_url()).items():
            for event in icalendar.Calendar.from_ical(data).walk("VEVENT"):
                if KEEPWARM_PROPERTY in event:
                    out[ReminderId.parse(str(event[KEEPWARM_PROPERTY])).contact] = (url, event)
        return out

    def starts(self) -> dict[str, datetime]:
        return {c: e.decoded("DTSTART") for c, (_, e) in self.events().items()}

    def user_moves(self, contact: str, start: datetime) -> None:
        """What a calendar app does when the user drags the event: PUT with If-Match."""
        url, _ = self.events()[contact]
        _, headers, data = self.user.request("GET", url)
        calendar = icalendar.Calendar.from_ical(data)
        event = calendar.walk("VEVENT")[0]
        for key in ("DTSTART", "DTEND"):
            del event[key]
        event.add("DTSTART", start)
        event.add("DTEND", start + timedelta(minutes=30))
        self.user.put(url, calendar.to_ical(), etag=headers["ETag"])


def overdue(w: World) -> None:
    """ann: 3 touches, last 120 days ago; bo: 2 touches, 40 days ago: both due by Monday."""
    for i, days in enumerate((300, 200, 120)):
        w.send(f"a{i}", days, "ann@x.org")
    w.send("b0", 60, "bo@x.org")
    w.send("b1", 40, "bo@x.org")


def test_reminders_are_created_moved_and_deleted(tmp_path: Path, radicale_user: User) -> None:
    w = World(tmp_path, radicale_user)
    overdue(w)
    report = w.sync()
    assert report.reminders is not None and report.reminders.created == 2
    assert w.starts() == {"ann@x.org": MONDAY, "bo@x.org": MONDAY}
    for url, event in w.events().values():
        assert url.endswith(f"/{event['UID']}.ics")
        assert str(event["TRANSP"]) == "TRANSPARENT"
        assert not {"ATTENDEE", "ORGANIZER"} & set(event) and not event.subcomponents
    assert w.sync().reminders.__dict__ == {"created": 0, "moved": 0, "deleted": 0,
                                           "error": None}
    wednesday = NOW + timedelta(days=2)  # Monday's reminders have passed: they roll on
    report = w.sync(wednesday)
    assert report.reminders is not None and report.reminders.moved == 2
    assert set(w.starts().values()) == {datetime(2026, 3, 4, 9, 30, tzinfo=BERLIN)}
    w.send("a9", 0.5, "ann@x.org", now=wednesday)
    report = w.sync(wednesday)
    assert report.reminders is not None and report.reminders.deleted == 1
    assert list(w.starts()) == ["bo@x.org"]
    assert list(w.user.calendars()).count("keepwarm") == 1


def test_the_reminders_calendar_is_created_once_under_its_name(tmp_path: Path,
                                                               radicale_user: User) -> None:
    w = World(tmp_path, radicale_user, reminders_calendar="Follow-ups")
    w.sync()
    assert "Follow-ups" not in w.user.calendars()  # nothing due: nothing created
    overdue(w)
    w.sync()
    w.sync(NOW + timedelta(days=2))
    cals = w.user.calendars()
    assert len(cals["Follow-ups"]) == 1 and cals["Follow-ups"][0].endswith("/follow-ups/")
    assert sorted(w.starts()) == ["ann@x.org", "bo@x.org"]


def test_an_existing_calendar_of_that_name_is_used(tmp_path: Path, radicale_user: User) -> None:
    url = radicale_user.make_calendar("KeepWarm")
    w = World(tmp_path, radicale_user)
    w.calendar_name = "KeepWarm"
    overdue(w)
    w.sync()
    assert w.user.calendars() == {"KeepWarm": [url]}
    assert len(w.events()) == 2


def test_a_reminder_the_user_moved_keeps_the_users_time(tmp_path: Path,
                                                        radicale_user: User) -> None:
    w = World(tmp_path, radicale_user)
    overdue(w)
    w.sync()
    thursday = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN)
    w.user_moves("bo@x.org", thursday)
    report = w.sync()
    assert report.reminders is not None and (report.reminders.moved, report.reminders.created
                                             ) == (0, 0)
    assert w.starts() == {"ann@x.org": MONDAY, "bo@x.org": thursday}
    w.sync(NOW + timedelta(days=1))
    assert w.starts()["bo@x.org"] == thursday


def test_a_reminder_the_user_deleted_is_dismissed(tmp_path: Path, radicale_user: User) -> None:
    w = World(tmp_path, radicale_user)
    overdue(w)
    w.sync()
    url, _ = w.events()["ann@x.org"]
    w.user.delete(url)
    w.sync()
    assert list(w.starts()) == ["bo@x.org"]
    report = w.sync(NOW + timedelta(days=1))
    assert report.reminders is not None and report.reminders.created == 0
    assert list(w.starts()) == ["bo@x.org"]


def test_an_edit_between_plan_and_apply_wins(tmp_path: Path, radicale_user: User) -> None:
    w = World(tmp_path, radicale_user)
    overdue(w)
    w.sync()
    later = NOW + timedelta(days=2)
    writer = sync.connector(w.config.account("cal"))  # type: ignore[arg-type]
    statuses = sync.compute(w.store, w.config.settings, later)
    previous = w.store.reminder_records()
    p = sync.make_plan(w.config, w.store, statuses, later, writer)
    assert sorted(type(c).__name__ for c in p.changes) == ["Update", "Update"]
    reminder_state.save_intent(w.store, p.records, p.dismissals)
    friday = datetime(2026, 3, 6, 16, 0, tzinfo=BERLIN)
    w.user_moves("bo@x.org", friday)  # the user drags it just before keepwarm writes
    applied = writer.apply(p.changes)
    writer.close()
    assert [a.change.reminder.rid.contact for a in applied] == ["ann@x.org"]  # type: ignore[union-attr]
    reminder_state.confirm(w.store, applied, later, previous, p.changes)
    assert w.store.reminder_records()[cadence_id("bo@x.org")] == previous[cadence_id("bo@x.org")]
    assert w.starts()["bo@x.org"] == friday
    w.sync(later)
    assert w.starts() == {"ann@x.org": datetime(2026, 3, 4, 9, 30, tzinfo=BERLIN),
                          "bo@x.org": friday}


# -- the writer's own guarantees ---------------------------------------------------------
def writer(user: User) -> CaldavConnector:
    return CaldavConnector(user.account(name="cal", holds_reminders=True))


def test_creates_are_idempotent_and_stale_writes_are_refused(radicale_user: User) -> None:
    w = writer(radicale_user)
    (first,) = w.apply([Create(reminder(1))])
    (again,) = w.apply([Create(reminder(1))])  # a retry after a lost answer
    assert (again.remote_id, again.etag) == (first.remote_id, first.etag) and first.etag
    (listed,) = w.list_reminders()
    assert (listed.remote_id, listed.etag) == (first.remote_id, first.etag)
    url = radicale_user.url.rstrip("/") + listed.remote_id
    radicale_user.put(url, radicale_user.get(url).replace(b"Why: test", b"my note"),
                      etag=listed.etag)
    edited = radicale_user.get(url)
    assert w.apply([Update(listed, reminder(1, day=3)), Delete(listed)]) == []
    assert radicale_user.get(url) == edited
    w.close()


def test_objects_without_the_marker_are_never_written(radicale_user: User) -> None:
    w = writer(radicale_user)
    (done,) = w.apply([Create(reminder(1))])
    (listed,) = w.list_reminders()
    url = radicale_user.url.rstrip("/") + listed.remote_id
    stripped = radicale_user.get(url).replace(
        f"{KEEPWARM_PROPERTY}:{cadence_id('p1@x.org').marker}\r\n".encode(), b"")
    radicale_user.put(url, stripped)  # the user's app dropped keepwarm's property
    before = radicale_user.get(url)
    assert w.apply([Update(listed, reminder(1, day=3)), Delete(listed)]) == []
    cal = url.rsplit("/", 1)[0] + "/"
    squatter = ics(DINNER.replace("dinner-1", "keepwarm-test-2"))
    radicale_user.put(f"{cal}keepwarm-test-2.ics", squatter)  # a user event at our URL
    squatter_bytes = radicale_user.get(f"{cal}keepwarm-test-2.ics")
    assert w.apply([Create(reminder(2))]) == []
    assert radicale_user.get(url) == before
    assert radicale_user.get(f"{cal}keepwarm-test-2.ics") == squatter_bytes
    assert w.list_reminders() == [] and done.remote_id == listed.remote_id
    w.close()


# -- faults ------------------------------------------------------------------------------
def test_a_wrong_password_is_an_auth_error_without_the_secret(
        radicale_user: User, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Wr0ng-s3cret-value"
    account = radicale_user.account(name="cal", password_command=f"echo {secret}")
    with pytest.raises(AuthError) as exc:
        list(CaldavConnector(account).fetch(None, ctx()))
    message = str(exc.value)
    assert radicale_user.name in message and radicale_user.url in message
    assert "password" in message
    with pytest.raises(AuthError):
        CaldavConnector(account).list_reminders()
    w = World(tmp_path, radicale_user, password_command=f"echo {secret}")
    report = sync.sync(w.config, w.store, NOW)
    (cal,) = [a for a in report.accounts if a.name == "cal"]
    # a password account is not "signed in again": the message says where the password is
    assert not cal.needs_signin and cal.error == message
    assert "password_command" in message and "keepwarm auth" not in message
    assert secret not in caplog.text and secret not in repr(report)


def test_a_server_that_is_down_is_transient_and_nothing_is_lost(
        tmp_path: Path, radicale_server: RadicaleServer) -> None:
    user = radicale_server.add_user()
    w = World(tmp_path, user)
    overdue(w)
    radicale_server.stop()
    with pytest.raises(TransientError):
        list(CaldavConnector(user.account(name="cal", retries=1)).fetch(None, ctx()))
    report = sync.sync(w.config, w.store, NOW)
    assert report.reminders is not None and report.reminders.error
    (cal,) = [a for a in report.accounts if a.name == "cal"]
    assert cal.error and not cal.needs_signin
    radicale_server.start()
    radicale_server.pause()  # up but silent: a timeout, transient as well
    try:
        with pytest.raises(TransientError, match="did not answer"):
            list(CaldavConnector(user.account(name="cal", timeout=1)).fetch(None, ctx()))
    finally:
        radicale_server.resume()
    report = w.sync()
    assert report.reminders is not None and report.reminders.created == 2
    assert w.sync().reminders.__dict__ == {"created": 0, "moved": 0, "deleted": 0,
                                           "error": None}
    assert sorted(w.starts()) == ["ann@x.org", "bo@x.org"]


def test_each_request_has_its_own_retries_and_waits_as_told(tmp_path: Path,
                                                           radicale_user: User) -> None:
    """Every request is answered 429 twice (Retry-After 0.05 s, a fraction the caldav
    library's own parser drops), then served: with ``retries`` = 2 each still gets through,
    though a change (read, then write) or the first listing (the home set, then the
    calendars) sends two, and each waits exactly as long as it was told."""
    radicale_user.put(f"{radicale_user.make_calendar('Work')}dinner.ics", ics(DINNER))
    plan = FaultPlan((Fault("429 Retry-After", 429, 0.05),), rate=1.0)
    port = int(radicale_user.url.rsplit(":", 1)[1].strip("/"))
    with HttpFaultProxy(port, plan) as proxy:
        w = World(tmp_path, User(radicale_user.name, radicale_user.password,
                                 f"http://127.0.0.1:{proxy.port}/", radicale_user.server),
                  retries=2)
        w.user = radicale_user  # inspect the server directly, not through the faults
        overdue(w)
        for day in (NOW, NOW + timedelta(days=2)):  # created, then moved (read, then write)
            report = sync.sync(w.config, w.store, day)
            assert report.ok, (report.accounts, report.reminders)
    assert report.reminders is not None and report.reminders.moved >= 2
    starts = w.starts()
    assert {starts["ann@x.org"], starts["bo@x.org"]} == {datetime(2026, 3, 4, 9, 30,
                                                                  tzinfo=BERLIN)}
    assert w.store.db.execute("SELECT meeting_id FROM meetings").fetchall() == [("dinner-1",)]
    waits = plan.waits()
    assert len(waits) > 20 and all(0.05 <= waited < 0.35 for _, waited, _ in waits), waits


def test_bad_urls_are_refused_when_the_config_loads(radicale_user: User,
                                                    tmp_path: Path) -> None:
    def problems(**options: Any) -> list[str]:
        table = {"name": "caldav", "type": "caldav", **radicale_user.options(**options)}
        with pytest.raises(ConfigError) as exc:
            parse({"accounts": [table]}, tmp_path / "c.toml")
        return exc.value.problems

    for url in ("http://caldav.example.com/", "https://me:pw@caldav.example.com/",
                "caldav.example.com"):
        (line,) = problems(url=url)
        assert "accounts[0].url" in line and "pw" not in line
    (line,) = problems(calendars="Work")
    assert "accounts[0].calendars: must be an array" in line
    (line,) = problems(calendars=["Work", " "])
    assert "accounts[0].calendars: must be an array of names, none empty" in line
    assert registry.connector_class("caldav") is CaldavConnector


# -- the safety proof ----------------------------------------------------------------------
USER_EVENTS = {
    "weekly": STANDUP.replace("standup-1", "weekly-1"),
    "lunch": CANCELLED.replace("cancelled-1", "lunch-1"),
    "trip": ALL_DAY.replace("offsite-1", "trip-1"),
    "alarm": """BEGIN:VEVENT
UID:alarm-1
DTSTAMP:20260101T000000Z
DTSTART:20260304T083000Z
DTEND:20260304T084500Z
SUMMARY:Follow up: dentist ü — a long summary that a calendar app folds over several lines
DESCRIPTION:keepwarm-looking but the user's own
X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC
BEGIN:VALARM
ACTION:AUDIO
TRIGGER:-PT5M
END:VALARM
END:VEVENT
""",
    "lookalike": """BEGIN:VEVENT
UID:keepwarm-0000000000-20260302
DTSTAMP:20260101T000000Z
DTSTART:20260302T083000Z
DTEND:20260302T084500Z
SUMMARY:Follow up: Ann
END:VEVENT
""",
}


def test_random_sync_cycles_never_touch_a_user_event(tmp_path: Path,
                                                     radicale_user: User) -> None:
    user = radicale_user
    reminders_cal = user.make_calendar("keepwarm", slug="keepwarm")
    work = user.make_calendar("Work")
    for name, body in USER_EVENTS.items():
        user.put(f"{reminders_cal}{name}.ics", ics(body))
        user.put(f"{work}{name}.ics", ics(body))
    before = {**user.objects(reminders_cal), **user.objects(work)}
    assert len(before) == 10
    w = World(tmp_path, user)
    rng = random.Random(20260302)
    people = [f"p{n}@x.org" for n in range(8)]
    for n, person in enumerate(people):  # two touches: due every 30 days, 0 to 28 days from now
        w.send(f"h{n}-0", 22 + 4 * n, person)
        w.send(f"h{n}-1", 2 + 4 * n, person)
    now = NOW
    totals = {"created": 0, "moved": 0, "deleted": 0}
    for cycle in range(30):
        now += timedelta(hours=rng.choice((1, 5, 20, 30)))
        if rng.random() < 0.3:  # a third touch: the 90-day default, the reminder goes
            w.send(f"c{cycle}", rng.random(), rng.choice(people), now=now)
        if cycle % 7 == 3 and w.events():  # the user moves or deletes one of keepwarm's
            contact = rng.choice(sorted(w.events()))
            if rng.random() < 0.5:
                w.user_moves(contact, now + timedelta(days=1, hours=rng.randrange(8)))
            else:
                w.user.delete(w.events()[contact][0])
        report = w.sync(now)
        assert report.reminders is not None and report.reminders.error is None
        for key in totals:
            totals[key] += getattr(report.reminders, key)
    assert min(totals.values()) > 0, totals  # keepwarm really wrote around the user's events
    after = {url: data for url, data in {**user.objects(reminders_cal),
                                         **user.objects(work)}.items()
             if KEEPWARM_PROPERTY.encode() not in data}
    assert after == before
