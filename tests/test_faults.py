"""Network faults between keepwarm and its servers: the final state equals a fault-free run,
whether connections break (the TCP proxy) or requests are refused (429, 500, 503, a
rate-limit 403, a reset; tests.servers.faultplan)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

import icalendar

from connectors.base import KEEPWARM_PROPERTY
from connectors.gmail import scopes_for
from connectors.memory import MemoryConnector, MemoryData
from connectors.outlookcal import CONTACT_PROPERTY
from daemon import sync
from daemon.config import Config, parse
from daemon.model import Address, Attendee, Mail, Meeting
from daemon.store import Store
from tests.servers import faultplan, google
from tests.servers.faultplan import FaultPlan
from tests.servers.faultproxy import FaultProxy, HttpFaultProxy
from tests.servers.microsoft import CLIENT_ID, USER, MicrosoftServer, graph_event, trust
from tests.servers.radicale import User, shared
from tests.test_caldav import NOW, World, ics


def scenario(world: World, retry_until_ok: bool) -> dict[str, object]:
    """Two weeks of mail, a sync each day; a failed sync is retried, as the daemon does."""
    for day in range(14):
        now = NOW + timedelta(days=day)
        for n in range(day % 4):
            k = day * 3 + n
            world.send(f"d{day}-{n}", 200 - 4 * k, f"p{k % 11}@x.org")  # relative to NOW
        for _attempt in range(40):
            report = sync.sync(world.config, world.store, now)
            if report.ok or not retry_until_ok:
                break
        else:
            raise AssertionError("never converged")
    return dict(sorted(world.starts().items()))


def test_caldav_through_resets_stalls_and_drops(tmp_path: Path) -> None:
    clean = World(tmp_path / "clean", shared().add_user())
    want = scenario(clean, retry_until_ok=False)
    assert len(want) >= 5

    server = shared()
    user = server.add_user()
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    with FaultProxy(port, fault_rate=0.2, seed=3) as proxy:
        proxied = User(user.name, user.password, f"http://127.0.0.1:{proxy.port}/", server)
        faulty = World(tmp_path / "faulty", proxied, timeout=1, retries=1)
        faulty.user = user  # inspect the server directly, not through the faults
        got = scenario(faulty, retry_until_ok=True)
    assert sum(n for kind, n in proxy.faults.items() if kind != "none") >= 5, proxy.faults
    assert got == want


def test_imap_through_resets_stalls_and_drops(tmp_path: Path) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime
    from email.utils import format_datetime

    from daemon.config import parse
    from daemon.store import Store
    from tests.servers.dovecot import shared as dovecot

    server = dovecot()

    def run(user: str, port: int, folder: Path, retry: bool) -> set[tuple[str, ...]]:
        account = server.account(user, port=port, retries=1, timeout=1)
        config = parse({"identity": {"addresses": [f"{user}@example.com"]},
                        "store": {"path": str(folder / "kw.db")}}, folder / "c.toml")
        config = replace(config, accounts=(account,))
        store = Store(config.store_path)
        for day in range(20):  # new mail every day, a sync each day, retried until it works
            when = datetime.now(UTC) - timedelta(days=60 - day)
            server.append(user, [(f"From: {user}@example.com\nTo: p{(day * 7 + n) % 13}"
                                  f"@example.org\nDate: {format_datetime(when)}\n"
                                  f"Message-ID: <f{day}-{n}@example.com>\n\nhi\n").encode()
                                 for n in range(60)])
            for _attempt in range(60):
                report = sync.sync(config, store, datetime.now(UTC), write=False)
                if report.ok or not retry:
                    break
            else:
                raise AssertionError("never converged")
        rows = {tuple(map(str, r)) for r in store.db.execute(
            "SELECT source_id, email, coalesce(rule, '') FROM participants")}
        store.close()
        return rows

    want = run(server.add_user(), server.port, tmp_path / "clean", retry=False)
    assert len(want) == 20 * 60
    with FaultProxy(server.port, fault_rate=0.2, seed=5) as proxy:
        got = run(server.add_user(), proxy.port, tmp_path / "faulty", retry=True)
    assert sum(n for kind, n in proxy.faults.items() if kind != "none") >= 3, proxy.faults
    assert got == want


# -- per-request faults: 429 with and without Retry-After, 500, 503, 403, resets ---------
# Each test runs the same account twice, through the whole pipeline (two syncs a day
# apart): on a clean server, then with 20% of the requests (and of Gmail's batch parts)
# failing, none more than twice in a row. Both syncs must succeed and end exactly where
# the clean run ends: the store's tables and keepwarm's events in the calendar.
DAY0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday, 08:00 in Berlin
ME = "me@example.com"
# (Message-ID, recipient, days before DAY0): a year of sent mail to 23 people
MAIL = [(f"k{k}@example.com", f"p{k % 23}@x.org", 3 + (k * 37) % 360) for k in range(110)]
LATER = [(f"l{k}@example.com", f"p{k}@x.org", -0.5) for k in range(6)]  # before the 2nd sync
# (uid, days before DAY0, attendees)
MEETINGS = [(f"meet{i}", 5 + 13 * i, (f"q{i}@x.org", f"p{i + 10}@x.org")) for i in range(6)]
PROVIDER_IDS = {"location", "remote_id", "etag"}  # each run's server hands out its own


class Run(Protocol):
    config: Config
    store: Store
    own: str  # the address the server says the user has ('' if none): each run's differs

    def send(self, message_id: str, to: str, when: datetime) -> None: ...
    def meet(self, uid: str, start: datetime, attendees: tuple[str, ...]) -> None: ...
    def events(self) -> list[tuple[str, ...]]: ...
    def close(self) -> None: ...


def pipeline(run: Run) -> tuple[dict[str, list[Any]], list[tuple[str, ...]]]:
    """Two syncs, new mail and a meeting between them; both must succeed. The store's
    tables and keepwarm's events (marker, title, text, start, end) after them."""
    for mid, to, days in MAIL:
        run.send(mid, to, DAY0 - timedelta(days=days))
    for uid, days, people in MEETINGS:
        run.meet(uid, DAY0 - timedelta(days=days), people)
    first = sync.sync(run.config, run.store, DAY0)
    for mid, to, days in LATER:
        run.send(mid, to, DAY0 - timedelta(days=days))
    run.meet("later", DAY0 + timedelta(hours=4), ("q9@x.org", "p3@x.org"))
    second = sync.sync(run.config, run.store, DAY0 + timedelta(days=1))
    for report in (first, second):
        assert report.ok, (report.accounts, report.reminders)
    return tables(run.store, run.own), run.events()


