"""The IMAP source against a real Dovecot: Sent discovery, incremental and idle syncs (proved
by the server's own log), UIDVALIDITY changes, CONDSTORE on and off, vanished folders, and
faults (wrong password, refused connection, TLS, a server killed mid-sync). Touchpoint
counts come from the real store through ``daemon.sync.pull``."""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors import imapfolders
from connectors.checks import is_loopback
from connectors.imap import ImapConnector
from connectors.imapfolders import FolderState, Status, find_sent, plan, uid_sets
from connectors.imapsession import parse_reply
from daemon import sync
from daemon.config import parse
from daemon.errors import AuthError, ConfigError, SourceError, TransientError
from daemon.model import AccountConfig, IngestResult, Settings
from daemon.store import Store
from tests.servers import free_port
from tests.servers.dovecot import PASSWORD, Dovecot

NOW = datetime.now(UTC).replace(microsecond=0)
SETTINGS = Settings(own_addresses=frozenset({"me@example.com"}))


def message(n: int) -> bytes:
    date = (NOW - timedelta(days=40 - n)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (f"From: Me <me@example.com>\r\nTo: Person {n} <p{n}@example.org>\r\n"
            f"Date: {date}\r\nMessage-ID: <m{n}@example.com>\r\nSubject: hello {n}\r\n"
            "\r\nbody\r\n").encode()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "kw.db")
    yield s
    s.close()


def pull(store: Store, account: AccountConfig, **kw: Any) -> sync.AccountReport:
    return sync.pull(store, account, SETTINGS, NOW, **kw)


def folders_in(store: Store, account: AccountConfig) -> dict[str, Any]:
    cursor = store.cursor(account.name)
    assert cursor is not None
    return dict(cursor["folders"])


def new_server(**kw: Any) -> Dovecot:
    return Dovecot(**kw).start()


# -- Sent folder discovery ----------------------------------------------------------
def test_special_use_finds_a_localised_sent_folder(store: Store) -> None:
    with new_server(sent="Gesendet", folders=["Sent"]) as d:
        user = d.add_user()
        d.append(user, [message(1), message(2)])
        d.append(user, [message(3)], folder="Sent")  # a decoy without \Sent
        account = d.account(user)
        report = pull(store, account)
        assert report.messages == 2
        assert list(folders_in(store, account)) == ["Gesendet"]
        locations = {r[0] for r in store.db.execute("SELECT location FROM messages")}
        assert locations == {"imap:Gesendet/1", "imap:Gesendet/2"}


def test_without_special_use_the_first_common_name_wins(store: Store) -> None:
    with new_server(sent="Sent Items", special_use=False, folders=["Sent Messages"]) as d:
        user = d.add_user()
        c = d.client(user)
        assert all(b"\\Sent" not in flags for flags, _, _ in c.list_folders())
        c.logout()
        d.append(user, [message(1)])
        d.append(user, [message(2)], folder="Sent Messages")
        account = d.account(user)
        assert pull(store, account).messages == 1
        assert list(folders_in(store, account)) == ["Sent Items"]


def test_no_sent_folder_names_the_option_to_set(store: Store) -> None:
    with new_server(sent=None, folders=["Archive"]) as d:
        account = d.account(d.add_user())
        with pytest.raises(SourceError) as e:
            pull(store, account)
        assert "accounts[imap].folders" in str(e.value) and '"Archive"' in str(e.value)


def test_find_sent_order() -> None:
    listing = [((b"\\HasNoChildren",), b"/", "Sent Messages"),
               ((b"\\HasNoChildren",), b"/", "sent items"),
               ((b"\\Noselect", b"\\Sent"), b"/", "Ghost")]
    assert find_sent(listing) == "sent items"  # "Sent Items" (any case) precedes "Sent Messages"
    assert find_sent([*listing, ((b"\\Sent",), b"/", "[Gmail]/Gesendet")]) == "[Gmail]/Gesendet"
    assert find_sent([((b"\\HasNoChildren",), b".", "INBOX.Sent")]) == "INBOX.Sent"
    assert find_sent([((), b"/", "INBOX")]) is None


