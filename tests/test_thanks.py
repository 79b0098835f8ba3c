"""Thank-you reminders (kind ``thanks``): after a first meeting, to a referral's source; the
pure kind directly, then the whole cycle through the store and the command line."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.memory import MemoryConnector, MemoryData
from daemon import thanks
from daemon.cli import main
from daemon.config import load
from daemon.model import (
    Address,
    Attendee,
    CadenceRule,
    ContactFacts,
    Meeting,
    Referral,
    ReminderId,
    Settings,
    Wish,
)
from tests.test_sync import NOW, World

BERLIN = ZoneInfo("Europe/Berlin")
S = Settings(tz=BERLIN, own_addresses=frozenset({"me@work.example"}))
MON = date(2026, 3, 2)
OWN = S.own_addresses


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=BERLIN)


def meeting(mid: str, day: date, summary: str = "Intro call", hour: int = 10) -> Meeting:
    return Meeting(mid, at(day, hour), at(day, hour + 1), summary=summary)


def person(email: str, name: str, *met: Meeting, wrote: tuple[datetime, ...] = (),
           **kw: Any) -> ContactFacts:
    """A contact counted in ``met`` (a touch at each start) whom the user wrote at ``wrote``."""
    touches = {("meeting", m.meeting_id): int(m.start.timestamp()) for m in met}
    touches |= {("email", f"mail{i}"): int(t.timestamp()) for i, t in enumerate(wrote)}
    last = max([*(m.start for m in met), *wrote])
    return ContactFacts(email, (email,), name, len(touches), len(met), last, "meeting",
                        touches=touches, **kw)


def wishes(meetings: list[Meeting], facts: list[ContactFacts], as_of: date = MON,
           settings: Settings = S, subjects: bool = True) -> list[Wish]:
    return thanks.after_meetings(meetings, facts, OWN, settings, as_of, subjects)


INTRO = meeting("m1", MON)
JANE = person("jane@x.org", "Jane Doe", INTRO)


# -- after a meeting ---------------------------------------------------------------------------
def test_the_first_meeting_is_thanked_on_the_next_working_day() -> None:
    [w] = wishes([INTRO], [JANE])
    assert w.rid == ReminderId("thanks", "jane@x.org", "m1")
    assert w.title == 'Thank: Jane Doe for "Intro call"'
    assert (w.due, w.earliest, w.fixed, w.budgeted) == (MON, MON + timedelta(days=1), True, True)
    assert w.description.splitlines() == [
        'Meeting: "Intro call" on 2026-03-02', "Write: mailto:jane@x.org", "",
        "Created by keepwarm. It removes this event when you write to them, or once a "
        "thank-you would be late.", "Why: keepwarm show jane@x.org"]
    # a Friday's goes on Monday
    fri = meeting("m2", MON + timedelta(days=4))
    [w] = wishes([fri], [person("jane@x.org", "Jane Doe", fri)], MON + timedelta(days=4))
    assert w.earliest == MON + timedelta(days=7)


def test_without_subjects_the_title_names_the_day() -> None:
    [w] = wishes([INTRO], [JANE], subjects=False)
    assert w.title == "Thank: Jane Doe for the meeting of 2026-03-02"
    assert "Intro call" not in w.description


def test_the_second_meeting_is_not_thanked_but_the_first_after_the_gap_is() -> None:
    before = meeting("m0", MON - timedelta(days=20))
    assert wishes([INTRO], [person("jane@x.org", "Jane Doe", before, INTRO)]) == []
    long_ago = meeting("m0", MON - timedelta(days=60))
    [w] = wishes([INTRO], [person("jane@x.org", "Jane Doe", long_ago, INTRO)])
    assert w.rid.key == "m1"
    shorter = replace(S, thanks_gap_days=10)
    assert len(wishes([INTRO], [person("jane@x.org", "Jane Doe", before, INTRO)],
                      settings=shorter)) == 1


def test_a_recurring_series_is_thanked_for_its_first_occurrence_only() -> None:
    first = meeting("weekly@x/20260223T090000Z", MON - timedelta(days=7), "1:1")
    second = meeting("weekly@x/20260302T090000Z", MON, "1:1")
    bob = person("bob@x.org", "Bob", first, second)
    # even where the gap alone would thank the second
    every = replace(S, thanks_gap_days=1)
    assert wishes([first, second], [bob], settings=every) == []
    [w] = wishes([first], [person("bob@x.org", "Bob", first)], MON - timedelta(days=7))
    assert w.rid.key == first.meeting_id
    assert thanks.later_occurrences([second, first, INTRO]) == {second.meeting_id}


def test_a_mail_after_the_meeting_removes_it_and_one_before_does_not() -> None:
    after = person("jane@x.org", "Jane Doe", INTRO, wrote=(INTRO.end + timedelta(minutes=5),))
    assert wishes([INTRO], [after]) == []
    before = person("jane@x.org", "Jane Doe", INTRO, wrote=(INTRO.start - timedelta(days=1),))
    assert len(wishes([INTRO], [before])) == 1


def test_it_stays_on_today_until_within_has_passed() -> None:
    thu = MON + timedelta(days=3)
    [w] = wishes([INTRO], [JANE], thu)
    assert (w.earliest, w.due) == (thu, MON)
    assert wishes([INTRO], [JANE], thu + timedelta(days=1)) == []
    assert wishes([INTRO], [JANE], MON + timedelta(days=2),
                  settings=replace(S, thanks_within_days=1)) == []
    # a week of four working days: a Thursday's is still shown on its Monday
    four = replace(S, working_days=frozenset(range(4)), thanks_within_days=1)
    met = meeting("m4", thu)
    [w] = wishes([met], [person("jane@x.org", "Jane Doe", met)], thu + timedelta(days=4), four)
    assert w.earliest == thu + timedelta(days=4)


def test_a_person_not_counted_in_the_meeting_gets_none() -> None:
    # a 20-person meeting, a declined or cancelled one: no touchpoint rows, so no touch
    assert wishes([INTRO], [person("jane@x.org", "Jane Doe", meeting("other", MON))]) == []


def test_colleagues_are_not_thanked_but_strangers_at_free_mail_are() -> None:
    colleague = person("cy@work.example", "Cy", INTRO)
    stranger = person("sue@gmail.com", "Sue", INTRO)
    got = thanks.after_meetings([INTRO], [colleague, stranger, JANE],
                                {"me@work.example", "me@gmail.com"}, S, MON)
    assert sorted(w.rid.contact for w in got) == ["jane@x.org", "sue@gmail.com"]


def test_rules_tags_and_the_setting_turn_it_off_or_on() -> None:
    family = person("mum@x.org", "Mum", INTRO, tags=frozenset({"Family"}))
    by_tag = replace(S, rules=(CadenceRule("tag:family", None, thanks=False),))
    assert [w.rid.contact for w in wishes([INTRO], [family, JANE], settings=by_tag)] == [
        "jane@x.org"]
    by_domain = replace(S, rules=(CadenceRule("x.org", 30), CadenceRule("*@x.org", None,
                                                                         thanks=False)))
    assert wishes([INTRO], [family, JANE], settings=by_domain) == []
    off = replace(S, thanks_after_meetings=False)
    assert wishes([INTRO], [family, JANE], settings=off) == []
    only_family = replace(off, rules=(CadenceRule("tag:family", None, thanks=True),))
    assert [w.rid.contact for w in wishes([INTRO], [family, JANE], settings=only_family)] == [
        "mum@x.org"]


def test_ignored_and_snoozed_people_get_none() -> None:
    assert wishes([INTRO], [replace(JANE, ignored=True)]) == []
    assert wishes([INTRO], [replace(JANE, snooze_until=MON + timedelta(days=5))]) == []
    assert len(wishes([INTRO], [replace(JANE, snooze_until=MON)])) == 1


# -- referrals -----------------------------------------------------------------------------------
SAM = person("sam@src.example", "Sam Source", meeting("old", MON - timedelta(days=200)))


def test_a_referral_thanks_its_source_until_the_user_writes_to_them() -> None:
    made = [Referral("sam@src.example", "jane@x.org", MON),
            Referral("sam@src.example", "max@x.org", MON, thank=False)]
    [w] = thanks.referrals(made, [SAM, JANE], S, MON)
    assert w.rid == ReminderId("thanks", "sam@src.example", "referral:jane@x.org")
    assert w.title == "Thank: Sam Source for referring Jane Doe"
    assert (w.due, w.earliest, w.fixed) == (MON, MON + timedelta(days=1), True)
    assert w.description.splitlines()[:2] == [
        "Referred: Jane Doe <jane@x.org> on 2026-03-02", "Write: mailto:sam@src.example"]
    # a reply to the introduction on its day is the thank-you; one the day before is not
    early = replace(SAM, touches={**SAM.touches, ("email", "x"): int(at(MON, 8).timestamp())})
    assert thanks.referrals(made, [early, JANE], S, MON) == []
    before = replace(SAM, touches={**SAM.touches,
                                   ("email", "x"): int(at(MON - timedelta(days=1)).timestamp())})
    assert len(thanks.referrals(made, [before, JANE], S, MON)) == 1
    assert thanks.referrals(made, [SAM, JANE], S, MON + timedelta(days=4)) == []
    assert thanks.referrals(made, [replace(SAM, ignored=True), JANE], S, MON) == []


def test_a_referral_from_someone_never_met_names_the_addresses() -> None:
    [w] = thanks.referrals([Referral("new@src.example", "who@y.org", MON)], [], S, MON)
    assert (w.rid.contact, w.title) == ("new@src.example",
                                        "Thank: new@src.example for referring who@y.org")


# -- the whole cycle -------------------------------------------------------------------------------
FRI = NOW - timedelta(days=3)  # Friday 27 February, 08:00 in Berlin


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def met(world: World, mid: str, *people: str, start: datetime = FRI, **kw: Any) -> None:
    """A meeting of the user's with ``people`` (accepted) in the memory calendar."""
    data: MemoryData = world.data["cal"]
    data.meetings[mid] = Meeting(
        mid, start, start + timedelta(hours=1), Address("me@work.example"),
        tuple(Attendee(Address(p, p.split("@")[0].title()), "accepted") for p in people),
        summary=f"About {mid}", **kw)
    data.meetings_version += 1