def tables(store: Store, own: str) -> dict[str, list[Any]]:
    """Every table but the cursors (they hold the server's tokens), sorted, without the
    columns that hold the server's ids, the user's own address as ``own``."""
    out: dict[str, list[Any]] = {}
    for (table,) in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                     "AND name != 'cursors'"):
        columns = [c[1] for c in store.db.execute(f"PRAGMA table_info({table})")
                   if c[1] not in PROVIDER_IDS]
        rows = store.db.execute(f"SELECT {', '.join(columns)} FROM {table}")
        out[table] = sorted((tuple("own" if v == own else v for v in row) for row in rows),
                            key=repr)
    return out


def converges(make: Callable[[Path, FaultPlan | None], Run], plan: FaultPlan,
              tmp_path: Path) -> None:
    results = []
    for folder, faults in (("clean", None), ("faulty", plan)):
        run = make(tmp_path / folder, faults)
        try:
            results.append(pipeline(run))
        finally:
            run.close()
    want, got = results
    assert len(want[0]["messages"]) == len(MAIL) + len(LATER) and len(want[1]) >= 5
    assert got == want
    assert len(plan.sent) > 30 and plan.given and plan.most_failures_in_a_row() <= 2
    for asked, waited, alone in plan.waits():  # Retry-After: never sooner, nor much later
        assert asked <= waited and (waited < asked + 0.5 or not alone), plan.waits()


def settings(folder: Path, account: dict[str, Any], *more: dict[str, Any]) -> Config:
    folder.mkdir(parents=True)
    return parse({"identity": {"addresses": [ME], "timezone": "Europe/Berlin"},
                  "store": {"path": str(folder / "kw.db"), "state_dir": str(folder / "state")},
                  "reminders": {"calendar": account["name"]},
                  "accounts": [account, *more]}, folder / "config.toml")


class GoogleRun:
    def __init__(self, folder: Path, plan: FaultPlan | None) -> None:
        self.user = google.shared().add_user()
        self.config = settings(folder, {
            "name": "google", "type": "gmail", "endpoint": self.user.server.url,
            "client_secrets": str(self.user.client_secrets(folder.parent / "client.json")),
            "quota_units_per_minute": 10**9})
        account = self.config.accounts[0]
        self.config.state_dir.mkdir(parents=True)
        token = self.config.state_dir / "google.google-token.json"
        token.write_text(json.dumps(self.user.token_info(
            scopes_for(account.options, holds_reminders=True))))
        self.store = Store(self.config.store_path)
        self.own = self.user.email
        self.user.plan = plan

    def send(self, message_id: str, to: str, when: datetime) -> None:
        self.user.add_mail(f"From: Me <{ME}>\nTo: <{to}>\nDate: {format_datetime(when)}\n"
                           f"Message-ID: <{message_id}>\nSubject: hi\n\nbody\n".encode())

    def meet(self, uid: str, start: datetime, attendees: tuple[str, ...]) -> None:
        self.user.calendar().put({
            "iCalUID": uid, "summary": uid, "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
            "organizer": {"email": ME, "self": True},
            "attendees": [{"email": a, "responseStatus": "accepted"} for a in attendees]})

    def events(self) -> list[tuple[str, ...]]:
        (cal,) = [c for c in self.user.calendars.values() if c.summary == "keepwarm"]
        return sorted((e["extendedProperties"]["private"]["keepwarm"], e["summary"],
                       e["description"], e["start"]["dateTime"], e["end"]["dateTime"])
                      for e in cal.visible().values())

    def close(self) -> None:
        self.user.plan = None