# -- incremental and idle syncs --------------------------------------------------------
def test_incremental_sync_and_an_idle_sync_that_downloads_nothing(store: Store) -> None:
    with new_server(rawlog=True) as d:
        user = d.add_user()
        d.append(user, [message(n) for n in range(3)])
        account = d.account(user)
        first = pull(store, account)
        assert (first.messages, first.touchpoints) == (3, 3)
        assert d.sessions(user, at_least=2)[-1] == (3, 0)  # 3 header fetches, no body
        fetches = [c for c in d.commands(user) if c.startswith("UID FETCH")]
        assert len(fetches) == 1 and "BODY.PEEK[HEADER.FIELDS (" in fetches[0]

        d.forget_commands(user)
        started = time.perf_counter()
        idle = pull(store, account)
        assert time.perf_counter() - started < 1.0
        assert (idle.messages, idle.duplicates) == (0, 0)
        assert d.sessions(user, at_least=3)[-1] == (0, 0)  # the server sent nothing
        assert d.commands(user) == [
            'LIST "" "*"',
            'STATUS "Sent" (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)',
            "LOGOUT",
        ]

        d.append(user, [message(7)])
        d.forget_commands(user)
        newer = pull(store, account)
        assert (newer.messages, newer.duplicates) == (1, 0)
        assert [c.split(" (")[0] for c in d.commands(user) if "FETCH" in c] == ["UID FETCH 4"]
        c = d.client(user)
        c.select_folder("Sent", readonly=True)
        assert all(b"\\Seen" not in f for f in c.get_flags([1, 2, 3, 4]).values())  # PEEK
        c.logout()


def test_condstore_skips_flag_changes_and_records_highestmodseq(store: Store) -> None:
    with new_server() as d:
        user = d.add_user()
        d.append(user, [message(1), message(2)])
        account = d.account(user)
        pull(store, account)
        before = folders_in(store, account)["Sent"]["highestmodseq"]
        c = d.client(user)
        c.select_folder("Sent")
        c.add_flags([1], [b"\\Flagged"])
        c.logout()
        report = pull(store, account)
        assert (report.messages, report.duplicates) == (0, 0)
        assert d.sessions(user, at_least=4)[-1] == (0, 0)
        after = folders_in(store, account)["Sent"]
        assert after["highestmodseq"] > before and after["last_uid"] == 2


def test_without_condstore_uidnext_alone_says_what_is_new(store: Store) -> None:
    with new_server(condstore=False, rawlog=True) as d:
        user = d.add_user()
        d.append(user, [message(1), message(2)])
        account = d.account(user)
        assert pull(store, account).messages == 2
        state = folders_in(store, account)["Sent"]
        assert "highestmodseq" not in state and state["last_uid"] == 2
        d.forget_commands(user)
        assert pull(store, account).messages == 0
        assert d.commands(user)[1] == 'STATUS "Sent" (UIDVALIDITY UIDNEXT MESSAGES)'
        assert d.sessions(user, at_least=3)[-1] == (0, 0)
        d.append(user, [message(3)])
        assert pull(store, account).messages == 1


# -- UIDVALIDITY -------------------------------------------------------------------------
def set_uidvalidity(d: Dovecot, user: str, value: int) -> None:
    d.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(value), "Sent")


