"""Promises read from the user's own new text (``promises = true``), source by source: only
sent mail's bodies are read, only when asked, with the permission that needs asked for only
then; and no body text ends up in the store, the state folder or a debug log. The sentinel
word below stands in sentences that are no promise, in quoted history, in signatures and in
received mail; the promise found never holds it."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors import gmail, msauth
from connectors.base import Connector
from connectors.gmail import GmailConnector
from connectors.imap import ImapConnector
from connectors.maildir import MaildirConnector
from connectors.mbox import MboxConnector
from connectors.outlook import BODIES_NOTE, OutlookConnector
from daemon import sync
from daemon.config import load
from daemon.errors import AuthError
from daemon.model import AccountConfig, FetchContext, Mail, Settings
from daemon.store import Store
from tests.conformance.harnesses.maildir import deliver
from tests.conformance.harnesses.mbox import mbox_entry
from tests.servers.dovecot import Dovecot
from tests.servers.google import User
from tests.servers.microsoft import USER, MicrosoftServer

REPO = Path(__file__).resolve().parent.parent
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime.now(UTC).replace(microsecond=0)
CTX = FetchContext(now=NOW, tz=BERLIN, window_start=NOW - timedelta(days=400),
                   window_end=NOW + timedelta(days=14),
                   thread_window_start=NOW - timedelta(days=60))
SENTINEL = "Quuxoplast"  # in no header, no promise: only where text must never go
PROMISE = "I'll call you on Tuesday to go through them."
MINE = (f"Hi Jane,\n\nthe {SENTINEL} figures are in. {PROMISE}\n\nBest,\nMe\n\n-- \n"
        f"Me, {SENTINEL} Ltd\n\nOn Mon, 30 Nov 2026 at 16:12, Jane <jane@example.org> wrote:\n"
        f"> Here is {SENTINEL} again. I'll call you on Wednesday.\n")
THEIRS = f"Hello,\n\nI'll call you on Thursday about the {SENTINEL} order.\n\nJane\n"


def raw(sender: str, to: str, mid: str, body: str, days_ago: int = 3, **extra: str) -> bytes:
    head = {"From": sender, "To": to, "Date": format_datetime(NOW - timedelta(days=days_ago)),
            "Message-ID": f"<{mid}>", "Subject": "Q3 figures",
            "Content-Type": "text/plain; charset=utf-8",
            **{k.replace("_", "-"): v for k, v in extra.items()}}
    return ("".join(f"{k}: {v}\n" for k, v in head.items()) + "\n" + body).encode()


def mine(mid: str = "m1@example.com", me: str = "Me <me@example.com>") -> bytes:
    return raw(me, "Jane <jane@example.org>", mid, MINE)


def theirs(to: str = "me@example.com") -> bytes:
    return raw("Jane <jane@example.org>", to, "r1@example.org", THEIRS, days_ago=2,
               In_Reply_To="<m1@example.com>")


def promises_of(mails: list[Mail]) -> dict[str, list[tuple[str, bool]]]:
    """Message-ID -> (sentence, due is a Tuesday) of each promise found."""
    return {m.message_id: [(p.sentence, p.due is not None and p.due.weekday() == 1)
                           for p in m.promises] for m in mails}


def leaks(*places: Path) -> list[str]:
    """Every file under ``places`` holding the sentinel (the store with its journal, the
    state folder, a log)."""
    found = []
    for place in places:
        for path in [place] if place.is_file() else sorted(place.rglob("*")):
            if path.is_file() and SENTINEL.encode() in path.read_bytes():
                found.append(str(path))
    return found


@contextmanager
def debug_log(path: Path) -> Iterator[None]:
    """Everything logged, at DEBUG, into ``path``."""
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        handler.close()


def pull_logged(tmp_path: Path, account: AccountConfig) -> None:
    """A sync of ``account`` into a store in ``tmp_path/store``, DEBUG logged to a file."""
    (tmp_path / "store").mkdir(exist_ok=True)
    store_path, log = tmp_path / "store" / "kw.db", tmp_path / "debug.log"
    store = Store(store_path)
    try:
        with debug_log(log):
            report = sync.pull(store, account, Settings(own_addresses=frozenset(
                {"me@example.com", USER}), tz=BERLIN), NOW)
    finally:
        store.close()
    assert report.error is None, report.error
    assert report.messages >= 1
    assert "promise" in log.read_text()  # DEBUG lines of the body scan were written


# -- Maildir and mbox, through the command line ---------------------------------------------
LOCAL_TYPES: dict[str, type[Connector]] = {"maildir": MaildirConnector, "mbox": MboxConnector}
LOCAL = {"maildir": ('path = "Mail/Sent"\nreceived = ["Mail/INBOX"]'),
         "mbox": ('path = "Mail/Sent.mbox"\nreceived = ["Mail/Inbox.mbox"]')}


def local_home(tmp_path: Path, kind: str, promises: bool) -> Path:
    """A config with one ``kind`` account holding my message and Jane's answer."""
    mail = tmp_path / "Mail"
    if kind == "maildir":
        for folder in ("Sent", "INBOX"):
            for sub in ("cur", "new", "tmp"):
                (mail / folder / sub).mkdir(parents=True, exist_ok=True)
        deliver(mail / "Sent", mine())
        deliver(mail / "INBOX", theirs())
    else:
        mail.mkdir()
        (mail / "Sent.mbox").write_bytes(mbox_entry(mine()))
        (mail / "Inbox.mbox").write_bytes(mbox_entry(theirs()))
    config = tmp_path / "config.toml"
    config.write_text(f'[identity]\naddresses = ["me@example.com"]\ntimezone = "Europe/Berlin"\n'
                      f'[store]\npath = "state/kw.db"\nstate_dir = "state"\n'
                      f'[[accounts]]\nname = "mail"\ntype = "{kind}"\n{LOCAL[kind]}\n'
                      f"promises = {str(promises).lower()}\n")
    return config


