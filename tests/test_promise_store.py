"""Promises in the store (issue 15): the sentences found in sent text stored with their
batch and cursor or not at all, never more than the sentence; the tagged address and the
recipients' order recoverable from stored headers; the times that judge a promise, a merged
contact's under each address; manual promises in the steering file; the upgrade from
schema 6."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from daemon import book, ingest, promisestate, steering
from daemon.errors import ConfigError
from daemon.model import Address, Batch, Mail, Promise, PromiseText, Settings, Steering
from daemon.schema import MIGRATIONS
from daemon.store import Store

ME = "me@work.example"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday
SETTINGS = Settings(own_addresses=frozenset({ME}))
TAG = Address("me+kw-3d@work.example")


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def sent(mid: str, days: float, *to: str, **kw: Any) -> Mail:
    return Mail(mid, ago(days), Address(ME), to=tuple(Address(a) for a in to),
                **kw)


def put(store: Store, *mails: Mail) -> None:
    ingest.store_batch(store, "mail", Batch(mails, {"n": len(mails)}), SETTINGS, NOW)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "kw.db")


def test_a_found_sentence_is_stored_with_its_message_cut_to_200_characters(
        store: Store) -> None:
    long = "I'll call you on Friday " + "and more " * 40
    put(store, sent("m1", 1, "jane@x.example", promises=(
        PromiseText("I'll call you on Friday.", date(2026, 12, 4)), PromiseText(long, None))))
    texts = store.promise_texts()["m1"]
    assert texts[0] == PromiseText("I'll call you on Friday.", date(2026, 12, 4))
    assert len(texts[1].sentence) == 200 and texts[1].due is None
    [mail] = store.promise_mail(ago(30))
    assert mail.promises == texts


def test_a_batch_that_fails_stores_neither_its_messages_nor_their_sentences(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(Store, "set_cursor", crash)
    with pytest.raises(RuntimeError):
        put(store, sent("m1", 1, "jane@x.example", bcc=(TAG,),
                        promises=(PromiseText("I'll call you tomorrow.", date(2026, 12, 2)),)))
    assert store.promise_texts() == {} and store.promise_orders() == {}
    assert store.counts()["messages"] == 0 and store.cursor("mail") is None
    monkeypatch.undo()
    put(store, sent("m1", 1, "jane@x.example", bcc=(TAG,)))
    assert store.cursor("mail") == {"n": 1} and list(store.promise_orders()) == ["m1"]


def test_the_tag_is_kept_as_a_recipient_but_is_no_contact_and_the_order_is_kept(
        store: Store) -> None:
    put(store, sent("m1", 1, "zoe@x.example", "ann@x.example", bcc=(TAG,)),
        sent("m2", 1, "bo@x.example"))  # no plus, no sentence: not read for promises
    [mail] = store.promise_mail(ago(30))
    assert [a.email for a in mail.to] == ["zoe@x.example", "ann@x.example"]
    assert [a.email for a in mail.bcc] == [TAG.email]
    assert {f.key for f in store.contact_facts()} == {"zoe@x.example", "ann@x.example",
                                                       "bo@x.example"}
    [s] = promisestate.judged(store, SETTINGS, NOW).statuses
    assert (s.promise.email, s.promise.others, s.promise.due) == (
        "zoe@x.example", ("ann@x.example",), date(2026, 12, 4))


def test_a_tag_of_a_learned_alias_is_the_users_and_sets_a_promise(store: Store) -> None:
    put(store, Mail("m1", ago(1), Address("me@home.example"), to=(Address("ann@x.example"),),
                    bcc=(Address("me+followup-tomorrow@home.example"),)))
    assert store.aliases() == {"me@home.example"}
    [s] = promisestate.judged(store, SETTINGS, NOW).statuses
    assert (s.promise.email, s.promise.due, s.promise.source) == (
        "ann@x.example", date(2026, 12, 2), "tag")
    assert {f.key for f in store.contact_facts()} == {"ann@x.example"}


@pytest.mark.parametrize("batches", [1, 2])
def test_the_inbox_copy_first_then_the_sent_copy_with_the_bcc_tag(
        store: Store, batches: int) -> None:
    inbox = Mail("m1", ago(1), Address(ME), to=(Address("ann@x.example"),), received=True)
    sent_copy = sent("m1", 1, "ann@x.example", bcc=(TAG,))
    if batches == 1:
        put(store, inbox, sent_copy)
    else:
        put(store, inbox)
        put(store, sent_copy)
    assert store.counts()["messages"] == 1 and store.counts()["received"] == 0
    [s] = promisestate.judged(store, SETTINGS, NOW).statuses
    assert (s.promise.key, s.promise.email, s.state) == ("m1", "ann@x.example", "open")
    assert {f.key: f.touchpoints for f in store.contact_facts()} == {"ann@x.example": 1}


def test_received_mail_never_stores_a_sentence(store: Store) -> None:
    put(store, Mail("r1", ago(1), Address("jane@x.example"), to=(Address(ME),),
                    received=True, promises=(PromiseText("I'll call you.", None),)))
    assert store.promise_texts() == {} and store.promise_mail(ago(30)) == []


def test_times_of_a_merged_contact_count_under_each_address(store: Store) -> None:
    put(store, sent("m1", 5, "ann@x.example"), sent("m2", 2, "ann@home.example"),
        Mail("r1", ago(1), Address("ann@home.example"), to=(Address(ME),), received=True))
    book.merge(store, "ann@x.example", "ann@home.example")
    touched, heard = store.promise_times({"ann@x.example"})
    assert sorted(touched["ann@x.example"]) == [ago(5), ago(2)]
    assert heard["ann@x.example"] == [ago(1)]
    book.set_ignored(store, "ann@x.example", True)
    assert store.ignored_addresses() == {"ann@x.example", "ann@home.example"}


MANUAL = Promise("jane@x.example", "Jane Doe", date(2026, 12, 8), NOW, "manual",
                 "manual-0123456789ab", note='call "about" Q3', when="tue")


def test_manual_promises_go_through_the_steering_file_and_survive_a_lost_store(
        tmp_path: Path) -> None:
    text = steering.render(Steering(promises=(MANUAL,)))
    assert '[promised."manual-0123456789ab"]' in text
    assert steering.parse(text, tmp_path / "s.toml") == Steering(promises=(MANUAL,))
    store = steering.open_store(tmp_path / "keepwarm.db")
    store.add_manual_promise(MANUAL)
    steering.save(store)
    store.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"keepwarm.db{suffix}").unlink(missing_ok=True)
    store = steering.open_store(tmp_path / "keepwarm.db")
    assert store.manual_promises() == [MANUAL]
    assert ("jane@x.example", "remind", '2026-12-08 call "about" Q3') in steering.lines(
        store.steering())


def test_a_wrong_promise_in_the_steering_file_names_the_file_and_the_key(
        tmp_path: Path) -> None:
    path = tmp_path / "steering.toml"
    with pytest.raises(ConfigError) as got:
        steering.parse('[promised.k1]\nemail = "a@x"\ndue = "tuesday"\n'
                       "made = 2026-12-01T10:00:00Z\ncolour = 1\n", path)
    assert got.value.problems == [f"{path}: promised.k1.colour: unknown key",
                                  f"{path}: promised.k1.due: must be a date like "
                                  "2026-03-02, not 'tuesday'"]


def test_a_store_of_schema_6_upgrades_and_its_tagged_mail_makes_promises(
        tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    db = sqlite3.connect(path, isolation_level=None)
    for n, migration in enumerate(MIGRATIONS[:6]):
        for statement in migration.split(";"):
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {n + 1}")
    at = int(ago(1).timestamp())
    db.execute("INSERT INTO messages(message_id, account, at, sender, subject) "
               "VALUES ('m1', 'mail', ?, ?, 'Proposal')", (at, ME))
    db.executemany("INSERT INTO participants VALUES ('email', 'm1', ?, '', ?, '', ?, ?)",
                   [("jane@x.example", "to", at, None), (TAG.email, "bcc", at, "own address")])
    db.close()
    store = Store(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 7
    [s] = promisestate.judged(store, SETTINGS, NOW).statuses
    assert (s.promise.key, s.promise.email, s.promise.due, s.state) == (
        "m1", "jane@x.example", date(2026, 12, 4), "open")