def test_a_new_uidvalidity_rereads_the_folder_without_duplicate_touchpoints(
        store: Store) -> None:
    with new_server() as d:
        user = d.add_user()
        d.append(user, [message(n) for n in range(3)])
        account = d.account(user)
        pull(store, account)
        old = folders_in(store, account)["Sent"]["uidvalidity"]
        set_uidvalidity(d, user, old + 100)
        again = pull(store, account)
        assert (again.messages, again.duplicates, again.touchpoints) == (0, 3, 0)
        assert store.counts()["touchpoints"] == 3
        state = folders_in(store, account)["Sent"]
        assert (state["uidvalidity"], state["changes"]) == (old + 100, 1)
        steady = pull(store, account)
        assert (steady.messages, steady.duplicates) == (0, 0)
        assert folders_in(store, account)["Sent"]["changes"] == 0


def test_a_lower_uidvalidity_is_not_a_change(store: Store) -> None:
    """RFC 3501 requires a greater value: a lower one is a stale replica, not a renumbering;
    the stored value stays, nothing is read again, and new mail still arrives."""
    with new_server() as d:
        user = d.add_user()
        d.append(user, [message(1), message(2)])
        account = d.account(user)
        pull(store, account)
        old = folders_in(store, account)["Sent"]["uidvalidity"]
        set_uidvalidity(d, user, 1000)  # Dovecot's own values are Unix times, far above
        again = pull(store, account)
        assert (again.messages, again.duplicates) == (0, 0)
        state = folders_in(store, account)["Sent"]
        assert (state["uidvalidity"], state["last_uid"], state["changes"]) == (old, 2, 0)
        d.append(user, [message(3)])
        assert pull(store, account).messages == 1
        set_uidvalidity(d, user, old)  # back and forth: still nothing read again
        assert pull(store, account).duplicates == 0


def test_a_renumbered_folder_is_read_again_whatever_its_uidvalidity(store: Store) -> None:
    """A restore that hands out UIDs again (UIDNEXT at or below the last UID read) is a
    change even when UIDVALIDITY went down."""
    with new_server() as d:
        user = d.add_user()
        d.append(user, [message(n) for n in range(5)])
        account = d.account(user)
        pull(store, account)
        d.doveadm("expunge", "-u", user, "mailbox", "Sent", "all")
        d.doveadm("mailbox", "delete", "-u", user, "Sent")
        d.doveadm("mailbox", "create", "-u", user, "Sent")
        set_uidvalidity(d, user, 1000)
        d.append(user, [message(n) for n in range(3)] + [message(9)])  # UIDs 1-4 again
        again = pull(store, account)
        assert (again.messages, again.duplicates) == (1, 3)
        assert folders_in(store, account)["Sent"]["uidvalidity"] == 1000


def test_a_server_that_keeps_changing_uidvalidity_is_reported(store: Store) -> None:
    with new_server() as d:
        user = d.add_user()
        d.append(user, [message(1), message(2)])
        account = d.account(user)
        pull(store, account)
        base = folders_in(store, account)["Sent"]["uidvalidity"]
        for i in (1, 2):
            set_uidvalidity(d, user, base + i)
            assert pull(store, account).duplicates == 2
        set_uidvalidity(d, user, base + 3)
        with pytest.raises(SourceError, match="server keeps changing UIDVALIDITY of 'Sent'"):
            pull(store, account)
        assert folders_in(store, account)["Sent"] == {
            "uidvalidity": base + 3, "last_uid": 0, "changes": 3}
        settled = pull(store, account)  # the same value twice: read again, then quiet
        assert (settled.duplicates, folders_in(store, account)["Sent"]["changes"]) == (2, 0)
        assert store.counts()["touchpoints"] == 2


