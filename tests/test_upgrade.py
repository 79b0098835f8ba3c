"""Upgrading a store and a calendar written before reminder kinds: the schema migration
carries every reminder and dismissal over, and the events are adopted, none rewritten but
for what later releases say in them."""

from __future__ import annotations

import re
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from daemon import demo, sync
from daemon.config import Config, load
from daemon.model import ReminderId
from daemon.reminders import FOLLOWUP, cadence_id, signin_id
from daemon.schema import MIGRATIONS
from daemon.store import Store

V1 = Path(__file__).parent / "data" / "v1"
# what the demo's sample gained after v1 (two-way mail): 8 sent and 25 received messages, and
# two threads waiting for a reply, whose follow-ups are new; no older reminder moves
LATER_MAIL = 33
FOLLOWUPS = {"nadia@haddad.example", "victor@almeida.example"}
# ... and since (the address book, daemon/demo_data/EXPECTED.md): four all-day birthday and
# anniversary events are new; Sam Carter's card joins his two addresses, due 2026-05-15, so
# both his reminders go; the Clients rule makes Jürgen's cadence 60 days (his reminder's
# description changes) and Yuki moves into the Monday slot Sam left. The rest stay as written.
BIRTHDAYS = {ReminderId("birthday", "card:contacts/eva-morgan", "2026-03-07"),
             ReminderId("birthday", "sam.carter@harbor-logistics.example", "2026-03-09"),
             ReminderId("birthday", "jane.doe@northwind-legal.example", "2026-03-11"),
             ReminderId("anniversary", "sam.carter@harbor-logistics.example", "2026-03-12")}
CARD_GONE = {"sam.carter@harbor-logistics.example", "sam.carter@postbox.example"}
CARD_MOVED = {"juergen.mueller@brandt-maschinenbau.example", "yuki.tanaka@kumo-ventures.example"}
# ... and since issue 16 a cadence reminder says the last message's subject, the last
# meeting and links to act on: the other four are rewritten once, in place (UID and time kept)
ACTIONABLE = {"priya@lumen-analytics.example", "marco@rossi-design.example",
              "tom.becker@bigclient.example", "daniel.okafor@northwind-legal.example"}
# ... and the learned rhythm (issue 16): Sofia Lind's weekly syncs give her a 10-day interval,
# so she is lapsed and gets a cadence reminder of her own
LEARNED = {"sofia.lind@bigclient.example"}
CARD_CHANGES = (len(FOLLOWUPS) + len(BIRTHDAYS) + len(LEARNED),
                len(CARD_MOVED) + len(ACTIONABLE), len(CARD_GONE))


@pytest.fixture
def upgraded(tmp_path: Path) -> tuple[Config, Path]:
    """The demo's folder with the old store and the calendar the old keepwarm wrote."""
    cfg = load(demo.prepare(tmp_path))
    shutil.copy(V1 / "keepwarm.db", cfg.store_path)
    shutil.copy(V1 / "followups.ics", tmp_path / "followups.ics")
    return cfg, tmp_path / "followups.ics"


def reconcile(cfg: Config, store: Store, signin: list[str]) -> tuple[int, int, int]:
    statuses = sync.compute(store, cfg.settings, demo.DEMO_NOW)
    report = sync.reconcile(cfg, store, statuses, demo.DEMO_NOW, signin)
    assert report is not None and report.error is None
    return report.created, report.moved, report.deleted


def events(calendar: bytes) -> set[bytes]:
    return set(re.findall(rb"BEGIN:VEVENT\r\n.*?END:VEVENT\r\n", calendar, re.DOTALL))


def test_the_old_store_migrates_with_every_reminder(upgraded: tuple[Config, Path]) -> None:
    cfg, _ = upgraded
    old = sqlite3.connect(V1 / "keepwarm.db")
    rows = {r[0]: r[1:] for r in old.execute("SELECT contact, uid, start, due FROM reminders")}
    old.close()
    store = Store(cfg.store_path)
    records = store.reminder_records()
    assert len(records) == len(rows) == 9
    notice = records.pop(signin_id("mail"))
    assert notice.uid == rows.pop("keepwarm:signin:mail")[0]
    assert {r.rid.contact: (r.uid, r.start.isoformat(), r.due.isoformat())
            for r in records.values()} == rows
    assert {r.kind for r in records} == {"cadence"} and all(r.confirmed for r in records.values())


