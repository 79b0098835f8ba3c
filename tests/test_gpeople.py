"""Google Contacts (``contacts = true`` on a gmail account) with the real Google client
library against the fake People API (tests.servers.people_api): paging, sync tokens and
their expiry, groups, every form of birthday Google holds, faults. The contract every
address book keeps is tests/conformance/test_contacts.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors import gmail, googleauth
from connectors.gmail import GmailConnector
from daemon.config import parse
from daemon.errors import AuthError, SourceError, TransientError
from daemon.model import AccountConfig, Card, CardBatch, FetchContext, PartialDate
from tests.conformance.harnesses.gmail import person_of
from tests.servers.google import User

NOW = datetime.now(UTC).replace(microsecond=0)
CTX = FetchContext(now=NOW, tz=ZoneInfo("Europe/Berlin"), window_start=NOW - timedelta(days=1095),
                   window_end=NOW + timedelta(days=14))
AUTH = "https://www.googleapis.com/auth/"
REPO = Path(__file__).resolve().parent.parent
PEOPLE_CALLS = ("connections.list", "contactGroups.list")


def account(user: User, tmp_path: Path, **options: Any) -> AccountConfig:
    return user.account(tmp_path, name="g", mail=False, calendar=False,
                        **{"contacts": True, **options})


def read(acc: AccountConfig, cursor: Any = None, ctx: FetchContext = CTX
         ) -> tuple[list[CardBatch], Any]:
    conn = GmailConnector(acc, backoff=0.01)
    try:
        batches = list(conn.fetch_cards(cursor, ctx))
    finally:
        conn.close()
    return batches, json.loads(json.dumps(batches[-1].cursor))


def cards(batches: list[CardBatch]) -> dict[str, Card]:
    return {c.card_id: c for b in batches for c in b.cards}


def requests(user: User) -> int:
    return sum(user.count(kind) for kind in PEOPLE_CALLS)


def add(user: User, n: int, groups: tuple[str, ...] = ()) -> list[str]:
    """``n`` contacts with an address each, in ``groups`` (user groups, made if missing)."""
    book = user.contacts
    with user.server.lock:
        ids = {g: book.group(g) for g in groups}
        return [book.put(person_of(Card(f"c{i}", name=f"Person {i}",
                                        emails=(f"p{i}@example.org",), groups=groups), ids))
                for i in range(n)]


# -- the option and its permission ------------------------------------------------------------
def test_contacts_are_read_only_when_asked_with_the_one_scope_more(
        google_user: User, tmp_path: Path) -> None:
    def scopes(**options: Any) -> list[str]:
        return [s.removeprefix(AUTH) for s in gmail.scopes_for(
            GmailConnector.with_defaults(options), False)]

    assert scopes(mail=False, calendar=False, contacts=True) == ["contacts.readonly"]
    assert "contacts.readonly" not in scopes()
    assert not GmailConnector.reads_cards(GmailConnector.with_defaults({}))
    add(google_user, 3)
    off = google_user.account(tmp_path, name="off", calendar=False, mail=False)
    assert list(GmailConnector(off).fetch_cards(None, CTX)) == []
    assert requests(google_user) == 0
    cfg = parse({"store": {"path": str(tmp_path / "kw.sqlite"), "state_dir": str(tmp_path)},
                 "accounts": [{"name": "g", "type": "gmail", "client_secrets": "c.json",
                               "contacts": True}]}, tmp_path / "config.toml")
    assert GmailConnector.reads_cards(cfg.accounts[0].options)
    # People has a host of its own at Google; another endpoint serves it at its root
    assert googleauth.people_root("https://www.googleapis.com/") == \
        "https://people.googleapis.com/"
    assert googleauth.people_root(google_user.server.url) == google_user.server.url


def test_keepwarm_auth_asks_for_the_contacts_permission_and_the_token_reads_them(
        google_user: User, tmp_path: Path) -> None:
    google_user.client_secrets(tmp_path / "client.json")
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "kw.sqlite"\nstate_dir = "state"\n[[accounts]]\n'
                    f'name = "g"\ntype = "gmail"\nclient_secrets = "client.json"\n'
                    f'mail = false\ncalendar = false\ncontacts = true\n'
                    f'endpoint = "{google_user.server.url}"\n')
    browser = tmp_path / "browser"
    script = REPO / "tests" / "servers" / "google_browser.py"
    browser.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser), "OAUTHLIB_INSECURE_TRANSPORT": "1"}
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(path), "auth",
                           "g"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "with these permissions: contacts.readonly" in done.stdout
    token = json.loads((tmp_path / "state" / "g.google-token.json").read_text())
    assert token["scopes"] == [AUTH + "contacts.readonly"]
    add(google_user, 2)
    acc = parse({"store": {"state_dir": str(tmp_path / "state")}, "accounts": [{
        "name": "g", "type": "gmail", "client_secrets": "client.json", "mail": False,
        "calendar": False, "contacts": True, "endpoint": google_user.server.url}]},
        path).accounts[0]
    assert len(cards(read(acc)[0])) == 2


def test_a_sign_in_without_the_contacts_permission_names_keepwarm_auth(
        google_user: User, tmp_path: Path) -> None:
    old = account(google_user, tmp_path, scopes=[AUTH + "gmail.metadata"])
    with pytest.raises(AuthError, match=r"more permissions \(contacts.readonly\) than it was "
                                        r"granted; run `keepwarm auth g`"):
        read(old)
    # a token that claims the scope Google did not grant: Google's 403, the same advice
    token = tmp_path / "g.google-token.json"
    info = json.loads(token.read_text())
    info["scopes"] = [AUTH + "contacts.readonly"]
    token.write_text(json.dumps(info))
    with pytest.raises(AuthError, match=r"lacks a permission.*run `keepwarm auth g`"):
        read(old)


# -- reading, paging, the cursor ---------------------------------------------------------------
def test_5000_contacts_take_at_most_six_requests_and_an_idle_sync_one(
        google_user: User, tmp_path: Path) -> None:
    add(google_user, 5000, groups=("Clients",))
    acc = account(google_user, tmp_path)
    batches, cursor = read(acc)
    assert len(cards(batches)) == 5000
    assert {c.groups for c in cards(batches).values()} == {("Clients",)}
    assert (google_user.count("connections.list"), google_user.count("contactGroups.list")) \
        == (5, 1)
    before = requests(google_user)
    again, _ = read(acc, cursor)
    assert cards(again) == {} and requests(google_user) - before == 1


def test_pages_are_batches_and_only_the_last_moves_the_cursor(
        google_user: User, tmp_path: Path) -> None:
    add(google_user, 2500)
    acc = account(google_user, tmp_path)
    batches, cursor = read(acc)
    assert [len(b.cards) for b in batches] == [1000, 1000, 500]
    assert [(b.full, b.last, b.cursor) for b in batches[:-1]] == [(True, False, None)] * 2
    assert batches[-1].full and batches[-1].last and cursor["sync"]
    # an interrupted listing is redone from the cursor it left: the old one
    redo, _ = read(acc, batches[0].cursor)
    assert len(cards(redo)) == 2500 and redo[0].full


def test_changes_and_deletions_come_alone_with_their_ids(
        google_user: User, tmp_path: Path) -> None:
    ids = add(google_user, 3)
    acc = account(google_user, tmp_path)
    _, cursor = read(acc)
    with google_user.server.lock:
        google_user.contacts.delete(ids[0])
        google_user.contacts.put({"resourceName": ids[1], "names": [{"displayName": "New"}]})
    (batch,), _ = read(acc, cursor)
    assert not batch.full and list(batch.gone) == [ids[0]]
    assert [(c.card_id, c.name, c.location) for c in batch.cards] == [
        (ids[1], "New", f"contacts:{ids[1]}")]


def test_an_expired_sync_token_lists_everything_again_once(
        google_user: User, tmp_path: Path) -> None:
    ids = add(google_user, 3)
    acc = account(google_user, tmp_path)
    _, cursor = read(acc)
    with google_user.server.lock:
        google_user.contacts.delete(ids[0])
        google_user.contacts.expire_tokens()
    before = google_user.count("connections.list")
    batches, cursor = read(acc, cursor)
    assert google_user.count("connections.list") - before == 2  # refused, then the listing
    assert batches[-1].full and batches[-1].last and set(cards(batches)) == set(ids[1:])
    assert cards(read(acc, cursor)[0]) == {}


def test_seven_days_after_the_full_listing_the_token_expires(
        google_user: User, tmp_path: Path) -> None:
    add(google_user, 2)
    acc = account(google_user, tmp_path)
    _, cursor = read(acc)
    _, cursor = read(acc, cursor)  # an incremental token still descends from that listing
    google_user.contacts.clock = lambda: time.time() + 7 * 86400 + 60
    batches, _ = read(acc, cursor, CTX)
    assert batches[-1].full and len(cards(batches)) == 2


def test_a_second_expiry_in_a_row_is_an_error_not_a_loop(
        google_user: User, tmp_path: Path) -> None:
    add(google_user, 2)
    acc = account(google_user, tmp_path)
    _, cursor = read(acc)
    google_user.fault("connections.list", status=400, reason="EXPIRED_SYNC_TOKEN", times=5)
    before = google_user.count("connections.list")
    with pytest.raises(SourceError, match="refused a full listing of the contacts of g"):
        read(acc, cursor)
    assert google_user.count("connections.list") - before == 2


@pytest.mark.parametrize("retry_after", [0.3, None])
def test_a_429_is_retried_with_the_wait_google_asks(
        google_user: User, tmp_path: Path, retry_after: float | None) -> None:
    add(google_user, 2)
    acc = account(google_user, tmp_path)
    google_user.fault("connections.list", status=429, retry_after=retry_after, times=1)
    started = time.monotonic()
    batches, _ = read(acc)
    waited = time.monotonic() - started
    assert len(cards(batches)) == 2 and google_user.count("connections.list") == 2
    assert waited >= 0.3 if retry_after else waited < 0.3
    google_user.fault("connections.list", status=429, retry_after=7, times=9)
    with pytest.raises(TransientError, match="Google is busy") as caught:
        read(account(google_user, tmp_path, retries=0))
    assert caught.value.retry_after == 7


# -- what a person becomes ---------------------------------------------------------------------
def membership(resource: str) -> dict[str, Any]:
    return {"contactGroupMembership": {"contactGroupResourceName": resource}}


def test_groups_starred_and_system_groups(google_user: User, tmp_path: Path) -> None:
    book = google_user.contacts
    with google_user.server.lock:
        clients = book.group("Clients")
        pid = book.put({"names": [{"displayName": "Jane"}], "memberships": [
            membership(r) for r in ("contactGroups/myContacts", "contactGroups/starred",
                                    "contactGroups/friends", clients, "contactGroups/blocked",
                                    "contactGroups/deadbeef")]})
    acc = account(google_user, tmp_path)
    batches, cursor = read(acc)
    jane = cards(batches)[pid]
    assert (jane.groups, jane.starred) == (("Friends", "Clients"), True)
    assert google_user.count("contactGroups.list") == 1  # the unknown group asked no more
    # a change within the day: the kept names serve (a Workspace domain membership and the
    # older contactGroupId name no group to look up); a new group: listed again, once
    with google_user.server.lock:
        book.put({"resourceName": pid, "memberships": [
            {"domainMembership": {"inViewerDomain": True}},
            {"contactGroupMembership": {"contactGroupId": clients.split("/")[1]}}]})
    batches, cursor = read(acc, cursor)
    assert cards(batches)[pid].groups == ("Clients",)
    assert google_user.count("contactGroups.list") == 1
    with google_user.server.lock:
        book.put({"resourceName": pid, "memberships": [membership(book.group("Golf"))]})
    assert cards(read(acc, cursor)[0])[pid].groups == ("Golf",)
    assert google_user.count("contactGroups.list") == 2


def test_a_renamed_group_reaches_its_members_within_a_day(
        google_user: User, tmp_path: Path) -> None:
    ids = add(google_user, 3, groups=("Clients",))
    acc = account(google_user, tmp_path)
    _, cursor = read(acc)
    with google_user.server.lock:
        google_user.contacts.rename_group(google_user.contacts.group("Clients"), "Customers")
    assert cards(read(acc, cursor)[0]) == {}  # within the day: not asked
    later = FetchContext(now=NOW + timedelta(days=1, minutes=1), tz=CTX.tz,
                         window_start=CTX.window_start, window_end=CTX.window_end)
    batches, cursor = read(acc, cursor, later)
    assert batches[-1].full and {c.groups for c in cards(batches).values()} == {("Customers",)}
    assert set(cards(batches)) == set(ids)
    assert cards(read(acc, cursor, later)[0]) == {}


def test_a_rename_learnt_during_a_read_lists_everything_at_the_next(
        google_user: User, tmp_path: Path) -> None:
    ids = add(google_user, 2, groups=("Clients",))
    acc = account(google_user, tmp_path)
    _, cursor = read(acc)
    book = google_user.contacts
    with google_user.server.lock:
        book.rename_group(book.group("Clients"), "Customers")
        ids += [book.put({"memberships": [membership(book.group("Golf"))]})]
    batches, cursor = read(acc, cursor)  # the new group has the names listed again
    assert cards(batches)[ids[2]].groups == ("Golf",) and cursor["sync"] is None
    batches, cursor = read(acc, cursor)
    assert batches[-1].full and [cards(batches)[i].groups for i in ids] == [
        ("Customers",), ("Customers",), ("Golf",)]
    assert cursor["sync"] and google_user.count("contactGroups.list") == 2


def test_birthdays_and_anniversaries_in_every_form_google_holds(
        google_user: User, tmp_path: Path) -> None:
    primary = {"metadata": {"primary": True}}
    people = {
        "full": {"birthdays": [{"date": {"year": 1986, "month": 4, "day": 12}}]},
        "year 0": {"birthdays": [{"date": {"year": 0, "month": 12, "day": 31}}]},
        "no year": {"birthdays": [{"date": {"month": 2, "day": 29}}]},
        "apple": {"birthdays": [{"date": {"year": 1604, "month": 7, "day": 1}}]},
        "primary wins": {"birthdays": [{"date": {"year": 1990, "month": 1, "day": 2}},
                                       {**primary, "date": {"year": 1991, "month": 3, "day": 4}}]},
        "words": {"birthdays": [{"text": "  sometime in spring "}]},
        "date over words": {"birthdays": [{"text": "4/5", "date": {"month": 4, "day": 5}}]},
        "malformed": {"birthdays": [{"date": {"year": 1990, "month": 13, "day": 1}}]},
        "feb 29 of 2001": {"birthdays": [{"date": {"year": 2001, "month": 2, "day": 29}}]},
        "anniversary": {"events": [{"type": "wedding", "date": {"month": 1, "day": 1}},
                                   {"type": "Anniversary",
                                    "date": {"year": 2010, "month": 6, "day": 1}}]},
    }
    with google_user.server.lock:
        for name, fields in people.items():
            google_user.contacts.put({"names": [{"displayName": name}], **fields})
    got = {c.name: (c.birthday, c.birthday_text, c.anniversary, c.notes)
           for c in cards(read(account(google_user, tmp_path))[0]).values()}
    assert got == {
        "full": (PartialDate(4, 12, 1986), "", None, ()),
        "year 0": (PartialDate(12, 31), "", None, ()),
        "no year": (PartialDate(2, 29), "", None, ()),
        "apple": (PartialDate(7, 1), "", None, ()),
        "primary wins": (PartialDate(3, 4, 1991), "", None, ()),
        "words": (None, "sometime in spring", None, ()),
        "date over words": (PartialDate(4, 5), "", None, ()),
        "malformed": (None, "", None, ("birthday 1990-13-1 is not a date; ignored",)),
        "feb 29 of 2001": (None, "", None, ("birthday 2001-2-29 is not a date; ignored",)),
        "anniversary": (None, "", PartialDate(6, 1, 2010), ()),
    }


def test_names_and_addresses_and_a_person_that_cannot_be_read(
        google_user: User, tmp_path: Path) -> None:
    with google_user.server.lock:
        ok = google_user.contacts.put({
            "names": [{"displayName": "Other Name"},
                      {"metadata": {"primary": True}, "displayName": "Jane\u200b Doe"}],
            "emailAddresses": [{"value": "Jane@Example.ORG"}, {"value": "jane@example.org"},
                               {"value": "not an address"}, {"value": "j@work.example"}]})
        bad = google_user.contacts.put({"names": [{"displayName": "Broken"}],
                                        "emailAddresses": 5})
        odd = google_user.contacts.put({"memberships": ["contactGroups/starred"]})
    (batch,) = read(account(google_user, tmp_path))[0]
    (card,) = batch.cards
    assert (card.card_id, card.name, card.emails) == (
        ok, "Jane Doe", ("jane@example.org", "j@work.example"))
    assert sorted((s.location, s.reason) for s in batch.skipped) == sorted([
        (f"contacts:{bad}", "unreadable contact (TypeError)"),
        (f"contacts:{odd}", "unreadable contact (AttributeError)")])
