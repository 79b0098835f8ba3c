"""Birthday and anniversary reminders in a calendar: all-day, on their day whatever the
budget, one event per year, dismissed a year at a time; the planner with the reference
calendar (the memory connector), then end to end through ``daemon.cli.main``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from connectors.memory import MemoryConnector
from daemon import reminders
from daemon.model import (
    AccountConfig,
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
