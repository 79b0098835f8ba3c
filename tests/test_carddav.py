"""The carddav connector against a real Radicale: address books found through the principal,
read incrementally with the DAV code CalDAV uses, an idle sync one request.

The user's side (their address-book app) is played with plain HTTP from
tests.servers.radicale; the truncating and refusing servers by tests.servers.syncpager.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.carddav import CarddavConnector
from daemon.config import parse
from daemon.errors import AuthError, ConfigError, ShrinkRefused, SourceError
from daemon.model import CardBatch, FetchContext, PartialDate
from tests.conformance.harnesses.carddav import FORGOTTEN
from tests.conformance.test_contacts import apply
from tests.servers.radicale import User
from tests.servers.syncpager import SyncPager

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CTX = FetchContext(now=NOW, tz=ZoneInfo("Europe/Berlin"), window_start=NOW - timedelta(days=1095),
                   window_end=NOW + timedelta(days=14))


def vcf(uid: str, name: str, *lines: str) -> bytes:
    """A vCard 3.0 as Apple's Contacts writes one."""
    body = "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", "PRODID:-//Apple Inc.//macOS 15//EN",
                        f"UID:{uid}", f"FN:{name}", f"N:{name};;;;", *lines, "END:VCARD", ""])
    return body.encode()


def group(uid: str, name: str, *members: str) -> bytes:
    return vcf(uid, name, "X-ADDRESSBOOKSERVER-KIND:group",
               *(f"X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{m}" for m in members))


@pytest.fixture
def books(radicale_user: User) -> dict[str, str]:
    """A user with two address books and a calendar, the books holding four cards and a
    group card."""
    u = radicale_user
    out = {"Contacts": u.make_addressbook("Contacts"), "Work": u.make_addressbook("Work")}
    u.make_calendar("Calendar")
    u.put_card(f"{out['Contacts']}ann.vcf", vcf("ann", "Ann Lee", "EMAIL:ann@example.org",
                                               "item1.EMAIL:Ann.Lee@Home.example",
                                               "BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-12"))
    u.put_card(f"{out['Contacts']}gran.vcf", vcf("gran", "Grandma Rose", "BDAY:1941-11-03"))
    u.put_card(f"{out['Work']}bob.vcf", vcf("bob", "Bob Baker", "EMAIL:bob@beta.example",
                                           "CATEGORIES:Golf", "X-ANNIVERSARY:2010-06-01"))
    u.put_card(f"{out['Work']}cy.vcf", vcf("cy", "Cy Chen", "EMAIL:cy@gamma.example"))
    u.put_card(f"{out['Work']}clients.vcf", group("clients", "Clients", "ann", "bob"))
    return out


def synced(user: User, state: Path, cursor: Any = None, cls: type[CarddavConnector] =
           CarddavConnector, ctx: FetchContext = CTX,
           **options: Any) -> tuple[list[CardBatch], Any, Counter[str], int]:
    """One read with the copies in ``state``: batches, cursor, the REPORTs and PROPFIND
    listings it made with the objects it downloaded, and how many HTTP requests in all."""
    conn = cls(replace(user.card_account(**options), state_dir=str(state)))
    try:
        batches = list(conn.fetch_cards(cursor, ctx))
        assert conn._dav is not None
        counts, requests = +conn._dav.counts, conn._dav.requests
    finally:
        conn.close()
    return batches, batches[-1].cursor, counts, requests


def ids(batches: list[CardBatch]) -> tuple[set[str], set[str]]:
    return ({c.card_id for b in batches for c in b.cards}, {g for b in batches for g in b.gone})


def test_every_address_book_is_read_with_groups_across_books(
        tmp_path: Path, radicale_user: User, books: dict[str, str]) -> None:
    batches, _, counts, _ = synced(radicale_user, tmp_path)
    assert batches[-1].full and batches[-1].last
    book = apply({}, batches)
    by_name = {c.name: c for c in book.values()}
    assert sorted(by_name) == ["Ann Lee", "Bob Baker", "Cy Chen", "Grandma Rose"]
    ann = by_name["Ann Lee"]
    assert ann.card_id == f"/{radicale_user.name}/{books['Contacts'].split('/')[-2]}/ann.vcf"
    assert ann.emails == ("ann@example.org", "ann.lee@home.example")
    assert ann.birthday == PartialDate(4, 12) and ann.groups == ("Clients",)  # from Work
    assert by_name["Bob Baker"].groups == ("Golf", "Clients")
    assert by_name["Bob Baker"].anniversary == PartialDate(6, 1, 2010)
    assert by_name["Grandma Rose"].emails == ()
    assert ann.location == "carddav:carddav/Contacts/ann.vcf:1"
    assert counts == Counter({"sync-collection": 2, "multiget": 2, "objects": 5})


