"""Reminders one can act on (issue 16): what a reminder says besides its dates (the last
message's subject and link, the last meeting, a mailto:), ``[reminders] include_subject``
for a shared calendar, and ``[reminders] alarm``, each through ``keepwarm sync``."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import icalendar
import pytest

from connectors.memory import MemoryConnector, MemoryData
from daemon.cli import main
from daemon.model import (
    Address,
    Attendee,
    Awaiting,
    ContactFacts,
    Mail,
    Meeting,
    Promise,
    PromiseStatus,
    RemoteReminder,
    Status,
)
from daemon.reminders import contacts, describe, promises
from tests.test_cli import Home as FileHome

NOW = datetime.now(UTC).replace(microsecond=0)
ME = "me@work.example"
JANE = "jane@acme.example"
GMAIL_LINK = "https://mail.google.com/mail/#all/18c2f0a1b2c3d4e5"
_keys = itertools.count()


def ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


class Home:
    """One in-memory account that is both the mail read and the reminders calendar."""

    def __init__(self, root: Path, reminders: str = "") -> None:
        self.key = f"actionable-{next(_keys)}"
        self.data = MemoryConnector.DATA.setdefault(self.key, MemoryData())
        self.config = root / "config.toml"
        self.config.write_text(f"""
[identity]
addresses = ["{ME}"]
timezone = "UTC"
[store]
path = "{root / 'kw.db'}"
[reminders]
calendar = "mail"
{reminders}
[[accounts]]
name = "mail"
type = "memory"
key = "{self.key}"
""")

    def send(self, mid: str, days: int, subject: str, link: str = "", to: str = JANE) -> None:
        self.data.mail.append(Mail(mid, ago(days), Address(ME), to=(Address(to, "Jane Doe"),),
                                   subject=subject, link=link))

    def meet(self, days: int, summary: str) -> None:
        start = ago(days)
        self.data.meetings[f"meet-{days}"] = Meeting(
            f"meet-{days}", start, start + timedelta(hours=1), Address(ME),
            (Attendee(Address(JANE), "accepted"),), summary=summary)

    def run(self, *args: str) -> int:
        return main(["--config", str(self.config), *args])

    def reminder(self) -> RemoteReminder:
        [r] = [r for r in self.data.reminders.values() if r.rid.contact == JANE]
        return r


def lapsed_jane(home: Home) -> None:
    """Jane: three messages and a meeting, the last 120 days ago: due under the 90-day
    default, so her reminder is written today."""
    home.send("m1", 300, "Kick-off")
    home.meet(200, "Quarterly review")
    home.send("m2", 150, "Lunch in March?", link=GMAIL_LINK)
    home.send("m3", 120, "Slides for Tuesday", to="bo@acme.example")


def test_a_reminder_says_what_was_last_said_and_opens_the_conversation(
        tmp_path: Path) -> None:
    home = Home(tmp_path)
    lapsed_jane(home)
    assert home.run("sync") == 0
    text = home.reminder().description
    assert 'Last message: "Lunch in March?"' in text  # hers, not Bo's later one
    assert 'Last meeting: "Quarterly review"' in text
    assert f"Open: {GMAIL_LINK}" in text
    assert f"Write: mailto:{JANE}" in text
    assert "Kick-off" not in text and "today" not in text.lower()


def test_a_later_message_without_a_link_names_itself_and_opens_nothing_stale(
        tmp_path: Path) -> None:
    home = Home(tmp_path)
    lapsed_jane(home)
    home.send("m4", 100, "Contract", link="")
    assert home.run("sync") == 0
    text = home.reminder().description
    assert 'Last message: "Contract"' in text and "Open:" not in text
    assert "Lunch in March?" not in text


def test_an_unchanged_contact_keeps_its_event_untouched(tmp_path: Path) -> None:
    home = Home(tmp_path, 'alarm = "10min"')
    lapsed_jane(home)
    assert home.run("sync") == 0
    first = home.reminder()
    assert first.alarm == timedelta(minutes=10)
    home.send("r1", 5, "Re: hello", to=ME)  # received mail is never a touchpoint
    assert home.run("sync") == 0
    assert home.reminder() == first


def test_a_new_alarm_setting_reaches_the_reminders_already_written_once(
        tmp_path: Path) -> None:
    home = Home(tmp_path)
    lapsed_jane(home)
    assert home.run("sync") == 0
    before = home.reminder()
    assert before.alarm is None
    home.config.write_text(home.config.read_text().replace(
        'calendar = "mail"', 'calendar = "mail"\nalarm = "15min"'))
    assert home.run("sync") == 0
    after = home.reminder()
    assert after.alarm == timedelta(minutes=15) and after.uid == before.uid
    assert (after.start, after.description) == (before.start, before.description)
    assert home.run("sync") == 0
    assert home.reminder() == after


def test_include_subject_false_leaves_subjects_out_but_keeps_the_links(
        tmp_path: Path) -> None:
    home = Home(tmp_path, "include_subject = false")
    lapsed_jane(home)
    assert home.run("sync") == 0
    r = home.reminder()
    text = r.title + r.description
    assert "Lunch" not in text and "Quarterly" not in text and "Last message" not in text
    assert f"Open: {GMAIL_LINK}" in text and f"Write: mailto:{JANE}" in text
    assert r.alarm is None


def test_an_ics_reminder_gets_a_display_alarm_and_is_not_rewritten(
        tmp_path: Path) -> None:
    home = FileHome(tmp_path)
    home.config.write_text(home.config.read_text().replace(
        'horizon = "14d"', 'horizon = "14d"\nalarm = "1h"'))
    for d in (400, 300, 120):
        home.send(d, "Ann Lee <ann@example.org>")
    assert home.run("sync") == 0
    first = home.reminders.read_bytes()
    [event] = icalendar.Calendar.from_ical(first).walk("VEVENT")
    [alarm] = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY" and alarm.decoded("TRIGGER") == -timedelta(hours=1)
    assert 'Last message: "note 3"' in str(event["DESCRIPTION"])
    assert home.run("sync") == 0
    assert home.reminders.read_bytes() == first


def test_an_alarm_a_server_adds_is_not_keepwarms_to_take_away(tmp_path: Path) -> None:
    """A calendar that adds its default alarm to every event must not make keepwarm
    rewrite its reminders on each sync, with or without an alarm of its own."""
    home = FileHome(tmp_path)
    for d in (400, 300, 120):
        home.send(d, "Ann Lee <ann@example.org>")
    plain = home.config.read_text()
    for setting in ("none", "1h"):
        home.config.write_text(plain.replace('horizon = "14d"',
                                             f'horizon = "14d"\nalarm = "{setting}"'))
        assert home.run("sync") == 0
        added = home.reminders.read_bytes().replace(
            b"END:VEVENT", b"BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:default\r\n"
                           b"TRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT")
        home.reminders.write_bytes(added)
        assert home.run("sync") == 0
        assert home.reminders.read_bytes() == added


@pytest.mark.parametrize(("value", "problem"), [
    ('"soon"', "reminders.alarm: 'soon' is not a duration"),
    ('"90s"', "reminders.alarm: must be whole minutes"),
    ('"2d"', "reminders.alarm: must be at most 1d"),
    ('"-5min"', "reminders.alarm: must be longer than zero, like '15min', not '-5min'"),
    ("10", "reminders.alarm: must be a string, not an integer 10"),
])
def test_a_bad_alarm_is_one_line_naming_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, problem: str) -> None:
    home = Home(tmp_path, f"alarm = {value}")
    assert home.run("lapsed") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and problem in err and "Traceback" not in err


# -- the descriptions themselves: pure functions of what is known -------------------------
def status(**facts: object) -> Status:
    f = ContactFacts(key=JANE, emails=(JANE, "j@home.example"), name="Jane Doe",
                     touchpoints=4, meetings=1, last_touch=ago(120), last_channel="email",
                     **facts)  # type: ignore[arg-type]
    last = ago(120).date()
    return Status(f, True, "", 90, "default", last, last + timedelta(days=90), 30)


def test_the_description_is_a_function_of_the_facts_alone() -> None:
    s = status(last_subject="Lunch", last_meeting="Review", last_link=GMAIL_LINK)
    title, text = describe(s)
    assert (title, text) == describe(s)
    assert text.splitlines()[:2] == [f"Last touch: {s.last_date} by e-mail",
                                     'Last message: "Lunch"']
    assert text.index("Last meeting") < text.index("Cadence") < text.index("Open:")
    assert "Write: mailto:jane@acme.example" in text  # the key, not the other address


def test_a_mailto_escapes_what_a_url_cannot_hold() -> None:
    s = status()
    odd = replace(s.facts, key="a&b?c@x.example", emails=("a&b?c@x.example",))
    _, text = describe(replace(s, facts=odd))
    assert "Write: mailto:a%26b%3Fc@x.example" in text


def test_a_private_follow_up_names_no_subject_and_no_subject_in_its_link() -> None:
    sent = datetime(2026, 2, 20, 16, 0, tzinfo=UTC)
    a = Awaiting(email=JANE, name="Jane Doe", subject="Salary review", message_id="m9",
                 thread="t9", sent=(sent,), attempt=1, next_followup=date(2026, 3, 4),
                 state="waiting", link="mailto:jane@acme.example?subject=Re%3A%20Salary",
                 contact=JANE)
    [shown] = contacts([], [a], date(2026, 3, 2), UTC)
    [private] = contacts([], [a], date(2026, 3, 2), UTC, subjects=False)
    assert "Salary" in shown.title + shown.description
    assert "Salary" not in private.title + private.description
    assert private.title == "Follow up: Jane Doe — no reply to your message of 2026-02-20"
    assert f"Open: mailto:{JANE}" in private.description
    assert private.rid == shown.rid and private.due == shown.due


def test_a_private_promise_keeps_its_words_out_of_the_calendar() -> None:
    made = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    p = Promise(email=JANE, name="Jane Doe", due=date(2026, 3, 5), made=made,
                source="detected", key="m7", message_id="m7",
                note="I'll send the salary figures on Thursday")
    [shown] = promises([PromiseStatus(p, "open")], date(2026, 3, 2), UTC)
    [private] = promises([PromiseStatus(p, "open")], date(2026, 3, 2), UTC, subjects=False)
    assert "salary" in shown.title + shown.description
    assert "salary" not in private.title + private.description
    assert private.title == "Promised: Jane Doe (2 Mar)" and private.rid == shown.rid