def thank_titles(world: World) -> list[str]:
    return sorted(r.title for r in world.data["cal"].reminders.values()
                  if r.rid.kind == "thanks")


def test_sync_writes_thank_yous_once_and_removes_them(world: World) -> None:
    met(world, "intro", "ann@x.org", "cy@work.example")
    met(world, "big", *(f"p{i}@big.example" for i in range(20)))
    met(world, "off", "cat@x.org", status="cancelled")
    data: MemoryData = world.data["cal"]
    data.meetings["no"] = Meeting("no", FRI, FRI + timedelta(hours=1), Address("dan@x.org"),
                                  (Attendee(Address("me@work.example"), "declined"),),
                                  summary="Declined")
    data.meetings_version += 1
    world.sync()
    assert thank_titles(world) == ['Thank: Ann for "About intro"']
    [event] = [r for r in data.reminders.values() if r.rid.kind == "thanks"]
    assert event.start == datetime(2026, 3, 2, 9, 30, tzinfo=BERLIN)
    before = dict(data.reminders)
    again = world.sync().reminders  # planning again changes nothing
    assert again is not None and (again.created, again.moved, again.deleted) == (0, 0, 0)
    assert data.reminders == before
    world.send("work", "thx", -0.01, "ann@x.org")  # the user writes: it goes
    world.sync(NOW + timedelta(hours=1))
    assert thank_titles(world) == []


