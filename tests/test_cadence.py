"""Cadence rules with literal dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from daemon.cadence import interval, lapsed, status
from daemon.model import CadenceRule, ContactFacts, Settings

BERLIN = ZoneInfo("Europe/Berlin")
S = Settings(tz=BERLIN, rules=(CadenceRule("*@bigclient.com", 30),
                               CadenceRule("family.example", 21), CadenceRule("tag:vip", 7)))


def facts(n: int = 5, last: datetime = datetime(2026, 1, 10, 12, tzinfo=UTC),
          emails: tuple[str, ...] = ("a@x.org",), meetings: int = 0, **kw: object) -> ContactFacts:
    return ContactFacts(key=emails[0], emails=emails, name="A", touchpoints=n, meetings=meetings,
                        last_touch=last, last_channel="email", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("f, want", [
    (facts(cadence_days=10, emails=("x@bigclient.com",)), (10, "set for this contact")),
    (facts(emails=("x@bigclient.com",)), (30, "rule *@bigclient.com")),
    (facts(emails=("a@x.org", "x@BIGCLIENT.com".lower())), (30, "rule *@bigclient.com")),
    (facts(emails=("mum@family.example",)), (21, "rule family.example")),
    (facts(tags=frozenset({"vip"})), (7, "rule tag:vip")),
    (facts(n=1), (14, "new relationship (1st touchpoint)")),
    (facts(n=2), (30, "new relationship (2nd touchpoint)")),
    (facts(n=3), (90, "default")),
])
def test_interval_precedence(f: ContactFacts, want: tuple[int, str]) -> None:
    assert interval(f, S) == want


def test_due_and_overdue_in_the_users_timezone() -> None:
    # 23:30 UTC on Jan 10 is already Jan 11 in Berlin
    s = status(facts(last=datetime(2026, 1, 10, 23, 30, tzinfo=UTC)), S, date(2026, 4, 20))
    assert (s.last_date, s.due, s.overdue_days, s.lapsed) == (
        date(2026, 1, 11), date(2026, 4, 11), 9, True)


def test_due_today_is_not_lapsed() -> None:
    s = status(facts(), S, date(2026, 4, 10))
    assert (s.due, s.overdue_days, s.lapsed) == (date(2026, 4, 10), 0, False)


@pytest.mark.parametrize("f, tracked", [
    (facts(n=1), False),
    (facts(n=2), True),
    (facts(n=1, meetings=1), True),
    (facts(n=9, ignored=True), False),
])
def test_tracked(f: ContactFacts, tracked: bool) -> None:
    assert status(f, S, date(2026, 2, 1)).tracked is tracked


def test_forgotten_after_forget_after() -> None:
    f = facts(last=datetime(2023, 1, 1, tzinfo=UTC))
    assert status(f, S, date(2025, 12, 31)).tracked is True  # 1095 days
    assert status(f, S, date(2026, 1, 2)).tracked is False


def test_snooze_pushes_due_but_never_pulls_it_earlier() -> None:
    day = date(2026, 4, 20)
    assert status(facts(snooze_until=date(2026, 5, 1)), S, day).due == date(2026, 5, 1)
    assert status(facts(snooze_until=date(2026, 2, 1)), S, day).due == date(2026, 4, 10)


def test_lapsed_sorted_most_overdue_first() -> None:
    a = status(facts(emails=("a@x.org",)), S, date(2026, 6, 1))
    b = status(facts(emails=("b@x.org",), last=datetime(2026, 1, 1, 12, tzinfo=UTC)), S,
               date(2026, 6, 1))
    c = status(facts(emails=("c@x.org",), n=1), S, date(2026, 6, 1))  # not tracked
    assert [s.facts.key for s in lapsed([a, b, c])] == ["b@x.org", "a@x.org"]
    assert (b.overdue_days, a.overdue_days) == (61, 52)
