"""The vcf connector: a vdir folder (vdirsyncer, khard) or one multi-card .vcf file, read
again only where a file changed; broken files skipped with their place, never fatal."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors import vcard, vcf
from connectors.vcf import VcfConnector
from daemon.config import parse
from daemon.errors import ConfigError, ShrinkRefused, SourceError
from daemon.model import AccountConfig, Card, CardBatch, FetchContext, PartialDate
from tests.conformance.test_contacts import apply

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CTX = FetchContext(now=NOW, tz=ZoneInfo("Europe/Berlin"), window_start=NOW - timedelta(days=1095),
                   window_end=NOW + timedelta(days=14))
DATA = Path(__file__).parent / "data" / "vcards"


def card(name: str, email: str, extra: str = "", uid: str = "") -> str:
    return (f"BEGIN:VCARD\r\nVERSION:3.0\r\n{f'UID:{uid}' + chr(13) + chr(10) if uid else ''}"
            f"FN:{name}\r\nEMAIL:{email}\r\n{extra}END:VCARD\r\n")


def write(path: Path, *cards: str) -> None:
    """Write as vdirsyncer does: a temporary file renamed over the card's file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(cards), encoding="utf-8")
    os.replace(tmp, path)


def fetch(path: Path, cursor: Any = None,
          ctx: FetchContext = CTX) -> tuple[list[CardBatch], Any]:
    conn = VcfConnector(AccountConfig("book", "vcf", options={"path": str(path)}))
    batches = list(conn.fetch_cards(cursor, ctx))
    return batches, batches[-1].cursor