def test_plan_rules() -> None:
    st = Status(uidvalidity=5, uidnext=11, messages=10, highestmodseq=40)
    assert plan(None, st).after == 0 and not plan(None, st).skip
    assert plan(None, Status(5, 1, 0, 1)).skip
    assert plan(FolderState(5, 10, 40), st).skip
    assert plan(FolderState(5, 10, 39), st).skip  # UIDNEXT: nothing above last_uid
    assert plan(FolderState(5, 8, None), st).after == 8
    assert plan(FolderState(5, 8, 40), st).skip  # same HIGHESTMODSEQ: nothing changed
    reused = plan(FolderState(5, 12, None), st)  # UIDNEXT at or below a UID already read
    assert reused.changed and reused.after == 0
    down = plan(FolderState(6, 10, 40), st)  # lower: a stale replica, no change
    assert not down.changed and down.state == FolderState(6, 10, 40, 0) and down.skip
    assert plan(FolderState(6, 8, None), st).after == 8
    up = plan(FolderState(4, 10, 40, changes=1), st)
    assert up.changed and up.state == FolderState(5, 0, None, 2) and not up.skip
    third = plan(FolderState(4, 10, 40, changes=2), st)
    assert third.keeps_changing and third.skip


def test_configured_folders_each_keep_their_own_cursor(store: Store) -> None:
    with new_server(folders=["Archive"]) as d:
        user = d.add_user()
        d.append(user, [message(1), message(2)])
        d.append(user, [message(3)], folder="Archive")
        account = d.account(user, folders=["Sent", "Archive"])
        assert pull(store, account).messages == 3
        state = folders_in(store, account)
        assert (state["Sent"]["last_uid"], state["Archive"]["last_uid"]) == (2, 1)
        d.append(user, [message(4)], folder="Archive")
        assert pull(store, account).messages == 1
        only_sent = d.account(user, folders=["Sent"])
        assert pull(store, only_sent).messages == 0
        assert list(folders_in(store, only_sent)) == ["Sent"]  # Archive's state dropped


# -- folders that go away -------------------------------------------------------------
def test_sent_deleted_and_recreated_is_read_again_without_duplicates(store: Store) -> None:
    with new_server() as d:
        user = d.add_user()
        d.append(user, [message(1), message(2)])
        account = d.account(user)
        pull(store, account)
        c = d.client(user)
        c.delete_folder("Sent")
        c.logout()
        d.append(user, [message(1), message(2), message(3)])  # Dovecot recreates Sent
        report = pull(store, account)
        assert (report.messages, report.duplicates) == (1, 2)
        assert store.counts()["touchpoints"] == 3


def test_a_renamed_sent_folder_is_found_again_without_duplicates(store: Store) -> None:
    with new_server(sent=None) as d:
        user = d.add_user()
        c = d.client(user)
        c.create_folder("Sent")
        c.logout()
        d.append(user, [message(1), message(2)], folder="Sent")
        account = d.account(user)
        pull(store, account)
        c = d.client(user)
        c.rename_folder("Sent", "Sent Items")
        c.logout()
        d.append(user, [message(3)], folder="Sent Items")
        report = pull(store, account)
        assert (report.messages, report.duplicates) == (1, 2)
        assert list(folders_in(store, account)) == ["Sent Items"]


def test_a_configured_folder_that_was_deleted_is_named_in_the_error(store: Store) -> None:
    with new_server(sent=None) as d:
        user = d.add_user()
        c = d.client(user)
        c.create_folder("Archive/2025")
        c.logout()
        d.append(user, [message(1)], folder="Archive/2025")
        account = d.account(user, folders=["Archive/2025"])
        assert pull(store, account).messages == 1
        c = d.client(user)
        c.delete_folder("Archive/2025")
        c.logout()
        with pytest.raises(SourceError) as e:
            pull(store, account)
        assert "'Archive/2025' not found" in str(e.value)
        assert "accounts[imap].folders" in str(e.value)


