"""Received mail in Maildir and mbox accounts (the ``received`` paths): read like the sent
path with a cursor each, an old sent-only cursor resumed as it was, a missing path named in
one line after the sent mail is read, relative paths taken from the config's folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector
from connectors.maildir import MaildirConnector
from connectors.mbox import MboxConnector
from daemon.config import load
from daemon.errors import ConfigError, SourceError
from daemon.model import AccountConfig, Batch, FetchContext, Mail
from tests.conformance.harnesses.maildir import MaildirHarness, deliver
from tests.conformance.harnesses.mbox import MboxHarness, mbox_entry
from tests.test_cli import Home

NOW = datetime.now(UTC)
CTX = FetchContext(now=NOW, tz=UTC, window_start=NOW - timedelta(days=1095),
                   window_end=NOW + timedelta(days=14))
TYPES: dict[str, type[Connector]] = {"maildir": MaildirConnector, "mbox": MboxConnector}


def mail(sender: str, mid: str) -> bytes:
    return (f"From: {sender}\nTo: someone@example.org\nMessage-ID: <{mid}>\n"
            "Date: Tue, 14 Nov 2023 10:22:33 +0000\nSubject: hi\n\nbody\n").encode()


def fetch(conn: Connector, cursor: Any = None) -> tuple[list[Batch], Any]:
    batches = list(conn.fetch(cursor, CTX))
    return batches, json.loads(json.dumps(batches[-1].cursor))


def got(batches: list[Batch]) -> list[tuple[str, bool]]:
    return [(o.message_id, o.received) for b in batches for o in b.observations
            if isinstance(o, Mail)]


@pytest.mark.parametrize("harness_cls", [MaildirHarness, MboxHarness])
def test_an_old_sent_only_cursor_resumes_and_received_paths_start_from_their_beginning(
        harness_cls: Any, tmp_path: Path) -> None:
    harness = harness_cls(tmp_path)
    account = harness.account()
    sent_only = AccountConfig("test", account.type, options={"path": account.options["path"]})
    harness.add_mail(mail("me@example.com", "s1@x"))
    harness.add_received(mail("ann@example.org", "r1@x"))
    _, old = fetch(TYPES[account.type](sent_only))
    assert "received" not in old  # without received paths the cursor is what it always was

    conn = TYPES[account.type](account)
    batches, cursor = fetch(conn, old)
    assert got(batches) == [("r1@x", True)]
    assert list(cursor["received"]) == account.options["received"]
    assert {k: v for k, v in cursor.items() if k != "received"}.keys() == old.keys()
    assert got(fetch(conn, cursor)[0]) == []
    _, dropped = fetch(TYPES[account.type](sent_only), cursor)
    assert "received" not in dropped  # a path taken out of the config loses its cursor


def test_maildir_received_folders_each_keep_a_cursor_and_name_themselves(tmp_path: Path) -> None:
    harness = MaildirHarness(tmp_path)
    archive = tmp_path / "Archive"
    for sub in ("cur", "new", "tmp"):
        (archive / sub).mkdir(parents=True)
    opts = {**harness.account().options}
    opts["received"] = [*opts["received"], str(archive)]
    conn = MaildirConnector(AccountConfig("test", "maildir", options=opts))
    harness.add_received(mail("ann@example.org", "r1@x"))
    deliver(archive, mail("bob@example.org", "a1@x"))
    batches, cursor = fetch(conn)
    locations = {o.message_id: o.location for b in batches for o in b.observations
                 if isinstance(o, Mail)}
    assert locations["r1@x"].startswith("maildir:INBOX/new/")
    assert locations["a1@x"].startswith("maildir:Archive/new/")
    deliver(archive, mail("bob@example.org", "a2@x"))
    assert got(fetch(conn, cursor)[0]) == [("a2@x", True)]


@pytest.mark.parametrize("harness_cls", [MaildirHarness, MboxHarness])
def test_a_missing_received_path_fails_after_every_other_path_is_read(
        harness_cls: Any, tmp_path: Path) -> None:
    harness = harness_cls(tmp_path)
    inbox = harness.account().options["received"]
    opts = {**harness.account().options, "received": [str(tmp_path / "nope"), *inbox]}
    conn = TYPES[harness.type](AccountConfig("work", harness.type, options=opts))
    harness.add_mail(mail("me@example.com", "s1@x"))
    harness.add_received(mail("ann@example.org", "r1@x"))
    seen: list[Batch] = []
    with pytest.raises(SourceError, match=r"nope.*accounts\[work\]\.received in the config"):
        for batch in conn.fetch(None, CTX):
            seen.append(batch)
    assert got(seen) == [("s1@x", False), ("r1@x", True)]  # stored with their cursors


def test_mbox_received_file_is_read_incrementally(tmp_path: Path) -> None:
    harness = MboxHarness(tmp_path)
    conn = MboxConnector(harness.account())
    harness.add_received(mail("ann@example.org", "r1@x"))
    batches, cursor = fetch(conn)
    assert got(batches) == [("r1@x", True)]
    with harness.inbox.open("ab") as f:
        f.write(mbox_entry(mail("ann@example.org", "r2@x")))
    assert got(fetch(conn, cursor)[0]) == [("r2@x", True)]


def test_relative_received_paths_are_read_from_the_config_folder(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[accounts]]\nname = "mail"\ntype = "maildir"\npath = "Sent"\n'
                      'received = ["INBOX", "~/Archive"]\n')
    (account,) = load(config).accounts
    assert account.options["received"] == [str(tmp_path / "INBOX"),
                                           str(Path("~/Archive").expanduser())]
    config.write_text('[[accounts]]\nname = "mail"\ntype = "mbox"\npath = "Sent"\n'
                      'received = "Inbox"\n')
    with pytest.raises(ConfigError) as e:
        load(config)
    assert e.value.problems == [
        f"{config}: accounts[0].received: must be an array, not a string 'Inbox'"]


def test_sync_with_a_missing_received_folder_keeps_the_sent_mail_and_names_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = Home(tmp_path)
    home.send(10, "a@example.org")
    home.send(5, "a@example.org")
    text = home.config.read_text().replace('path = "Mail/Sent"\n',
                                           'path = "Mail/Sent"\nreceived = ["Mail/INBOX"]\n')
    home.config.write_text(text)
    assert home.run("sync") == 1
    out, err = capsys.readouterr()
    (line,) = [x for x in out.splitlines() if "✗ sent" in x]
    assert f"{tmp_path / 'Mail' / 'INBOX'}" in line and "accounts[sent].received" in line
    assert "Traceback" not in out + err
    assert home.run("contacts", "--json") == 0  # the sent mail was stored before the failure
    assert [c["email"] for c in json.loads(capsys.readouterr().out)] == ["a@example.org"]
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Mail" / "INBOX" / sub).mkdir(parents=True)
    assert home.run("sync") == 0
