"""Received mail in the store: its direction decided by From, never a touchpoint, counted per
contact for two-way relationships, read back whole for follow-ups; `keepwarm done` marks kept
in the steering file; a store of schema 4 migrated."""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.memory import MemoryConnector, MemoryData
from daemon import ingest, steering
from daemon.cadence import ONE_WAY, status
from daemon.cli import main
from daemon.config import load
from daemon.errors import ConfigError
from daemon.model import Address, Batch, ContactFacts, Mail, Settings, Steering
from daemon.schema import MIGRATIONS
from daemon.store import Store

NOW = datetime.now(UTC).replace(microsecond=0)
ME = "me@work.example"
_keys = itertools.count()


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def sent(mid: str, days: float, *to: str, **kw: Any) -> Mail:
    return Mail(mid, ago(days), Address(ME), to=tuple(Address(a) for a in to), **kw)


def received(mid: str, days: float, sender: str, name: str = "", **kw: Any) -> Mail:
    kw.setdefault("to", (Address(ME),))
    return Mail(mid, ago(days), Address(sender, name), received=True, **kw)


class Home:
    """A config file with one in-memory mail account, run through ``daemon.cli.main``."""

    def __init__(self, root: Path, cadence: str = "") -> None:
        self.key = f"received-{next(_keys)}"
        self.data = MemoryConnector.DATA.setdefault(self.key, MemoryData())
        self.config = root / "config.toml"
        self.config.write_text(f"""
[identity]
addresses = ["{ME}"]
timezone = "UTC"
[store]
path = "{root / 'kw.db'}"
[cadence]
{cadence}
[[accounts]]
name = "mail"
type = "memory"
key = "{self.key}"
""")

    def add(self, *mails: Mail) -> None:
        self.data.mail.extend(mails)

    def run(self, *args: str) -> int:
        return main(["--config", str(self.config), *args])

    def json(self, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
        capsys.readouterr()
        assert self.run(*args, "--json") == 0
        return json.loads(capsys.readouterr().out)

    def store(self) -> Store:
        return steering.open_store(self.config.with_name("kw.db"))


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


def store_mails(store: Store, *mails: Mail, settings: Settings | None = None) -> Any:
    settings = settings or Settings(own_addresses=frozenset({ME}))
    return ingest.store_batch(store, "mail", Batch(mails, {"n": len(mails)}), settings, NOW)


# -- direction, touchpoints, counts ----------------------------------------------------------
def test_direction_is_decided_by_from_and_aliases_come_from_sent_folders_only(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    result = store_mails(
        store,
        sent("s1", 9, "ann@x.org"),
        Mail("s2", ago(8), Address("me@home.example"), to=(Address("bo@x.org"),)),
        received("r1", 7, "ann@x.org"),
        # found in an archive, but mine: sent, with a verdict per recipient
        received("r2", 6, "me@home.example", to=(Address("cy@x.org"),)),
        received("r3", 5, "dee@x.org"))
    assert store.aliases() == {"me@home.example"}  # dee@ wrote: never learned as mine
    by_id = {m.message_id: m for m in store.thread_mail(ago(30))}
    assert {mid: m.received for mid, m in by_id.items()} == {
        "s1": False, "s2": False, "r1": True, "r2": False, "r3": True}
    assert [a.email for a in by_id["r2"].recipients] == ["cy@x.org"]
    assert (result.messages, result.touchpoints) == (5, 3)  # ann, bo, cy: sent mail only
    assert (store.counts()["touchpoints"], store.counts()["received"]) == (3, 2)
    assert {f.key for f in store.contact_facts()} == {"ann@x.org", "bo@x.org", "cy@x.org"}


def test_mail_received_from_an_address_learned_later_becomes_sent(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    store_mails(store, received("r1", 9, "me@home.example", subject="note to self"),
                received("r2", 8, "ann@x.org"))
    assert [m.received for m in store.thread_mail(ago(30))] == [True, True]
    store_mails(store, Mail("s1", ago(7), Address("me@home.example"), to=(Address("ann@x.org"),)))
    assert [(m.message_id, m.received, m.sender) for m in store.thread_mail(ago(30))] == [
        ("r1", False, Address("me@home.example")), ("r2", True, Address("ann@x.org")),
        ("s1", False, Address("me@home.example"))]
    assert store.timeline("me@home.example") == []  # its row as a sender is gone
    assert store.counts()["received"] == 1


def test_received_mail_never_makes_a_contact_nor_moves_its_last_touch(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.add(sent("s1", 60, "ann@x.org"), sent("s2", 50, "ann@x.org"),
             received("r1", 3, "ann@x.org", "Ann Lee", subject="Re: plans"),
             *(received(f"v{i}", 10 + i, "sales@vendor.example") for i in range(5)))
    assert home.run("sync") == 0
    contacts = home.json(capsys, "contacts")
    assert [(c["email"], c["touchpoints"], c["last_touch"][:10]) for c in contacts] == [
        ("ann@x.org", 2, ago(50).date().isoformat())]
    shown = home.json(capsys, "show", "ann@x.org")
    assert [(t["role"], t["title"], t["counted"]) for t in shown["timeline"]] == [
        ("from", "Re: plans", False), ("to", "", True), ("to", "", True)]
    assert shown["timeline"][0]["rule"] == "received (never a touchpoint)"
    assert shown["name"] == "Ann Lee"  # her own From name names her
    assert (shown["received"], shown["last_received"][:10]) == (1, ago(3).date().isoformat())
    capsys.readouterr()
    assert home.run("show", "ann@x.org") == 0
    assert f"wrote to you 1 time, last {ago(3).date()}" in capsys.readouterr().out
    vendor = home.json(capsys, "show", "sales@vendor.example")
    assert vendor["touchpoints"] is None and len(vendor["timeline"]) == 5
    assert all(not t["counted"] for t in vendor["timeline"])


def test_contact_facts_count_what_people_wrote_not_what_machines_sent(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    store_mails(store, sent("s1", 40, "ann@x.org"), sent("s2", 30, "ann@x.org", "ann@home.org"),
                received("r1", 20, "ann@x.org", subject="Re: hello"),
                received("r2", 15, "ann@x.org", subject="Out of Office: back Monday"),
                received("r3", 12, "ann@x.org", autoreply=True),
                received("r4", 10, "ann@home.org", subject="from my other address"),
                received("r5", 1, "ann@x.org", subject="later than --as-of"))
    by_key = {f.key: f for f in store.contact_facts(until=ago(5))}
    ann, home_address = by_key["ann@x.org"], by_key["ann@home.org"]
    assert (ann.received, ann.last_received) == (1, ago(20))
    assert (home_address.received, home_address.last_received) == (1, ago(10))
    store.merge_contacts("ann@x.org", "ann@home.org")
    (ann,) = store.contact_facts(until=ago(5))
    assert (ann.touchpoints, ann.received, ann.last_received) == (2, 2, ago(10))
    assert (ann.last_touch, ann.received) == (ago(30), 2)
    (ann,) = store.contact_facts()
    assert (ann.received, ann.last_received, ann.last_touch) == (3, ago(1), ago(30))


def test_a_message_id_stored_once_whichever_folder_held_it_first(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    store_mails(store, sent("m1", 5, "ann@x.org"))
    again = store_mails(store, received("m1", 5, "ann@x.org"), received("m1", 5, "ann@x.org"))
    assert (again.messages, again.duplicates, again.touchpoints) == (0, 2, 0)
    (m,) = store.thread_mail(ago(30))
    assert not m.received and m.sender == Address(ME)


def test_rejudging_applies_new_filters_to_received_mail_too(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    store_mails(store, sent("s1", 40, "ann@x.org"), sent("s2", 30, "ann@x.org"),
                received("r1", 20, "ann@x.org"))
    assert store.contact_facts()[0].received == 1
    stricter = Settings(own_addresses=frozenset({ME}), ignore=("ann@*",))
    ingest.rejudge(store, stricter, NOW)
    assert store.timeline("ann@x.org")[0].rule == "automated sender (ann@*)"
    ingest.rejudge(store, Settings(own_addresses=frozenset({ME})), NOW)
    assert store.timeline("ann@x.org")[0].rule == "received (never a touchpoint)"


# -- two-way ----------------------------------------------------------------------------------
def facts(touchpoints: int = 3, meetings: int = 0, received: int = 0) -> ContactFacts:
    return ContactFacts("a@x.org", ("a@x.org",), "A", touchpoints, meetings, ago(10), "email",
                        received=received)


@pytest.mark.parametrize("two_way, f, tracked, why", [
    (False, facts(), True, "enough touchpoints (tracking starts at 2)"),
    (True, facts(), False, ONE_WAY),
    (True, facts(received=1), True, "enough touchpoints (tracking starts at 2) and wrote back"),
    (True, facts(touchpoints=1, received=4), False, "fewer than 2 touchpoints and no meeting"),
    (True, facts(touchpoints=1, meetings=1), True, "met in a meeting"),
])
def test_two_way_tracks_only_who_wrote_back_or_met(two_way: bool, f: ContactFacts,
                                                  tracked: bool, why: str) -> None:
    s = status(f, Settings(two_way=two_way), NOW.date())
    assert (s.tracked, s.why) == (tracked, why)


@pytest.mark.parametrize("two_way", [False, True])
def test_two_way_through_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          two_way: bool) -> None:
    home = Home(tmp_path, cadence=f"two_way = {str(two_way).lower()}")
    home.add(*(sent(f"a{i}", 100 + i, "ann@x.org") for i in range(3)),
             *(sent(f"b{i}", 100 + i, "bo@cold.example") for i in range(3)),
             received("r1", 99, "ann@x.org", subject="Re: a0"),
             received("r2", 98, "bo@cold.example", subject="Automatic reply: away"))
    assert home.run("sync") == 0
    contacts = {c["email"]: c for c in home.json(capsys, "contacts")}
    assert {k: c["tracked"] for k, c in contacts.items()} == {
        "ann@x.org": True, "bo@cold.example": not two_way}
    assert (contacts["bo@cold.example"]["why"] == ONE_WAY) == two_way
    assert (contacts["ann@x.org"]["received"], contacts["bo@cold.example"]["received"]) == (1, 0)
    capsys.readouterr()
    assert home.run("contacts") == 0
    assert (f"not tracked ({ONE_WAY})" in capsys.readouterr().out) == two_way
    capsys.readouterr()
    assert home.run("show", "bo@cold.example") == 0
    assert (f"not tracked: {ONE_WAY}" in capsys.readouterr().out) == two_way


def test_two_way_must_be_a_boolean(tmp_path: Path) -> None:
    home = Home(tmp_path, cadence='two_way = "yes"')
    with pytest.raises(ConfigError) as exc:
        load(home.config)
    assert exc.value.problems == [f"{home.config}: cadence.two_way: must be true or false, "
                                  "not a string 'yes'"]


# -- thread_mail --------------------------------------------------------------------------------
def test_thread_mail_gives_back_every_field_of_both_directions(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    mine = Mail("p1@work.example", ago(20), Address(ME), to=(Address("ann@x.org", "Ann"),),
                cc=(Address("bo@x.org", "Bo"), Address(ME)), subject="Proposal Q3",
                in_reply_to="older@x.org", location="Sent/17", references=("a@x", "older@x.org"),
                thread="t-1", link="https://mail.example/p1")
    theirs = Mail("r1@x.org", ago(19), Address("ann@x.org", "Ann Lee"), to=(Address(ME),),
                  subject="Re: Proposal Q3", list_id="", precedence="", auto_submitted="no",
                  in_reply_to="p1@work.example", location="INBOX/3",
                  references=("a@x", "older@x.org", "p1@work.example"), thread="t-1",
                  link="https://mail.example/r1", received=True)
    bounce = Mail("b1@mx", ago(18), Address("mailer-daemon@mx.example"), report=True,
                  auto_submitted="auto-replied", precedence="bulk", received=True)
    away = Mail("o1@x.org", ago(17), Address("cy@x.org"), autoreply=True, received=True,
                list_id="team.x.org", list_unsubscribe="<mailto:u@x.org>")
    old = sent("old", 90, "ann@x.org")
    store_mails(store, away, old, theirs, bounce, mine)
    got = store.thread_mail(ago(30))
    assert got == [mine, replace(theirs, to=()), replace(bounce, to=()), replace(away, to=())]
    assert store.thread_mail(ago(100)) == [old, *got]
    assert all(m.date.tzinfo is not None for m in got)


def test_thread_mail_reads_many_messages_quickly(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    mails = [sent(f"s{i}", i / 100, f"p{i % 500}@x.org", "me@work.example")
             if i % 5 == 0 else received(f"r{i}", i / 100, f"p{i % 500}@x.org",
                                         references=(f"s{i - i % 5}",))
             for i in range(20_000)]
    store_mails(store, *mails)
    start = time.perf_counter()
    got = store.thread_mail(ago(365))
    assert len(got) == 20_000 and got[0].date <= got[-1].date
    assert time.perf_counter() - start < 1.0  # 100,000 take about 1 s on a slow laptop


# -- done marks ---------------------------------------------------------------------------------
def test_done_marks_survive_a_lost_store(home: Home) -> None:
    store = home.store()
    store.mark_followup_done(["p1@work.example", "p2@work.example"], ago(1))
    store.mark_followup_done(["p1@work.example"], NOW)  # the first mark stays
    steering.save(store)
    assert store.followups_done() == {"p1@work.example", "p2@work.example"}
    text = steering.path_for(store.path).read_text()
    assert f'"p1@work.example" = {ago(1).isoformat()}' in text
    store.close()
    home.config.with_name("kw.db").unlink()
    store = home.store()
    assert store.followups_done() == {"p1@work.example", "p2@work.example"}
    assert store.steering().followups_done["p1@work.example"] == ago(1)


def test_steering_lists_the_done_marks(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    store = home.store()
    store.mark_followup_done(["p1@work.example"], datetime(2026, 3, 2, 9, tzinfo=UTC))
    steering.save(store)
    store.close()
    out = home.json(capsys, "steering")
    assert out["done"] == [{"message_id": "p1@work.example", "at": "2026-03-02T09:00:00+00:00"}]


def test_a_hand_written_done_mark_must_be_a_time(tmp_path: Path) -> None:
    path = tmp_path / "steering.toml"
    assert steering.parse('[done]\n"a@x" = 2026-03-02T09:00:00\n', path).followups_done == {
        "a@x": datetime(2026, 3, 2, 9, tzinfo=UTC)}  # no offset: UTC
    with pytest.raises(ConfigError) as exc:
        steering.parse('[done]\n"a@x" = 2026-03-02\n', path)
    assert exc.value.problems == [
        f"{path}: done.a@x: must be a time like 2026-03-02T09:30:00Z"]


@given(st.dictionaries(st.text(min_size=1, max_size=20),
                       st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
                                    timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0)),
                       max_size=4))
def test_done_marks_round_trip_through_the_file(done: dict[str, datetime]) -> None:
    text = steering.render(Steering(followups_done=done))
    assert steering.parse(text, Path("steering.toml")) == Steering(followups_done=done)


# -- the upgrade --------------------------------------------------------------------------------
def test_a_store_of_schema_4_migrates_its_mail_as_sent(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    db = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:4]:
        for statement in migration.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version = 4")
    at = int(ago(10).timestamp())
    db.execute("INSERT INTO messages VALUES ('m1', 'mail', ?, ?, 'Hi', '', '', '', '', "
               "'x@y', 'Sent/1')", (at, ME))
    db.execute("INSERT INTO participants VALUES ('email', 'm1', 'ann@x.org', 'Ann', 'to', '', "
               "?, NULL)", (at,))
    db.execute("INSERT INTO addresses VALUES ('ann@x.org', 'ann@x.org')")
    db.close()
    store = Store(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert store.thread_mail(ago(30)) == [Mail(
        "m1", ago(10), Address(ME), to=(Address("ann@x.org", "Ann"),), subject="Hi",
        in_reply_to="x@y", location="Sent/1")]
    assert store.followups_done() == set()
    (ann,) = store.contact_facts()
    assert (ann.touchpoints, ann.received, ann.last_received) == (1, 0, None)
    assert store_mails(store, received("r1", 1, "ann@x.org")).messages == 1
    assert store.contact_facts()[0].received == 1
