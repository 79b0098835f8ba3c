"""The IMAP source's received folders against a real Dovecot: INBOX plus the SPECIAL-USE
\\Archive and \\All folders by default, each read once, Message-IDs delivered once per fetch,
sent folders first; explicit folders, none, and a missing one named in one line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.imap import ImapConnector
from connectors.imapfolders import (
    RECEIVED_FLAGS,
    FolderState,
    Plan,
    Status,
    estimate,
    find_special,
)
from daemon.errors import SourceError
from daemon.model import AccountConfig, Batch, FetchContext, Mail
from tests.servers.dovecot import Dovecot

NOW = datetime.now(UTC).replace(microsecond=0)
CTX = FetchContext(now=NOW, tz=UTC, window_start=NOW - timedelta(days=1095),
                   window_end=NOW + timedelta(days=14))
SPECIAL = {"Archive": "\\Archive", "All Mail": "\\All"}


def raw(sender: str, to: str, mid: str, days_ago: int = 5) -> bytes:
    date = (NOW - timedelta(days=days_ago)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (f"From: {sender}\r\nTo: {to}\r\nDate: {date}\r\nMessage-ID: <{mid}>\r\n"
            f"Subject: about {mid}\r\n\r\nbody\r\n").encode()


MINE = raw("Me <me@example.com>", "ann@example.org", "m1@example.com", 9)
REPLY = raw("Ann <ann@example.org>", "me@example.com", "r1@example.org", 8)
ARCHIVED = raw("Bob <bob@example.org>", "me@example.com", "a1@example.org", 7)


@pytest.fixture
def server() -> Iterator[Dovecot]:
    with Dovecot(special=SPECIAL, rawlog=True) as d:
        yield d


def fetch(account: AccountConfig, cursor: Any = None) -> tuple[list[Batch], Any]:
    conn = ImapConnector(account)
    try:
        batches = list(conn.fetch(cursor, CTX))
    finally:
        conn.close()
    return batches, batches[-1].cursor


def got(batches: list[Batch]) -> list[tuple[str, bool, str]]:
    return [(o.message_id, o.received, o.location.rsplit("/", 1)[0]) for b in batches
            for o in b.observations if isinstance(o, Mail)]


def test_default_reads_inbox_archive_and_all_once_each_sent_first(server: Dovecot) -> None:
    user = server.add_user()
    server.append(user, [MINE])
    server.append(user, [REPLY], folder="INBOX")
    server.append(user, [ARCHIVED], folder="Archive")
    server.append(user, [MINE, REPLY, ARCHIVED], folder="All Mail")  # \All: everything again
    account = server.account(user, received_folders=None)
    batches, cursor = fetch(account)
    assert got(batches) == [("m1@example.com", False, "imap:Sent"),
                            ("r1@example.org", True, "imap:INBOX"),
                            ("a1@example.org", True, "imap:Archive")]
    assert sorted(cursor["folders"]) == ["All Mail", "Archive", "INBOX", "Sent"]
    # the estimate counts the folders still to read: 1 + 1 + 3 after Sent
    assert [b.remaining for b in batches] == [5, 4, 3, 0, None]

    server.forget_commands(user)
    idle, cursor = fetch(account, cursor)
    assert got(idle) == []
    assert [c.split(" (")[0] for c in server.commands(user)] == [
        'LIST "" "*"', 'STATUS "Sent"', 'STATUS "INBOX"', 'STATUS "Archive"',
        'STATUS "All Mail"', "LOGOUT"]

    later = raw("Cy <cy@example.org>", "me@example.com", "c1@example.org", 1)
    server.append(user, [later], folder="INBOX")
    server.append(user, [later], folder="All Mail")
    assert got(fetch(account, cursor)[0]) == [("c1@example.org", True, "imap:INBOX")]


def test_explicit_received_folders_replace_the_default(server: Dovecot) -> None:
    user = server.add_user()
    server.append(user, [REPLY], folder="INBOX")
    server.append(user, [ARCHIVED], folder="Archive")
    only_archive = server.account(user, received_folders=["Archive"])
    assert got(fetch(only_archive)[0]) == [("a1@example.org", True, "imap:Archive")]
    none = server.account(user, received_folders=[])
    assert got(fetch(none)[0]) == []
    server.append(user, [MINE])
    missing = server.account(user, name="work", received_folders=["Archiv", "INBOX"])
    batches: list[Batch] = []
    conn = ImapConnector(missing)
    with pytest.raises(SourceError) as e:
        batches.extend(conn.fetch(None, CTX))
    conn.close()
    assert "'Archiv' not found" in str(e.value)
    assert "accounts[work].received_folders" in str(e.value)
    assert "\n" not in str(e.value)
    assert got(batches) == [("m1@example.com", False, "imap:Sent"),  # the rest is read
                            ("r1@example.org", True, "imap:INBOX")]


def test_a_folder_named_as_sent_and_received_is_read_once_as_sent(server: Dovecot) -> None:
    user = server.add_user()
    server.append(user, [MINE, REPLY], folder="Archive")
    both = server.account(user, folders=["Archive"], received_folders=["Archive", "INBOX"])
    batches, cursor = fetch(both)
    assert got(batches) == [("m1@example.com", False, "imap:Archive"),
                            ("r1@example.org", False, "imap:Archive")]
    assert sorted(cursor["folders"]) == ["Archive", "INBOX"]


def test_received_headers_include_the_thread_and_automation_fields(server: Dovecot) -> None:
    user = server.add_user()
    head = REPLY.replace(b"\r\n\r\n", (
        b"\r\nIn-Reply-To: <m1@example.com>\r\nReferences: <m0@example.com>\r\n"
        b" <m1@example.com>\r\nX-Autoreply: yes\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\n"), 1)
    server.append(user, [head], folder="INBOX")
    (mail,) = [o for b in fetch(server.account(user, received_folders=None))[0]
               for o in b.observations if isinstance(o, Mail)]
    assert (mail.in_reply_to, mail.references) == (
        "m1@example.com", ("m0@example.com", "m1@example.com"))
    assert (mail.autoreply, mail.report, mail.received, mail.thread) == (True, True, True, "")


def test_find_special_keeps_the_order_of_the_flags_and_skips_unselectable() -> None:
    listing = [((b"\\HasNoChildren", b"\\All"), b"/", "[Gmail]/All Mail"),
               ((b"\\Archive",), b"/", "Archive"),
               ((b"\\Noselect", b"\\Archive"), b"/", "Ghost"),
               ((b"\\ARCHIVE", b"\\All"), b"/", "Both"),
               ((), b"/", "INBOX")]
    assert find_special(listing, RECEIVED_FLAGS) == ["Archive", "Both", "[Gmail]/All Mail"]
    assert find_special([((), b"/", "INBOX")], RECEIVED_FLAGS) == []


def test_estimate_counts_the_uids_above_the_plans_start_at_most_the_messages() -> None:
    st = Status(7, 101, 60)
    assert estimate(Plan(FolderState(7), after=0), st) == 60
    assert estimate(Plan(FolderState(7, 90), after=90), st) == 10
    assert estimate(Plan(FolderState(7, 10), after=10), st) == 60  # gaps: deleted messages
    assert estimate(Plan(FolderState(7, 90), after=90), Status(7, None, None)) == 0
