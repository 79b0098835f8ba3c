"""The contract every address-book connector keeps (run for each harness in conftest.py).

``apply`` below is the reference meaning of a sequence of ``CardBatch``es (the store keeps
the same meaning in SQL): the suite checks what an account's address book *is* after each
read, so a source may report a deletion as ``gone`` or by leaving the card out of a full
listing, and may re-send an unchanged card, as long as the result is right.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors import registry
from daemon.model import Card, CardBatch, FetchContext, PartialDate

NOW = datetime.now(UTC).replace(microsecond=0)
CTX = FetchContext(now=NOW, tz=ZoneInfo("Europe/Berlin"), window_start=NOW - timedelta(days=1095),
                   window_end=NOW + timedelta(days=14))
# the fields compared; card_id, uid and location are the source's own
FIELDS = ("name", "emails", "groups", "starred", "birthday", "anniversary", "birthday_text")


def fetch(harness: Any, cursor: Any = None) -> tuple[list[CardBatch], Any]:
    conn = registry.connector_class(harness.type)(harness.account())
    try:
        batches = list(conn.fetch_cards(cursor, CTX))
    finally:
        conn.close()
    assert batches, "a fetch yields at least one batch (with the cursor)"
    assert json.loads(json.dumps(batches[-1].cursor)) == batches[-1].cursor
    return batches, batches[-1].cursor


def apply(book: dict[str, Card], batches: list[CardBatch]) -> dict[str, Card]:
    """The address book after storing ``batches`` (see ``CardBatch``)."""
    book = dict(book)
    listed: set[str] | None = None
    for b in batches:
        if b.full and listed is None:
            listed = set()
        for card in b.cards:
            book[card.card_id] = card
            if listed is not None:
                listed.add(card.card_id)
        for gone in b.gone:
            book.pop(gone, None)
        if b.full and b.last:
            assert listed is not None
            book = {k: v for k, v in book.items() if k in listed}
            listed = None
    return book


def changed(batches: list[CardBatch]) -> set[str]:
    """The card ids a read reported at all (changed, or listed in full)."""
    return {c.card_id for b in batches for c in b.cards} | {g for b in batches for g in b.gone}


def expected(harness: Any, card: Card) -> Card:
    """``card`` without the fields the source cannot hold."""
    blank = Card("")
    return replace(card, **{f: getattr(blank, f) for f in harness.unsupported})


def fields(card: Card) -> tuple[Any, ...]:
    return tuple(getattr(card, f) for f in FIELDS)


def put(harness: Any, card: Card) -> tuple[str, Card]:
    card = expected(harness, card)
    return harness.put_card(card), card


def by_name(book: dict[str, Card]) -> dict[str, tuple[Any, ...]]:
    return {c.name: fields(c) for c in book.values()}


JANE = Card("jane", name="Jane Doe", emails=("jane@example.org", "j.doe@work.example"),
            groups=("Clients",), starred=True, birthday=PartialDate(4, 12, 1986),
            anniversary=PartialDate(6, 1, 2010))
BOB = Card("bob", name="Bob Baker", emails=("bob@beta.example",), birthday=PartialDate(2, 29))
NOMAIL = Card("nomail", name="Grandma Rose", birthday=PartialDate(11, 3, 1941))


# -- the contract -------------------------------------------------------------------------
def test_empty_address_book_yields_a_json_cursor(contacts_harness: Any) -> None:
    batches, _ = fetch(contacts_harness)
    assert apply({}, batches) == {}


def test_reads_every_card_with_its_fields(contacts_harness: Any) -> None:
    cards = [put(contacts_harness, c)[1] for c in (JANE, BOB, NOMAIL)]
    book = apply({}, fetch(contacts_harness)[0])
    assert by_name(book) == {c.name: fields(c) for c in cards}


def test_an_idle_read_reports_nothing(contacts_harness: Any) -> None:
    for c in (JANE, BOB):
        put(contacts_harness, c)
    first, cursor = fetch(contacts_harness)
    again, cursor2 = fetch(contacts_harness, cursor)
    assert changed(again) == set()
    assert apply(apply({}, first), again) == apply({}, first)
    assert fetch(contacts_harness, cursor2)[0] and changed(fetch(contacts_harness, cursor2)[0]) \
        == set()


def test_a_changed_card_comes_again_alone_with_its_new_fields(contacts_harness: Any) -> None:
    ids = {c.card_id: put(contacts_harness, c)[0] for c in (JANE, BOB, NOMAIL)}
    first, cursor = fetch(contacts_harness)
    bob = replace(BOB, name="Robert Baker", emails=("bob@beta.example", "rob@home.example"),
                  groups=("Friends",))
    _, want = put(contacts_harness, bob)
    batches, _ = fetch(contacts_harness, cursor)
    assert changed(batches) == {ids["bob"]}
    book = apply(apply({}, first), batches)
    assert fields(book[ids["bob"]]) == fields(want)
    assert len(book) == 3


def test_a_deleted_card_is_gone(contacts_harness: Any) -> None:
    ids = {c.card_id: put(contacts_harness, c)[0] for c in (JANE, BOB)}
    first, cursor = fetch(contacts_harness)
    contacts_harness.remove_card("jane")
    batches, _ = fetch(contacts_harness, cursor)
    assert set(apply(apply({}, first), batches)) == {ids["bob"]}


def test_an_expired_cursor_lists_everything_again_and_converges(contacts_harness: Any) -> None:
    ids = {c.card_id: put(contacts_harness, c)[0] for c in (JANE, BOB)}
    first, cursor = fetch(contacts_harness)
    contacts_harness.remove_card("jane")
    put(contacts_harness, NOMAIL)
    contacts_harness.expire_cursor()
    batches, cursor = fetch(contacts_harness, cursor)
    book = apply(apply({}, first), batches)
    assert set(book) == {ids["bob"], next(iter(set(book) - {ids["bob"]}))}
    assert sorted(c.name for c in book.values()) == ["Bob Baker", "Grandma Rose"]
    # and the cursor after the listing works as any other
    assert changed(fetch(contacts_harness, cursor)[0]) == set()


def test_a_card_with_no_address_is_still_read(contacts_harness: Any) -> None:
    put(contacts_harness, NOMAIL)
    (card,) = apply({}, fetch(contacts_harness)[0]).values()
    assert card.emails == () and card.name == "Grandma Rose"
    assert card.birthday == PartialDate(11, 3, 1941)


def test_birthdays_with_and_without_a_year(contacts_harness: Any) -> None:
    cards = [Card(f"b{n}", name=f"Person {n}", emails=(f"p{n}@example.org",), birthday=b)
             for n, b in enumerate([PartialDate(1, 1, 1970), PartialDate(12, 31),
                                    PartialDate(2, 29, 2000), PartialDate(2, 29)])]
    for c in cards:
        put(contacts_harness, c)
    book = apply({}, fetch(contacts_harness)[0])
    assert {c.name: c.birthday for c in book.values()} == {
        c.name: c.birthday for c in cards}


def test_addresses_are_lower_case_and_unique(contacts_harness: Any) -> None:
    put(contacts_harness, Card("x", name="Case Person",
                               emails=("Case.Person@Example.ORG", "case.person@example.org",
                                       "other@example.org")))
    (card,) = apply({}, fetch(contacts_harness)[0]).values()
    assert card.emails == ("case.person@example.org", "other@example.org")
