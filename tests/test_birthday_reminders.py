"""Birthday and anniversary reminders in a calendar: all-day, on their day whatever the
budget, one event per year, dismissed a year at a time; the planner with the reference
calendar (the memory connector), then end to end through ``daemon.cli.main``."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.memory import MemoryConnector, MemoryData
from daemon import reminders
from daemon.cli import main
from daemon.model import (
    AccountConfig,
    Card,
    CardPerson,
    ContactFacts,
    PartialDate,
    ReminderId,
    ReminderRecord,
    Settings,
    Status,
)
from daemon.planner import Plan, plan

BERLIN = ZoneInfo("Europe/Berlin")
FRI = date(2026, 3, 27)  # the Sunday after it, 29 March, is when Berlin's clocks go forward
_keys = itertools.count()


def contact(key: str, due: date) -> Status:
    f = ContactFacts(key=key, emails=(key,), name=key.split("@")[0].title(), touchpoints=3,
                     meetings=0, last_touch=datetime(2025, 11, 1, tzinfo=UTC),
                     last_channel="email")
    return Status(f, True, "", 90, "default", date(2025, 11, 1), due, 0)


def person(key: str, month: int, day: int, year: int | None = None) -> CardPerson:
    return CardPerson(key, key.split("@")[0].title(), (key,), PartialDate(month, day, year),
                      source="book")


class Run:
    """The planner against the memory calendar, keeping records and dismissals as the store
    would; the calendar is one the user edits, so a deletion is a dismissal."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cal = MemoryConnector(AccountConfig(name="cal", type="memory",
                                                 options={"key": f"bday-{next(_keys)}"}))
        self.records: dict[ReminderId, ReminderRecord] = {}
        self.dismissals: dict[ReminderId, date] = {}

    def __call__(self, day: date, people: list[CardPerson], due: Sequence[Status] = ()
                 ) -> Plan:
        now = datetime.combine(day, time(7), tzinfo=self.settings.tz)
        wishes = (reminders.contacts(list(due), [], day, self.settings.tz)
                  + reminders.birthdays(people, self.settings, day, self.records))
        p = plan(wishes, self.cal.list_reminders(), self.records, self.dismissals,
                 self.settings, now, self.cal.user_editable)
        self.cal.apply(p.changes)
        self.records = {k: replace(r, confirmed=True) for k, r in p.records.items()}
        self.dismissals = p.dismissals
        return p

    def events(self) -> dict[tuple[str, str], tuple[datetime, datetime | None, bool, str]]:
        return {(e.rid.kind, e.rid.contact): (e.start, e.end, e.all_day, e.title)
                for e in self.cal.list_reminders()}


def midnight(d: date) -> datetime:
    return datetime.combine(d, time(), tzinfo=BERLIN)


def test_birthdays_take_no_room_and_are_never_moved_by_the_budget() -> None:
    """max_per_day = 1 with three contacts due: the follow-ups spread over working days as
    ever; two birthdays today and one on Sunday stay on their days, all-day, and the one
    across the change to summer time still ends at the next midnight."""
    run = Run(Settings(tz=BERLIN, max_per_day=1, horizon_days=14))
    people = [person("ann@x.org", 3, 27, 1986), person("bob@x.org", 3, 27),
              person("cy@x.org", 3, 29)]
    due = [contact(f"p{n}@x.org", FRI) for n in range(3)]
    p = run(FRI, people, due)
    assert len(p.changes) == 6
    got = run.events()
    assert got[("birthday", "ann@x.org")] == (midnight(FRI), midnight(date(2026, 3, 28)), True,
                                               "Birthday: Ann (turns 40)")
    assert got[("birthday", "bob@x.org")][:3] == (midnight(FRI), midnight(date(2026, 3, 28)),
                                                  True)
    sunday = got[("birthday", "cy@x.org")]
    assert sunday[:3] == (midnight(date(2026, 3, 29)), midnight(date(2026, 3, 30)), True)
    assert sunday[1] is not None
    assert sunday[1].astimezone(UTC) - sunday[0].astimezone(UTC) == timedelta(hours=23)
    follow = sorted(v[0].date() for k, v in got.items() if k[0] == "cadence")
    assert follow == [FRI, date(2026, 3, 30), date(2026, 3, 31)]
    assert all(not v[2] for k, v in got.items() if k[0] == "cadence")
    assert run(FRI, people, due).changes == []  # the calendar says it already