# -- faults ------------------------------------------------------------------------------
def test_wrong_password_is_an_auth_error_never_retried_nor_shown(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "wrong-Pa55word-Zq7"
    with new_server() as d:
        user = d.add_user()
        # A command that holds the password itself: even then the error must not show it.
        account = d.account(user, retries=3, password_command=f"echo {secret}")
        with pytest.raises(AuthError) as e:
            pull(store, account)
        time.sleep(0.3)  # the log process writes a moment later
        failed = re.findall(rf"auth failed, (\d+) attempts? in \d+ secs?\): user=<{user}>",
                            d.log.read_text())
        assert failed == ["1"]  # one connection with one login: no retry
    text = str(e.value)
    assert text.startswith(f"IMAP server refused the login of {user}@127.0.0.1; check the "
                           "password that password_command prints (echo ********)")
    assert "keepwarm auth" not in text  # a password account has no sign-in to run
    assert secret not in text and secret not in caplog.text
    assert PASSWORD not in caplog.text


def test_connection_refused_is_transient(store: Store) -> None:
    config = AccountConfig("imap", "imap", options={
        "host": "127.0.0.1", "port": free_port(), "tls": "none", "username": "u",
        "password_command": "echo x", "keyring": False, "folders": [], "retries": 0,
        "timeout": 5})  # nothing listens on that port
    with pytest.raises(TransientError, match="Connection refused"):
        pull(store, config)


def test_a_silent_server_times_out_as_transient(store: Store) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never greets
        config = AccountConfig("imap", "imap", options={
            "host": "127.0.0.1", "port": silent.getsockname()[1], "tls": "none",
            "username": "u", "password_command": "echo x", "keyring": False, "folders": [],
            "retries": 0, "timeout": 1})
        started = time.perf_counter()
        with pytest.raises(TransientError, match="no answer within 1 s"):
            pull(store, config)
        assert time.perf_counter() - started < 3


def test_a_non_ascii_password_logs_in(store: Store) -> None:
    with new_server(password="pässwörd-€-7") as d:  # LOGIN is ASCII-only: AUTHENTICATE PLAIN
        user = d.add_user()
        d.append(user, [message(1)])
        assert pull(store, d.account(user)).messages == 1


def test_tls_against_a_plain_text_port_is_transient(store: Store) -> None:
    with new_server() as d:
        account = d.account(d.add_user(), tls="ssl")
        with pytest.raises(TransientError, match="SSL"):
            pull(store, account)


def test_starttls_the_server_does_not_offer_says_what_to_set(store: Store) -> None:
    with new_server() as d:
        account = d.account(d.add_user(), tls="starttls")
        with pytest.raises(SourceError, match=r"does not offer STARTTLS; set accounts\[imap\]"):
            pull(store, account)


def test_plain_text_is_refused_unless_the_host_is_loopback(tmp_path: Path) -> None:
    table = {"name": "work", "type": "imap", "port": 143, "tls": "none", "username": "u",
             "password_command": "echo x"}

    def load(**options: Any) -> AccountConfig:
        return parse({"accounts": [{**table, **options}]}, tmp_path / "c.toml").accounts[0]

    with pytest.raises(ConfigError, match=r"accounts\[0\]\.tls: .*only for a loopback host"):
        load(host="imap.example.com")
    for host in ("localhost", "127.0.0.5", "::1"):
        assert is_loopback(host)
        ImapConnector(load(host=host))
    for host in ("10.0.0.1", "localhost.example.com", "127.1", "::ffff:127.0.0.1", "[::1]"):
        assert not is_loopback(host)
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.tls: must be one of 'ssl', "
                                          "'starttls', 'none', not 'yes'"):
        load(tls="yes", host="localhost")


def kill_after_first_batch(d: Dovecot, restart: bool, how: str = "kill",
                           user: str = "") -> sync.Progress:
    done: list[bool] = []

    def progress(name: str, result: IngestResult, remaining: int | None = None) -> None:
        if done:
            return
        done.append(True)
        if how == "kill":
            d.kill()
        else:  # the server ends the session: "* BYE", then the connection closes
            d.doveadm("kick", user)
        if restart and d.process is None:
            d.start()
    return progress