def test_sync_drops_one_not_written_within_and_thanks_a_series_once(world: World) -> None:
    met(world, "weekly/20260227T070000Z", "bea@x.org")
    world.sync()
    assert thank_titles(world) == ['Thank: Bea for "About weekly/20260227T070000Z"']
    later = NOW + timedelta(days=7)
    met(world, "weekly/20260306T070000Z", "bea@x.org", start=FRI + timedelta(days=7))
    world.sync(later)
    assert thank_titles(world) == []


def test_a_thursday_meeting_in_a_four_day_week_is_thanked_on_monday(tmp_path: Path) -> None:
    world = World(tmp_path, reminders={"calendar": "cal", "working_days": [
        "mon", "tue", "wed", "thu"]}, thanks={"within": "1d"})
    met(world, "thu", "ann@x.org", start=FRI - timedelta(days=1))
    world.sync()
    assert thank_titles(world) == ['Thank: Ann for "About thu"']


def test_the_store_gives_recent_meetings_and_the_first_of_their_series(world: World) -> None:
    for mid, days_ago in (("s/1", 300), ("s/2", 5), ("s/3", 1), ("s.x/0", 400), ("s0", 400),
                          ("t/1", 30), ("lone", 2), ("old", 30)):
        met(world, mid, "ann@x.org", start=NOW - timedelta(days=days_ago))
    world.sync()
    got = world.store.ended_meetings(NOW - timedelta(days=6), NOW)
    assert sorted(m.meeting_id for m in got) == ["lone", "s/1", "s/2", "s/3"]
    assert {m.summary for m in got} >= {"About lone"}


