"""Cards in the store: a sequence of card batches means what the contacts conformance suite's
``apply`` says, a batch lands with its cursor or not at all, schema 5 upgrades, and who is
one person (``daemon.grouping``) keeps its keys."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.memory import MemoryConnector, MemoryData
from daemon import grouping, ingest, sync
from daemon.config import parse
from daemon.errors import ShrinkRefused
from daemon.model import Card, CardBatch, Mail, PartialDate, Skipped, Verdict
from daemon.schema import MIGRATIONS
from daemon.store import Store
from tests.conformance.test_contacts import apply

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def stored(store: Store, account: str = "book") -> dict[str, Card]:
    return {c.card_id: c for a, c in store.cards() if a == account}


def put(store: Store, *batches: CardBatch, account: str = "book") -> None:
    """Store one fetch, believing a listing that lost most cards (see the test of that)."""
    listing = ingest.Listing(accept_shrink=True)
    for b in batches:
        ingest.store_cards(store, account, b, NOW, listing)
    ingest.regroup(store)


def mail(store: Store, mid: str, when: datetime, *to: str) -> None:
    """A sent message to ``to``, stored with touchpoint verdicts."""
    m = Mail(mid, when, None)
    store.add_mail("mail", [(m, [Verdict(e, "", "to", "", None) for e in to])])


# -- a sequence of batches --------------------------------------------------------------
IDS = ["a", "b", "c", "d"]
cards = st.builds(lambda cid, n, bday: Card(cid, name=f"P{n}", emails=(f"{cid}{n}@x.org",),
                                            birthday=bday),
                  st.sampled_from(IDS), st.integers(0, 3),
                  st.none() | st.builds(PartialDate, st.integers(1, 12), st.integers(1, 28),
                                        st.none() | st.integers(1900, 2020)))


@st.composite
def reads(draw: st.DrawFn) -> list[CardBatch]:
    """One fetch: changes since the cursor in a batch or two, or a full listing in parts."""
    n = draw(st.integers(0, 9))
    if draw(st.booleans()):
        parts = draw(st.lists(st.lists(cards, max_size=3), min_size=1, max_size=3))
        return [CardBatch(p, n, full=True, last=i == len(parts) - 1)
                for i, p in enumerate(parts)]
    return [CardBatch(draw(st.lists(cards, max_size=3)), n,
                      gone=draw(st.lists(st.sampled_from(IDS), max_size=2)))
            for _ in range(draw(st.integers(1, 2)))]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(reads(), min_size=1, max_size=5))
def test_the_store_keeps_what_the_reference_apply_says(tmp_path_factory: pytest.TempPathFactory,
                                                        fetches: list[list[CardBatch]]) -> None:
    store = Store(tmp_path_factory.mktemp("s") / "kw.db")
    book: dict[str, Card] = {}
    for fetch in fetches:
        put(store, *fetch)
        book = apply(book, fetch)
        assert stored(store) == book
        assert store.card_cursor("book") == fetch[-1].cursor
    # every card's addresses are contacts, each card one person
    people = {p.key: p for p in store.card_people()}
    assert sorted(people) == sorted(c.emails[0] for c in book.values())


def test_a_full_listing_removes_only_at_its_last_batch_and_only_its_account(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    put(store, CardBatch([Card("a", emails=("a@x.org",)), Card("b", emails=("b@x.org",))], 1))
    put(store, CardBatch([Card("z", emails=("z@x.org",))], 1), account="other")
    listing = ingest.Listing()
    ingest.store_cards(store, "book", CardBatch([Card("a", name="A")], 1, full=True), NOW,
                       listing)
    assert set(stored(store)) == {"a", "b"}  # not yet: the listing may go on
    assert store.card_cursor("book") == 1
    ingest.store_cards(store, "book", CardBatch([Card("c")], 2, full=True, last=True), NOW,
                       listing)
    assert set(stored(store)) == {"a", "c"} and stored(store)["a"].name == "A"
    assert set(stored(store, "other")) == {"z"}
    assert store.card_cursor("book") == 2 and store.cursor("book") is None  # apart from mail


def test_a_listing_that_lost_most_cards_is_refused_until_accepted(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    put(store, CardBatch([Card(c, emails=(f"{c}@x.org",)) for c in "abc"], 1))
    for kept in ([], [Card("a")]):  # an unmounted folder, a truncated file
        with pytest.raises(ShrinkRefused) as exc:
            ingest.store_cards(store, "book", CardBatch(kept, 2, full=True, last=True), NOW,
                               ingest.Listing())
        assert str(exc.value).startswith(f"the address book now holds {len(kept)} of the 3 "
                                         "cards keepwarm has from it")
        assert "keepwarm sync --accept-shrink book" in str(exc.value)
        assert set(stored(store)) == set("abc") and store.card_cursor("book") == 1
    ingest.store_cards(store, "book", CardBatch([Card("a")], 2, full=True, last=True), NOW,
                       ingest.Listing(accept_shrink=True))
    assert set(stored(store)) == {"a"}


def test_a_batch_lands_with_its_cursor_or_not_at_all(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "kw.db")
    put(store, CardBatch([Card("a", emails=("a@x.org",))], 1))

    def crash(account: str, cursor: object) -> None:
        raise KeyboardInterrupt  # the process ends between the cards and the cursor

    monkeypatch.setattr(store, "set_card_cursor", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest.store_cards(store, "book", CardBatch(
            [Card("b", emails=("b@x.org",))], 2, gone=["a"]), NOW, ingest.Listing())
    monkeypatch.undo()
    assert set(stored(store)) == {"a"} and store.card_cursor("book") == 1
    assert not store.regroup_needed() and store.contact_of("b@x.org") is None


def test_every_field_survives_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    card = Card("jane", uid="u-1", name="Jane Doe", emails=("jane@x.org", "j@work.example"),
                groups=("Clients", "Tennis, Tuesdays"), starred=True,
                birthday=PartialDate(2, 29), anniversary=PartialDate(6, 1, 2010),
                birthday_text="", notes=("BDAY 1986-02-30 is not a date: ignored",),
                location="book/jane.vcf")
    put(store, CardBatch([card, Card("words", birthday_text="early May")], 1))
    assert stored(store) == {"jane": card, "words": Card("words", birthday_text="early May")}


def test_skipped_cards_are_counted_and_cleared_when_read_at_last(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    put(store, CardBatch([], 1, skipped=[Skipped("book/bad.vcf", "not a vCard")]))
    assert [r[:3] for r in store.skipped()] == [("book", "book/bad.vcf", "not a vCard")]
    put(store, CardBatch([Card("bad", location="book/bad.vcf")], 2))
    assert store.skipped() == []


# -- card people ------------------------------------------------------------------------
def test_card_people_one_per_person_with_first_non_empty_fields(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    put(store, CardBatch([
        Card("1", name="", emails=("ann@x.org",), groups=("Family",)),
        Card("2", name="Ann Lee", emails=("ann@home.example", "ann@x.org"),
             birthday=PartialDate(4, 1, 1980), groups=("Tennis",)),
        Card("3", uid="uid-rose", name="Grandma Rose", birthday=PartialDate(11, 3, 1941)),
        Card("4", name="Nameless"),
    ], 1))
    store.tag("ann@x.org", ["vip"], True)
    store.set_contact("ann@x.org", "ignored", 1)
    people = {p.key: p for p in store.card_people()}
    assert set(people) == {"ann@x.org", "card:book/uid-rose", "card:book/4"}
    ann = people["ann@x.org"]
    assert (ann.name, ann.emails, ann.birthday, ann.ignored, ann.source) == (
        "Ann Lee", ("ann@x.org", "ann@home.example"), PartialDate(4, 1, 1980), True, "book")
    assert ann.tags == {"group:Family", "group:Tennis", "vip"}
    assert people["card:book/uid-rose"].emails == ()


def test_a_card_without_a_name_is_named_from_mail(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    store.add_mail("mail", [(Mail("m1", NOW, None), [Verdict("bo@x.org", "Bo Berg", "to", "",
                                                              None)])])
    put(store, CardBatch([Card("1", emails=("bo@x.org",), birthday=PartialDate(1, 2))], 1))
    (bo,) = store.card_people()
    assert bo.name == "Bo Berg"


# -- who is one person -----------------------------------------------------------------
def test_a_card_joins_its_addresses_and_the_known_contact_keeps_its_key(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    mail(store, "m1", datetime(2025, 1, 1, tzinfo=UTC), "jane@x.org")
    mail(store, "m2", datetime(2025, 6, 1, tzinfo=UTC), "jd@work.example")
    # the card lists the later address first: the contact first in touch keeps its key
    put(store, CardBatch([Card("j", name="Jane", emails=("jd@work.example", "jane@x.org",
                                                        "new@x.org"))], 1))
    assert {store.contact_of(e) for e in ("jane@x.org", "jd@work.example", "new@x.org")} == {
        "jane@x.org"}
    # a card that loses an address lets it go; the rest keeps its key
    put(store, CardBatch([Card("j", name="Jane", emails=("jd@work.example", "new@x.org"))], 2))
    assert store.contact_of("jane@x.org") == "jane@x.org"
    assert store.contact_of("new@x.org") == store.contact_of("jd@work.example") == (
        "jd@work.example")


def test_two_cards_sharing_an_address_are_one_person(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    put(store, CardBatch([Card("1", emails=("a@x.org", "b@x.org")),
                          Card("2", emails=("c@x.org", "b@x.org"))], 1))
    assert {store.contact_of(e) for e in ("a@x.org", "b@x.org", "c@x.org")} == {"a@x.org"}
    assert len(store.card_people()) == 1


def test_grouping_prefers_the_steered_then_the_reminded_then_the_first_in_touch() -> None:
    old = {"a@x": "a@x", "b@x": "b@x", "c@x": "c@x"}
    card = [("c@x", "b@x", "a@x")]
    first = {"a@x": 300, "b@x": 200, "c@x": 100}

    def key(steered: set[str], reminded: set[str]) -> str:
        keys = grouping.group(old, {}, card, set(), steered, reminded, first)
        assert len(set(keys.values())) == 1
        return keys["a@x"]

    assert key(set(), set()) == "c@x"  # first in touch
    assert key(set(), {"b@x"}) == "b@x"
    assert key({"a@x"}, {"b@x"}) == "a@x"
    # nobody known: the card's first address; an unmerged address stays out
    assert grouping.group({}, {}, [("n@x", "m@x")], set(), set(), set(), {}) == {
        "n@x": "n@x", "m@x": "n@x"}
    assert grouping.group({}, {}, [("n@x", "m@x")], {"n@x"}, set(), set(), {}) == {
        "n@x": "n@x", "m@x": "m@x"}


def test_a_part_split_off_is_keyed_by_its_first_address_in_touch() -> None:
    old = {"a@x": "a@x", "b@x": "a@x", "c@x": "a@x"}  # the card no longer lists a@x
    keys = grouping.group(old, {}, [("b@x", "c@x")], set(), set(), {"a@x"},
                          {"a@x": 1, "b@x": 50, "c@x": 10})
    assert keys == {"a@x": "a@x", "b@x": "c@x", "c@x": "c@x"}


def test_grouping_is_a_fixed_point() -> None:
    """Run again on its own result, nothing moves: no key flips from one sync to the next."""
    old = {"a@x": "a@x", "b@x": "b@x", "d@x": "d@x", "e@x": "d@x"}
    args = ({"e@x": "d@x"}, [("b@x", "a@x"), ("e@x", "f@x")], set(), set(), set(),
            {"a@x": 5, "b@x": 1})
    once = grouping.group(old, *args)
    assert grouping.group(once, *args) == once
    assert once["f@x"] == once["e@x"] == "d@x" and once["a@x"] == "b@x"


ADDRS = [f"{c}@x" for c in "abcdefg"]
addr = st.sampled_from(ADDRS)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(addr, addr), st.dictionaries(addr, addr),
       st.lists(st.lists(addr, min_size=1, max_size=3, unique=True).map(tuple), max_size=4),
       st.frozensets(addr), st.frozensets(addr), st.frozensets(addr),
       st.dictionaries(addr, st.integers(0, 9)))
def test_grouping_joins_what_cards_and_merges_join_and_nothing_moves_after(
        old: dict[str, str], merges: dict[str, str], cards: list[tuple[str, ...]],
        apart: frozenset[str], steered: frozenset[str], reminded: frozenset[str],
        first: dict[str, int]) -> None:
    keys = grouping.group(old, merges, cards, apart, steered, reminded, first)
    assert set(keys) == set(old) | set(merges) | set(merges.values()) | {
        e for card in cards for e in card}
    assert all(keys[k] == k for k in keys.values())  # a key keys itself
    for email, target in merges.items():
        assert keys[email] == keys[target]
    for card in cards:
        assert len({keys[e] for e in card if e not in apart}) <= 1
    assert grouping.group(keys, merges, cards, apart, steered, reminded, first) == keys


# -- the upgrade from schema 5 ------------------------------------------------------------
def test_schema_5_upgrades_with_its_merges_kept_as_the_users(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    db = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:5]:
        for statement in migration.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version = 5")
    db.executemany("INSERT INTO addresses VALUES (?, ?)",
                   [("ann@x.org", "ann@x.org"), ("ann@home.example", "ann@x.org"),
                    ("bo@x.org", "bo@x.org")])
    db.execute("INSERT INTO cursors VALUES ('mail', '{\"n\": 3}')")
    db.close()
    store = Store(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 6
    assert store.steering().contacts["ann@x.org"].addresses == {"ann@home.example"}
    assert store.cursor("mail") == {"n": 3} and store.card_cursor("mail") is None
    # a card joining bo and ann's second address: ann, the user's merge, keeps her key
    put(store, CardBatch([Card("1", emails=("bo@x.org", "ann@home.example"))], 1))
    assert store.contact_of("bo@x.org") == "ann@x.org"
    assert store.steering().contacts["ann@x.org"].addresses == {"ann@home.example"}


def test_the_users_own_addresses_join_no_card_and_their_own_card_is_no_person(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    store.add_aliases({"me@home.example"}, NOW, "own address")
    mail(store, "m1", NOW, "sam@x.org")
    put(store, CardBatch([Card("home", name="Sam and me", emails=("me@home.example",
                                                                  "sam@x.org")),
                          Card("me", name="Me", emails=("me@work.example", "me@home.example"),
                               birthday=PartialDate(5, 5, 1980))], 1))
    assert store.contact_of("sam@x.org") == "sam@x.org"
    (sam,) = store.contact_facts()
    assert sam.emails == ("sam@x.org",) and sam.name == "Sam and me" and sam.carded
    assert [p.key for p in store.card_people(own={"me@work.example"})] == ["sam@x.org"]
    store.set_own({"me@work.example"})  # configured: the store knows it from then on
    assert [p.key for p in store.card_people()] == ["sam@x.org"]


def test_a_stop_ends_a_read_of_cards_between_batches_but_never_a_full_listing_halfway(
        tmp_path: Path) -> None:
    data = MemoryConnector.DATA.setdefault(f"stop-{tmp_path.name}", MemoryData())
    for c in "abcde":
        data.put_card(Card(c, emails=(f"{c}@x.org",)))
    config = parse({"store": {"path": str(tmp_path / "kw.db")},
                    "accounts": [{"name": "book", "type": "memory", "batch_size": 2,
                                  "key": f"stop-{tmp_path.name}"}]}, tmp_path / "c.toml")
    store, (account,) = Store(config.store_path), config.accounts
    sync.pull(store, account, config.settings, NOW, stop=lambda: True)  # mail and meetings

    def after(n: int) -> Callable[[], bool]:
        """A stop once more than ``n`` cards are stored (never during mail and meetings)."""
        return lambda: len(store.card_ids("book")) > n

    report = sync.pull(store, account, config.settings, NOW, stop=after(0))
    assert report.cards == 5 and len(stored(store)) == 5  # a listing is read to its end
    for c in "fghij":
        data.put_card(Card(c, emails=(f"{c}@x.org",)))
    report = sync.pull(store, account, config.settings, NOW, stop=after(5))
    assert (report.cards, report.complete) == (2, False)
    assert store.contact_of("f@x.org") == "f@x.org"  # what was read is a person already
    # the memory source's batches before its last carry the old cursor: it sends all again
    report = sync.pull(store, account, config.settings, NOW)
    assert (report.cards, report.complete, len(stored(store))) == (5, True, 10)
