"""The outlook connector against a local Microsoft identity platform and Graph (HTTPS on
loopback, tests/servers/microsoft.py): real msal, real requests, real keepwarm core.

The user's side - mail Exchange files in Sent Items, meetings, edits in Outlook - is played
on the server's state directly, never through keepwarm's Graph code.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors import msauth
from connectors.ics import IcsConnector
from connectors.memory import MemoryConnector, MemoryData
from connectors.outlook import OutlookConnector
from connectors.outlookcal import CONTACT_PROPERTY, UID_PROPERTY
from daemon import reminder_state, sync
from daemon.config import Config, parse
from daemon.errors import AuthError, ConfigError, SourceError
from daemon.model import (
    Address,
    Attendee,
    Batch,
    Create,
    Delete,
    FetchContext,
    Mail,
    Meeting,
    OwnAddress,
    Reminder,
    ReminderId,
    Skipped,
    Update,
)
from daemon.reminders import cadence_id
from daemon.store import Store
from tests.conformance.harnesses.ics import IcsSourceHarness
from tests.servers.microsoft import CLIENT_ID, USER, MicrosoftServer, graph_event, trust

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 08:00 in Berlin
MONDAY = datetime(2026, 11, 23, 9, 30, tzinfo=BERLIN)
_keys = itertools.count()
_seq = itertools.count()


def ctx(now: datetime = NOW) -> FetchContext:
    return FetchContext(now=now, tz=BERLIN, window_start=now - timedelta(days=400),
                        window_end=now + timedelta(days=14))


def person(address: str, name: str = "") -> dict[str, Any]:
    return {"emailAddress": {"name": name, "address": address}}


def send(server: MicrosoftServer, to: str, days_ago: float = 3, now: datetime = NOW,
         **extra: Any) -> str:
    """A message in Sent Items, as Exchange files one the user sent; returns its Message-ID."""
    mid = f"m{next(_seq)}@contoso.example"
    sent = (now - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    server.add_message(**{"from": person(USER, "Me"), "toRecipients": [person(to)],
                          "sentDateTime": sent, "internetMessageId": f"<{mid}>",
                          "subject": "hello", **extra})
    return mid


def meeting(uid: str, days_ago: float, *people: tuple[str, str], **kw: Any) -> Meeting:
    start = NOW.replace(minute=0) - timedelta(days=days_ago)
    return Meeting(uid, start, start + timedelta(hours=1),
                   organizer=kw.pop("organizer", Address("boss@x.org", "Boss")),
                   attendees=tuple(Attendee(Address(a), s) for a, s in people),  # type: ignore[arg-type]
                   **kw)


def account(server: MicrosoftServer, tmp_path: Path, **options: Any) -> Any:
    """A signed-in account of ``server`` (the device-code flow runs once per cache file)."""
    acct = server.account(tmp_path, **options)
    if not Path(acct.options["token_cache"]).exists():
        server.sign_in(acct)
    return acct


def fetch(acct: Any, cursor: Any = None, now: datetime = NOW) -> tuple[list[Batch], Any]:
    conn = OutlookConnector(acct)
    try:
        batches = list(conn.fetch(cursor, ctx(now)))
    finally:
        conn.close()
    return batches, batches[-1].cursor


def of(batches: list[Batch], kind: type) -> list[Any]:
    return [o for b in batches for o in b.observations if isinstance(o, kind)]


def reminder(n: int, day: int = 0) -> Reminder:
    start = NOW + timedelta(days=day)
    return Reminder(f"keepwarm-test-{n}", cadence_id(f"p{n}@x.org"), f"Follow up: P{n}",
                    "Last touch: 2026-01-01\n\nWhy: test", start, start + timedelta(minutes=15))


# -- sign-in -------------------------------------------------------------------------
def test_sign_in_is_a_device_code_with_the_least_scopes(microsoft: MicrosoftServer,
                                                        tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(msauth, "_plain_file_said", False)
    caplog.set_level(logging.INFO)
    acct = microsoft.account(tmp_path / "a", holds_reminders=True)
    said = microsoft.sign_in(acct)
    assert len(said) == 1 and "/devicelogin" in said[0] and "enter the code" in said[0]
    polls = [h.status for h in microsoft.hits("POST", "/oauth2/v2.0/token")]
    assert polls == [400, 200]  # one pending poll, then approved
    assert sorted(microsoft.state.scopes) == sorted(
        ["Mail.ReadBasic", "Calendars.ReadWrite", "User.Read", "offline_access", "openid",
         "profile"])
    microsoft.sign_in(microsoft.account(tmp_path / "b", mail=False))
    assert sorted(microsoft.state.scopes) == sorted(
        ["Calendars.Read", "User.Read", "offline_access", "openid", "profile"])
    cache = Path(acct.options["token_cache"])
    assert cache.stat().st_mode & 0o777 == 0o600 and b"RefreshToken" in cache.read_bytes()
    monkeypatch.setattr(msauth, "_plain_file_said", False)
    fetch(acct)  # a later process with the same cache: nothing more to say
    plain = [r for r in caplog.records if "plain files readable only by you" in r.message]
    assert len(plain) == 1  # said when the first file was made, once however many accounts
    assert "refresh_token" not in caplog.text and "access_token" not in caplog.text


def test_a_wrong_client_id_and_no_sign_in_say_what_to_do(microsoft: MicrosoftServer,
                                                         tmp_path: Path) -> None:
    with pytest.raises(AuthError, match=r"client_id and that the app registration allows "
                                        "public client flows"):
        microsoft.sign_in(microsoft.account(tmp_path, client_id="not-my-app"))
    with pytest.raises(AuthError, match=r"^outlook is not signed in to Microsoft yet; run "
                                        r"`keepwarm auth outlook`$"):
        fetch(microsoft.account(tmp_path))
    assert not microsoft.hits(path="/v1.0/")


def test_bad_config_is_refused_when_it_loads_before_any_request(microsoft: MicrosoftServer,
                                                                tmp_path: Path) -> None:
    table = {"name": "outlook", "type": "outlook", "client_id": "", "calendars": "Work",
             "authority_host": "http://login.example.com",
             "graph_endpoint": f"{microsoft.url}/v1.0"}
    with pytest.raises(ConfigError) as exc:
        parse({"accounts": [table]}, tmp_path / "config.toml")
    assert [p.split(": ")[1] for p in exc.value.problems] == [
        "accounts[0].client_id", "accounts[0].authority_host", "accounts[0].calendars"]
    assert microsoft.hits() == []


# -- sent mail -------------------------------------------------------------------------
def test_backfill_pages_through_sent_items_and_learns_own_addresses(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path)
    ids = {send(microsoft, f"p{n % 50}@x.org", days_ago=n % 300) for n in range(2500)}
    send(microsoft, "old@x.org", days_ago=500)  # before the window: never asked for
    batches, _ = fetch(acct)
    assert {m.message_id for m in of(batches, Mail)} == ids
    assert {o.email for o in of(batches, OwnAddress)} == {USER, "me.alias@contoso.example"}
    mail = microsoft.hits("GET", "/sentitems/messages/delta")
    assert len(mail) == 3  # 1,000 a page
    assert mail[0].query["$filter"] == "receivedDateTime ge 2025-10-19T07:00:00Z"
    assert "internetMessageHeaders" in mail[0].query["$select"].split(",")
    assert [len(b.observations) for b in batches[:3]] == [1002, 1000, 500]  # + own addresses
    assert all("$skiptoken=" in b.cursor["mail"] for b in batches[:2])
    assert "$deltatoken=" in batches[2].cursor["mail"]


def test_resuming_anywhere_loses_nothing_and_an_idle_sync_costs_a_request_per_folder(
        tmp_path: Path) -> None:
    trust()
    server = MicrosoftServer(max_page=3).start()
    try:
        acct = account(server, tmp_path)
        want = {send(server, f"p{n}@x.org") for n in range(8)}
        server.add_event(**graph_event(meeting("m1", 2, ("a@x.org", "accepted"))))
        batches, cursor = fetch(acct)
        for i, batch in enumerate(batches):
            after, _ = fetch(acct, json.loads(json.dumps(batch.cursor)))
            seen = {m.message_id for m in of(batches[:i + 1] + after, Mail)}
            assert seen == want
        before = len(server.log)
        idle, cursor = fetch(acct, cursor)
        assert of(idle, Mail) == [] and of(idle, Meeting) == []
        assert [(h.method, h.path) for h in server.log[before:]] == [
            ("GET", "/v1.0/me/mailFolders/sentitems/messages/delta"),
            ("GET", "/v1.0/me/mailFolders/inbox/messages/delta"),
            ("GET", "/v1.0/me/mailFolders/archive/messages/delta"),
            ("GET", "/v1.0/me/calendarView/delta")]
        new = send(server, "new@x.org")
        server.add_event(**graph_event(meeting("m2", 1, ("b@x.org", "accepted"))))
        newer, _ = fetch(acct, cursor)
        assert [m.message_id for m in of(newer, Mail)] == [new]
        assert [m.meeting_id for m in of(newer, Meeting)] == ["m2"]
        assert not any(b.snapshot for b in newer)
    finally:
        server.stop()


def test_graph_fields_and_headers_go_through_the_one_header_parser(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path)
    listed = send(microsoft, "List@Example.org", internetMessageHeaders=[
        {"name": "List-Id", "value": "<news.example.org>"},
        {"name": "Precedence", "value": "Bulk"},
        {"name": "Auto-Submitted", "value": "auto-generated"},
        {"name": "In-Reply-To", "value": "<prev@x.org>"},
        {"name": "To", "value": "ignored@x.org"}])
    plain = send(microsoft, "ann@x.org", ccRecipients=[
        person("Jane@Example.org", 'Doe, "JD" Jane'), person("j@x.org", "Jürgen\r\nX"),
        person("not an address", "Broken")], bccRecipients=[person("b@x.org", "b@x.org")])
    microsoft.add_message(**{"from": person(USER), "toRecipients": [person("n@x.org")],
                             "sentDateTime": "2026-11-20T10:00:00Z", "subject": "no id"})
    microsoft.add_message(**{"toRecipients": [person("q@x.org")], "subject": "draft"})
    microsoft.add_message(**{"sentDateTime": "2026-11-20T10:00:00Z", "subject": "nobody"})
    batches, _ = fetch(acct)
    mails = {m.message_id: m for m in of(batches, Mail)}
    m = mails[listed]
    assert (m.list_id, m.precedence, m.auto_submitted, m.in_reply_to) == (
        "<news.example.org>", "bulk", "auto-generated", "prev@x.org")
    assert m.to == (Address("list@example.org"),) and m.sender == Address(USER, "Me")
    p = mails[plain]
    assert (p.list_id, p.precedence, p.list_unsubscribe) == ("", "", "")
    assert p.cc == (Address("jane@example.org", 'Doe, "JD" Jane'), Address("j@x.org", "Jürgen X"))
    assert p.bcc == (Address("b@x.org"),) and p.date == NOW - timedelta(days=3)
    (synthetic,) = [k for k in mails if k.endswith("@keepwarm.invalid")]
    again, _ = fetch(acct)
    assert synthetic in {m.message_id for m in of(again, Mail)}  # stable id
    reasons = sorted(s.reason for s in of(batches, Skipped))
    assert reasons == ["message has no readable sentDateTime",
                       "no sender and no recipient addresses"]
    assert all(s.location.startswith("outlook:AAMkMsg") for s in of(batches, Skipped))


def test_an_expired_delta_token_starts_over_without_duplicates(microsoft: MicrosoftServer,
                                                               tmp_path: Path) -> None:
    w = World(tmp_path, microsoft)
    ids = {send(microsoft, f"p{n}@x.org", days_ago=n) for n in range(5)}
    w.sync()
    microsoft.expire_delta_tokens()
    microsoft.delete_message(next(iter(microsoft.state.messages)))  # gone meanwhile: kept
    ids.add(send(microsoft, "late@x.org"))
    report = w.sync()
    (ms,) = [a for a in report.accounts if a.name == "ms"]
    assert (ms.messages, ms.duplicates) == (1, 4)
    assert [h.status for h in microsoft.hits("GET", "/messages/delta")][-2:] == [410, 200]
    assert w.store.counts()["messages"] == len(ids) == 6
    assert w.sync().accounts[1].messages == 0


def test_a_garbled_or_dangling_link_starts_a_fresh_round(microsoft: MicrosoftServer,
                                                        tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path)
    mid = send(microsoft, "ann@x.org")
    microsoft.add_event(**graph_event(meeting("g1", 2, ("bo@x.org", "accepted"))))
    _, cursor = fetch(acct)
    cursor["mail"] = cursor["mail"].split("$deltatoken=")[0] + "$deltatoken=garbled"
    cursor["calendars"]["links"]["default"] = f"{microsoft.url}/v1.0/me/calendars/gone/" \
                                              "calendarView/delta?$deltatoken=x"
    batches, _ = fetch(acct, cursor)
    assert [m.message_id for m in of(batches, Mail)] == [mid]
    assert [m.meeting_id for m in of(batches, Meeting)] == ["g1"] and batches[-1].last
    assert [h.status for h in microsoft.hits("GET", "/sentitems/messages/delta")][-2:] == [
        400, 200]
    assert [h.status for h in microsoft.hits("GET", "calendarView/delta")][-2:] == [404, 200]


# -- meetings ----------------------------------------------------------------------------
def test_meetings_map_exactly_like_an_ics_file(microsoft: MicrosoftServer,
                                               tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path)
    ics = IcsSourceHarness(tmp_path)
    cases = [meeting("a1", 3, ("ann@x.org", "accepted"), ("bo@x.org", "declined"),
                     ("cy@x.org", "tentative"), ("dee@x.org", "needs-action"), summary="Plan"),
             meeting("c1", 2, ("ann@x.org", "accepted"), status="cancelled"),
             Meeting("d1", datetime(2026, 11, 18, tzinfo=BERLIN),
                     datetime(2026, 11, 19, tzinfo=BERLIN), all_day=True, summary="Offsite",
                     attendees=(Attendee(Address("ann@x.org"), "accepted"),))]
    for m in cases:
        ics.add_meeting(m)
        microsoft.add_event(**graph_event(m))
    outlook = {m.meeting_id: m for m in of(fetch(acct)[0], Meeting)}
    conn = IcsConnector(ics.account())
    local = {m.meeting_id: m for m in of(list(conn.fetch(None, ctx())), Meeting)}
    assert sorted(outlook) == sorted(local) == ["a1", "c1", "d1"]
    for uid, m in local.items():
        o = outlook[uid]
        assert (o.start, o.end, o.status, o.all_day, o.summary, o.organizer) == (
            m.start, m.end, m.status, m.all_day, m.summary, m.organizer)
        assert sorted(o.attendees, key=str) == sorted(m.attendees, key=str)
        assert o.location.startswith("outlook:default#AAMkEvt")


def test_the_users_own_answer_reaches_the_you_declined_rule(microsoft: MicrosoftServer,
                                                            tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path)
    microsoft.add_event(**graph_event(meeting("x1", 2, ("ann@x.org", "accepted")),
                                      response="declined"))
    microsoft.add_event(**graph_event(meeting("x2", 2, (USER, "needs-action")),
                                      response="tentativelyAccepted"))
    broken = graph_event(meeting("x3", 1))
    broken["end"], broken["start"] = broken["start"], broken["end"]
    microsoft.add_event(**broken)
    batches, _ = fetch(acct)
    got = {m.meeting_id: m for m in of(batches, Meeting)}
    assert Attendee(Address(USER), "declined") in got["x1"].attendees
    assert got["x2"].attendees == (Attendee(Address(USER), "tentative"),)
    (skip,) = of(batches, Skipped)
    assert skip.reason == "event ends before it starts"


def test_removed_cancelled_and_chosen_calendars(microsoft: MicrosoftServer,
                                                tmp_path: Path) -> None:
    w = World(tmp_path, microsoft, calendars=["default", "Work"])
    microsoft.add_calendar("Work")
    keep = microsoft.add_event(**graph_event(meeting("k1", 3, ("ann@x.org", "accepted"))))
    gone = microsoft.add_event("Work", **graph_event(meeting("g1", 2, ("bo@x.org", "accepted"))))
    microsoft.add_event("Family", **graph_event(meeting("f1", 2, ("cy@x.org", "accepted"))))
    w.sync()
    assert w.meetings() == {"k1": "confirmed", "g1": "confirmed"}
    microsoft.edit_event(keep, isCancelled=True)
    w.sync()
    assert w.meetings() == {"k1": "cancelled", "g1": "confirmed"}
    starts = len(microsoft.hits("GET", "/calendarView/delta"))
    microsoft.delete_event(gone)
    w.sync()
    assert w.meetings() == {"k1": "cancelled"}
    views = microsoft.hits("GET", "/calendarView/delta")[starts:]
    assert [("startDateTime" in h.query) for h in views] == [False, False, True, True]
    acct = w.config.account("ms")
    assert acct is not None
    private = replace(acct, options={**acct.options, "calendars": ["Private"]})
    with pytest.raises(SourceError, match=r"no Outlook calendar named 'Private'.*'Work'"):
        fetch(private)


def test_a_window_that_outgrows_its_token_is_read_again(microsoft: MicrosoftServer,
                                                        tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path, mail=False)
    microsoft.add_event(**graph_event(meeting("n1", -10, ("ann@x.org", "accepted"))))
    batches, cursor = fetch(acct)
    assert batches[-1].snapshot and batches[-1].last
    later, cursor = fetch(acct, cursor, NOW + timedelta(days=6))
    assert not any(b.snapshot for b in later)
    again, _ = fetch(acct, cursor, NOW + timedelta(days=8))
    assert again[-1].snapshot and [m.meeting_id for m in of(again, Meeting)] == ["n1"]


# -- the calendar list ---------------------------------------------------------------------
class Cycles:
    """What each sync asks of the account (mail, meetings, reminders), each time by a new
    connector, as separate ``keepwarm sync`` processes do, on a clock the test moves."""

    def __init__(self, server: MicrosoftServer, tmp_path: Path) -> None:
        self.server, self.now = server, 1_800_000_000.0
        self.account = account(server, tmp_path, holds_reminders=True,
                               calendars=["default", "Work"])
        self.cursor: Any = None

    def connector(self) -> OutlookConnector:
        return OutlookConnector(self.account, clock=lambda: self.now)

    def sync(self, *changes: Create) -> list[str]:
        """The Graph requests of one cycle (paths, calendar ids as they are named)."""
        before = len(self.server.log)
        conn = self.connector()
        try:
            self.cursor = list(conn.fetch(self.cursor, ctx()))[-1].cursor
            conn.list_reminders()
            conn.apply(changes)
        finally:
            conn.close()
        return [self.named(h.path) for h in self.server.log[before:] if h.method == "GET"]

    def named(self, path: str) -> str:
        for cal_id, name in self.server.state.calendars.items():
            path = path.replace(f"/{cal_id}/", f"/{name}/")
        return path.removeprefix("/v1.0")


IDLE = ["/me/mailFolders/sentitems/messages/delta", "/me/mailFolders/inbox/messages/delta",
        "/me/mailFolders/archive/messages/delta", "/me/calendarView/delta",
        "/me/calendars/Work/calendarView/delta", "/me/calendars/keepwarm/events"]


def test_an_idle_sync_lists_no_calendars_until_an_hour_has_passed(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    microsoft.add_calendar("Work")
    cycles = Cycles(microsoft, tmp_path)
    assert "/me/calendars" in cycles.sync(Create(reminder(1)))  # finds Work, makes keepwarm
    assert (tmp_path / "outlook.calendars.json").stat().st_mode & 0o777 == 0o600
    assert cycles.sync() == IDLE and cycles.sync() == IDLE
    cycles.now += 3599
    assert cycles.sync() == IDLE
    cycles.now += 1
    assert cycles.sync() == [*IDLE[:5], "/me/calendars", IDLE[5]]
    assert cycles.sync() == IDLE
    assert [h.path for h in microsoft.hits("POST")].count("/v1.0/me/calendars") == 1


def test_a_calendar_that_answers_404_or_410_lists_the_calendars_again(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    work = microsoft.add_calendar("Work")
    microsoft.add_event("Work", **graph_event(meeting("w1", 2, ("ann@x.org", "accepted"))))
    cycles = Cycles(microsoft, tmp_path)
    cycles.sync(Create(reminder(1)))
    assert cycles.sync() == IDLE
    # the user deletes keepwarm's calendar, and makes Work again: both ids are gone
    del microsoft.state.calendars[microsoft.calendar_id("keepwarm") or ""]
    del microsoft.state.calendars[work]
    microsoft.add_event("Work", **graph_event(meeting("w2", 2, ("bo@x.org", "accepted"))))
    assert cycles.sync(Create(reminder(2))).count("/me/calendars") == 2  # Work, keepwarm
    assert [r.rid.contact for r in cycles.connector().list_reminders()] == ["p2@x.org"]
    conn = cycles.connector()
    assert sorted(m.meeting_id for m in of(list(conn.fetch(None, ctx())), Meeting)) == ["w2"]
    conn.close()
    assert cycles.sync() == IDLE
    microsoft.expire_delta_tokens()  # 410 to every delta link
    assert cycles.sync().count("/me/calendars") == 1
    assert cycles.sync() == IDLE


# -- faults ------------------------------------------------------------------------------
def _world_state(w: World) -> tuple[Any, ...]:
    db = w.store.db
    return (sorted(r[0] for r in db.execute("SELECT message_id FROM messages")),
            sorted(r[0] for r in db.execute("SELECT meeting_id FROM meetings")),
            sorted((e["subject"], e["start"]["dateTime"]) for e in w.events().values()))


def _fill(server: MicrosoftServer) -> None:
    for n, days in enumerate((300, 200, 120, 60, 40)):
        send(server, "ann@x.org" if n < 3 else "bo@x.org", days_ago=days,
             internetMessageId=f"<fill{n}@contoso.example>")
    server.add_event(**graph_event(meeting("m1", 100, ("cy@x.org", "accepted"))))


@pytest.mark.parametrize("kind", ["429", "503", "500", "slow", "drop"])
def test_each_fault_ends_in_the_state_of_a_fault_free_run(kind: str, tmp_path: Path) -> None:
    trust()
    servers = [MicrosoftServer(max_page=2).start(), MicrosoftServer(max_page=2).start()]
    try:
        states = []
        for i, server in enumerate(servers):
            _fill(server)
            (tmp_path / str(i)).mkdir()
            w = World(tmp_path / str(i), server, timeout=1)
            if i:
                for path in ("/messages/delta", "/calendarView/delta", "/events"):
                    server.fault(kind, path=path, seconds=1.2 if kind == "slow" else 0.2)
            w.sync()
            states.append(_world_state(w))
            if i:
                failed = [h for h in server.log if h.status in (0, 429, 500, 503)
                          or h.end - h.start > 1.1]
                assert len(failed) == 3  # each fault happened once, and was got over
        assert states[0] == states[1] and len(states[0][0]) == 5 and len(states[0][2]) >= 2
    finally:
        for server in servers:
            server.stop()


def test_retry_after_is_honoured_exactly(microsoft: MicrosoftServer, tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path)
    send(microsoft, "ann@x.org")
    microsoft.fault("429", path="/sentitems/messages/delta", seconds=1)
    microsoft.fault("503", path="/calendarView/delta", seconds=1)
    fetch(acct)
    for path in ("/sentitems/messages/delta", "/calendarView/delta"):
        refused, retried = microsoft.hits("GET", path)
        assert refused.status in (429, 503) and retried.status == 200
        assert 1.0 <= retried.start - refused.end < 1.3
    microsoft.fault("429", path="/messages/delta", seconds=3600)
    start = time.monotonic()
    with pytest.raises(SourceError, match="asks outlook to wait 3600 s"):
        fetch(acct)
    assert time.monotonic() - start < 2


def test_never_more_than_four_requests_in_flight(microsoft: MicrosoftServer,
                                                 tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path, holds_reminders=True)
    OutlookConnector(acct).list_reminders()
    microsoft.fault("slow", method="POST", path="/events", times=16, seconds=0.25)
    writers = [OutlookConnector(acct) for _ in range(2)]
    threads = [threading.Thread(target=w.apply, args=([Create(reminder(n + 8 * i))
                                                       for n in range(8)],))
               for i, w in enumerate(writers)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert microsoft.max_in_flight == 4
    assert time.monotonic() - start < 16 * 0.25 / 2  # and they did run side by side
    assert len(OutlookConnector(acct).list_reminders()) == 16


def test_writes_retried_after_a_lost_answer_happen_once(microsoft: MicrosoftServer,
                                                        tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path, holds_reminders=True)
    conn = OutlookConnector(acct)
    microsoft.fault("drop_after", method="POST", path="/events")
    (applied,) = conn.apply([Create(reminder(1))])
    posts = microsoft.hits("POST", "/events")
    assert [h.status for h in posts] == [0, 201]  # created, answer lost, sent again
    (event,) = microsoft.events("keepwarm").values()
    assert applied.remote_id == event["id"] and event["transactionId"]
    assert (event["showAs"], event["attendees"], event["isReminderOn"]) == ("free", [], False)
    assert {p["id"]: p["value"] for p in event["singleValueExtendedProperties"]} == {
        CONTACT_PROPERTY: cadence_id("p1@x.org").marker, UID_PROPERTY: "keepwarm-test-1"}
    (listed,) = conn.list_reminders()
    microsoft.fault("drop_after", method="PATCH")
    (moved,) = conn.apply([Update(listed, reminder(1, day=2))])  # done, answer lost, 412
    assert [h.status for h in microsoft.hits("PATCH")] == [0, 412]
    (current,) = conn.list_reminders()
    assert (current.start, current.etag) == (NOW + timedelta(days=2), moved.etag)
    microsoft.fault("drop_after", method="POST", path="/me/calendars")
    other = OutlookConnector(account(microsoft, tmp_path, holds_reminders=True,
                                     reminders_calendar="Follow-ups"))
    other.apply([Create(reminder(2))])  # calendar created, answer lost: 409, found again
    assert [h.status for h in microsoft.hits("POST") if h.path == "/v1.0/me/calendars"] == [
        201, 0, 409]
    assert sorted(microsoft.state.calendars.values()) == ["Calendar", "Follow-ups", "keepwarm"]


# -- tokens ----------------------------------------------------------------------------
def test_expired_tokens_are_refreshed_silently(tmp_path: Path) -> None:
    trust()
    server = MicrosoftServer(token_lifetime=120).start()  # MSAL refreshes within 5 minutes
    try:
        acct = account(server, tmp_path)
        send(server, "ann@x.org")
        fetch(acct)
        refreshes = [h.status for h in server.hits("POST", "/token")]
        assert refreshes[:2] == [400, 200] and refreshes[2:] == [200] * len(refreshes[2:])
        assert len(refreshes) > 2  # refreshed before use: it expired within 5 minutes
        server.token_lifetime = 3600
        fetch(acct)
        server.expire_access_tokens()  # Graph now refuses every token it handed out
        before = len(server.log)
        fetch(acct)
        assert [(h.path, h.status) for h in server.log[before:before + 3]] == [
            ("/v1.0/me", 401), ("/common/oauth2/v2.0/token", 200), ("/v1.0/me", 200)]
    finally:
        server.stop()


def test_a_revoked_sign_in_stops_only_that_account(microsoft: MicrosoftServer,
                                                   tmp_path: Path) -> None:
    w = World(tmp_path, microsoft)
    w.mail.mail.append(Mail("x1", NOW - timedelta(days=2), Address("me@work.example"),
                                to=(Address("zed@x.org"),)))
    microsoft.revoke_refresh_tokens()
    microsoft.expire_access_tokens()
    message = "Microsoft refused the saved sign-in of ms; run `keepwarm auth ms`"
    with pytest.raises(AuthError) as exc:
        fetch(w.config.account("ms"))
    assert str(exc.value) == message
    report = sync.sync(w.config, w.store, NOW)
    mail, ms = report.accounts
    assert (mail.error, mail.messages) == (None, 1)
    assert (ms.error, ms.needs_signin) == (message, True)
    assert report.reminders is not None and report.reminders.error == message


# -- reminders ---------------------------------------------------------------------------
class World:
    """A memory mail account plus an Outlook account that reads and holds the reminders."""

    def __init__(self, tmp_path: Path, server: MicrosoftServer, **options: Any) -> None:
        self.server = server
        key = f"outlook-mail-{next(_keys)}"
        self.mail: MemoryData = MemoryConnector.DATA.setdefault(key, MemoryData())
        raw: dict[str, Any] = {
            "identity": {"addresses": ["me@work.example"], "timezone": "Europe/Berlin"},
            "store": {"path": str(tmp_path / "kw.db"), "state_dir": str(tmp_path / "state")},
            "reminders": {"calendar": "ms"},
            "accounts": [{"name": "mail", "type": "memory", "key": key},
                         {"name": "ms", "type": "outlook", "client_id": CLIENT_ID,
                          "authority_host": server.url, "graph_endpoint": f"{server.url}/v1.0",
                          # cadence reminders only: reading received mail turns follow-ups on
                          "retries": 3, "received": False, **options}],
        }
        self.config: Config = parse(raw, tmp_path / "config.toml")
        self.store = Store(self.config.store_path)
        acct = self.config.account("ms")
        assert acct is not None and acct.options["token_cache"] is None  # <state_dir>/ms...
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        server.sign_in(acct)

    def sync(self, now: datetime = NOW) -> sync.SyncReport:
        report = sync.sync(self.config, self.store, now)
        assert all(a.error is None for a in report.accounts), report.accounts
        assert report.reminders is None or report.reminders.error is None, report.reminders
        return report

    def meetings(self) -> dict[str, str]:
        return dict(self.store.db.execute("SELECT meeting_id, status FROM meetings"))

    def events(self) -> dict[str, dict[str, Any]]:
        """contact -> keepwarm's event as the server has it."""
        out = {}
        for event in self.server.events("keepwarm").values():
            props = {p["id"]: p["value"] for p in event.get("singleValueExtendedProperties", [])}
            if CONTACT_PROPERTY in props:
                out[ReminderId.parse(props[CONTACT_PROPERTY]).contact] = event
        return out

    def starts(self) -> dict[str, datetime]:
        return {c: datetime.fromisoformat(e["start"]["dateTime"]).replace(tzinfo=UTC)
                for c, e in self.events().items()}


