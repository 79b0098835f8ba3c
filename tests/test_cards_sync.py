"""Address books end to end through `keepwarm`: a memory account holding cards, synced, then
looked at (`contacts`, `show`, `lapsed`) and steered (`unmerge`, `untag`)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors import registry
from connectors.memory import MemoryConnector, MemoryData
from daemon.cli import main
from daemon.errors import TransientError
from daemon.model import (
    Address,
    Card,
    CardBatch,
    FetchContext,
    Mail,
    PartialDate,
    Skipped,
)

TZ = ZoneInfo("Europe/Berlin")


class AddressBookConnector(MemoryConnector):
    """The memory connector as an address book alone (a vcf or carddav account's kind)."""

    type = "memory-book"
    reads_mail = False
    reads_meetings = False


registry.register("memory-book", "tests.test_cards_sync:AddressBookConnector")
_keys = itertools.count()
JANE = Card("jane", uid="u-jane", name="Jane Doe", emails=("jane@x.org", "jd@work.example"),
            groups=("Clients",), starred=True, birthday=PartialDate(4, 12, 1986),
            notes=("BDAY 1986-02-30 is not a date: ignored",), location="book/jane.vcf")


class Home:
    """A config with a mail account, an address book and a reminders calendar in memory."""

    def __init__(self, root: Path, extra: str = "", book: str = "memory") -> None:
        n = next(_keys)
        self.root = root
        self.data = {name: MemoryConnector.DATA.setdefault(f"{name}-cards-{n}", MemoryData())
                     for name in ("mail", "book", "cal")}
        accounts = "".join(f'[[accounts]]\nname = "{name}"\n'
                           f'type = "{book if name == "book" else "memory"}"\n'
                           f'key = "{name}-cards-{n}"\n' for name in self.data)
        self.config = root / "config.toml"
        self.config.write_text(f"""
[identity]
addresses = ["me@example.com"]
timezone = "Europe/Berlin"
[store]
path = "{root / 'kw.db'}"
state_dir = "{root / 'state'}"
[reminders]
calendar = "cal"
{extra}
{accounts}""")
        self.n = 0

    def send(self, days_ago: int, to: str, name: str = "") -> None:
        self.n += 1
        self.data["mail"].mail.append(Mail(
            f"m{self.n}@example.com", datetime.now(TZ) - timedelta(days=days_ago, hours=1),
            Address("me@example.com"), to=(Address(to, name),)))

    def run(self, *args: str) -> int:
        return main(["--config", str(self.config), *args])

    def json(self, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
        capsys.readouterr()
        assert self.run(*args, "--json") == 0
        return json.loads(capsys.readouterr().out)

    def contacts(self, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
        return {c["email"]: c for c in self.json(capsys, "contacts")}

    def reminders(self) -> dict[str, str]:
        return {r.rid.contact: r.uid for r in self.data["cal"].reminders.values()}


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


def test_a_card_makes_one_named_person_with_groups_and_a_birthday(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(200, "jane@x.org", "J. Doe")
    home.send(100, "jd@work.example", "jd")
    home.send(50, "bo@x.org", "Bo Berg")
    home.data["book"].put_card(JANE)
    assert home.run("sync") == 0
    contacts = home.contacts(capsys)
    jane = contacts["jane@x.org"]
    assert (jane["name"], jane["emails"], jane["touchpoints"]) == (
        "Jane Doe", ["jane@x.org", "jd@work.example"], 2)
    assert jane["tags"] == ["group:Clients", "starred"]
    assert (jane["carded"], jane["birthday"], jane["anniversary"], jane["card_notes"]) == (
        True, "1986-04-12", None, ["BDAY 1986-02-30 is not a date: ignored"])
    bo = contacts["bo@x.org"]  # no card: the name from mail, nothing of an address book
    assert (bo["name"], bo["carded"], bo["birthday"], bo["tags"]) == ("Bo Berg", False, None, [])
    counts = home.json(capsys, "status")["counts"]
    assert (counts["cards"], counts["contacts"]) == (1, 2)


def test_show_prints_the_card(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(100, "jd@work.example")
    home.data["book"].put_card(JANE)
    home.data["book"].put_card(Card("ann", name="Ann Lee", emails=("ann@x.org",),
                                    birthday_text="early May",
                                    postal="1 Main Street\n12345 Springfield"))
    assert home.run("sync") == 0
    capsys.readouterr()
    assert home.run("show", "jd@work.example") == 0
    out = capsys.readouterr().out
    assert "Jane Doe <jd@work.example, jane@x.org>" in out  # the known address keys it
    assert "address book: book (book/jane.vcf); group:Clients, starred" in out
    assert "birthday 12 April 1986" in out
    assert "note: BDAY 1986-02-30 is not a date: ignored" in out
    assert "tagged:" not in out  # the groups are the card's, not tags the user gave
    got = home.json(capsys, "show", "jane@x.org")
    assert [(c["account"], c["groups"], c["birthday"], c["starred"], c["postal"])
            for c in got["cards"]] == [("book", ["Clients"], "1986-04-12", True, None)]
    # someone only the address book knows
    capsys.readouterr()
    assert home.run("show", "ann@x.org") == 0
    out = capsys.readouterr().out
    assert "Ann Lee <ann@x.org>" in out and "birthday as written: 'early May'" in out
    assert "postal address: 1 Main Street, 12345 Springfield" in out
    assert home.json(capsys, "show", "ann@x.org")["cards"][0]["postal"] == (
        "1 Main Street\n12345 Springfield")
    assert "keepwarm has seen no message or meeting with ann@x.org." in out
    # a card's name finds its address
    assert home.run("show", "Ann Lee") == 2
    assert "did you mean ann@x.org?" in capsys.readouterr().err


def test_groups_are_usable_in_cadence_rules(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    home = Home(tmp_path, '[[cadence.rules]]\nmatch = "tag:group:Clients"\nevery = "7d"\n')
    home.send(20, "jane@x.org")
    home.send(10, "jane@x.org")
    home.data["book"].put_card(JANE)
    assert home.run("sync") == 0
    jane = home.contacts(capsys)["jane@x.org"]
    assert (jane["cadence_days"], jane["cadence_source"], jane["lapsed"]) == (
        7, "rule tag:group:Clients", True)
    (lapsed,) = home.json(capsys, "lapsed")
    assert lapsed["name"] == "Jane Doe"
    # the card leaves the group: the rule no longer applies, the tag is gone
    home.data["book"].put_card(Card("jane", name="Jane Doe", emails=("jane@x.org",)))
    assert home.run("sync") == 0
    jane = home.contacts(capsys)["jane@x.org"]
    assert jane["tags"] == [] and jane["cadence_source"] != "rule tag:group:Clients"


def test_a_card_counts_as_two_way_and_is_tracked_from_its_first_touchpoint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = Home(tmp_path, "[cadence]\ntwo_way = true\n")
    home.send(40, "jane@x.org")
    home.send(40, "bo@x.org")
    for d in (90, 60):
        home.send(d, "cy@x.org")
    home.data["book"].put_card(JANE)
    assert home.run("sync") == 0
    contacts = home.contacts(capsys)
    assert (contacts["jane@x.org"]["tracked"], contacts["jane@x.org"]["why"]) == (
        True, "in your address book")
    assert contacts["bo@x.org"]["tracked"] is False
    assert contacts["cy@x.org"]["why"] == "one-way: never wrote back"


def test_a_card_joining_a_known_contact_keeps_its_reminder(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    for d in (300, 200, 150):
        home.send(d, "jane@x.org")
    home.send(400, "jd@work.example")  # in touch before jane@, but once: no reminder
    assert home.run("sync") == 0
    before = home.reminders()
    assert list(before) == ["jane@x.org"]
    # the card lists the other address first; jane's contact keeps its key and reminder
    home.data["book"].put_card(Card("jane", name="Jane Doe",
                                    emails=("jd@work.example", "jane@x.org")))
    # the reminder is kept (its title now has the card's name), then left alone
    for moved in (1, 0):
        capsys.readouterr()
        assert home.run("sync") == 0
        assert f"✓ reminders: 0 created, {moved} moved, 0 removed" in capsys.readouterr().out
        assert home.reminders() == before
    assert "Jane Doe" in next(iter(home.data["cal"].reminders.values())).title
    (jane,) = home.json(capsys, "lapsed")
    assert (jane["email"], jane["emails"], jane["touchpoints"]) == (
        "jane@x.org", ["jane@x.org", "jd@work.example"], 4)


def test_unmerge_wins_over_the_card_and_survives_a_lost_store(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(100, "jane@x.org")
    home.send(90, "jd@work.example")
    home.data["book"].put_card(JANE)
    assert home.run("sync") == 0
    assert home.run("unmerge", "jd@work.example") == 0
    steering = (home.root / "kw.steering.toml").read_text()
    assert '[contacts."jd@work.example"]\nunmerged = true' in steering
    listed = {c["contact"]: c for c in home.json(capsys, "steering")["contacts"]}
    assert listed["jd@work.example"]["unmerged"] is True
    assert "jane@x.org" not in listed  # the card's merge was never the user's
    capsys.readouterr()
    assert home.run("steering") == 0
    assert "jd@work.example\tunmerge\tfrom its address-book card" in capsys.readouterr().out
    assert home.run("sync") == 0
    contacts = home.contacts(capsys)
    assert contacts["jane@x.org"]["emails"] == ["jane@x.org"]
    assert contacts["jd@work.example"]["carded"] is False
    assert contacts["jane@x.org"]["carded"] is True
    for suffix in ("", "-wal", "-shm"):
        (home.root / f"kw.db{suffix}").unlink(missing_ok=True)
    assert home.run("sync") == 0
    assert home.contacts(capsys)["jane@x.org"]["emails"] == ["jane@x.org"]
    # merged again by the user: one person again, the card's too
    assert home.run("merge", "jane@x.org", "jd@work.example") == 0
    assert home.run("sync") == 0
    assert home.contacts(capsys)["jane@x.org"]["emails"] == ["jane@x.org", "jd@work.example"]
    assert "unmerged" not in (home.root / "kw.steering.toml").read_text()


def test_untag_of_a_group_says_it_comes_from_the_address_book(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(100, "jane@x.org")
    home.data["book"].put_card(JANE)
    assert home.run("sync") == 0
    capsys.readouterr()
    assert home.run("untag", "jane@x.org", "group:clients") == 2
    err = capsys.readouterr().err
    assert "group:Clients comes from its address-book card" in err
    assert len(err.strip().splitlines()) == 1
    assert home.run("tag", "jane@x.org", "group:Friends") == 2
    assert home.run("tag", "jane@x.org", "vip") == 0
    assert home.run("untag", "jane@x.org", "vip") == 0


def test_a_card_removed_takes_its_name_and_groups_along(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(100, "jane@x.org", "J. Doe")
    home.send(90, "jd@work.example")
    home.data["book"].put_card(JANE)
    assert home.run("sync") == 0
    home.data["book"].remove_card("jane")
    assert home.run("sync") == 0
    contacts = home.contacts(capsys)
    assert (contacts["jane@x.org"]["name"], contacts["jane@x.org"]["tags"],
            contacts["jane@x.org"]["carded"]) == ("J. Doe", [], False)
    assert contacts["jd@work.example"]["emails"] == ["jd@work.example"]


def _broken_book(self: MemoryConnector, cursor: Any, ctx: FetchContext) -> Iterator[CardBatch]:
    if self.name == "book":
        raise TransientError("address book unreachable")
    if self.name != "cal":
        yield CardBatch([], cursor)
        return
    yield CardBatch([Card("x", name="X", emails=("x@x.org",))], 1,
                    skipped=[Skipped("cal/broken.vcf", "truncated vCard")])


def test_a_failing_address_book_never_stops_the_others_and_broken_cards_are_skipped(
        home: Home, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MemoryConnector, "_fetch_cards", _broken_book)
    home.send(100, "jane@x.org")
    capsys.readouterr()
    assert home.run("sync") == 1
    out = capsys.readouterr().out
    assert "✗ book: address book unreachable" in out
    assert "✓ mail: 1 new message" in out and "✓ cal:" in out and "1 skipped" in out
    rows = home.json(capsys, "status", "--skipped")
    assert [(r["account"], r["location"], r["reason"]) for r in rows] == [
        ("cal", "cal/broken.vcf", "truncated vCard")]


def test_an_address_book_that_lost_most_cards_is_believed_only_when_told(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(10, "jane@x.org")
    book = home.data["book"]
    for card in (JANE, Card("a", emails=("a@x.org",)), Card("b", emails=("b@x.org",))):
        book.put_card(card)
    assert home.run("sync") == 0
    book.remove_card("a")
    book.remove_card("b")
    book.cards_expired = True  # the next read lists every card: one is left of three
    capsys.readouterr()
    assert home.run("sync") == 1
    assert ("✗ book: the address book now holds 1 of the 3 cards keepwarm has from it"
            in capsys.readouterr().out)
    assert home.json(capsys, "show", "a@x.org")["cards"] != []
    book.cards_expired = True
    assert home.run("sync", "--accept-shrink", "book") == 0
    assert home.json(capsys, "show", "a@x.org")["cards"] == []
    assert home.contacts(capsys)["jane@x.org"]["carded"] is True


def test_the_key_only_a_card_joins_can_be_unmerged_and_keeps_its_reminder(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    for d in (300, 200, 150):
        home.send(d, "jane@x.org")
    home.send(100, "jd@work.example")
    home.data["book"].put_card(Card("jane", name="Jane Doe", emails=(
        "jd@work.example", "jane@x.org", "j@home.example")))
    assert home.run("sync") == 0
    assert list(home.reminders()) == ["jane@x.org"]  # the first in touch keys the card
    capsys.readouterr()
    assert home.run("unmerge", "jane@x.org") == 0
    assert ("jane@x.org: a contact of its own again, no longer part of jd@work.example"
            in capsys.readouterr().out)
    assert home.run("sync") == 0
    contacts = home.contacts(capsys)
    assert contacts["jane@x.org"]["emails"] == ["jane@x.org"]
    assert contacts["jd@work.example"]["emails"] == ["jd@work.example", "j@home.example"]
    assert contacts["jd@work.example"]["name"] == "Jane Doe"
    # jane@ keeps its reminder (for its own, older, due date); the rest has one of its own
    assert set(home.reminders()) == {"jane@x.org", "jd@work.example"}
    # a key the user merged others into still cannot leave them
    assert home.run("merge", "bo@x.org", "jane@x.org", "--force") == 0
    capsys.readouterr()
    assert home.run("unmerge", "bo@x.org") == 2
    assert "unmerge jane@x.org instead" in capsys.readouterr().err


def test_the_users_own_address_on_a_card_joins_no_one(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(10, "sam@x.org")
    home.data["book"].put_card(Card("us", name="Sam and me",
                                    emails=("me@example.com", "sam@x.org")))
    assert home.run("sync") == 0
    sam = home.contacts(capsys)["sam@x.org"]
    assert (sam["emails"], sam["name"], sam["carded"]) == (["sam@x.org"], "Sam and me", True)


def test_an_account_that_is_only_an_address_book_is_pulled_and_summed_up_in_cards(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = Home(tmp_path, book="memory-book")
    home.send(10, "jane@x.org")
    home.data["book"].put_card(JANE)
    capsys.readouterr()
    assert home.run("sync") == 0
    assert "✓ book: 1 card read, 0 skipped\n" in capsys.readouterr().out
    assert home.contacts(capsys)["jane@x.org"]["name"] == "Jane Doe"
    capsys.readouterr()
    assert home.run("sync") == 0
    assert "✓ book: 0 cards read, 0 skipped\n" in capsys.readouterr().out
