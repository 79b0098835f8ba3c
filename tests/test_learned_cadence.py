"""The interval rule with a learned rhythm (issue 16): the smaller of the configured interval
and 1.5 x the rhythm, never below learn_floor; `keepwarm cadence` always wins. Pure cases
first, then through `keepwarm` with real files."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from daemon.cadence import lapsed, status
from daemon.config import load
from daemon.errors import ConfigError
from daemon.model import CadenceRule, ContactFacts, Settings
from tests.test_cli import TODAY, Home

AS_OF = date(2026, 6, 1)
S = Settings(rules=(CadenceRule("*@client.example", 30),))


def facts(days_ago: list[int], email: str = "a@x.org", received: int = 1,
          **kw: object) -> ContactFacts:
    """A contact written to at noon UTC on each of these days before AS_OF."""
    times = sorted(int(datetime.combine(AS_OF - timedelta(days=d), datetime.min.time(),
                                        tzinfo=UTC).timestamp()) + 43200 for d in days_ago)
    return ContactFacts(key=email, emails=(email,), name=email, touchpoints=len(times),
                        meetings=0, last_touch=datetime.fromtimestamp(times[-1], UTC),
                        last_channel="email", received=received,
                        touches={("email", f"m{i}"): t for i, t in enumerate(times)},
                        **kw)  # type: ignore[arg-type]


FORTNIGHTLY = [14 * k + 2 for k in range(10)]  # every two weeks, last two days ago


def test_every_two_weeks_is_due_after_three_quiet_weeks_under_a_90_day_default() -> None:
    s = status(facts(FORTNIGHTLY), S, AS_OF)
    assert (s.learned_days, s.gaps, s.interval_days, s.interval_kind) == (14, 9, 21, "learned")
    assert s.due == AS_OF - timedelta(days=2) + timedelta(days=21)
    assert s.interval_source == "learned: 1.5 x your usual 14 days; default would be 90"


def test_an_explicit_cadence_always_wins() -> None:
    s = status(facts(FORTNIGHTLY, cadence_days=60), S, AS_OF)
    assert (s.interval_days, s.interval_kind, s.learned_days) == (60, "set", 14)


def test_a_shorter_rule_stays() -> None:
    s = status(facts(FORTNIGHTLY, email="b@client.example"), S, AS_OF)
    assert (s.interval_days, s.interval_kind) == (21, "learned")
    monthly = status(facts([30 * k + 1 for k in range(6)], email="b@client.example"), S,
                     AS_OF)
    assert (monthly.learned_days, monthly.interval_days, monthly.interval_kind) == (
        30, 30, "rule")


def test_never_below_the_floor() -> None:
    daily = facts(list(range(1, 30)))
    assert status(daily, S, AS_OF).interval_days == 7
    assert status(daily, Settings(learn_floor_days=12), AS_OF).interval_days == 12


def test_four_touch_days_or_learn_off_keep_the_configured_interval() -> None:
    few = status(facts([2, 16, 30, 44]), S, AS_OF)
    assert (few.learned_days, few.interval_days, few.interval_kind) == (None, 90, "default")
    off = status(facts(FORTNIGHTLY), Settings(learn=False), AS_OF)
    assert (off.learned_days, off.interval_days) == (None, 90)


def test_only_touch_days_within_forget_after_teach() -> None:
    old = [400 + 7 * k for k in range(10)]  # weekly, more than a year ago
    s = status(facts([*old, 2]), Settings(forget_after_days=365), AS_OF)
    assert (s.learned_days, s.interval_days) == (None, 90)
    assert status(facts([*old, 2]), S, AS_OF).learned_days == 7


def test_lapsed_by_priority_a_close_contact_before_a_faint_one() -> None:
    close = status(facts(FORTNIGHTLY, email="close@x.org"), S, AS_OF + timedelta(days=22))
    faint = status(facts([200, 160, 110], email="faint@x.org"), S, AS_OF + timedelta(days=22))
    assert close.overdue_days < faint.overdue_days and close.strength > faint.strength
    assert [s.facts.key for s in lapsed([faint, close])] == ["close@x.org", "faint@x.org"]
    assert [s.facts.key for s in lapsed([close, faint], "overdue")] == [
        "faint@x.org", "close@x.org"]


# -- through the command line -------------------------------------------------------------
def contacts(home: Home, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert home.run(*args, "--json") == 0
    return {x["email"]: x for x in json.loads(capsys.readouterr().out)}


@pytest.fixture
def people(tmp_path: Path) -> Home:
    """Ann, written to every 14 days (last 25 days ago); Bo, twice long ago (one-way)."""
    home = Home(tmp_path)
    for k in range(8):
        home.send(25 + 14 * k, "Ann Lee <ann@example.org>")
    home.send(400, "bo@example.org")
    home.send(300, "bo@example.org")
    assert home.run("sync") == 0
    return home


def test_contacts_json_has_the_rhythm_and_its_source(people: Home,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    got = contacts(people, capsys, "contacts")
    ann, bo = got["ann@example.org"], got["bo@example.org"]
    assert (ann["learned_days"], ann["cadence_days"], ann["interval_source"]) == (
        14, 21, "learned")
    assert ann["due"] == (TODAY - timedelta(days=4)).isoformat() and ann["lapsed"]
    assert (bo["learned_days"], bo["cadence_days"], bo["interval_source"]) == (
        None, 30, "new_relationship")
    assert 0 <= bo["strength"] < ann["strength"] <= 100


def test_lapsed_sorts_by_priority_and_by_overdue_on_request(
        people: Home, capsys: pytest.CaptureFixture[str]) -> None:
    """Ann, close and 4 days overdue, before Bo, faint and 270 days overdue."""
    order = [x["email"] for x in contacts(people, capsys, "lapsed").values()]
    assert order == ["ann@example.org", "bo@example.org"]
    plain = contacts(people, capsys, "lapsed", "--sort", "overdue")
    assert [(e, x["overdue_days"]) for e, x in plain.items()] == [
        ("bo@example.org", 270), ("ann@example.org", 4)]


def test_show_explains_the_rhythm(people: Home, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert people.run("show", "ann@example.org") == 0
    out = capsys.readouterr().out
    assert "you usually write every 14 days, from 7 gaps; due after 21 days of quiet" in out
    assert "cadence every 21 days: learned: 1.5 x your usual 14 days; default would be 90" in out


def test_keepwarm_cadence_wins_and_learn_false_turns_it_off(
        people: Home, capsys: pytest.CaptureFixture[str]) -> None:
    assert people.run("cadence", "ann@example.org", "60d") == 0
    ann = contacts(people, capsys, "contacts")["ann@example.org"]
    assert (ann["cadence_days"], ann["interval_source"], ann["learned_days"]) == (60, "set", 14)
    assert people.run("cadence", "ann@example.org", "default") == 0
    people.config.write_text(people.config.read_text().replace(
        "[reminders]", "[cadence]\nlearn = false\n[reminders]"))
    ann = contacts(people, capsys, "contacts")["ann@example.org"]
    assert (ann["cadence_days"], ann["interval_source"], ann["learned_days"]) == (
        90, "default", None)


@pytest.mark.parametrize(("line", "problem"), [
    ('learn_floor = "soon"', "cadence.learn_floor"),
    ('learn = "yes"', "cadence.learn"),
])
def test_bad_learning_settings_are_config_errors(people: Home, line: str,
                                                 problem: str) -> None:
    people.config.write_text(people.config.read_text().replace(
        "[reminders]", f"[cadence]\n{line}\n[reminders]"))
    with pytest.raises(ConfigError) as info:
        load(people.config)
    assert any(problem in p for p in info.value.problems)
    assert people.run("contacts") == 2