def test_a_deleted_birthday_is_dismissed_for_that_year_only() -> None:
    run = Run(Settings(tz=BERLIN, horizon_days=14))
    people = [person("ann@x.org", 3, 30, 1986)]
    run(FRI, people)
    (event,) = run.cal.list_reminders()
    assert event.rid == ReminderId("birthday", "ann@x.org", "2026-03-30")
    run.cal.data.reminders.pop(event.remote_id)  # the user deletes it
    assert run(FRI, people).changes == []
    assert run(date(2026, 3, 28), people).changes == []
    assert run.dismissals == {event.rid: date(2026, 3, 30)}
    p = run(date(2027, 3, 20), people)  # next year's is another occurrence
    (new,) = [c.reminder for c in p.changes]  # type: ignore[union-attr]
    assert (new.rid.key, new.title, new.all_day) == ("2027-03-30", "Birthday: Ann (turns 41)",
                                                     True)


def test_a_moved_birthday_stays_where_the_user_put_it_and_a_past_one_goes() -> None:
    run = Run(Settings(tz=BERLIN, horizon_days=14))
    people = [person("ann@x.org", 3, 30)]
    run(FRI, people)
    (event,) = run.cal.list_reminders()
    run.cal.user_moves(event.remote_id, start=midnight(date(2026, 3, 31)),
                       end=midnight(date(2026, 4, 1)))
    assert run(FRI, people).changes == []
    assert run(date(2026, 3, 30), people).changes == []
    (still,) = run.cal.list_reminders()
    assert still.start == midnight(date(2026, 3, 31))
    p = run(date(2026, 4, 1), people)  # its occurrence has passed: keepwarm takes it away
    assert [type(c).__name__ for c in p.changes] == ["Delete"]


def test_a_lead_puts_it_ahead_and_the_title_says_the_day() -> None:
    run = Run(Settings(tz=BERLIN, horizon_days=14, birthday_lead_days=3))
    people = [person("ann@x.org", 4, 3, 1986), person("bob@x.org", 3, 28)]
    run(FRI, people)
    got = run.events()
    assert got[("birthday", "ann@x.org")][0] == midnight(date(2026, 3, 31))
    assert got[("birthday", "ann@x.org")][3] == "Birthday: Ann (turns 40) on Friday 3 April"
    assert got[("birthday", "bob@x.org")][0] == midnight(FRI)  # its lead day has passed
    assert run(date(2026, 3, 28), people).changes == []  # and it stays there


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dates(min_value=FRI - timedelta(days=30), max_value=FRI + timedelta(days=20)),
                max_size=12),
       st.lists(st.dates(min_value=date(2000, 1, 1), max_value=date(2000, 12, 31)),
                max_size=12),
       st.integers(1, 4), st.integers(0, 20), st.integers(0, 10))