def test_address_books_chosen_by_name_or_url(tmp_path: Path, radicale_user: User,
                                             books: dict[str, str]) -> None:
    batches, *_ = synced(radicale_user, tmp_path, addressbooks=["work"])
    assert sorted(c.name for c in apply({}, batches).values()) == ["Bob Baker", "Cy Chen"]
    batches, *_ = synced(radicale_user, tmp_path / "2", addressbooks=[books["Contacts"]])
    assert sorted(c.name for c in apply({}, batches).values()) == ["Ann Lee", "Grandma Rose"]
    with pytest.raises(SourceError) as exc:
        synced(radicale_user, tmp_path / "3", addressbooks=["Family"])
    message = str(exc.value)
    assert "'Family'" in message and "accounts[carddav].addressbooks" in message
    assert "'Contacts', 'Work'" in message and "\n" not in message


def test_an_idle_sync_is_one_request_and_a_change_downloads_only_itself(
        tmp_path: Path, radicale_user: User, books: dict[str, str]) -> None:
    u = radicale_user
    first, cursor, _, requests = synced(u, tmp_path)
    assert requests >= 3  # the principal, the home set, the listing, the REPORTs
    again, cursor, counts, requests = synced(u, tmp_path, cursor)
    assert ids(again) == (set(), set()) and counts == Counter() and requests == 1
    u.put_card(f"{books['Work']}cy.vcf", vcf("cy", "Cy Chen-Li", "EMAIL:cy@gamma.example"))
    u.delete(f"{books['Contacts']}gran.vcf")
    batches, cursor, counts, requests = synced(u, tmp_path, cursor)
    assert counts == Counter({"sync-collection": 2, "multiget": 1, "objects": 1})
    (cy,), (gran,) = ids(batches)
    assert cy.endswith("/cy.vcf") and gran.endswith("/gran.vcf")
    book = apply(apply({}, first), batches)
    assert sorted(c.name for c in book.values()) == ["Ann Lee", "Bob Baker", "Cy Chen-Li"]
    assert synced(u, tmp_path, cursor)[3] == 1


def test_a_group_change_lists_every_card_again(tmp_path: Path, radicale_user: User,
                                               books: dict[str, str]) -> None:
    first, cursor, *_ = synced(radicale_user, tmp_path)
    radicale_user.put_card(f"{books['Work']}clients.vcf", group("clients", "Clients", "cy"))
    batches, _, counts, _ = synced(radicale_user, tmp_path, cursor)
    assert all(b.full for b in batches) and counts["objects"] == 1
    book = apply(apply({}, first), batches)
    assert {c.name: c.groups for c in book.values()} == {
        "Ann Lee": (), "Bob Baker": ("Golf",), "Cy Chen": ("Clients",), "Grandma Rose": ()}


def test_a_read_lost_before_the_store_committed_comes_again(
        tmp_path: Path, radicale_user: User, books: dict[str, str]) -> None:
    _, cursor, *_ = synced(radicale_user, tmp_path)
    radicale_user.put_card(f"{books['Work']}cy.vcf", vcf("cy", "Cy New", "EMAIL:cy@g.example"))
    lost, _, _, _ = synced(radicale_user, tmp_path, cursor)  # the store never saw this
    again, _, counts, requests = synced(radicale_user, tmp_path, cursor)
    assert counts == Counter() and requests == 1  # nothing new on the server ...
    assert ids(again) == ids(lost) and [c.name for b in again for c in b.cards] == ["Cy New"]


def test_a_forgotten_sync_token_reads_the_book_once_from_scratch(
        tmp_path: Path, radicale_user: User, books: dict[str, str],
        caplog: pytest.LogCaptureFixture) -> None:
    first, cursor, *_ = synced(radicale_user, tmp_path)
    radicale_user.put_card(f"{books['Work']}dee.vcf", vcf("dee", "Dee Diaz"))
    for path in (tmp_path / "carddav.carddav").glob("*.json"):
        data = json.loads(path.read_text())
        path.write_text(json.dumps({**data, "token": FORGOTTEN}))
    caplog.set_level(logging.INFO, logger="connectors.davcache")
    batches, cursor, counts, _ = synced(radicale_user, tmp_path, cursor)
    assert "no longer knows the sync-token" in caplog.text
    # both books listed again (a refusal, then from scratch), only what changed reported
    assert counts == Counter({"sync-collection": 4, "multiget": 2, "objects": 6})
    assert [c.name for b in batches for c in b.cards] == ["Dee Diaz"]
    assert len(apply(apply({}, first), batches)) == 5
    assert synced(radicale_user, tmp_path, cursor)[2] == Counter()


