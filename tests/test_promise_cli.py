"""Promises end to end (issue 15), through ``daemon.cli.main`` and the sync with in-memory
accounts: a plus tag on a sent message, a sentence found in the user's text and `keepwarm
remind` each make a reminder on the promised day; a touchpoint keeps a promise and the next
sync removes its reminder; an answer before the day drops it (not with ``-always``); an
overdue one stays on today; `keepwarm promises`, `done`, `show` and `status`."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.memory import MemoryConnector, MemoryData
from daemon import steering, sync
from daemon.cli import main
from daemon.config import load
from daemon.model import Address, Mail, PromiseText, RemoteReminder

ME = "me@work.example"
JANE = Address("jane@acme.example", "Jane Doe")
# noon today (UTC, the config's zone): whatever the hour the suite runs, "3 days ago" and
# "in 2 days" are the same calendar days
NOW = datetime.combine(datetime.now(UTC).date(), time(12), tzinfo=UTC)
TODAY = NOW.date()
_keys = itertools.count()


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


class Desk:
    """A config with one in-memory mail account and an in-memory reminders calendar."""

    def __init__(self, root: Path) -> None:
        n = next(_keys)
        self.mail = MemoryConnector.DATA.setdefault(f"p15-mail-{n}", MemoryData())
        self.cal = MemoryConnector.DATA.setdefault(f"p15-cal-{n}", MemoryData())
        self.root = root
        self.config = root / "config.toml"
        self.config.write_text(f"""
[identity]
addresses = ["{ME}"]
timezone = "UTC"
[store]
path = "{root / 'kw.db'}"
[reminders]
calendar = "cal"
[[accounts]]
name = "mail"
type = "memory"
key = "p15-mail-{n}"
[[accounts]]
name = "cal"
type = "memory"
key = "p15-cal-{n}"
""")

    def send(self, mid: str, days: float, *to: Address, bcc: tuple[str, ...] = (),
             cc: tuple[str, ...] = (), **kw: Any) -> None:
        self.mail.mail.append(Mail(mid, ago(days), Address(ME, "Me"), to=to,
                                   cc=tuple(Address(a) for a in cc),
                                   bcc=tuple(Address(a) for a in bcc), **kw))

    def receive(self, mid: str, days: float, sender: Address = JANE) -> None:
        self.mail.received.append(Mail(mid, ago(days), sender, to=(Address(ME),),
                                       subject="Re: x"))

    def run(self, *args: str) -> int:
        return main(["--config", str(self.config), *args])

    def out(self, capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
        capsys.readouterr()
        assert self.run(*args) == code
        got = capsys.readouterr()
        return got.out if code == 0 else got.err

    def json(self, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
        return json.loads(self.out(capsys, *args, "--json"))

    def sync(self, now: datetime = NOW) -> None:
        cfg = load(self.config)
        store = steering.open_store(cfg.store_path)
        try:
            report = sync.sync(cfg, store, now)
        finally:
            store.close()
        assert report.ok, report

    def promised(self) -> list[RemoteReminder]:
        return sorted((r for r in self.cal.reminders.values() if r.rid.kind == "promise"),
                      key=lambda r: r.rid.key)


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return Desk(tmp_path)


def on(day: date) -> datetime:
    """When a reminder on ``day`` starts: reminders.time (09:30) in the user's zone."""
    return datetime.combine(day, time(9, 30), tzinfo=UTC)