def test_plan_shows_the_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = f"thanks-plan-{id(tmp_path)}"
    data = MemoryConnector.DATA.setdefault(key, MemoryData())
    end = datetime.now(UTC) - timedelta(hours=1)
    data.meetings["m"] = Meeting("m", end - timedelta(hours=1), end, Address("me@work.example"),
                                 (Attendee(Address("jo@x.org", "Jo Lee"), "accepted"),),
                                 summary="Kick-off")
    config = tmp_path / "config.toml"
    config.write_text(f'[identity]\naddresses = ["me@work.example"]\n[store]\npath = '
                      f'"{tmp_path / "kw.db"}"\n[reminders]\ncalendar = "cal"\n[[accounts]]\n'
                      f'name = "cal"\ntype = "memory"\nkey = "{key}"\n')
    assert main(["--config", str(config), "sync", "--no-write"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "plan", "--json"]) == 0
    changes = json.loads(capsys.readouterr().out)["changes"]
    assert [(c["kind"], c["contact"], c["title"]) for c in changes
            if c["kind"] == "thanks"] == [("thanks", "jo@x.org", 'Thank: Jo Lee for "Kick-off"')]


# -- the [thanks] table ---------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent


def test_defaults_and_the_starter_say_the_same(tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    for cfg in (load(tmp_path / "empty.toml"), load(ROOT / "config.example.toml")):
        s = cfg.settings
        assert (s.thanks_after_meetings, s.thanks_gap_days, s.thanks_within_days) == (
            True, 60, 3)
    assert "[thanks]" in (ROOT / "config.example.toml").read_text()


def test_values_and_a_rule(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[thanks]\nafter_meetings = false\ngap = "30d"\nwithin = "1w"\n'
                    '[[cadence.rules]]\nmatch = "tag:team"\nthanks = false\n')
    s = load(path).settings
    assert (s.thanks_after_meetings, s.thanks_gap_days, s.thanks_within_days) == (False, 30, 7)
    assert s.rules == (CadenceRule("tag:team", None, thanks=False),)


@pytest.mark.parametrize("toml, problem", [
    ('[thanks]\nwithin = "soon"\n', "thanks.within"),
    ('[thanks]\nafter_meetings = "yes"\n', "thanks.after_meetings: must be"),
    ('[thanks]\ngap = 60\n', "thanks.gap: must be"),
    ('[[cadence.rules]]\nmatch = "x.org"\nthanks = "no"\n', "cadence.rules[0].thanks"),
])
def test_a_bad_value_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 toml: str, problem: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    capsys.readouterr()
    assert main(["--config", str(path), "status"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and problem in err[0] and str(path) in err[0], err