def test_birthdays_never_change_where_follow_ups_go(
        dues: list[date], born: list[date], per_day: int, horizon: int, lead: int) -> None:
    """Whatever birthdays there are, the follow-ups land exactly where they would without
    them; each birthday is all-day at midnight of its (lead) day, within the horizon."""
    s = Settings(tz=BERLIN, max_per_day=per_day, horizon_days=horizon, birthday_lead_days=lead)
    now = datetime.combine(FRI, time(7), tzinfo=BERLIN)
    follow = reminders.contacts([contact(f"p{i}@x.org", d) for i, d in enumerate(dues)], [],
                                FRI, BERLIN)
    people = [person(f"p{i}@x.org", d.month, d.day) for i, d in enumerate(born)]
    with_birthdays = follow + reminders.birthdays(people, s, FRI, {})
    alone = plan(follow, [], {}, {}, s, now, True).reminders
    both = plan(with_birthdays, [], {}, {}, s, now, True).reminders
    assert {k: r.start for k, r in both.items() if k.kind == "cadence"} == {
        k: r.start for k, r in alone.items()}
    for k, r in both.items():
        if k.kind == "birthday":
            assert r.all_day and r.start.time() == time() and r.end == midnight(
                r.start.date() + timedelta(days=1))
            assert FRI <= r.start.date() <= FRI + timedelta(days=horizon)


# -- end to end ------------------------------------------------------------------------------
class Book:
    """A user with an address book (a memory account's cards) and one .ics file that holds
    meetings and the reminders, so keepwarm reads its own events back as a source."""

    def __init__(self, root: Path) -> None:
        self.key = f"e2e-book-{next(_keys)}"
        self.data = MemoryConnector.DATA.setdefault(self.key, MemoryData())
        self.calendar = root / "cal.ics"
        self.config = root / "config.toml"
        self.config.write_text(f"""
[identity]
addresses = ["me@example.com"]
timezone = "Europe/Berlin"
[store]
path = "{root / 'kw.db'}"
[reminders]
calendar = "cal"
[[accounts]]
name = "book"
type = "memory"
key = "{self.key}"
[[accounts]]
name = "cal"
type = "ics"
path = "cal.ics"
""")
        self.calendar.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
                                 "END:VCALENDAR\r\n")

    def run(self, *args: str) -> int:
        return main(["--config", str(self.config), *args])

    def card(self, card_id: str, name: str, emails: tuple[str, ...], in_days: int,
             age: int | None = None, **kw: object) -> date:
        """A card whose birthday is ``in_days`` from today, on which they turn ``age``."""
        day = TODAY + timedelta(days=in_days)
        self.data.put_card(Card(card_id, uid=f"uid-{card_id}", name=name, emails=emails,
                                birthday=PartialDate(day.month, day.day,
                                                     day.year - age if age else None),
                                **kw))  # type: ignore[arg-type]
        return day

    def events(self) -> list[icalendar.Component]:
        cal = icalendar.Calendar.from_ical(self.calendar.read_bytes())
        return [c for c in cal.walk("VEVENT")]


TODAY = datetime.now(BERLIN).date()


@pytest.fixture
def book(tmp_path: Path) -> Book:
    return Book(tmp_path)