@pytest.mark.parametrize("kind", sorted(LOCAL))
def test_a_local_sync_reads_promises_and_keeps_no_body_text(kind: str, tmp_path: Path) -> None:
    config = local_home(tmp_path, kind, promises=True)
    log = tmp_path / "debug.log"
    with log.open("wb") as err:
        done = subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(config),
                               "--log-level", "debug", "sync", "--no-write"], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=err, timeout=120)
    assert done.returncode == 0, log.read_text()
    assert "debug" in log.read_text() and "Traceback" not in log.read_text()
    assert SENTINEL.encode() not in done.stdout
    assert leaks(tmp_path / "state", log) == []
    # what the sync's connector found: my promise, nothing quoted, nothing of Jane's
    conn = LOCAL_TYPES[kind](load(config).accounts[0])
    found = promises_of([o for b in conn.fetch(None, CTX) for o in b.observations
                         if isinstance(o, Mail)])
    assert found == {"m1@example.com": [(PROMISE, True)], "r1@example.org": []}


@pytest.mark.parametrize("kind", sorted(LOCAL))
def test_without_promises_a_local_source_reads_headers_only(kind: str, tmp_path: Path) -> None:
    account = load(local_home(tmp_path, kind, promises=False)).accounts[0]
    assert account.options["promises"] is False
    mails = [o for b in LOCAL_TYPES[kind](account).fetch(None, CTX) for o in b.observations
             if isinstance(o, Mail)]
    assert promises_of(mails) == {"m1@example.com": [], "r1@example.org": []}


def test_a_promise_option_that_is_not_a_bool_is_one_line(tmp_path: Path) -> None:
    config = local_home(tmp_path, "maildir", promises=True)
    config.write_text(config.read_text().replace("promises = true", 'promises = "yes"'))
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(config),
                           "sync"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"{config}:") and "promises" in line and "Traceback" not in line


