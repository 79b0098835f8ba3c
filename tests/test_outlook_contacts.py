"""Outlook contacts (``contacts = true``) against the local Microsoft Graph: the scope, the
fields Graph has, contact folders, delta rounds and what happens when they fail.

The contract every address book keeps is tests/conformance/test_contacts.py (the outlook
harness runs it); this file holds what is Outlook's own. The user's side - contacts and
folders made, edited, moved and deleted in Outlook - is played on the server's state.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.outlook import OutlookConnector
from connectors.outlookcontacts import to_card
from daemon.cli import main
from daemon.config import parse
from daemon.errors import AuthError, ConfigError, SourceError, TransientError
from daemon.model import Card, CardBatch, FetchContext, PartialDate, Skipped
from tests.conformance.test_contacts import apply
from tests.servers import faultplan
from tests.servers.faultplan import FaultPlan
from tests.servers.graph_contacts import DEFAULT_FOLDER
from tests.servers.microsoft import CLIENT_ID, MicrosoftServer, trust

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def ctx(now: datetime = NOW, tz: str = "Europe/Berlin") -> FetchContext:
    return FetchContext(now=now, tz=ZoneInfo(tz), window_start=now - timedelta(days=400),
                        window_end=now + timedelta(days=14))


def account(server: MicrosoftServer, tmp_path: Path, **options: Any) -> Any:
    """A signed-in account reading contacts (unless told otherwise)."""
    acct = server.account(tmp_path, **{"contacts": True, **options})
    if not Path(acct.options["token_cache"]).exists():
        server.sign_in(acct)
    return acct


def fetch(acct: Any, cursor: Any = None, now: datetime = NOW, tz: str = "Europe/Berlin"
          ) -> tuple[list[CardBatch], Any]:
    conn = OutlookConnector(acct)
    try:
        batches = list(conn.fetch_cards(cursor, ctx(now, tz)))
    finally:
        conn.close()
    return batches, batches[-1].cursor if batches else cursor


def person(name: str, *emails: str, **extra: Any) -> dict[str, Any]:
    return {"displayName": name, "emailAddresses": [{"name": name, "address": e}
                                                    for e in emails], **extra}


def contact_hits(server: MicrosoftServer) -> list[str]:
    return [h.path.removeprefix("/v1.0") for h in server.hits("GET", "/me/contact")]


# -- the option and the permission ------------------------------------------------------
def test_contacts_read_is_asked_only_with_contacts_on(microsoft: MicrosoftServer,
                                                      tmp_path: Path) -> None:
    plain = account(microsoft, tmp_path / "a", contacts=False)
    assert "Contacts.Read" not in microsoft.state.scopes
    assert not OutlookConnector.reads_cards(plain.options)
    assert fetch(plain)[0] == [] and contact_hits(microsoft) == []
    account(microsoft, tmp_path / "b")
    assert "Contacts.Read" in microsoft.state.scopes
    assert "Contacts.ReadWrite" not in microsoft.state.scopes  # read-only, least privilege
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.contacts"):
        parse({"accounts": [{"name": "o", "type": "outlook", "client_id": CLIENT_ID,
                             "contacts": "yes"}]}, tmp_path / "config.toml")


def test_a_sign_in_without_contacts_read_says_run_keepwarm_auth(microsoft: MicrosoftServer,
                                                                tmp_path: Path) -> None:
    microsoft.book.add(**person("Ann", "ann@x.org"))
    before = account(microsoft, tmp_path, contacts=False)  # signed in before contacts = true
    after = microsoft.account(tmp_path, contacts=True)
    assert after.options["token_cache"] == before.options["token_cache"]
    with pytest.raises(AuthError, match=r"^Microsoft refused the saved sign-in of outlook; "
                                        r"run `keepwarm auth outlook`$"):
        fetch(after)
    microsoft.sign_in(after)  # `keepwarm auth outlook` asks for Contacts.Read too
    assert [c.name for b in fetch(after)[0] for c in b.cards] == ["Ann"]
    for scopes in microsoft.state.granted.values():  # an admin withdrew the permission
        scopes.discard("Contacts.Read")
    with pytest.raises(AuthError, match=r"denied listing contact folders for outlook \(HTTP "
                                        r"403 ErrorAccessDenied\); run `keepwarm auth outlook`"):
        fetch(after)


# -- fields -------------------------------------------------------------------------------
@pytest.mark.parametrize(("birthday", "expected"), [
    ("1986-04-12T00:00:00Z", PartialDate(4, 12, 1986)),
    ("1604-02-29T00:00:00Z", PartialDate(2, 29)),  # Outlook's and Apple's "no year"
    ("1604-12-31T00:00:00Z", PartialDate(12, 31)),
    ("1986-04-11T22:00:00Z", PartialDate(4, 12, 1986)),  # written as local midnight (UTC+2)
    ("1986-04-12T05:00:00Z", PartialDate(4, 12, 1986)),  # ... and from UTC-5
    ("1986-04-12T11:59:00Z", PartialDate(4, 12, 1986)),  # ActiveSync's 11:59
    ("2000-02-29T00:00:00+00:00", PartialDate(2, 29, 2000)),
    ("0001-01-01T00:00:00Z", None),  # .NET's and Exchange's "no date"
    ("1601-01-01T00:00:00Z", None),
    ("4501-01-01T00:00:00Z", None),
    (None, None),
])
def test_a_birthday_is_its_utc_date_and_1604_is_no_year(birthday: str | None,
                                                        expected: PartialDate | None) -> None:
    card = to_card({"id": "c1", "displayName": "X", "birthday": birthday})
    assert isinstance(card, Card) and (card.birthday, card.notes) == (expected, ())


def test_fields_and_what_cannot_be_read() -> None:
    card = to_card({
        "id": "c1", "displayName": "", "givenName": "Jane", "surname": "Doe",
        "emailAddresses": [{"name": "Jane", "address": "Jane.Doe@Example.ORG"},
                           {"address": "jane.doe@example.org"}, {"address": ""},
                           {"address": "/o=ExchangeLabs/ou=Exchange/cn=Recipients/cn=jane"},
                           "junk", {"address": "j@home.example"}],
        "categories": ["Clients", " Clients ", "", "Golf\u200b"],
        "birthday": "the 12th of April"}, "Work")
    assert isinstance(card, Card)
    assert (card.card_id, card.name, card.emails, card.groups, card.location) == (
        "c1", "Jane Doe", ("jane.doe@example.org", "j@home.example"), ("Clients", "Golf"),
        "outlook:Work#c1")
    assert card.birthday is None and card.birthday_text == ""  # never guessed
    assert card.notes == ("birthday 'the 12th of April' is not a date; ignored",)
    odd = to_card({"id": "c2", "emailAddresses": "x@y.org", "categories": None,
                   "birthday": 19860412})
    assert isinstance(odd, Card) and (odd.name, odd.emails, odd.groups) == ("", (), ())
    assert odd.notes == ("birthday '19860412' is not a date; ignored",)
    assert to_card({"displayName": "No id"}) == Skipped("outlook:Contacts#?", "contact has no id")


def test_only_the_fields_used_are_asked_for_and_the_users_zone_changes_nothing(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path)
    microsoft.book.add(**person("Jane Doe", "jane@x.org", categories=["Clients"],
                                birthday="1986-04-12T00:00:00Z", mobilePhone="+49 1",
                                personalNotes="secret"))
    microsoft.book.add(**person("Grandma Rose", birthday="1941-11-03T00:00:00Z"))
    books = []
    for tz in ("Pacific/Kiritimati", "America/Los_Angeles"):  # UTC+14 and UTC-8
        batches, _ = fetch(acct, tz=tz)
        books.append({c.name: (c.emails, c.groups, c.birthday) for c in apply({}, batches)
                      .values()})
    assert books[0] == books[1] == {
        "Jane Doe": (("jane@x.org",), ("Clients",), PartialDate(4, 12, 1986)),
        "Grandma Rose": ((), (), PartialDate(11, 3, 1941))}
    (first, *_) = microsoft.hits("GET", "/me/contacts/delta")
    assert first.query["$select"] == ("displayName,givenName,surname,emailAddresses,"
                                      "categories,birthday,homeAddress,businessAddress,"
                                      "otherAddress")


# -- folders --------------------------------------------------------------------------------
def _folders(server: MicrosoftServer) -> dict[str, str]:
    book = server.book
    work = book.add_folder("Work")
    old = book.add_folder("Old", parent=work)
    cache = book.add_folder("Recipient Cache")  # Exchange's own, and hidden ones
    guid = book.add_folder("{06967759-274D-40B2-A3EB-D7F9E73727D7}")
    book.add(**person("Ann", "ann@x.org"))
    book.add(work, **person("Bob", "bob@x.org"))
    book.add(old, **person("Cy", "cy@x.org"))
    book.add(cache, **person("Everyone I ever wrote to", "auto@x.org"))
    book.add(guid, **person("Hidden", "hidden@x.org"))
    return {"work": work, "old": old}


def test_every_folder_at_any_depth_but_exchanges_own(microsoft: MicrosoftServer,
                                                     tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path)
    folders = _folders(microsoft)
    batches, cursor = fetch(acct)
    book = apply({}, batches)
    assert sorted(c.name for c in book.values()) == ["Ann", "Bob", "Cy"]
    assert {c.location.partition("#")[0] for c in book.values()} == {
        "outlook:Contacts", "outlook:Work", "outlook:Work/Old"}
    assert all(b.full for b in batches) and [b.last for b in batches][-1]
    microsoft.log.clear()
    again, cursor = fetch(acct, cursor, NOW + timedelta(minutes=59))
    assert apply(book, again) == book
    assert sorted(contact_hits(microsoft)) == sorted([  # idle: one request per folder
        "/me/contacts/delta", *(f"/me/contactFolders/{f}/contacts/delta"
                                for f in (folders["work"], folders["old"]))])
    late = microsoft.book.add_folder("Late")
    microsoft.book.add(late, **person("Dee", "dee@x.org"))
    assert fetch(acct, cursor, NOW + timedelta(minutes=59))[0][-1].cards == []  # not yet
    microsoft.log.clear()
    batches, _ = fetch(acct, cursor, NOW + timedelta(minutes=61))  # the hourly listing
    assert [c.name for b in batches for c in b.cards] == ["Dee"]
    assert not any(b.full for b in batches)
    assert "/me/contactFolders" in contact_hits(microsoft)


def test_a_moved_contact_and_a_deleted_folder(microsoft: MicrosoftServer,
                                              tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path)
    folders = _folders(microsoft)
    batches, cursor = fetch(acct)
    book = apply({}, batches)
    ann = next(k for k, c in book.items() if c.name == "Ann")
    moved = microsoft.book.move(ann, folders["old"])
    batches, cursor = fetch(acct, cursor)
    book = apply(book, batches)
    assert ann in {g for b in batches for g in b.gone} and moved in book and ann not in book
    assert sorted(c.name for c in book.values()) == ["Ann", "Bob", "Cy"]
    microsoft.book.delete_folder(folders["work"])  # Work and Old, with Bob, Cy and Ann
    batches, cursor = fetch(acct, cursor)
    assert any(b.full for b in batches)  # a folder gone: who was in it is known no more
    book = apply(book, batches)
    assert [c.name for c in book.values()] == []
    assert fetch(acct, cursor)[0][-1].full is False


# -- rounds, pages and failures ------------------------------------------------------------
@contextmanager
def serving(max_page: int) -> Iterator[MicrosoftServer]:
    trust()
    server = MicrosoftServer(max_page=max_page).start()
    try:
        yield server
    finally:
        server.stop()


def test_pages_of_200_resume_where_they_stopped(tmp_path: Path) -> None:
    with serving(max_page=1000) as server:
        acct = account(server, tmp_path)
        for n in range(450):
            server.book.add(**person(f"P{n}", f"p{n}@x.org"))
        batches, cursor = fetch(acct)
        assert [len(b.cards) for b in batches] == [200, 200, 50, 0]
        assert [b.cursor for b in batches[:-1]] == [None] * 3  # a crash lists again
        assert [(b.full, b.last) for b in batches] == [(True, False)] * 3 + [(True, True)]
        for n, cid in enumerate(list(server.book.contacts)):
            server.book.edit(cid, displayName=f"Q{n}")
        batches, _ = fetch(acct, cursor)
        assert [len(b.cards) for b in batches] == [200, 200, 50]
        resumed, _ = fetch(acct, batches[0].cursor)  # a crash after the first page
        assert sorted(c.name for b in resumed for c in b.cards) == sorted(
            c.name for b in batches[1:] for c in b.cards)


def test_an_expired_token_lists_everything_once_and_never_loops(microsoft: MicrosoftServer,
                                                                tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path)
    folders = _folders(microsoft)
    batches, cursor = fetch(acct)
    book = apply({}, batches)
    bob = next(k for k, c in book.items() if c.name == "Bob")
    microsoft.book.delete(bob)
    microsoft.expire_delta_tokens()  # 410 SyncStateNotFound
    microsoft.log.clear()
    batches, cursor = fetch(acct, cursor)
    assert sorted(c.name for c in apply(book, batches).values()) == ["Ann", "Cy"]
    assert [h.status for h in microsoft.hits("GET", "/contacts/delta")].count(410) == 1
    garbled = {**cursor, "folders": {**cursor["folders"], folders["old"]: {
        "name": "Work/Old", "link": f"{microsoft.url}/v1.0/me/contactFolders/"
                                    f"{folders['old']}/contacts/delta?$deltatoken=@@@"}}}
    batches, _ = fetch(acct, garbled)  # 400: a fresh listing too
    assert batches[-1].full and batches[-1].last
    microsoft.expire_delta_tokens()
    microsoft.fault("410", path="/contacts/delta", times=1000)  # refuses every round
    microsoft.log.clear()
    with pytest.raises(SourceError, match="refused a fresh listing of the contacts in "
                                          "Contacts at once"):
        fetch(acct, cursor)
    assert len(microsoft.hits("GET", "/contacts/delta")) == 2  # the stale link, one fresh try


def test_throttling_waits_with_or_without_retry_after(microsoft: MicrosoftServer,
                                                      tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path)
    microsoft.book.add(**person("Ann", "ann@x.org"))
    microsoft.fault("429", path="/me/contacts/delta", seconds=1)
    microsoft.fault("429", path="/me/contacts/delta", retry_after=False)
    microsoft.fault("503", path="/me/contactFolders", seconds=0)
    batches, _ = fetch(acct)
    assert [c.name for b in batches for c in b.cards] == ["Ann"]
    hits = microsoft.hits("GET", "/me/contacts/delta")
    assert [h.status for h in hits] == [429, 429, 200]
    assert 1.0 <= hits[1].start - hits[0].end < 1.5  # Retry-After: exactly that long
    microsoft.fault("429", path="/contacts/delta", seconds=3600)
    start = time.monotonic()
    with pytest.raises(SourceError, match="asks outlook to wait 3600 s"):
        fetch(acct)
    assert time.monotonic() - start < 2


def test_a_listing_cut_short_is_done_again_from_the_start(tmp_path: Path) -> None:
    with serving(max_page=3) as server:
        acct = account(server, tmp_path, retries=0)
        for n in range(7):
            server.book.add(**person(f"P{n}", f"p{n}@x.org"))
        conn = OutlookConnector(acct)
        try:
            listing = conn.fetch_cards(None, ctx())
            first = next(listing)  # the first page of 3
            server.fault("500", path="/me/contacts/delta")
            with pytest.raises(TransientError, match="could not serve reading the contacts"):
                next(listing)
        finally:
            conn.close()
        assert first.cursor is None and first.full and not first.last  # nothing is kept
        batches, _ = fetch(acct, first.cursor)
        assert len(apply(apply({}, [first]), batches)) == 7


def test_under_per_request_faults_the_book_ends_as_the_servers(tmp_path: Path) -> None:
    with serving(max_page=3) as server:
        acct = account(server, tmp_path)
        work = server.book.add_folder("Work")
        ids = [server.book.add(work if n % 3 else DEFAULT_FOLDER,
                               **person(f"P{n}", f"p{n}@x.org")) for n in range(20)]
        server.plan = FaultPlan(faultplan.HTTP, rate=0.3, seed=14)
        book: dict[str, Card] = {}
        cursor = None
        for step in range(4):
            batches, cursor = fetch(acct, cursor)
            book = apply(book, batches)
            server.book.edit(ids[step], displayName=f"Q{step}")
            server.book.delete(ids[10 + step])
            if step == 2:
                server.expire_delta_tokens()
        book = apply(book, fetch(acct, cursor)[0])
        live = {cid: it.data["displayName"] for cid, it in server.book.contacts.items()
                if not it.deleted}
        assert {k: c.name for k, c in book.items()} == live and len(live) == 16
        assert any(fault for tries in server.plan.sent.values() for _, fault in tries)


def test_keepwarm_auth_asks_for_contacts_read_and_a_wrong_value_is_one_line(
        microsoft: MicrosoftServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def config(contacts: str) -> str:
        path = tmp_path / "config.toml"
        path.write_text(f'[store]\nstate_dir = "{tmp_path / "state"}"\n'
                        f'[[accounts]]\nname = "work"\ntype = "outlook"\n'
                        f'client_id = "{CLIENT_ID}"\nauthority_host = "{microsoft.url}"\n'
                        f'graph_endpoint = "{microsoft.url}/v1.0"\ncontacts = {contacts}\n')
        return str(path)

    assert main(["--config", config("true"), "auth", "work", "--no-browser"]) == 0
    assert "Contacts.Read" in microsoft.state.scopes
    capsys.readouterr()
    assert main(["--config", config('"yes"'), "auth", "work", "--no-browser"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "accounts[0].contacts" in err[0] and "Traceback" not in err[0]
