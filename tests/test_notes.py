"""Notes on people (issue 17): `keepwarm note`, `notes` and `note --delete` through
``daemon.cli.main``; the latest note in every reminder for that person (not with
``[reminders] include_notes = false``) and in a digest; `show`; notes kept in the steering
file, so a deleted store has them all again; a note following its address into a merge;
and the steering file's round trip of notes and referrals."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from daemon import steering
from daemon.errors import ConfigError
from daemon.model import Note, Referral, ReminderId, Steering, Wish
from daemon.reminders import with_notes
from tests.test_actionable import JANE, Home, lapsed_jane
from tests.test_addresses import BOB, one_line, run
from tests.test_cli import Home as FileHome

Capture = pytest.CaptureFixture[str]
ANN = "ann@example.org"


def seeded(root: Path) -> FileHome:
    """Bob (4 mails, as "Bob Baker"), Ann Lee at two addresses, synced."""
    home = FileHome(root)
    for days in (300, 200, 120, 100):
        home.send(days, f"Bob Baker <{BOB}>")
    for days in (250, 150):
        home.send(days, f"Ann Lee <{ANN}>")
    home.send(90, "Ann <ann@home.example>")
    assert home.run("sync", "--no-write") == 0
    return home


def notes(home: FileHome | Home, capsys: Capture, address: str) -> list[dict[str, Any]]:
    code, out, _ = run(home, capsys, "notes", address, "--json")  # type: ignore[arg-type]
    assert code == 0
    return json.loads(out)  # type: ignore[no-any-return]


def today(tz: str = "Europe/Berlin") -> str:
    return datetime.now(ZoneInfo(tz)).date().isoformat()


def test_note_adds_notes_lists_numbers_them_and_deletes_the_nth(
        tmp_path: Path, capsys: Capture) -> None:
    home = seeded(tmp_path)
    code, out, _ = run(home, capsys, "note", f"Bob Baker <{BOB}>", "kids:", "Mia", "and",
                       "Leo")
    assert code == 0 and f"{BOB}: note 1 added" in out
    assert run(home, capsys, "note", f"mailto:{BOB.upper()}", 'likes "Oolong", café')[0] == 0
    assert run(home, capsys, "note", BOB, "moving to Lyon in May")[0] == 0
    assert notes(home, capsys, BOB) == [
        {"date": today(), "text": "kids: Mia and Leo"},
        {"date": today(), "text": 'likes "Oolong", café'},
        {"date": today(), "text": "moving to Lyon in May"}]
    code, out, _ = run(home, capsys, "notes", BOB)  # piped: a header, tab-separated
    lines = out.splitlines()
    assert lines[0] == "n\tdate\ttext"
    assert lines[2] == f'2\t{today()}\tlikes "Oolong", café'
    code, out, _ = run(home, capsys, "note", "--delete", BOB, "2")
    assert code == 0 and "note 2 deleted; 2 notes left" in out
    assert [n["text"] for n in notes(home, capsys, BOB)] == ["kids: Mia and Leo",
                                                              "moving to Lyon in May"]
    assert notes(home, capsys, ANN) == []


@pytest.mark.parametrize("args, says", [
    (("note", "--delete", BOB, "3"), "a number from 1 to 2"),
    (("note", "--delete", BOB, "0"), "a number from 1 to 2"),
    (("note", "--delete", BOB, "two"), "not two"),
    (("note", "--delete", BOB), "not nothing"),
    (("note", "--delete", ANN, "1"), "has no notes"),
    (("note", BOB), "a note needs its text"),
    (("note", BOB, "  "), "a note needs its text"),
    (("note", "me@example.com", "hi"), "your own addresses"),
    (("note", "bob@beta.exampel", "hi"), "did you mean bob@beta.example"),
])
def test_refusals_are_one_line_and_change_nothing(tmp_path: Path, capsys: Capture,
                                                   args: tuple[str, ...], says: str) -> None:
    home = seeded(tmp_path)
    for text in ("one", "two"):
        assert run(home, capsys, "note", BOB, text)[0] == 0
    before = steering.path_for(home.root / "kw.db").read_text()
    code, _, err = run(home, capsys, *args)
    assert code == 2 and says in one_line(err)
    assert steering.path_for(home.root / "kw.db").read_text() == before
    assert len(notes(home, capsys, BOB)) == 2


def test_a_note_on_an_unseen_address_needs_force(tmp_path: Path, capsys: Capture) -> None:
    home = seeded(tmp_path)
    code, _, err = run(home, capsys, "note", "new@else.example", "met at the fair")
    assert code == 2 and "--force" in one_line(err)
    assert run(home, capsys, "note", "--force", "new@else.example", "met at the fair")[0] == 0
    assert [n["text"] for n in notes(home, capsys, "new@else.example")] == ["met at the fair"]
    for suffix in ("", "-wal", "-shm"):  # rebuilt, it is someone keepwarm knows again
        home.root.joinpath("kw.db" + suffix).unlink(missing_ok=True)
    assert run(home, capsys, "note", "new@else.example", "sells tea")[0] == 0
    assert len(notes(home, capsys, "new@else.example")) == 2


def test_notes_survive_a_deleted_store(tmp_path: Path, capsys: Capture) -> None:
    home = seeded(tmp_path)
    run(home, capsys, "note", BOB, "first")
    run(home, capsys, "note", BOB, "second\nline")
    run(home, capsys, "referred", ANN, "--by", BOB, "--date", "2026-01-05")
    before = notes(home, capsys, BOB), run(home, capsys, "referrals", "--json")[1]
    for suffix in ("", "-wal", "-shm"):
        home.root.joinpath("kw.db" + suffix).unlink(missing_ok=True)
    assert notes(home, capsys, BOB) == before[0]
    assert home.run("sync", "--no-write") == 0  # the names come back with the mail
    assert (notes(home, capsys, BOB), run(home, capsys, "referrals", "--json")[1]) == before
    assert [n["text"] for n in notes(home, capsys, BOB)] == ["first", "second\nline"]


def test_a_note_follows_its_address_into_a_merge_and_out_again(
        tmp_path: Path, capsys: Capture) -> None:
    home = seeded(tmp_path)
    assert run(home, capsys, "note", "ann@home.example", "prefers her home address")[0] == 0
    assert notes(home, capsys, ANN) == []
    assert run(home, capsys, "merge", ANN, "ann@home.example")[0] == 0
    assert [n["text"] for n in notes(home, capsys, ANN)] == ["prefers her home address"]
    _, out, _ = run(home, capsys, "show", ANN, "--json")
    assert [n["text"] for n in json.loads(out)["notes"]] == ["prefers her home address"]
    assert run(home, capsys, "unmerge", "ann@home.example")[0] == 0
    assert notes(home, capsys, ANN) == []
    assert len(notes(home, capsys, "ann@home.example")) == 1


def test_show_lists_the_notes(tmp_path: Path, capsys: Capture) -> None:
    home = seeded(tmp_path)
    run(home, capsys, "note", BOB, "kids: Mia and Leo")
    code, out, _ = run(home, capsys, "show", BOB)
    assert code == 0 and f"note 1 ({today()}): kids: Mia and Leo" in out
    code, out, _ = run(home, capsys, "show", BOB, "--json")
    about = json.loads(out)
    assert about["notes"] == [{"date": today(), "text": "kids: Mia and Leo"}]
    assert about["referred_by"] == [] and about["referred"] == []


def test_steering_lists_the_notes(tmp_path: Path, capsys: Capture) -> None:
    home = seeded(tmp_path)
    run(home, capsys, "note", BOB, "kids: Mia and Leo")
    _, out, _ = run(home, capsys, "steering")
    assert f"{BOB}\tnote\t" in out and "kids: Mia and Leo" in out
    _, out, _ = run(home, capsys, "steering", "--json")
    [n] = json.loads(out)["notes"]
    assert (n["email"], n["text"]) == (BOB, "kids: Mia and Leo") and set(n) == {
        "email", "made", "text"}


# -- in the reminders -------------------------------------------------------------------
def test_the_latest_note_is_in_the_reminder_before_the_footer(tmp_path: Path) -> None:
    home = Home(tmp_path)
    lapsed_jane(home)
    assert home.run("sync") == 0
    assert home.run("note", JANE, "old news") == 0
    assert home.run("note", f"Jane Doe <{JANE}>", "asked about the Berlin office") == 0
    assert home.run("sync") == 0
    text = home.reminder().description
    line = f"Note ({datetime.now(UTC).date().isoformat()}): asked about the Berlin office"
    assert line in text and "old news" not in text
    lines = text.splitlines()
    assert lines.index(line) < lines.index(next(t for t in lines
                                                 if t.startswith("Created by keepwarm")))
    assert home.run("sync") == 0
    assert home.reminder().description == text  # unchanged: not rewritten


def test_include_notes_false_keeps_notes_out(tmp_path: Path) -> None:
    home = Home(tmp_path, "include_notes = false")
    lapsed_jane(home)
    assert home.run("sync") == 0
    assert home.run("note", JANE, "asked about the Berlin office") == 0
    assert home.run("sync") == 0
    assert "Berlin" not in home.reminder().description
    assert "Note (" not in home.reminder().description


def test_a_digest_lists_each_members_note(tmp_path: Path) -> None:
    home = Home(tmp_path, 'style = "digest"')
    lapsed_jane(home)
    assert home.run("sync") == 0
    assert home.run("note", JANE, "asked about the Berlin office") == 0
    assert home.run("sync") == 0
    [d] = [r for r in home.data.reminders.values() if r.rid.kind == "digest"]
    assert "asked about the Berlin office" in d.description
    member = d.description.split("\n\n")[0]
    assert member.startswith("1. Follow up: Jane Doe") and "Note (" in member


def wish(contact: str, description: str) -> Wish:
    return Wish(ReminderId("cadence", contact), date(2026, 12, 1), "t", description,
                date(2026, 12, 1))


def test_with_notes_puts_the_line_above_the_footer_and_only_for_its_person() -> None:
    made = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    latest = {"a@x.example": Note("a@x.example", made, "  two\nlines  ")}
    wishes = [wish("a@x.example", "Due: x\n\nCreated by keepwarm.\nWhy: y"),
              wish("a@x.example", "No footer"),
              wish("b@x.example", "Due: z\n\nCreated by keepwarm."),
              wish("", "a notice\n\nCreated by keepwarm.")]
    berlin = ZoneInfo("Europe/Berlin")
    got = [w.description for w in with_notes(wishes, latest, True, berlin)]
    assert got == ["Due: x\nNote (2026-12-01): two lines\n\nCreated by keepwarm.\nWhy: y",
                   "No footer\nNote (2026-12-01): two lines",
                   "Due: z\n\nCreated by keepwarm.",
                   "a notice\n\nCreated by keepwarm."]
    assert with_notes(wishes, latest, False, UTC) == wishes


# -- the steering file ------------------------------------------------------------------
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1).filter(str.strip)
EMAIL = st.from_regex(r"[a-z0-9.]{1,8}@[a-z]{1,6}\.example", fullmatch=True)
MADE = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1),
                    timezones=st.just(UTC))


@settings(max_examples=60, deadline=None)
@example(notes=[Note("a@b.example", datetime(2026, 12, 1, 9, 0, 0, 123456, tzinfo=UTC),
                     'said "yes", then\nno — café\t\\ ok \x7f')], referrals=[])
@given(notes=st.lists(st.builds(Note, EMAIL, MADE, TEXT), unique_by=lambda n: (n.email, n.made),
                      max_size=5),
       referrals=st.lists(st.builds(Referral, EMAIL, EMAIL, st.dates(date(2000, 1, 1)),
                                    st.booleans()),
                          unique_by=lambda r: (r.source, r.referred), max_size=5))
def test_render_then_parse_gives_the_same_notes_and_referrals(
        notes: list[Note], referrals: list[Referral]) -> None:
    before = Steering(notes=tuple(notes), referrals=tuple(referrals))
    after = steering.parse(steering.render(before), Path("steering.toml"))
    assert sorted(after.notes, key=repr) == sorted(before.notes, key=repr)
    assert sorted(after.referrals, key=repr) == sorted(before.referrals, key=repr)
    assert steering.render(after) == steering.render(before)


@pytest.mark.parametrize("text, problem", [
    ('notes = 3', "notes: must be an array of tables"),
    ('[[notes]]\nemail = "a@b.example"\nmade = 2026-01-01T00:00:00Z\n',
     "notes[1].text: missing"),
    ('[[notes]]\nemail = "a@b.example"\nmade = 2026-01-01\ntext = "x"\n',
     "notes[1].made: must be"),
    ('[[notes]]\nemail = "a@b.example"\nmade = 2026-01-01T00:00:00Z\ntext = ""\n',
     "notes[1].text: must not be empty"),
    ('[[referrals]]\nsource = "a@b.example"\nreferred = "c@d.example"\nday = 2026-01-01\n'
     'thank = "yes"\n', "referrals[1].thank: must be"),
    ('[[referrals]]\nsource = "a@b.example"\nreferred = "c@d.example"\nday = 2026-01-01\n'
     'by = "x"\n', "referrals[1].by: unknown key"),
])
def test_a_bad_entry_is_one_problem_naming_file_and_key(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        steering.parse(text, Path("steering.toml"))
    problems = caught.value.problems
    assert len(problems) == 1 and problems[0].startswith("steering.toml: ")
    assert problem in problems[0]


def test_a_hand_written_note_without_an_offset_is_utc() -> None:
    s = steering.parse('[[notes]]\nemail = "A@B.example"\nmade = 2026-01-01T09:00:00\n'
                       'text = "x"\n', Path("s.toml"))
    assert s.notes == (Note("a@b.example", datetime(2026, 1, 1, 9, tzinfo=UTC), "x"),)


def test_steering_gives_a_notes_day_in_the_users_zone_as_notes_does() -> None:
    """Typed at 00:30 in Berlin (23:30 UTC the day before): `steering`, `notes` and `show`
    all say the Berlin day."""
    typed = Steering(notes=(Note(BOB, datetime(2026, 3, 1, 23, 30, tzinfo=UTC), "call"),),
                     followups_done={"<m1@x>": datetime(2026, 3, 1, 23, 30, tzinfo=UTC)})
    berlin = steering.lines(typed, ZoneInfo("Europe/Berlin"))
    assert (BOB, "note", "2026-03-02 call") in berlin
    assert ("-", "done", "<m1@x> on 2026-03-02") in berlin
    assert (BOB, "note", "2026-03-01 call") in steering.lines(typed)  # UTC by default