@pytest.mark.parametrize("how", ["kill", "kick"])  # SIGKILL: cut mid-session; kick: BYE
def test_server_killed_mid_sync_then_restarted_loses_nothing(
        store: Store, how: str) -> None:
    with new_server() as d:
        user = d.add_user()
        d.append(user, [message(n) for n in range(10)])
        account = d.account(user)
        with pytest.raises(TransientError):
            pull(store, account, conn=ImapConnector(account, chunk=3),
                 progress=kill_after_first_batch(d, False, how, user))
        assert store.counts()["messages"] == 3
        assert folders_in(store, account)["Sent"]["last_uid"] == 3
        d.start()  # no-op when it still runs
        rest = pull(store, account)
        assert (rest.messages, rest.duplicates) == (7, 0)
        assert store.counts()["messages"] == 10 and store.counts()["touchpoints"] == 10


def test_a_dropped_connection_is_retried_within_the_sync(
        store: Store) -> None:
    with new_server() as d:
        user = d.add_user()
        d.append(user, [message(n) for n in range(10)])
        account = d.account(user, retries=1)
        left: list[int | None] = []
        kill = kill_after_first_batch(d, restart=True)

        def progress(name: str, result: IngestResult, remaining: int | None = None) -> None:
            left.append(remaining)
            kill(name, result, remaining)
        report = pull(store, account, conn=ImapConnector(account, chunk=4), progress=progress)
        assert (report.messages, report.duplicates) == (10, 0)
        assert left == [6, 2, 0, None]  # chunks of 4, then the final cursor
        assert store.counts()["touchpoints"] == 10


# -- pure pieces -------------------------------------------------------------------------
def test_uid_sets_name_exactly_the_chunk() -> None:
    assert uid_sets([1, 2, 3, 5, 7, 8, 9, 10], size=3) == [
        ([1, 2, 3], "1:3"), ([5, 7, 8], "5,7:8"), ([9, 10], "9:10")]
    gappy = list(range(1, 20001, 2))
    chunks = uid_sets(gappy, size=5000, max_chars=100)
    assert all(len(s) <= 100 for _, s in chunks)
    assert [u for c, _ in chunks for u in c] == gappy
    assert uid_sets([]) == []


BODY = (b"BODY[HEADER.FIELDS (FROM TO CC BCC DATE MESSAGE-ID SUBJECT LIST-ID LIST-UNSUBSCRIBE "
        b"PRECEDENCE AUTO-SUBMITTED IN-REPLY-TO REFERENCES X-AUTOREPLY X-AUTORESPOND "
        b"X-AUTORESPONDER CONTENT-TYPE)]")


def test_fetch_replies_of_other_shapes_still_parse() -> None:
    fast = parse_reply([(b'1 (UID 7 INTERNALDATE "22-Nov-2026 09:30:00 +0100" ' + BODY
                         + b" {5}", b"To: x"), b")"])
    assert fast[7][0] == b"To: x"
    assert fast[7][1] == datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
    other = parse_reply([(b"1 (" + BODY + b" {5}", b"To: y"),
                         b' UID 8 INTERNALDATE " 2-Nov-2026 09:30:00 -0130")',
                         b"2 (FLAGS (\\Seen) UID 9)"])
    assert other[8][0] == b"To: y" and other[8][1] == datetime(2026, 11, 2, 11, 0, tzinfo=UTC)
    assert other[9] == (None, None)  # an unsolicited FLAGS update: no headers
    assert parse_reply([None]) == {}


def test_cursor_is_plain_json() -> None:
    states = {"Sent": FolderState(7, 42, 99, 0), "Old": FolderState(3, 1)}
    raw = json.loads(json.dumps(imapfolders.dump_cursor(states)))
    assert imapfolders.load_cursor(raw) == states
    assert "v" not in raw  # the version key earlier releases wrote: nobody read it
    assert imapfolders.load_cursor({"v": 1, **raw}) == states  # theirs still load
    assert imapfolders.load_cursor({"folders": {"Sent": {"uidvalidity": "x"}}}) == {}