def test_sync_writes_all_day_birthdays_and_reads_none_back_as_meetings(
        book: Book, capsys: pytest.CaptureFixture[str]) -> None:
    far = TODAY + timedelta(days=100)
    jane = book.card("c1", "Jane Doe", ("jane@x.org", "jd@work.example"), 3, age=40,
                     anniversary=PartialDate(far.month, far.day, 2000))
    nomail = book.card("c2", "Max Mustermann", (), 5)
    book.card("c3", "Far Away", ("far@x.org",), 40)
    assert book.run("sync") == 0
    events = {str(e["SUMMARY"]): e for e in book.events()}
    assert sorted(events) == ["Birthday: Jane Doe (turns 40)", "Birthday: Max Mustermann"]
    e = events["Birthday: Jane Doe (turns 40)"]
    assert e.decoded("DTSTART") == jane and e.decoded("DTEND") == jane + timedelta(days=1)
    assert "VALUE=DATE" in e.to_ical().decode()
    assert str(e["TRANSP"]) == "TRANSPARENT" and "ATTENDEE" not in e and "VALARM" not in e
    assert str(e["X-KEEPWARM-CONTACT"]) == f"birthday:jane@x.org:{jane.isoformat()}"
    assert events["Birthday: Max Mustermann"].decoded("DTSTART") == nomail
    assert str(events["Birthday: Max Mustermann"]["X-KEEPWARM-CONTACT"]).startswith(
        "birthday:card%3A")
    first = book.calendar.read_bytes()
    assert book.run("sync") == 0  # reads cal.ics again, its own events among the meetings
    assert book.calendar.read_bytes() == first
    capsys.readouterr()
    assert book.run("status", "--json") == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert (counts["meetings"], counts["touchpoints"]) == (0, 0)
    assert book.run("contacts", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_the_birthdays_command(book: Book, capsys: pytest.CaptureFixture[str]) -> None:
    wed = TODAY + timedelta(days=1)
    jane = book.card("c1", "Jane Doe", ("jane@x.org",), 3, age=40,
                     anniversary=PartialDate(wed.month, wed.day, wed.year - 30))
    book.card("c2", "Max Mustermann", (), 0)
    book.card("c3", "Far Away", ("far@x.org",), 40)
    book.card("c4", "Tom Tu", ("tom@x.org",), 2)
    book.data.put_card(Card("c5", name="Words Only 2", emails=("w2@x.org",),
                            birthday_text="early May"))
    assert book.run("sync", "--no-write") == 0
    capsys.readouterr()
    assert book.run("birthdays", "--json") == 0
    got = json.loads(capsys.readouterr().out)
    day = TODAY.isoformat()
    assert got[0] == {"email": None, "name": "Max Mustermann", "kind": "birthday",
                      "date": day, "years": None, "source": "book"}
    assert [(g["email"], g["kind"], g["years"]) for g in got[1:]] == [
        ("jane@x.org", "anniversary", 30), ("tom@x.org", "birthday", None),
        ("jane@x.org", "birthday", 40)]
    assert got[3]["date"] == jane.isoformat()
    assert book.run("birthdays", "--days", "0") == 0  # piped: a header and tab-separated rows
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["date\tkind\tname\temail\tyears\tsource",
                     f"{day}\tbirthday\tMax Mustermann\t\t\tbook"]
    assert book.run("birthdays", "--days", "6w", "--json") == 0
    assert len(json.loads(capsys.readouterr().out)) == 5
    later = (TODAY + timedelta(days=39)).isoformat()
    assert book.run("birthdays", "--as-of", later, "--days", "1", "--json") == 0
    assert [g["name"] for g in json.loads(capsys.readouterr().out)] == ["Far Away"]
    assert book.run("ignore", "jane@x.org", "--force") == 0
    capsys.readouterr()
    assert book.run("birthdays", "--json") == 0
    assert "jane@x.org" not in {g["email"] for g in json.loads(capsys.readouterr().out)}


def test_birthdays_command_mistakes_are_one_line(
        book: Book, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (["--days", "soon"], ["--days", "20y"], ["--as-of", "tomorrow"]):
        capsys.readouterr()
        assert book.run("birthdays", *bad) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    plain = tmp_path / "plain.toml"
    plain.write_text(f'[store]\npath = "{tmp_path / "p.db"}"\n')
    capsys.readouterr()
    assert main(["--config", str(plain), "birthdays"]) == 0
    assert "No account reads an address book" in capsys.readouterr().out


def test_ignored_people_get_no_birthday_and_plan_shows_the_kind(
        book: Book, capsys: pytest.CaptureFixture[str]) -> None:
    book.card("c1", "Jane Doe", ("jane@x.org",), 3)
    book.card("c2", "Ig Nored", ("ig@x.org",), 4)
    assert book.run("sync", "--no-write") == 0
    assert book.run("ignore", "ig@x.org") == 0
    capsys.readouterr()
    assert book.run("plan", "--json") == 0
    changes = json.loads(capsys.readouterr().out)["changes"]
    assert [(c["action"], c["kind"], c["contact"], c["title"]) for c in changes] == [
        ("create", "birthday", "jane@x.org", "Birthday: Jane Doe")]