# -- plus tags --------------------------------------------------------------------------------
def test_a_tag_in_bcc_makes_a_reminder_on_its_day_and_a_touchpoint_keeps_it(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    desk.send("m1", 1, JANE, bcc=("me+followup-5d@work.example",), subject="Proposal Q3")
    desk.sync()
    [r] = desk.promised()
    made = ago(1).date()
    assert (r.rid.contact, r.rid.key, r.start) == ("jane@acme.example", "m1",
                                                   on(made + timedelta(days=5)))
    assert r.title == (f'Follow up: Jane Doe — "Proposal Q3" (you set 5 days on '
                       f'{made.day} {made:%b})')
    [p] = desk.json(capsys, "promises")
    assert p == {"email": "jane@acme.example", "name": "Jane Doe",
                 "due": (made + timedelta(days=5)).isoformat(), "note": "Proposal Q3",
                 "source": "tag", "message_id": "m1", "state": "open"}
    # the tag is the user's own: never a contact
    assert "me+followup-5d@work.example" not in desk.out(capsys, "contacts")
    desk.send("m2", 0.5, JANE, subject="the draft")  # in touch before the day: kept
    desk.sync()
    assert desk.promised() == []
    assert desk.json(capsys, "promises") == []
    [kept] = desk.json(capsys, "promises", "--all")
    assert kept["state"] == "kept"


def test_the_short_tag_in_to_or_cc_works_the_same_for_every_recipient(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    bob = Address("bob@acme.example", "Bob")
    day = TODAY + timedelta(days=6)
    desk.send("m1", 1, JANE, bob, cc=(f"me+kw-{day:%Y%m%d}@work.example",))
    desk.sync(NOW)
    assert [r.start for r in desk.promised()] == [on(day)]
    desk.receive("r1", 0.5, bob)  # Bob answered the thread before the day: dropped
    desk.sync()
    assert desk.promised() == []
    [p] = desk.json(capsys, "promises", "--all")
    assert (p["email"], p["state"]) == ("jane@acme.example", "dropped")


def test_an_answer_first_drops_a_tag_but_not_an_always_one(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    desk.send("m1", 2, JANE, bcc=("me+kw-7d@work.example",), subject="one")
    desk.send("m2", 2, Address("ann@x.example", "Ann"),
              bcc=("me+kw-7d-always@work.example",), subject="two")
    desk.sync()
    assert [r.rid.key for r in desk.promised()] == ["m1", "m2"]
    desk.receive("r1", 1)
    desk.receive("r2", 1, Address("ann@x.example", "Ann"))
    desk.sync()
    [r] = desk.promised()
    assert r.rid.key == "m2" and r.start == on(ago(2).date() + timedelta(days=7))
    states = {p["message_id"]: p["state"] for p in desk.json(capsys, "promises", "--all")}
    assert states == {"m1": "dropped", "m2": "open"}


def test_an_overdue_promise_stays_on_today_until_a_touchpoint(desk: Desk) -> None:
    desk.send("m1", 10, JANE, bcc=("me+kw-3d@work.example",))
    desk.sync()
    [r] = desk.promised()
    assert r.start == on(TODAY)
    desk.sync(NOW + timedelta(days=1))
    assert [r.start for r in desk.promised()] == [on(TODAY + timedelta(days=1))]
    desk.send("m2", -1.5, JANE)  # written the day after tomorrow: kept, though late
    desk.sync(NOW + timedelta(days=2))
    assert desk.promised() == []


def test_an_unparseable_tag_is_a_note_in_show_status_and_promises(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    desk.send("m1", 1, JANE, bcc=("me+kw-someday@work.example",))
    desk.sync()
    assert desk.promised() == []
    shown = desk.out(capsys, "show", "jane@acme.example")
    assert "promise note" in shown and "me+kw-someday@work.example" in shown
    assert "names no day" in shown
    status = desk.out(capsys, "status")
    assert "1 promise note" in status and "keepwarm promises --all" in status
    assert "names no day" in desk.out(capsys, "promises", "--all")


def test_the_inbox_copy_of_a_bcc_tag_is_the_same_promise_and_no_reply(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    desk.send("m1", 2, JANE, bcc=("me+kw-5d@work.example",))
    # the copy the Bcc drops into the user's inbox: the same Message-ID and From, no Bcc
    desk.mail.received.append(Mail("m1", ago(2), Address(ME), to=(JANE,)))
    desk.sync()
    assert [r.rid.key for r in desk.promised()] == ["m1"]
    [p] = desk.json(capsys, "promises")
    assert p["state"] == "open"


# -- found in the user's own text -------------------------------------------------------------
def test_a_sentence_found_in_sent_text_makes_a_reminder_and_one_with_no_time_a_note(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    due = TODAY + timedelta(days=4)
    desk.send("m1", 1, JANE, promises=(PromiseText("I'll call you on Friday.", due),
                                       PromiseText("I'll send it soon.", None)))
    desk.sync()
    [r] = desk.promised()
    made = ago(1).date()
    assert r.start == on(due)
    assert r.title == f'Promised: Jane Doe — "I\'ll call you on Friday." ({made.day} {made:%b})'
    [p] = desk.json(capsys, "promises")
    assert (p["source"], p["note"], p["message_id"]) == (
        "detected", "I'll call you on Friday.", "m1")
    assert "a promise that names no time" in desk.out(capsys, "show", "jane@acme.example")


def test_an_open_promise_wins_over_the_follow_up_of_its_message(desk: Desk) -> None:
    desk.receive("r0", 30)  # received mail is read: follow-ups are on
    desk.send("m1", 4, JANE, bcc=("me+kw-10d@work.example",), subject="tagged")
    desk.send("m2", 4, Address("ann@x.example", "Ann"), subject="untagged")
    desk.sync()
    kinds = {(r.rid.kind, r.rid.contact) for r in desk.cal.reminders.values()}
    assert ("promise", "jane@acme.example") in kinds
    assert ("followup", "ann@x.example") in kinds
    assert ("followup", "jane@acme.example") not in kinds


def test_an_ignored_contact_gets_no_promise_reminder(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    desk.send("m1", 1, JANE, bcc=("me+kw-3d@work.example",))
    desk.sync()
    assert len(desk.promised()) == 1
    assert desk.run("ignore", "jane@acme.example") == 0
    desk.sync()
    assert desk.promised() == []


# -- by hand ----------------------------------------------------------------------------------
def test_remind_records_a_promise_the_steering_file_keeps_and_done_closes(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    desk.send("m1", 40, JANE)
    desk.sync(ago(39))
    said = desk.out(capsys, "remind", "Jane Doe <jane@acme.example>", "3d", "call", "about",
                    "Q3")
    assert "jane@acme.example: promised for" in said
    due = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    [p] = desk.json(capsys, "promises")
    assert p == {"email": "jane@acme.example", "name": "Jane Doe", "due": due,
                 "note": "call about Q3", "source": "manual", "message_id": None,
                 "state": "open"}
    assert "remind" in desk.out(capsys, "steering")
    # a lost store loses none of it: the steering file has it
    for suffix in ("", "-wal", "-shm"):
        desk.root.joinpath("kw.db" + suffix).unlink(missing_ok=True)
    assert [q["note"] for q in desk.json(capsys, "promises")] == ["call about Q3"]
    desk.sync(datetime.now(UTC))
    [r] = desk.promised()
    assert r.title.startswith('Promised: Jane Doe — "call about Q3"')
    assert "Done: your promise to Jane Doe" in desk.out(capsys, "done", "jane@acme.example")
    assert desk.json(capsys, "promises") == []
    assert [q["state"] for q in desk.json(capsys, "promises", "--all")] == ["kept"]
    desk.sync(datetime.now(UTC) + timedelta(seconds=1))
    assert desk.promised() == []


def test_remind_refuses_a_bad_when_an_unknown_address_and_the_users_own(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    desk.send("m1", 4, JANE)
    desk.sync()
    err = desk.out(capsys, "remind", "jane@acme.example", "someday", code=2)
    assert len(err.strip().splitlines()) == 1 and "3d, 2w" in err and "nextweek" in err
    err = desk.out(capsys, "remind", "jane@acme.exampel", "tue", code=2)
    assert "did you mean jane@acme.example" in err and "--force" in err
    assert desk.run("remind", "--force", "new@else.example", "tue") == 0
    err = desk.out(capsys, "remind", ME, "tue", code=2)
    assert "your own" in err
    err = desk.out(capsys, "remind", "jane@acme.example", "-3d", code=2)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_done_with_a_message_id_closes_that_messages_promise_only(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    for mid in ("m1", "m2"):
        desk.mail.mail.append(Mail(mid, now - timedelta(hours=2), Address(ME), to=(JANE,),
                                   bcc=(Address("me+kw-4d@work.example"),), subject=mid))
    desk.sync(now)
    assert "Done: your promise to Jane Doe" in desk.out(capsys, "done", "<m1>")
    states = {p["message_id"]: p["state"] for p in desk.json(capsys, "promises", "--all")}
    assert states == {"m1": "kept", "m2": "open"}
    err = desk.out(capsys, "done", "<nothing@here>", code=2)
    assert "nothing@here is in no message keepwarm has seen, nor the Message-ID" in err


def test_the_json_of_show_status_and_steering_and_the_piped_table(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    desk.send("m1", 6, JANE, bcc=("me+kw-2d@work.example",), subject="late")
    desk.send("m2", 1, Address("bo@x.example"), bcc=("me+kw-nope@work.example",))
    desk.sync()
    about = desk.json(capsys, "show", "jane@acme.example")
    assert [(p["message_id"], p["state"]) for p in about["promises"]] == [("m1", "open")]
    assert desk.json(capsys, "status")["promises"] == {"open": 1, "overdue": 1, "notes": 1}
    lines = desk.out(capsys, "promises").splitlines()
    assert lines[0].split("\t") == ["due", "name", "email", "source", "note", "message_id"]
    assert lines[1].split("\t")[0] == (ago(6).date() + timedelta(days=2)).isoformat()
    # as of the day before it was made, there was no promise yet
    before = (ago(7).date()).isoformat()
    assert desk.json(capsys, "promises", "--all", "--as-of", before) == []
    assert desk.run("remind", "jane@acme.example", "2w", "lunch") == 0
    [p] = desk.json(capsys, "steering")["promised"]
    assert (p["email"], p["when"], p["note"]) == ("jane@acme.example", "2w", "lunch")
    assert set(p) == {"key", "email", "name", "due", "made", "when", "note"}