def test_truncated_change_lists_are_followed(tmp_path: Path, radicale_user: User,
                                             books: dict[str, str]) -> None:
    with SyncPager(radicale_user.url) as pager:
        batches, _, counts, _ = synced(radicale_user, tmp_path, url=pager.url)
        assert pager.truncated == 3  # 2 + 3 members, one per answer: 1 + 2 cut answers
        assert counts == Counter({"sync-collection": 5, "multiget": 2, "objects": 5})
        assert len(apply({}, batches)) == 4


def test_a_server_refusing_sync_collection_is_read_by_etags(
        tmp_path: Path, radicale_user: User, books: dict[str, str]) -> None:
    with SyncPager(radicale_user.url, refuse=True) as refusing:
        _, cursor, counts, _ = synced(radicale_user, tmp_path, url=refusing.url)
        assert counts == Counter({"sync-collection": 2, "list": 2, "multiget": 2,
                                  "objects": 5})
        radicale_user.put_card(f"{books['Work']}cy.vcf", vcf("cy", "Cy Two"))
        batches, _, counts, _ = synced(radicale_user, tmp_path, cursor, url=refusing.url)
        # not asked again; Work's ctag moved: listed; Contacts' did not: not even listed
        assert counts == Counter({"list": 1, "multiget": 1, "objects": 1})
        assert [c.name for b in batches for c in b.cards] == ["Cy Two"]


class NoMarkers(CarddavConnector):
    """A server with neither sync-token nor getctag (Radicale has both: hidden here)."""

    def _chosen(self, books: list[Any]) -> list[Any]:
        return [replace(b, sync_token="", ctag="") for b in super()._chosen(books)]


def test_without_markers_etags_tell_what_changed(tmp_path: Path, radicale_user: User,
                                                books: dict[str, str]) -> None:
    _, cursor, counts, _ = synced(radicale_user, tmp_path, cls=NoMarkers)
    assert counts == Counter({"list": 2, "multiget": 2, "objects": 5})
    again, cursor, counts, _ = synced(radicale_user, tmp_path, cursor, cls=NoMarkers)
    assert counts == Counter({"list": 2}) and ids(again) == (set(), set())
    radicale_user.delete(f"{books['Work']}cy.vcf")
    batches, _, counts, _ = synced(radicale_user, tmp_path, cursor, cls=NoMarkers)
    assert counts == Counter({"list": 2}) and ids(batches)[1] == {
        f"/{radicale_user.name}/{books['Work'].split('/')[-2]}/cy.vcf"}


def test_a_wrong_password_is_an_auth_error_without_the_secret(
        tmp_path: Path, radicale_user: User, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Wr0ng-s3cret-value"
    with pytest.raises(AuthError) as exc:
        synced(radicale_user, tmp_path, password_command=f"echo {secret}")
    message = str(exc.value)
    assert message.startswith(f"CardDAV server refused {radicale_user.name}")
    assert "password_command" in message and secret not in message + caplog.text


def test_address_books_emptied_are_refused_until_accepted(
        tmp_path: Path, radicale_user: User, books: dict[str, str]) -> None:
    first, cursor, *_ = synced(radicale_user, tmp_path)
    for book in books.values():
        radicale_user.delete(book)
    with pytest.raises(ShrinkRefused) as exc:
        synced(radicale_user, tmp_path, cursor)
    assert str(exc.value).startswith(f"carddav: every address book of {radicale_user.name} ")
    assert str(exc.value).endswith("keepwarm sync --accept-shrink carddav")
    batches, *_ = synced(radicale_user, tmp_path, cursor, ctx=replace(CTX, accept_shrink=True))
    assert apply(apply({}, first), batches) == {}


def test_the_config_checks_a_carddav_account_when_it_loads(tmp_path: Path) -> None:
    base = {"name": "book", "type": "carddav", "url": "http://dav.example.com/",
            "username": "me"}
    with pytest.raises(ConfigError) as exc:
        parse({"accounts": [{**base, "addressbooks": "Work"}]}, tmp_path / "config.toml")
    problems = "\n".join(exc.value.problems)
    assert "accounts[0].url: plain http sends credentials in clear" in problems
    assert "accounts[0].password_command: missing" in problems
    assert "accounts[0].addressbooks" in problems