def reported(batches: list[CardBatch]) -> tuple[set[str], set[str]]:
    return ({c.card_id for b in batches for c in b.cards}, {g for b in batches for g in b.gone})


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The location of every text the connector parses."""
    seen: list[str] = []
    real = vcard.parse

    def spy(data: bytes, location: str) -> vcard.Parsed:
        seen.append(location)
        return real(data, location)

    monkeypatch.setattr(vcf.vcard, "parse", spy)
    return seen


def test_a_vdir_folder_flat_without_hidden_files(tmp_path: Path) -> None:
    book = tmp_path / "contacts"
    book.mkdir()
    write(book / "ann.vcf", card("Ann Lee", "ann@example.org", "BDAY:--0412\r\n"))
    write(book / "TWO.VCF", card("Bo One", "bo@example.org"), card("Cy Two", "cy@example.org"))
    write(book / ".hidden.vcf", card("Hidden", "hidden@example.org"))
    write(book / "notes.txt", card("Not A Card File", "txt@example.org"))
    (book / "sub").mkdir()
    write(book / "sub" / "deep.vcf", card("Deep", "deep@example.org"))
    batches, _ = fetch(book)
    assert all(b.full for b in batches) and batches[-1].last
    cards = apply({}, batches)
    assert {k: c.name for k, c in cards.items()} == {
        "ann.vcf": "Ann Lee", "TWO.VCF#1": "Bo One", "TWO.VCF#2": "Cy Two"}
    assert cards["ann.vcf"].birthday == PartialDate(4, 12)
    assert cards["ann.vcf"].location == "vcf:book/ann.vcf:1"


def test_unchanged_files_are_not_parsed_again(tmp_path: Path, parses: list[str]) -> None:
    book = tmp_path / "contacts"
    book.mkdir()
    for n in range(5):
        write(book / f"p{n}.vcf", card(f"Person {n}", f"p{n}@example.org"))
    first, cursor = fetch(book)
    assert len(parses) == 5
    parses.clear()
    again, cursor = fetch(book, cursor)
    assert parses == [] and reported(again) == (set(), set())
    write(book / "p3.vcf", card("Person Three", "p3@example.org"))
    (book / "p4.vcf").unlink()
    write(book / "p1.vcf", card("Split A", "a@example.org"), card("Split B", "b@example.org"))
    changed, cursor = fetch(book, cursor)
    assert sorted(parses) == ["vcf:book/p1.vcf", "vcf:book/p3.vcf"]
    assert reported(changed) == ({"p3.vcf", "p1.vcf#1", "p1.vcf#2"}, {"p4.vcf", "p1.vcf"})
    assert not any(b.full for b in changed)
    book_now = apply(apply({}, first), changed)
    assert sorted(c.name for c in book_now.values()) == [
        "Person 0", "Person 2", "Person Three", "Split A", "Split B"]


def test_a_group_card_changing_lists_every_card_with_its_groups(tmp_path: Path) -> None:
    book = tmp_path / "contacts"
    book.mkdir()
    write(book / "a.vcf", card("Ann", "ann@example.org", uid="uid-ann"))
    write(book / "b.vcf", card("Bob", "bob@example.org", "CATEGORIES:Golf\r\n", uid="uid-bob"))
    group = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Clients\r\nX-ADDRESSBOOKSERVER-KIND:group\r\n"
             "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:uid-ann\r\n{more}END:VCARD\r\n")
    write(book / "g.vcf", group.format(more=""))
    first, cursor = fetch(book)
    cards = apply({}, first)
    assert {c.name: c.groups for c in cards.values()} == {"Ann": ("Clients",), "Bob": ("Golf",)}
    write(book / "g.vcf", group.format(more="X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:uid-bob\r\n"))
    batches, cursor = fetch(book, cursor)
    assert all(b.full for b in batches)
    cards = apply(cards, batches)
    assert {c.name: c.groups for c in cards.values()} == {
        "Ann": ("Clients",), "Bob": ("Golf", "Clients")}
    # a member changing alone keeps the groups it is in
    write(book / "b.vcf", card("Robert", "bob@example.org", uid="uid-bob"))
    batches, cursor = fetch(book, cursor)
    assert not any(b.full for b in batches) and reported(batches) == ({"b.vcf"}, set())
    assert apply(cards, batches)["b.vcf"].groups == ("Clients",)
    (book / "g.vcf").unlink()
    batches, _ = fetch(book, cursor)
    assert {c.name: c.groups for c in apply(cards, batches).values()} == {
        "Ann": (), "Robert": ()}


def test_one_multi_card_file_names_cards_by_uid(tmp_path: Path) -> None:
    export = tmp_path / "export.vcf"
    ann = card("Ann", "ann@example.org", uid="uid-ann")
    write(export, ann, card("No Uid", "nouid@example.org"), card("Bob", "bob@example.org",
                                                                  uid="uid-bob"))
    first, cursor = fetch(export)
    assert set(apply({}, first)) == {"uid-ann", "#2", "uid-bob"}
    assert fetch(export, cursor)[0][-1].cards == []
    write(export, card("Bob Baker", "bob@example.org", uid="uid-bob"), ann)
    batches, _ = fetch(export, cursor)
    book = apply(apply({}, first), batches)
    assert {k: c.name for k, c in book.items()} == {"uid-ann": "Ann", "uid-bob": "Bob Baker"}


def test_broken_files_are_skipped_with_their_place(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    book = tmp_path / "contacts"
    shutil.copytree(DATA, book)
    (book / "binary.vcf").write_bytes(bytes(range(256)) * 6)
    (book / "huge.vcf").write_bytes(b"BEGIN:VCARD\r\n" + b"X" * 3000)
    monkeypatch.setattr(vcf, "MAX_FILE", 2048)
    batches, _ = fetch(book)
    skipped = {s.location: s.reason for b in batches for s in b.skipped}
    assert skipped["vcf:book/truncated.vcf:6"] == "the card is cut off: no END:VCARD"
    assert skipped["vcf:book/huge.vcf"].startswith("larger than")
    assert skipped["vcf:book/binary.vcf"] == "no vCard in the file (no BEGIN:VCARD line)"
    names = {c.name for c in apply({}, batches).values()}
    assert {"Whole Card", "Renée François", "Jürgen Müller", "Johnny Appleseed"} <= names
    friends = [c for c in apply({}, batches).values() if c.name == "Johnny Appleseed"]
    assert friends[0].groups == ("Friends",)  # apple-group.vcf names him


def test_a_missing_path_is_one_line_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as exc:
        fetch(tmp_path / "gone")
    assert "accounts[book].path" in str(exc.value) and "\n" not in str(exc.value)


def test_the_folder_of_vdirsyncers_address_books_is_refused_naming_them(tmp_path: Path) -> None:
    for book in ("family", "work"):
        (tmp_path / book).mkdir()
        write(tmp_path / book / "a.vcf", card("Ann", "ann@example.org"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError) as exc:
        fetch(tmp_path)
    assert str(exc.value) == (f"{tmp_path} holds no .vcf files, but its folders family, work "
                              "do; set accounts[book].path to one of them (an account for each)")


def test_an_empty_folder_is_an_empty_address_book(tmp_path: Path) -> None:
    batches, cursor = fetch(tmp_path)
    assert apply({}, batches) == {} and batches[-1].full
    write(tmp_path / "new.vcf", card("New", "new@example.org"))
    batches, _ = fetch(tmp_path, cursor)
    assert [c.card_id for b in batches for c in b.cards] == ["new.vcf"]


def test_a_folder_emptied_is_refused_until_the_user_accepts_it(tmp_path: Path) -> None:
    """An unmounted disk shows an empty mount point: vdirsyncer refuses to sync an emptied
    storage, and keepwarm keeps the cards it has."""
    write(tmp_path / "a.vcf", card("Ann", "ann@example.org"))
    _, cursor = fetch(tmp_path)
    (tmp_path / "a.vcf").unlink()
    with pytest.raises(ShrinkRefused) as exc:
        fetch(tmp_path, cursor)
    message = str(exc.value)
    assert message.startswith(f"book: the address book {tmp_path} is empty")
    assert message.endswith("keepwarm sync --accept-shrink book") and "\n" not in message
    batches, _ = fetch(tmp_path, cursor, replace(CTX, accept_shrink=True))
    assert reported(batches) == (set(), {"a.vcf"})


def test_the_config_takes_a_vcf_account_and_expands_the_path(tmp_path: Path) -> None:
    config = parse({"accounts": [{"name": "book", "type": "vcf", "path": "~/contacts"}]},
                   tmp_path / "config.toml")
    (account,) = config.accounts
    assert account.options["path"] == str(Path("~/contacts").expanduser())
    with pytest.raises(ConfigError) as exc:
        parse({"accounts": [{"name": "book", "type": "vcf"}]}, tmp_path / "config.toml")
    assert "accounts[0].path" in str(exc.value) or "accounts[book].path" in str(exc.value)


def test_cards_as_the_conformance_suite_reads_them(tmp_path: Path) -> None:
    """Not a duplicate of the suite: the harness's vCard 4 writer is read back by a
    different route (one file holding them all)."""
    from tests.conformance.harnesses.vcard import to_vcard

    jane = Card("j", name="Jane; Doe", emails=("jane@example.org",), groups=("A,B", "C"),
                birthday=PartialDate(2, 29), anniversary=PartialDate(6, 1, 2010))
    (tmp_path / "all.vcf").write_bytes(to_vcard(jane, "uid-j"))
    (got,) = apply({}, fetch(tmp_path / "all.vcf")[0]).values()
    assert (got.name, got.groups, got.birthday, got.anniversary) == (
        "Jane; Doe", ("A,B", "C"), PartialDate(2, 29), PartialDate(6, 1, 2010))
