"""Outlook's received mail: Inbox and Archive through Graph's delta, one round per folder
(issue 13), against the local Graph (tests/servers/microsoft.py)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

from daemon.model import Mail
from tests.servers.microsoft import USER, MicrosoftServer
from tests.test_outlook import NOW, account, fetch, of, person, send

_seq = itertools.count()


def receive(server: MicrosoftServer, sender: str, folder: str = "inbox", days_ago: float = 1,
            **extra: Any) -> str:
    """A message from ``sender`` to me, filed in ``folder``; returns its Message-ID."""
    mid = f"r{next(_seq)}@x.org"
    when = (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    server.add_message(folder, **{"from": person(sender, "Ann"), "toRecipients": [person(USER)],
                                  "sentDateTime": when, "internetMessageId": f"<{mid}>",
                                  "subject": "Re: hello", **extra})
    return mid


def by_id(batches: list[Any]) -> dict[str, Mail]:
    return {m.message_id: m for m in of(batches, Mail)}


def test_inbox_and_archive_give_received_mail_with_its_conversation_and_link(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path, calendar=False)
    mine = send(microsoft, "ann@x.org", days_ago=3)
    (sent_item,) = microsoft.state.messages
    conversation = microsoft.conversation(sent_item)
    answer = receive(microsoft, "ann@x.org", conversationId=conversation,
                     internetMessageHeaders=[{"name": "In-Reply-To", "value": f"<{mine}>"}])
    filed = receive(microsoft, "bo@x.org", folder="archive", days_ago=2)
    batches, cursor = fetch(acct)
    mails = by_id(batches)
    assert set(mails) == {mine, answer, filed}
    assert not mails[mine].received and mails[answer].received and mails[filed].received
    assert mails[answer].thread == mails[mine].thread == conversation
    assert mails[answer].in_reply_to == mine
    assert mails[mine].link.startswith("https://outlook.office365.com/owa/?ItemID=")
    assert mails[answer].sender is not None and mails[answer].sender.email == "ann@x.org"
    assert set(cursor["received"]) == {"inbox", "archive"}
    assert all("$deltatoken=" in link for link in cursor["received"].values())
    inbox = microsoft.hits("GET", "/inbox/messages/delta")
    assert {"conversationId", "webLink", "internetMessageHeaders"} <= set(
        inbox[0].query["$select"].split(","))
    again, _ = fetch(acct, cursor)
    assert of(again, Mail) == []


def test_an_expired_delta_link_lists_each_received_folder_again(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path, calendar=False)
    first = {receive(microsoft, f"p{n}@x.org") for n in range(3)}
    first.add(receive(microsoft, "old@x.org", folder="archive"))
    _, cursor = fetch(acct)
    microsoft.expire_delta_tokens()
    late = receive(microsoft, "late@x.org")
    batches, cursor = fetch(acct, cursor)
    assert set(by_id(batches)) == first | {late}  # re-listed; the store drops the repeats
    for folder in ("inbox", "archive"):
        assert [h.status for h in microsoft.hits("GET", f"/{folder}/messages/delta")][-2:] == [
            410, 200]
    again, _ = fetch(acct, cursor)
    assert of(again, Mail) == []


def test_a_mailbox_without_an_archive_is_read_without_it(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    microsoft.folders.discard("archive")
    acct = account(microsoft, tmp_path, calendar=False)
    answer = receive(microsoft, "ann@x.org")
    batches, cursor = fetch(acct)
    assert set(by_id(batches)) == {answer}
    assert set(cursor["received"]) == {"inbox"}
    assert [h.status for h in microsoft.hits("GET", "/archive/messages/delta")] == [404]


def test_received_off_reads_sent_items_only(microsoft: MicrosoftServer, tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path, calendar=False, received=False)
    mine = send(microsoft, "ann@x.org")
    receive(microsoft, "ann@x.org")
    batches, cursor = fetch(acct)
    assert set(by_id(batches)) == {mine} and "received" not in cursor
    assert microsoft.hits("GET", "/inbox/messages/delta") == []


def test_graph_needs_at_most_five_requests_per_thousand_messages(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    acct = account(microsoft, tmp_path, calendar=False)
    for n in range(1000):
        send(microsoft, f"p{n % 40}@x.org", days_ago=n % 300)
    for n in range(2500):
        receive(microsoft, f"p{n % 40}@x.org", days_ago=n % 300)
    for n in range(500):
        receive(microsoft, f"q{n % 40}@x.org", folder="archive", days_ago=n % 300)
    batches, cursor = fetch(acct)
    assert len(of(batches, Mail)) == 4000
    requests = len(microsoft.hits())
    assert requests <= 5 * 4  # /me, Sent Items 1 page, Inbox 3, Archive 1
    before = len(microsoft.hits())
    fetch(acct, cursor)
    assert len(microsoft.hits()) - before == 3  # idle: one delta request per folder
