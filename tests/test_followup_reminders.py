"""The follow-up reminder kind (daemon.reminders) and one reminder per person per day
(daemon.planner)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from daemon.model import Awaiting, ContactFacts, Create, ReminderId, Settings, Status, Wish
from daemon.planner import plan
from daemon.reminders import FOLLOWUP, cadence_id, contacts, followup_id

BERLIN = ZoneInfo("Europe/Berlin")
S = Settings(tz=BERLIN)
MON_8 = datetime(2026, 3, 2, 8, 0, tzinfo=BERLIN)  # a Monday, before 09:30
TODAY = MON_8.date()
SENT = datetime(2026, 2, 20, 16, 0, tzinfo=UTC)


def waiting(due: date | None = date(2026, 3, 4), thread: str = "t1", subject: str = "Proposal Q3",
            contact: str = "jane@acme.example", attempt: int = 1) -> Awaiting:
    return Awaiting(email="jane@acme.example", name="Jane Doe", subject=subject,
                    message_id=f"{thread}-last", thread=thread,
                    sent=tuple(SENT + timedelta(days=7 * i) for i in range(attempt)),
                    attempt=attempt, next_followup=due,
                    state="waiting" if due else "gone_quiet",
                    link="mailto:jane@acme.example?subject=Re%3A%20Proposal%20Q3",
                    contact=contact, message_ids=(f"{thread}-last",),
                    recipients=("jane@acme.example",))


def status(key: str = "jane@acme.example", due: date = date(2026, 3, 4),
           snooze: date | None = None, tracked: bool = True) -> Status:
    f = ContactFacts(key=key, emails=(key,), name="Jane Doe", touchpoints=3, meetings=0,
                     last_touch=datetime(2025, 12, 1, tzinfo=UTC), last_channel="email",
                     snooze_until=snooze)
    return Status(f, tracked, "", 90, "default", date(2025, 12, 1), due, (TODAY - due).days)


def test_a_follow_up_says_who_what_when_and_how_to_open_it() -> None:
    [w] = contacts([], [waiting(attempt=2)], TODAY, BERLIN)
    assert w.rid == ReminderId(FOLLOWUP, "jane@acme.example", "t1") == followup_id(waiting())
    assert w.title == 'Follow up: Jane Doe — no reply to "Proposal Q3"'
    assert (w.due, w.earliest, w.name) == (date(2026, 3, 4), date(2026, 3, 4), "Jane Doe")
    assert "Sent: 2026-02-20, 2026-02-27 (attempt 2)" in w.description
    assert "Open: mailto:jane@acme.example?subject=Re%3A%20Proposal%20Q3" in w.description
    assert "keepwarm done jane@acme.example" in w.description
    assert "today" not in w.description.lower()


def test_a_thread_gone_quiet_gets_no_reminder() -> None:
    assert contacts([], [waiting(due=None, attempt=4)], TODAY, BERLIN) == []


def test_a_follow_up_due_on_the_cadence_day_replaces_it_and_says_both() -> None:
    [w] = contacts([status()], [waiting()], TODAY, BERLIN)
    assert w.rid.kind == FOLLOWUP
    assert w.title == ('Follow up: Jane Doe — no reply to "Proposal Q3" '
                       "(also due to keep in touch)")
    assert "Cadence: every 90 days (default)" in w.description


def test_threads_and_cadence_merged_give_each_link_once() -> None:
    """Two threads with web links (Gmail) and the cadence, in one reminder: one Write: line,
    and the thread the cadence's last message opens is not offered twice."""
    web = "https://mail.google.com/mail/#all/t"
    a = replace(waiting(thread="t1"), link=web + "1")
    b = replace(waiting(thread="t2", subject="Contract"), link=web + "2")
    s = status()
    s = replace(s, facts=replace(s.facts, last_link=web + "2"))
    [w] = contacts([s], [a, b], TODAY, BERLIN)
    lines = w.description.splitlines()
    assert [x for x in lines if x.startswith("Write: ")] == ["Write: mailto:jane@acme.example"]
    assert [x for x in lines if x.startswith("Open: ")] == [f"Open: {web}1", f"Open: {web}2"]
    assert "Cadence: every 90 days (default)" in lines


def test_an_overdue_cadence_meets_a_follow_up_due_today() -> None:
    [w] = contacts([status(due=date(2026, 2, 1))], [waiting(due=date(2026, 2, 27))],
                   TODAY, BERLIN)
    assert "also due" in w.title


def test_on_different_days_both_stay() -> None:
    wishes = contacts([status(due=date(2026, 3, 20))], [waiting()], TODAY, BERLIN)
    assert {w.rid for w in wishes} == {cadence_id("jane@acme.example"), followup_id(waiting())}
    untracked = contacts([status(tracked=False)], [waiting()], TODAY, BERLIN)
    assert [w.rid.kind for w in untracked] == [FOLLOWUP]


def test_two_threads_with_one_person_due_the_same_day_share_a_reminder() -> None:
    [w] = contacts([], [waiting(thread="t2", subject="Invoice"), waiting()], TODAY, BERLIN)
    assert w.due == date(2026, 3, 4)
    assert w.rid == followup_id(waiting())
    assert w.title == 'Follow up: Jane Doe — no reply to "Proposal Q3", "Invoice"'
    assert w.description.index("Proposal Q3") < w.description.index("Invoice")


def test_a_snoozed_contact_is_followed_up_after_the_snooze() -> None:
    [w] = contacts([status(due=date(2026, 4, 1), snooze=date(2026, 4, 1))], [waiting()],
                   TODAY, BERLIN)
    assert (w.rid.kind, w.earliest, w.due) == (FOLLOWUP, date(2026, 4, 1), date(2026, 3, 4))
    assert "also due" in w.title
    [w] = contacts([status(snooze=date(2026, 4, 1), tracked=False)], [waiting()], TODAY, BERLIN)
    assert (w.earliest, w.title) == (date(2026, 4, 1), waiting_title())


def waiting_title() -> str:
    return 'Follow up: Jane Doe — no reply to "Proposal Q3"'


def test_the_planner_puts_one_reminder_per_person_per_day() -> None:
    def wish(kind: str, contact: str, earliest: date) -> Wish:
        return Wish(ReminderId(kind, contact, "k"), earliest, kind, "", earliest=earliest,
                    name=contact)

    p = plan([wish(FOLLOWUP, "ann@x.org", TODAY), wish("birthday", "ann@x.org", TODAY),
              wish(FOLLOWUP, "bob@x.org", TODAY)], [], {}, {}, S, MON_8, True)
    days = {rid.kind + rid.contact: start.date() for rid, start in
            ((c.reminder.rid, c.reminder.start) for c in p.changes if isinstance(c, Create))}
    assert days == {"birthdayann@x.org": TODAY, "followupann@x.org": date(2026, 3, 3),
                    "followupbob@x.org": TODAY}


def test_a_follow_up_goes_into_the_calendar_through_the_planner() -> None:
    wishes = contacts([status(due=date(2026, 5, 1))], [waiting(due=TODAY)], TODAY, BERLIN)
    p = plan(wishes, [], {}, {}, S, MON_8, True)
    titles = sorted(c.reminder.title for c in p.changes if isinstance(c, Create))
    assert titles == ['Follow up: Jane Doe — no reply to "Proposal Q3"']  # cadence: May