# -- IMAP -------------------------------------------------------------------------------------
def test_imap_reads_the_text_of_the_sent_folder_only(tmp_path: Path) -> None:
    with Dovecot(rawlog=True).start() as d:
        user = d.add_user()
        d.append(user, [mine()])
        d.append(user, [theirs(), mine("m2@example.com")], folder="INBOX")  # a self-copy too
        account = d.account(user, received_folders=None, promises=True)
        conn = ImapConnector(account)
        try:
            found = promises_of([o for b in conn.fetch(None, CTX) for o in b.observations
                                 if isinstance(o, Mail)])
        finally:
            conn.close()
        assert found == {"m1@example.com": [(PROMISE, True)], "r1@example.org": [],
                         "m2@example.com": []}  # my copy in the inbox: received, not read
        fetches, folder = [], ""
        for command in d.commands(user):
            if command.startswith(("EXAMINE", "SELECT")):
                folder = command.split(" ", 1)[1].strip('"')
            elif command.startswith("UID FETCH"):
                fetches.append((folder, "BODY.PEEK[TEXT]<0.65536>" in command))
        assert sorted(set(fetches)) == [("INBOX", False), ("Sent", True)]
        d.forget_commands(user)
        pull_logged(tmp_path, account)
        assert leaks(tmp_path) == []  # the store and the log (the mail is Dovecot's)
        assert any("BODY.PEEK[TEXT]" in c for c in d.commands(user))


def test_imap_without_promises_fetches_no_body(tmp_path: Path) -> None:
    with Dovecot().start() as d:
        user = d.add_user()
        d.append(user, [mine()])
        conn = ImapConnector(d.account(user))
        try:
            (m,) = [o for b in conn.fetch(None, CTX) for o in b.observations
                    if isinstance(o, Mail)]
        finally:
            conn.close()
        assert m.promises == ()
        assert d.sessions(user, at_least=2)[-1] == (1, 0)  # one header, no body


# -- Gmail ------------------------------------------------------------------------------------
AUTH = "https://www.googleapis.com/auth/"


def test_gmail_reads_sent_bodies_with_gmail_readonly_and_never_a_received_one(
        google_user: User, tmp_path: Path) -> None:
    sent_id = google_user.add_mail(mine())
    answer_id = google_user.add_mail(theirs(google_user.email), labels=("INBOX",))
    account = google_user.account(tmp_path, calendar=False, promises=True)
    assert json.loads((tmp_path / "google.google-token.json").read_text())["scopes"] == [
        AUTH + "gmail.readonly"]
    conn = GmailConnector(account, backoff=0.01)
    first = list(conn.fetch(None, CTX))
    found = promises_of([o for b in first for o in b.observations if isinstance(o, Mail)])
    assert found == {"m1@example.com": [(PROMISE, True)], "r1@example.org": []}
    assert google_user.bodies_read == [sent_id] and answer_id != sent_id
    # later mail comes from history: the sent one read whole, the received one not
    later_sent = google_user.add_mail(mine("m3@example.com"))
    google_user.add_mail(raw("Jane <jane@example.org>", google_user.email, "r3@example.org",
                             THEIRS, days_ago=1, In_Reply_To="<m3@example.com>"),
                         labels=("INBOX",))
    newer = list(conn.fetch(json.loads(json.dumps(first[-1].cursor)), CTX))
    found = promises_of([o for b in newer for o in b.observations if isinstance(o, Mail)])
    assert found == {"m3@example.com": [(PROMISE, True)], "r3@example.org": []}
    assert google_user.bodies_read == [sent_id, later_sent]
    pull_logged(tmp_path, account)
    assert leaks(tmp_path) == []  # the store, the token, the log