def test_gmail_under_per_request_and_per_part_faults_ends_as_a_clean_run(
        tmp_path: Path) -> None:
    converges(GoogleRun, FaultPlan(faultplan.GOOGLE, seed=11), tmp_path)


class GraphRun:
    def __init__(self, folder: Path, plan: FaultPlan | None) -> None:
        trust()
        self.server = MicrosoftServer(max_page=5).start()
        self.config = settings(folder, {
            "name": "ms", "type": "outlook", "client_id": CLIENT_ID,
            "authority_host": self.server.url, "graph_endpoint": f"{self.server.url}/v1.0"})
        self.config.state_dir.mkdir(parents=True)
        account = self.config.account("ms")
        assert account is not None
        self.server.sign_in(account)
        self.store = Store(self.config.store_path)
        self.own = USER
        self.server.plan = plan

    def send(self, message_id: str, to: str, when: datetime) -> None:
        self.server.add_message(**{
            "from": {"emailAddress": {"address": USER}},
            "toRecipients": [{"emailAddress": {"address": to}}],
            "sentDateTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "internetMessageId": f"<{message_id}>", "subject": "hi"})

    def meet(self, uid: str, start: datetime, attendees: tuple[str, ...]) -> None:
        self.server.add_event(**graph_event(Meeting(
            uid, start, start + timedelta(hours=1), organizer=Address(USER),
            attendees=tuple(Attendee(Address(a), "accepted") for a in attendees)),
            response="organizer"))

    def events(self) -> list[tuple[str, ...]]:
        def marker(event: dict[str, Any]) -> str:
            return next(p["value"] for p in event["singleValueExtendedProperties"]
                        if p["id"] == CONTACT_PROPERTY)

        return sorted((marker(e), e["subject"], e["body"]["content"], e["start"]["dateTime"],
                       e["end"]["dateTime"]) for e in self.server.events("keepwarm").values())

    def close(self) -> None:
        self.server.stop()


def test_graph_under_per_request_faults_ends_as_a_clean_run(tmp_path: Path) -> None:
    converges(GraphRun, FaultPlan(faultplan.HTTP, seed=12), tmp_path)


class CaldavRun:
    """Mail from a memory account; meetings and reminders through CalDAV (Radicale), behind
    an HTTP proxy that fails the planned requests."""

    def __init__(self, folder: Path, plan: FaultPlan | None) -> None:
        self.user = shared().add_user()
        self.work = self.user.make_calendar("Work")
        port = int(self.user.url.rsplit(":", 1)[1].strip("/"))
        self.proxy = None if plan is None else HttpFaultProxy(port, plan).__enter__()
        url = self.user.url if self.proxy is None else f"http://127.0.0.1:{self.proxy.port}/"
        key = f"faults-{self.user.name}"
        self.mail = MemoryConnector.DATA.setdefault(key, MemoryData())
        self.config = settings(folder, {"name": "cal", "type": "caldav",
                                        **self.user.options(url=url, retries=3)},
                               {"name": "mail", "type": "memory", "key": key})
        self.store = Store(self.config.store_path)
        self.own = ""

    def send(self, message_id: str, to: str, when: datetime) -> None:
        self.mail.mail.append(Mail(message_id, when, Address(ME), to=(Address(to),)))

    def meet(self, uid: str, start: datetime, attendees: tuple[str, ...]) -> None:
        def stamp(t: datetime) -> str:
            return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

        people = "".join(f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{a}\n" for a in attendees)
        self.user.put(f"{self.work}{uid}.ics", ics(
            f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20260101T000000Z\nDTSTART:{stamp(start)}\n"
            f"DTEND:{stamp(start + timedelta(hours=1))}\nSUMMARY:{uid}\n"
            f"ORGANIZER:mailto:{ME}\n{people}END:VEVENT\n"))

    def events(self) -> list[tuple[str, ...]]:
        (url,) = self.user.calendars()["keepwarm"]
        return sorted((str(e[KEEPWARM_PROPERTY]), str(e["SUMMARY"]), str(e["DESCRIPTION"]),
                       e.decoded("DTSTART").isoformat(), e.decoded("DTEND").isoformat())
                      for data in self.user.objects(url).values()
                      for e in icalendar.Calendar.from_ical(data).walk("VEVENT"))

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.__exit__(None, None, None)


def test_caldav_under_per_request_faults_ends_as_a_clean_run(tmp_path: Path) -> None:
    converges(CaldavRun, FaultPlan(faultplan.HTTP, seed=13), tmp_path)
