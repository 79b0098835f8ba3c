"""The sync cycle over the store, driven through the in-memory reference connector."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.memory import MemoryConnector, MemoryData
from daemon import book, cadence, ingest, reminder_state, sync
from daemon.config import Config, parse
from daemon.errors import AuthError, TransientError
from daemon.model import Address, Attendee, IngestResult, Mail, Meeting
from daemon.store import BULK_CACHE_KIB, Store

NOW = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # Monday 08:00 in Berlin
_keys = itertools.count()


class World:
    """A config with two mail accounts and a reminders calendar, all in memory."""

    def __init__(self, tmp_path: Path, **extra: Any) -> None:
        n = next(_keys)
        self.keys = {name: f"{name}-{n}" for name in ("work", "home", "cal")}
        self.data = {name: MemoryConnector.DATA.setdefault(k, MemoryData())
                     for name, k in self.keys.items()}
        raw: dict[str, Any] = {
            "identity": {"addresses": ["me@work.example"], "timezone": "Europe/Berlin"},
            "store": {"path": str(tmp_path / "kw.db")},
            "reminders": {"calendar": "cal"},
            "accounts": [{"name": name, "type": "memory-oauth" if name == "home" else "memory",
                          "key": key} for name, key in self.keys.items()],
            **extra,
        }
        self.config: Config = parse(raw, tmp_path / "config.toml")
        self.store = Store(self.config.store_path)

    def send(self, account: str, mid: str, days_ago: float, *to: str, sender: str =
             "me@work.example", **kw: Any) -> None:
        self.data[account].mail.append(Mail(
            mid, NOW - timedelta(days=days_ago), Address(sender),
            to=tuple(Address(a, a.split("@")[0].title()) for a in to), **kw))

    def sync(self, now: datetime = NOW) -> sync.SyncReport:
        return sync.sync(self.config, self.store, now)

    def statuses(self, now: datetime = NOW) -> dict[str, cadence.Status]:
        return {s.facts.key: s for s in sync.compute(self.store, self.config.settings, now)}

    def reminders(self) -> dict[str, datetime]:
        return {r.rid.contact: r.start for r in self.data["cal"].reminders.values()}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_the_same_message_in_two_accounts_counts_once(world: World) -> None:
    world.send("work", "m1", 10, "ann@x.org")
    world.send("home", "m1", 10, "ann@x.org")
    world.send("home", "m2", 5, "ann@x.org")
    report = world.sync()
    assert [(a.name, a.messages, a.duplicates) for a in report.accounts] == [
        ("work", 1, 0), ("home", 1, 1), ("cal", 0, 0)]
    assert world.statuses()["ann@x.org"].facts.touchpoints == 2
    world.sync()
    assert world.store.counts()["touchpoints"] == 2


def test_a_failing_account_never_stops_the_others(world: World) -> None:
    world.data["work"].fail = TransientError("connection reset")
    world.data["home"].fail = AuthError("token revoked; run `keepwarm auth home`")
    world.send("cal", "m1", 3, "bob@x.org")
    report = world.sync()
    assert not report.ok
    by = {a.name: a for a in report.accounts}
    assert by["work"].error == "connection reset" and not by["work"].needs_signin
    assert by["home"].needs_signin and by["cal"].messages == 1
    states = world.store.account_states()
    assert states["work"]["last_error"] == "connection reset"
    assert states["cal"]["last_error"] is None and states["cal"]["last_success"]


def test_an_interrupted_fetch_resumes_without_loss_or_duplicates(world: World) -> None:
    for i in range(250):
        world.send("work", f"m{i}", 100 - i / 10, f"p{i % 40}@x.org")
    conn = MemoryConnector(world.config.accounts[0])
    batches = conn.fetch(None, sync.fetch_context(world.config.settings, NOW))
    for _ in range(2):  # two batches stored, then the process "dies"
        ingest.store_batch(world.store, "work", next(batches), world.config.settings, NOW)
    assert world.store.counts()["messages"] == 200
    report = world.sync()
    assert report.accounts[0].messages == 50 and report.accounts[0].duplicates == 0
    assert world.store.counts()["touchpoints"] == 250


def test_a_pull_writes_with_a_big_page_cache_and_gives_it_back(world: World) -> None:
    for i in range(150):
        world.send("work", f"m{i}", 10, "ann@x.org")
    during: list[int] = []

    def progress(name: str, result: IngestResult, remaining: int | None = None) -> None:
        during.append(world.store.db.execute("PRAGMA cache_size").fetchone()[0])
    sync.pull(world.store, world.config.accounts[0], world.config.settings, NOW, progress)
    assert during and set(during) == {-BULK_CACHE_KIB}
    assert world.store.db.execute("PRAGMA cache_size").fetchone()[0] == -2000


def test_an_alias_learned_later_turns_earlier_touchpoints_off(world: World) -> None:
    world.send("work", "m1", 30, "alex@home.example", "ann@x.org")
    world.sync()
    assert "alex@home.example" in world.statuses()
    world.send("home", "m2", 20, "ann@x.org", sender="alex@home.example")
    world.sync()
    assert "alex@home.example" not in world.statuses()
    assert world.store.aliases() == {"alex@home.example"}


def test_changed_filters_re_infer_stored_mail(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.send("work", "m1", 30, *[f"p{i}@x.org" for i in range(20)])
    w.sync()
    assert w.store.counts()["touchpoints"] == 0
    w2 = World(tmp_path, filters={"max_recipients": 25})
    w2.store = Store(w.config.store_path)
    ingest.rejudge(w2.store, w2.config.settings, NOW)
    assert w2.store.counts()["touchpoints"] == 20


def test_meetings_count_once_they_have_ended_and_vanish_when_deleted(world: World) -> None:
    start = NOW + timedelta(hours=1)
    m = Meeting("mt1", start, start + timedelta(hours=1), Address("me@work.example"),
                (Attendee(Address("cy@x.org", "Cy"), "accepted"),))
    conn = MemoryConnector(world.config.accounts[1])
    conn.add_meeting(m)
    # another that stays: a calendar that lost all of its meetings at once is refused
    conn.add_meeting(Meeting("mt2", NOW - timedelta(days=3), NOW - timedelta(days=3, hours=-1),
                             Address("me@work.example"), (Attendee(Address("dee@x.org")),)))
    world.sync()
    assert "cy@x.org" not in world.statuses()
    later = NOW + timedelta(hours=3)
    world.sync(later)
    s = world.statuses(later)["cy@x.org"]
    assert (s.tracked, s.facts.meetings, s.facts.last_channel) == (True, 1, "meeting")
    del world.data["home"].meetings["mt1"]
    world.data["home"].meetings_version += 1
    world.sync(later)
    assert "cy@x.org" not in world.statuses(later)


def test_reminders_follow_touchpoints_through_full_syncs(world: World) -> None:
    for i, days in enumerate((300, 200, 120)):
        world.send("work", f"a{i}", days, "ann@x.org")
    world.send("work", "b0", 60, "bo@x.org")
    world.send("work", "b1", 40, "bo@x.org")
    world.sync()
    # ann: 3 touches, last 120 days ago -> 90d cadence, overdue. bo: 2nd touch -> 30d, overdue.
    monday = datetime(2026, 3, 2, 9, 30, tzinfo=world.config.settings.tz)
    assert world.reminders() == {"ann@x.org": monday, "bo@x.org": monday}
    world.send("home", "a9", 0.5, "ann@x.org")
    report = world.sync()
    assert report.reminders is not None and report.reminders.deleted == 1
    assert list(world.reminders()) == ["bo@x.org"]
    assert world.sync().reminders.__dict__ == {"created": 0, "moved": 0, "deleted": 0,
                                               "error": None}


def test_user_deleted_reminder_is_dismissed_until_next_due(world: World) -> None:
    world.send("work", "b0", 60, "bo@x.org")
    world.send("work", "b1", 40, "bo@x.org")
    world.sync()
    world.data["cal"].reminders.clear()
    world.sync()
    assert world.reminders() == {}
    assert world.sync(NOW + timedelta(days=1)).reminders.created == 0  # type: ignore[union-attr]


def test_steering_commands(world: World) -> None:
    for i, days in enumerate((300, 200, 120)):
        world.send("work", f"a{i}", days, "ann@x.org")
    world.send("work", "p0", 100, "ann.private@home.example")
    world.sync()
    assert world.statuses()["ann@x.org"].lapsed
    book.merge(world.store, "ann@x.org", "Ann.Private@home.example")
    s = world.statuses()["ann@x.org"]
    assert (s.facts.touchpoints, s.facts.emails) == (4, ("ann@x.org", "ann.private@home.example"))
    assert s.due == date(2026, 2, 20)
    book.set_cadence(world.store, "ann.private@home.example", 120)
    assert world.statuses()["ann@x.org"].due == date(2026, 3, 22)
    book.set_tags(world.store, "ann@x.org", ["VIP"], add=True)
    assert world.statuses()["ann@x.org"].facts.tags == {"vip"}
    book.snooze(world.store, "ann@x.org", date(2026, 4, 1))
    assert world.statuses()["ann@x.org"].due == date(2026, 4, 1)
    book.set_ignored(world.store, "ann@x.org", True)
    assert not world.statuses()["ann@x.org"].tracked
    world.sync()
    assert world.reminders() == {}
    entries = world.store.timeline("ann@x.org")
    assert len(entries) == 4 and entries[0].email == "ann.private@home.example"


def test_show_lists_what_the_filters_dropped(world: World) -> None:
    world.send("work", "n1", 3, "dee@x.org", list_id="<news.x.org>")
    world.send("work", "n2", 2, "dee@x.org")
    world.sync()
    rules = [(e.title, e.rule) for e in world.store.timeline("dee@x.org")]
    assert [r for _, r in rules] == [None, "mailing list (List-Id)"]


def test_a_reminder_edited_while_keepwarm_writes_keeps_the_users_edit(world: World) -> None:
    world.send("work", "b0", 60, "bo@x.org")
    world.send("work", "b1", 40, "bo@x.org")
    world.sync()
    (remote_id,) = world.data["cal"].reminders
    cal = MemoryConnector(world.config.accounts[2])
    statuses = sync.compute(world.store, world.config.settings, NOW + timedelta(days=2))
    previous = world.store.reminder_records()
    p = sync.make_plan(world.config, world.store, statuses, NOW + timedelta(days=2), cal)
    assert [type(c).__name__ for c in p.changes] == ["Update"]  # rolls the passed reminder
    reminder_state.save_intent(world.store, p.records, p.dismissals)
    # the user drags the event just before keepwarm's update reaches the server
    cal.user_moves(remote_id, start=NOW + timedelta(days=3, hours=5))
    applied = cal.apply(p.changes)
    assert applied == []
    reminder_state.confirm(world.store, applied, NOW, previous, p.changes)
    assert world.store.reminder_records() == previous
    world.sync(NOW + timedelta(days=2))
    assert world.reminders() == {"bo@x.org": NOW + timedelta(days=3, hours=5)}


def test_a_source_can_name_the_users_own_addresses(world: World) -> None:
    from daemon.model import OwnAddress

    world.send("work", "m1", 30, "me.proxy@work.example", "ann@x.org")
    world.sync()
    assert "me.proxy@work.example" in world.statuses()
    world.data["home"].mail.append(OwnAddress("me.proxy@work.example"))
    world.sync()
    assert "me.proxy@work.example" not in world.statuses()


def test_a_skipped_item_read_at_last_is_no_longer_listed(world: World) -> None:
    from daemon.model import Skipped

    world.data["work"].mail.append(Skipped("mem:7", "cannot read: Permission denied"))
    world.sync()
    assert [row[:3] for row in world.store.skipped()] == [
        ("work", "mem:7", "cannot read: Permission denied")]
    world.data["work"].mail.append(Mail("m7", NOW - timedelta(days=1),
                                            Address("me@work.example"),
                                            to=(Address("ann@x.org"),), location="mem:7"))
    world.sync()
    assert world.store.skipped() == []