def test_gmail_asks_for_gmail_readonly_only_with_promises_and_says_so(
        google_user: User, tmp_path: Path) -> None:
    def scopes(**options: Any) -> list[str]:
        full = GmailConnector.with_defaults(options)
        return [s.removeprefix(AUTH) for s in gmail.scopes_for(full, False)]

    assert scopes(calendar=False) == ["gmail.metadata"]
    assert scopes(calendar=False, promises=True) == ["gmail.readonly"]  # never both
    assert scopes(mail=False, calendar=False, contacts=True, promises=True) == [
        "contacts.readonly"]
    google_user.add_mail(mine())
    old = google_user.account(tmp_path, calendar=False)  # signed in before promises
    now_with = AccountConfig(old.name, old.type, options={**old.options, "promises": True},
                             state_dir=old.state_dir)
    with pytest.raises(AuthError, match=r"needs more permissions \(gmail.readonly\).*"
                                        r"run `keepwarm auth google`"):
        list(GmailConnector(now_with).fetch(None, CTX))


def test_keepwarm_auth_names_the_restricted_scope_in_one_line(google_user: User,
                                                              tmp_path: Path) -> None:
    google_user.client_secrets(tmp_path / "client.json")
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "kw.sqlite"\nstate_dir = "state"\n'
                      f'[[accounts]]\nname = "g"\ntype = "gmail"\nclient_secrets = "client.json"\n'
                      f'endpoint = "{google_user.server.url}"\ncalendar = false\n'
                      f"promises = true\n")
    browser = tmp_path / "browser"
    script = REPO / "tests" / "servers" / "google_browser.py"
    browser.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser), "OAUTHLIB_INSECURE_TRANSPORT": "1",
           "COLUMNS": "400"}
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(config), "auth",
                           "g"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stdout.splitlines() if "restricted scope" in line]
    assert len(said) == 1 and "gmail.readonly" in said[0] and "sent mail" in said[0]
    token = tmp_path / "state" / "g.google-token.json"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert json.loads(token.read_text())["scopes"] == [AUTH + "gmail.readonly"]


