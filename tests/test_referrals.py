"""Referral sources (issue 17) through ``daemon.cli.main``: `keepwarm referred` records who
referred whom and tags the source ``referral-source`` (a tag a cadence rule matches, that
`untag` removes while the referral stays); the same pair again updates it; `referrals`
lists the sources, most referrals first; `show` says "referred by" and "referred:"; the
refusals are one line; the steering file keeps it all."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.test_addresses import BOB, one_line, run
from tests.test_cli import Home
from tests.test_notes import ANN, seeded

Capture = pytest.CaptureFixture[str]
CAT = "cat@gamma.example"
TODAY = datetime.now(ZoneInfo("Europe/Berlin")).date()


def people(root: Path) -> Home:
    """Bob, Ann (two addresses) and Cat Chen, synced."""
    home = seeded(root)
    for days in (200, 60):
        home.send(days, f"Cat Chen <{CAT}>")
    assert home.run("sync", "--no-write") == 0
    return home


def as_json(home: Home, capsys: Capture, *args: str) -> Any:
    code, out, _ = run(home, capsys, *args, "--json")
    assert code == 0
    return json.loads(out)


def test_referred_records_it_and_tags_the_source(tmp_path: Path, capsys: Capture) -> None:
    home = people(tmp_path)
    code, out, _ = run(home, capsys, "referred", f"Ann Lee <{ANN}>", "--by",
                       f"mailto:{BOB.upper()}", "--date", "2026-01-05")
    assert code == 0
    assert f"{ANN}: referred by {BOB} on 2026-01-05; {BOB} is tagged referral-source" in out
    assert "thank" in out
    [bob] = [c for c in as_json(home, capsys, "steering")["contacts"] if c["contact"] == BOB]
    assert bob["tags"] == ["referral-source"]
    assert as_json(home, capsys, "steering")["referrals"] == [
        {"source": BOB, "referred": ANN, "day": "2026-01-05", "thank": True}]
    _, out, _ = run(home, capsys, "steering")
    assert f"{ANN}\treferred\tby {BOB} on 2026-01-05" in out


def test_the_same_pair_again_updates_it(tmp_path: Path, capsys: Capture) -> None:
    home = people(tmp_path)
    assert home.run("referred", ANN, "--by", BOB, "--date", "2026-01-05") == 0
    code, out, _ = run(home, capsys, "referred", ANN, "--by", BOB, "--no-thanks")
    assert code == 0 and "now referred by" in out and "thank" not in out
    assert as_json(home, capsys, "steering")["referrals"] == [
        {"source": BOB, "referred": ANN, "day": TODAY.isoformat(), "thank": False}]


def test_referrals_lists_most_referrals_first_then_by_name(
        tmp_path: Path, capsys: Capture) -> None:
    home = people(tmp_path)
    assert home.run("referred", ANN, "--by", CAT, "--date", "2026-02-01") == 0
    assert home.run("referred", BOB, "--by", CAT, "--date", "2026-01-10") == 0
    assert home.run("referred", CAT, "--by", ANN, "--date", "2026-03-01") == 0
    assert home.run("referred", ANN, "--by", BOB, "--date", "2026-03-02") == 0
    assert as_json(home, capsys, "referrals") == [
        {"source": CAT, "name": "Cat Chen", "referred": [
            {"email": BOB, "name": "Bob Baker", "date": "2026-01-10"},
            {"email": ANN, "name": "Ann Lee", "date": "2026-02-01"}]},
        {"source": ANN, "name": "Ann Lee", "referred": [
            {"email": CAT, "name": "Cat Chen", "date": "2026-03-01"}]},
        {"source": BOB, "name": "Bob Baker", "referred": [
            {"email": ANN, "name": "Ann Lee", "date": "2026-03-02"}]}]
    _, out, _ = run(home, capsys, "referrals")  # piped: a header, a line per referral
    lines = out.splitlines()
    assert lines[0] == "source\tsource_email\treferred\temail\tdate"
    assert lines[1] == f"Cat Chen\t{CAT}\tBob Baker\t{BOB}\t2026-01-10"
    assert len(lines) == 5


def test_no_referrals_yet(tmp_path: Path, capsys: Capture) -> None:
    home = people(tmp_path)
    assert as_json(home, capsys, "referrals") == []
    _, out, _ = run(home, capsys, "referrals")
    assert "No referral recorded yet" in out


def test_show_says_referred_by_and_referred(tmp_path: Path, capsys: Capture) -> None:
    home = people(tmp_path)
    assert home.run("referred", ANN, "--by", BOB, "--date", "2026-01-05") == 0
    assert home.run("referred", CAT, "--by", BOB, "--date", "2026-02-07") == 0
    _, out, _ = run(home, capsys, "show", ANN)
    assert f"referred by Bob Baker <{BOB}> on 2026-01-05" in out
    _, out, _ = run(home, capsys, "show", BOB)
    assert "referred: Ann Lee (2026-01-05), Cat Chen (2026-02-07)" in out
    assert "tagged: referral-source" in out
    about = as_json(home, capsys, "show", BOB)
    assert about["referred_by"] == []
    assert about["referred"] == [{"email": ANN, "name": "Ann Lee", "date": "2026-01-05"},
                                 {"email": CAT, "name": "Cat Chen", "date": "2026-02-07"}]
    assert as_json(home, capsys, "show", "ann@home.example")["referred_by"] == []
    assert home.run("merge", ANN, "ann@home.example") == 0  # by any of her addresses now
    assert [p["email"] for p in as_json(home, capsys, "show", "ann@home.example")[
        "referred_by"]] == [BOB]


def test_a_cadence_rule_matches_the_referral_source_tag(tmp_path: Path,
                                                         capsys: Capture) -> None:
    home = people(tmp_path)
    home.config.write_text(home.config.read_text().replace(
        "[[accounts]]", '[[cadence.rules]]\nmatch = "tag:referral-source"\nevery = "21d"\n\n'
                        "[[accounts]]", 1))
    before = {c["email"]: c["cadence_days"] for c in as_json(home, capsys, "contacts")}
    assert before[BOB] != 21
    assert home.run("referred", ANN, "--by", BOB) == 0
    after = {c["email"]: c for c in as_json(home, capsys, "contacts")}
    assert after[BOB]["cadence_days"] == 21 and "referral-source" in after[BOB]["cadence_source"]
    assert after[ANN]["cadence_days"] == before[ANN]
    # untag removes the tag (and the rule with it); the referral stays
    assert home.run("untag", BOB, "referral-source") == 0
    assert {c["email"]: c["cadence_days"] for c in as_json(home, capsys, "contacts")}[
        BOB] == before[BOB]
    assert [s["source"] for s in as_json(home, capsys, "referrals")] == [BOB]


@pytest.mark.parametrize("args, says", [
    ((ANN, "--by", f"Ann <{ANN}>"), "cannot have referred themselves"),
    ((ANN, "--by", "ann@home.example"), "are one person"),
    ((ANN, "--by", "me@example.com"), "one of your own addresses"),
    (("me@example.com", "--by", BOB), "one of your own addresses"),
    ((ANN, "--by", "new@else.example"), "--force"),
    ((ANN, "--by", BOB, "--date", "2026-13-01"), "not a date like"),
    ((ANN, "--by", BOB, "--date", (TODAY + timedelta(days=1)).isoformat()), "after today"),
])
def test_refusals_are_one_line_and_change_nothing(tmp_path: Path, capsys: Capture,
                                                   args: tuple[str, ...], says: str) -> None:
    home = people(tmp_path)
    if "one person" in says:
        assert home.run("merge", ANN, "ann@home.example") == 0
    before = as_json(home, capsys, "steering")
    code, _, err = run(home, capsys, "referred", *args)
    assert code == 2 and says in one_line(err)
    assert as_json(home, capsys, "steering") == before


def test_with_force_a_source_not_seen_yet_is_recorded(tmp_path: Path, capsys: Capture) -> None:
    home = people(tmp_path)
    assert home.run("referred", ANN, "--by", "Sam Source <sam@new.example>", "--force") == 0
    [s] = as_json(home, capsys, "referrals")
    assert (s["source"], s["referred"][0]["email"]) == ("sam@new.example", ANN)


def test_referrals_and_the_tag_survive_a_deleted_store(tmp_path: Path,
                                                      capsys: Capture) -> None:
    home = people(tmp_path)
    assert home.run("referred", ANN, "--by", BOB, "--date", "2026-01-05", "--no-thanks") == 0
    before = as_json(home, capsys, "steering")
    for suffix in ("", "-wal", "-shm"):
        tmp_path.joinpath("kw.db" + suffix).unlink(missing_ok=True)
    assert as_json(home, capsys, "steering") == before
    assert home.run("sync", "--no-write") == 0
    [bob] = [c for c in as_json(home, capsys, "contacts") if c["email"] == BOB]
    assert "referral-source" in bob["tags"]


def test_a_referral_brings_a_thank_you_with_the_sources_latest_note(
        tmp_path: Path, capsys: Capture) -> None:
    """The parts of issue 17 together: `referred` records it, the next sync writes
    "Thank: Bob Baker for referring Ann Lee" into the calendar, with Bob's latest note in
    its text; `--no-thanks` takes the reminder away again, and mail to Bob would too."""
    home = people(tmp_path)
    assert home.run("note", BOB, "Prefers calls after 4pm") == 0
    assert home.run("referred", ANN, "--by", BOB) == 0
    thanks = [c for c in as_json(home, capsys, "plan")["changes"] if c["kind"] == "thanks"]
    assert [(c["action"], c["contact"], c["title"]) for c in thanks] == [
        ("create", BOB, "Thank: Bob Baker for referring Ann Lee")]
    assert home.run("sync") == 0
    text = home.reminders.read_text(encoding="utf-8").replace("\r\n ", "")
    assert "SUMMARY:Thank: Bob Baker for referring Ann Lee" in text
    assert f"Note ({TODAY.isoformat()}): Prefers calls after 4pm" in text.replace("\\n", "\n")
    assert home.run("referred", ANN, "--by", BOB, "--no-thanks") == 0
    assert home.run("sync") == 0
    assert "Thank: Bob Baker" not in home.reminders.read_text(encoding="utf-8")
