"""`keepwarm awaiting`, `keepwarm done`, the follow-up reminders a sync writes, and the
status line, end to end: a Maildir of sent mail and one of received mail, the real pipeline."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from daemon import ingest
from daemon.config import Config
from daemon.model import AccountConfig, Address, Batch, CadenceRule, Mail, Settings
from daemon.store import Store
from daemon.sync import followups_off
from tests.test_cli import TODAY, Home, noon

JANE = "Jane Doe <jane@acme.example>"


class Mailbox(Home):
    """A Home whose maildir account also reads an INBOX of received mail."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.inbox = root / "Mail" / "INBOX"
        for sub in ("cur", "new", "tmp"):
            (self.inbox / sub).mkdir(parents=True)
        text = self.config.read_text()
        self.config.write_text(text.replace('path = "Mail/Sent"\n',
                                            'path = "Mail/Sent"\nreceived = ["Mail/INBOX"]\n'))

    def receive(self, days_ago: int, sender: str, reply_to: str = "", subject: str = "Re: x",
                extra: str = "") -> None:
        self.n += 1
        when = noon(days_ago)
        refs = f"In-Reply-To: <{reply_to}>\nReferences: <{reply_to}>\n" if reply_to else ""
        msg = (f"From: {sender}\nTo: Me <me@example.com>\nDate: {format_datetime(when)}\n"
               f"Message-ID: <r{self.n}@elsewhere.example>\nSubject: {subject}\n{refs}{extra}"
               "\nhello\n")
        (self.inbox / "cur" / f"{int(when.timestamp())}.{self.n}_in.host:2,S").write_text(msg)

    def out(self, capsys: pytest.CaptureFixture[str], *args: str) -> str:
        capsys.readouterr()
        assert self.run(*args) == 0
        return capsys.readouterr().out

    def awaiting(self, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
        got = json.loads(self.out(capsys, "awaiting", "--json", *args))
        assert isinstance(got, list)
        return got


@pytest.fixture
def box(tmp_path: Path) -> Mailbox:
    return Mailbox(tmp_path)


def ics(box: Mailbox) -> str:
    return box.reminders.read_text().replace("\r\n ", "").replace("\\,", ",")


def test_an_unanswered_message_is_followed_up_until_the_reply_comes(
        box: Mailbox, capsys: pytest.CaptureFixture[str]) -> None:
    box.send(1, JANE)  # m1, subject "note 1"
    assert box.run("sync") == 0
    [a] = box.awaiting(capsys)
    assert set(a) >= {"email", "name", "subject", "message_id", "thread", "sent", "waiting_days",
                      "attempt", "next_followup", "state"}
    assert (a["email"], a["name"], a["subject"], a["message_id"], a["attempt"], a["state"]) == (
        "jane@acme.example", "Jane Doe", "note 1", "m1@example.com", 1, "waiting")
    assert a["waiting_days"] == 1 and a["sent"] == [noon(1).isoformat()]
    assert 'Follow up: Jane Doe — no reply to "note 1"' in ics(box)
    shown = box.out(capsys, "show", "jane@acme.example")
    assert f'waiting for a reply to "note 1" for 1 day: attempt 1, next follow-up ' \
           f'{a["next_followup"]}' in shown
    about = json.loads(box.out(capsys, "show", "jane@acme.example", "--json"))
    assert about["awaiting"] == [a]
    assert "In-Reply-To=%3Cm1@example.com%3E" in ics(box)

    box.receive(0, JANE, reply_to="m1@example.com")
    assert box.run("sync") == 0
    assert box.awaiting(capsys) == []
    assert "no reply to" not in ics(box)


def test_attempts_gone_quiet_and_the_table_when_piped(
        box: Mailbox, capsys: pytest.CaptureFixture[str]) -> None:
    for i, days in enumerate((40, 30, 20, 10)):  # four in a row to bob: gone quiet
        box.send(days, "bob@bob.example", extra="In-Reply-To: <m1@example.com>\n" if i else "")
    box.send(2, JANE)
    box.send(1, JANE, extra="In-Reply-To: <m5@example.com>\n")  # attempt 2
    assert box.run("sync") == 0
    assert [(a["email"], a["attempt"]) for a in box.awaiting(capsys)] == [
        ("jane@acme.example", 2)]
    quiet = box.awaiting(capsys, "--all")[-1]
    assert (quiet["email"], quiet["attempt"], quiet["state"], quiet["next_followup"]) == (
        "bob@bob.example", 4, "gone_quiet", None)
    assert "gone quiet after 4 attempts" in box.out(capsys, "show", "bob@bob.example")
    lines = box.out(capsys, "awaiting").splitlines()
    assert lines[0].split("\t") == ["next_followup", "name", "email", "subject", "sent",
                                    "attempt", "waiting_days"]
    assert lines[1].split("\t")[1:4] == ["Jane Doe", "jane@acme.example", "note 6"]
    assert box.awaiting(capsys, "--as-of", (TODAY - timedelta(days=3)).isoformat()) == []
    then = box.awaiting(capsys, "--as-of", (TODAY - timedelta(days=15)).isoformat())
    assert [(a["email"], a["attempt"], a["state"]) for a in then] == [
        ("bob@bob.example", 3, "waiting")]


def test_done_by_address_and_by_message_id(
        box: Mailbox, capsys: pytest.CaptureFixture[str]) -> None:
    box.send(3, JANE)
    box.send(2, "jane@acme.example")
    box.send(1, "bob@bob.example")
    assert box.run("sync") == 0
    assert len(box.awaiting(capsys)) == 3
    said = box.out(capsys, "done", JANE)
    assert "2 threads with Jane Doe" in said and "next `keepwarm sync`" in said
    assert [a["email"] for a in box.awaiting(capsys)] == ["bob@bob.example"]
    assert "m1@example.com" in (box.root / "kw.steering.toml").read_text()
    box.out(capsys, "done", "<m3@example.com>")
    assert box.awaiting(capsys) == []
    assert "nothing to do" in box.out(capsys, "done", "jane@acme.example")


def test_done_refuses_what_it_cannot_find_in_one_line(
        box: Mailbox, capsys: pytest.CaptureFixture[str]) -> None:
    box.send(1, JANE)
    assert box.run("sync") == 0
    capsys.readouterr()
    for wrong in ("nobody@nowhere.example", "<not-a-message>", "Jane"):
        assert box.run("done", wrong) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
    assert len(box.awaiting(capsys)) == 1


def test_without_received_mail_follow_ups_are_off_and_status_says_why(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(1, JANE)
    assert home.run("sync") == 0
    assert not home.reminders.exists() or "no reply to" not in home.reminders.read_text()
    capsys.readouterr()
    home.run("status")
    assert re.search(r"^follow-ups: off: no account reads received mail", capsys.readouterr().out,
                     re.MULTILINE)
    assert home.run("awaiting") == 0
    assert capsys.readouterr().out.startswith("follow-ups: off: no account reads received mail")
    assert home.run("awaiting", "--json") == 0
    got = capsys.readouterr()
    assert json.loads(got.out) == [] and got.err.startswith("follow-ups: off")
    assert home.run("done", "jane@acme.example") == 2


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


def test_follow_ups_wait_for_every_account_reading_replies_to_sync_once(tmp_path: Path) -> None:
    def account(name: str, kind: str = "maildir", **options: object) -> AccountConfig:
        return AccountConfig(name, kind, options=options)

    def off(*accounts: AccountConfig, settings: Settings | None = None) -> str | None:
        cfg = Config(tmp_path / "c.toml", settings or Settings(), tmp_path / "kw.db", tmp_path,
                     accounts)
        return followups_off(cfg, store)

    store = Store(tmp_path / "kw.db")
    sent, inbox, imap = (account("sent", received=[]), account("inbox", received=["INBOX"]),
                         account("imap", "imap", received_folders=["INBOX"]))
    assert (off(sent) or "").startswith("off: no account reads received mail")
    assert off(sent, inbox, imap) == ("waiting for the first sync of inbox, imap, which reads "
                                      "the replies")
    store.record_attempt("inbox", datetime.now(UTC), None)
    store.record_attempt("imap", datetime.now(UTC), "refused")
    assert (off(sent, inbox, imap) or "").startswith("waiting for the first sync of imap")
    store.record_attempt("imap", datetime.now(UTC), None)
    assert off(sent, inbox, imap) is None
    assert (off(inbox, settings=Settings(followup_after=())) or "").startswith(
        "off: [followup] after = []")
    assert off(inbox, settings=Settings(followup_after=(), rules=(
        CadenceRule("tag:prospect", None, (2,)),))) is None


def test_received_mail_stored_turns_follow_ups_on(tmp_path: Path) -> None:
    """A source without a received option (the tests' memory connector) that delivered
    received mail: its mail is the evidence."""
    settings = Settings(own_addresses=frozenset({"me@example.com"}))
    store = Store(tmp_path / "kw.db")
    cfg = Config(tmp_path / "c.toml", settings, tmp_path / "kw.db", tmp_path,
                 (AccountConfig("mem", "memory"),))
    assert followups_off(cfg, store) is not None
    reply = Mail("r1", datetime.now(UTC), Address("jane@acme.example"),
                 to=(Address("me@example.com"),), received=True)
    ingest.store_batch(store, "mem", Batch([reply], None), settings, datetime.now(UTC))
    assert followups_off(cfg, store) is None