# -- Outlook ----------------------------------------------------------------------------------
def test_outlook_reads_unique_body_of_sent_items_only_with_mail_read(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    microsoft.add_raw_message(mine(me=f"Me <{USER}>"))
    microsoft.add_raw_message(theirs(USER), folder="inbox")
    account = microsoft.account(tmp_path, calendar=False, promises=True)
    said = microsoft.sign_in(account)
    assert said[0] == BODIES_NOTE and len(said) == 2
    assert "Mail.Read" in microsoft.state.scopes and "Mail.ReadBasic" not in microsoft.state.scopes
    conn = OutlookConnector(account)
    try:
        found = promises_of([o for b in conn.fetch(None, CTX) for o in b.observations
                             if isinstance(o, Mail)])
    finally:
        conn.close()
    assert found == {"m1@example.com": [(PROMISE, True)], "r1@example.org": []}
    selects = {h.path.split("/")[4]: h.query.get("$select", "") for h in microsoft.hits(
        "GET", "/v1.0/me/mailFolders/") if "$select" in h.query}
    assert "uniqueBody" in selects["sentitems"] and "uniqueBody" not in selects["inbox"]
    pull_logged(tmp_path, account)
    assert leaks(tmp_path) == []  # the store, the sign-in cache, the log


def test_outlook_asks_for_mail_read_only_with_promises(microsoft: MicrosoftServer,
                                                       tmp_path: Path) -> None:
    assert msauth.scopes(True, False, False)[0] == "Mail.ReadBasic"
    assert msauth.scopes(True, False, False, bodies=True)[0] == "Mail.Read"
    headers_only = microsoft.account(tmp_path, calendar=False)
    microsoft.sign_in(headers_only)
    assert "Mail.ReadBasic" in microsoft.state.scopes and "Mail.Read" not in microsoft.state.scopes
    microsoft.add_raw_message(mine(me=f"Me <{USER}>"))
    later = microsoft.account(tmp_path, calendar=False, promises=True)  # the same sign-in
    conn = OutlookConnector(later)
    try:
        with pytest.raises(AuthError, match="run `keepwarm auth outlook`"):
            list(conn.fetch(None, CTX))
    finally:
        conn.close()


def test_gmail_resumes_a_pending_list_still_knowing_which_ids_are_sent(
        google_user: User, tmp_path: Path) -> None:
    """An incremental fetch cut after its first batch resumes from that batch's cursor: the
    sent messages still pending are read whole, the received one still is not."""
    google_user.add_mail(mine())
    account = google_user.account(tmp_path, calendar=False, promises=True)
    first = list(GmailConnector(account, backoff=0.01, batch=1).fetch(None, CTX))
    sent_ids = [google_user.add_mail(mine(f"m{n}@example.com")) for n in (4, 5)]
    google_user.add_mail(raw("Jane <jane@example.org>", google_user.email, "r4@example.org",
                             THEIRS, days_ago=1, In_Reply_To="<m4@example.com>"),
                         labels=("INBOX",))
    del google_user.bodies_read[:]
    cut = GmailConnector(account, backoff=0.01, batch=1).fetch(first[-1].cursor, CTX)
    one = next(cut)
    assert one.cursor["mail"]["pending_sent"] == [sent_ids[1]]
    assert len(one.cursor["mail"]["pending"]) == 2  # m5 and Jane's answer
    rest = list(GmailConnector(account, backoff=0.01, batch=1).fetch(
        json.loads(json.dumps(one.cursor)), CTX))
    found = promises_of([o for b in [one, *rest] for o in b.observations
                         if isinstance(o, Mail)])
    assert found == {"m4@example.com": [(PROMISE, True)], "m5@example.com": [(PROMISE, True)],
                     "r4@example.org": []}
    assert google_user.bodies_read == sent_ids


def test_outlook_reads_sent_items_again_once_when_promises_is_turned_on(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    """A delta link keeps the $select it began with: turning promises on starts the Sent
    Items round afresh (then the next sync is incremental again), and so does turning it
    off."""
    microsoft.add_raw_message(mine(me=f"Me <{USER}>"))
    account = microsoft.account(tmp_path, calendar=False, received=False, promises=True)
    headers_only = microsoft.account(tmp_path, calendar=False, received=False)
    microsoft.sign_in(headers_only)
    microsoft.sign_in(account)  # consented to both now

    def run(acct: AccountConfig, cursor: Any) -> tuple[dict[str, list[tuple[str, bool]]], Any]:
        conn = OutlookConnector(acct)
        try:
            batches = list(conn.fetch(cursor, CTX))
        finally:
            conn.close()
        return (promises_of([o for b in batches for o in b.observations
                             if isinstance(o, Mail)]),
                json.loads(json.dumps(batches[-1].cursor)))

    found, cursor = run(headers_only, None)
    assert found == {"m1@example.com": []} and cursor["bodies"] is False
    found, cursor = run(account, cursor)
    assert found == {"m1@example.com": [(PROMISE, True)]} and cursor["bodies"] is True
    assert run(account, cursor)[0] == {}  # incremental again: nothing new
    found, cursor = run(headers_only, cursor)
    assert found == {"m1@example.com": []}


def test_an_mbox_message_without_a_body_takes_nothing_of_the_next(tmp_path: Path) -> None:
    sent = tmp_path / "Sent"
    headers_only = raw("Me <me@example.com>", "jane@example.org", "m0@example.com", "")
    head = headers_only[:headers_only.rindex(b"\n\n") + 1]  # no blank line, no body
    sent.write_bytes(b"From - Mon Nov 30 10:00:00 2026\n" + head + mbox_entry(mine()))
    conn = MboxConnector(AccountConfig("mbox", "mbox", options={"path": str(sent),
                                                                "promises": True}))
    found = promises_of([o for b in conn.fetch(None, CTX) for o in b.observations
                         if isinstance(o, Mail)])
    assert found == {"m0@example.com": [], "m1@example.com": [(PROMISE, True)]}