def overdue(server: MicrosoftServer) -> None:
    """ann: 3 touches, last 120 days ago; bo: 2 touches, 40 days ago: both due by Monday."""
    for days in (300, 200, 120):
        send(server, "ann@x.org", days_ago=days)
    for days in (60, 40):
        send(server, "bo@x.org", days_ago=days)


def test_reminders_are_created_moved_dismissed_and_never_doubled(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    w = World(tmp_path, microsoft)
    overdue(microsoft)
    assert w.sync().reminders.created == 2  # type: ignore[union-attr]
    assert w.starts() == {"ann@x.org": MONDAY, "bo@x.org": MONDAY}
    assert [h.path for h in microsoft.hits("POST")].count("/v1.0/me/calendars") == 1
    thursday = datetime(2026, 11, 26, 14, 0, tzinfo=BERLIN)
    bo = w.events()["bo@x.org"]
    microsoft.edit_event(bo["id"], start={"dateTime": thursday.astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"})  # the user drags it in Outlook
    microsoft.delete_event(w.events()["ann@x.org"]["id"])  # and deletes the other
    report = w.sync(NOW + timedelta(hours=1))
    assert (report.reminders.created, report.reminders.moved) == (0, 0)  # type: ignore[union-attr]
    assert w.starts() == {"bo@x.org": thursday}
    posts = len(microsoft.hits("POST", "/events"))
    w.store.db.execute("DELETE FROM reminders")  # a lost store: what keepwarm wrote and
    w.store.db.execute("DELETE FROM dismissals")  # what the user dismissed are forgotten
    w.store.db.commit()
    w.sync(NOW + timedelta(hours=2))
    assert sorted(w.events()) == ["ann@x.org", "bo@x.org"]
    assert len(microsoft.events("keepwarm")) == 2  # bo's found again by property, not doubled
    assert len(microsoft.hits("POST", "/events")) == posts + 1


def test_an_edit_between_plan_and_apply_wins(microsoft: MicrosoftServer,
                                             tmp_path: Path) -> None:
    w = World(tmp_path, microsoft)
    overdue(microsoft)
    w.sync()
    later = NOW + timedelta(days=2)
    writer = sync.connector(w.config.account("ms"))  # type: ignore[arg-type]
    statuses = sync.compute(w.store, w.config.settings, later)
    previous = w.store.reminder_records()
    p = sync.make_plan(w.config, w.store, statuses, later, writer)
    assert sorted(type(c).__name__ for c in p.changes) == ["Update", "Update"]
    reminder_state.save_intent(w.store, p.records, p.dismissals)
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    microsoft.edit_event(w.events()["bo@x.org"]["id"], start={
        "dateTime": friday.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"})
    applied = writer.apply(p.changes)
    writer.close()
    assert [a.change.reminder.rid.contact for a in applied] == ["ann@x.org"]  # type: ignore[union-attr]
    assert [h.status for h in microsoft.hits("PATCH")] == [200, 412] or [
        h.status for h in microsoft.hits("PATCH")] == [412, 200]
    reminder_state.confirm(w.store, applied, later, previous, p.changes)
    assert w.starts()["bo@x.org"] == friday
    w.sync(later)
    assert w.starts()["bo@x.org"] == friday


def test_events_without_keepwarms_property_are_never_touched(microsoft: MicrosoftServer,
                                                             tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path, holds_reminders=True)
    w = OutlookConnector(acct)
    w.list_reminders()
    theirs = [
        microsoft.add_event("keepwarm", subject="Follow up: p1", iCalUId="u1",
                            start={"dateTime": "2026-11-23T08:30:00", "timeZone": "UTC"},
                            end={"dateTime": "2026-11-23T08:45:00", "timeZone": "UTC"}),
        microsoft.add_event("keepwarm", subject="Tagged by another app", iCalUId="u2",
                            start={"dateTime": "2026-11-24T08:30:00", "timeZone": "UTC"},
                            end={"dateTime": "2026-11-24T08:45:00", "timeZone": "UTC"},
                            singleValueExtendedProperties=[{"id": CONTACT_PROPERTY.replace(
                                "keepwarm-contact", "other-app"), "value": "p1@x.org"}]),
        microsoft.add_event(**graph_event(meeting("u3", 1, ("p1@x.org", "accepted")))),
    ]
    before = {i: e for cal in ("keepwarm", "Calendar") for i, e in microsoft.events(cal).items()}
    rng = random.Random(5)
    for _ in range(20):
        current = {r.rid.contact: r for r in w.list_reminders()}
        changes: list[Any] = []
        for n in range(5):
            r, roll = current.get(f"p{n}@x.org"), rng.random()
            if r is None and roll < 0.6:
                changes.append(Create(reminder(n, rng.randrange(10))))
            elif r is not None and roll < 0.3:
                changes.append(Delete(r))
            elif r is not None and roll < 0.7:
                changes.append(Update(r, reminder(n, rng.randrange(10))))
        w.apply(changes)
    after = {i: e for cal in ("keepwarm", "Calendar") for i, e in microsoft.events(cal).items()}
    assert {i: after[i] for i in theirs} == {i: before[i] for i in theirs}
    writes = [h.path for h in microsoft.log if h.method in ("PATCH", "DELETE")]
    assert writes and not any(path.endswith(i) for path in writes for i in theirs)
    assert all(r.rid.contact.startswith("p") for r in w.list_reminders())