def test_the_old_calendar_is_adopted_and_nothing_is_rewritten(
        upgraded: tuple[Config, Path]) -> None:
    cfg, calendar = upgraded
    before = calendar.read_bytes()
    store = Store(cfg.store_path)
    report = sync.sync(cfg, store, demo.DEMO_NOW, write=False)
    assert report.ok and report.accounts[0].messages == LATER_MAIL  # v1 held the rest
    assert reconcile(cfg, store, ["mail"]) == CARD_CHANGES
    changed = events(before) - events(calendar.read_bytes())
    assert {contact_of(e) for e in changed} == CARD_GONE | CARD_MOVED | ACTIONABLE
    assert {placed(e) for e in changed if contact_of(e) in ACTIONABLE} <= {
        placed(e) for e in events(calendar.read_bytes())}
    # the old sign-in notice is recognised as one: signed in again, it goes, and only it
    assert reconcile(cfg, store, []) == (0, 0, 1)
    assert b"keepwarm:signin:mail" not in calendar.read_bytes()
    assert calendar.read_bytes().count(b"BEGIN:VEVENT") == (
        8 - len(CARD_GONE) + len(FOLLOWUPS) + len(BIRTHDAYS) + len(LEARNED))


def contact_of(event: bytes) -> str:
    """The contact an old cadence reminder is about: v1's marker is the address alone."""
    marker = re.search(rb"X-KEEPWARM-CONTACT:(.*?)\r\n", event)
    assert marker is not None
    return marker.group(1).decode()


def placed(event: bytes) -> tuple[bytes, ...]:
    """An event's UID and DTSTART lines."""
    return tuple(sorted(re.findall(rb"^(?:UID|DTSTART)[;:].*?\r\n", event, re.MULTILINE)))


def test_a_lost_store_adopts_the_old_calendar_too(upgraded: tuple[Config, Path]) -> None:
    cfg, calendar = upgraded
    before = calendar.read_bytes()
    cfg.store_path.unlink()
    store = Store(cfg.store_path)
    assert sync.sync(cfg, store, demo.DEMO_NOW, write=False).ok
    assert reconcile(cfg, store, ["mail"]) == CARD_CHANGES
    changed = events(before) - events(calendar.read_bytes())
    assert {contact_of(e) for e in changed} == CARD_GONE | CARD_MOVED | ACTIONABLE
    records = set(store.reminder_records())
    assert {r.contact for r in records if r.kind == FOLLOWUP} == FOLLOWUPS
    assert {r for r in records if r.kind != FOLLOWUP} == {signin_id("mail")} | BIRTHDAYS | {
        cadence_id(c) for c in ("juergen.mueller@brandt-maschinenbau.example",
                                "priya@lumen-analytics.example", "marco@rossi-design.example",
                                "yuki.tanaka@kumo-ventures.example",
                                "tom.becker@bigclient.example",
                                "daniel.okafor@northwind-legal.example", *LEARNED)}


def test_new_reminders_carry_kind_and_key_in_their_marker(
        upgraded: tuple[Config, Path]) -> None:
    cfg, calendar = upgraded
    store = Store(cfg.store_path)
    sync.sync(cfg, store, demo.DEMO_NOW, write=False)
    created, moved, deleted = CARD_CHANGES
    assert reconcile(cfg, store, ["mail", "work"]) == (1 + created, moved, deleted)
    assert b"X-KEEPWARM-CONTACT:notice::signin%3Awork" in calendar.read_bytes()


def test_migration_carries_reminders_and_dismissals_of_both_kinds(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    db = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.executemany("INSERT INTO reminders VALUES (?,?,?,?,?,?,?,?,?)", [
        ("ann@x.org", "keepwarm-a-20260301", "2026-03-02T09:30:00+01:00", None, "2026-03-01",
         1, 1, "r1", "e1"),
        ("keepwarm:signin:work", "keepwarm-n-20260302", "2026-03-02T09:30:00+01:00",
         "2026-03-01T09:30:00+01:00", "2026-03-02", 0, 0, "", "")])
    db.executemany("INSERT INTO dismissals VALUES (?, ?)",
                   [("bo@x.org", "2026-02-20"), ("keepwarm:signin:home", "2026-02-27")])
    db.close()
    store = Store(path)
    records = store.reminder_records()
    ann, notice = records[cadence_id("ann@x.org")], records[signin_id("work")]
    assert (ann.uid, ann.pinned, ann.confirmed, ann.remote_id, ann.etag) == (
        "keepwarm-a-20260301", True, True, "r1", "e1")
    assert (notice.uid, notice.due, notice.confirmed) == (
        "keepwarm-n-20260302", date(2026, 3, 2), False)
    assert notice.prev_start is not None and notice.prev_start.day == 1
    assert store.dismissals() == {cadence_id("bo@x.org"): date(2026, 2, 20),
                                  ReminderId("notice", "", "signin:home"): date(2026, 2, 27)}
