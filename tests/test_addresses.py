"""Addresses as people type them: every command taking ADDRESS reads what is pasted, an
address keepwarm never saw is said so (with the closest it knows) or needs --force, the
refusals are one line, `unmerge` undoes a merge for good, `snooze` takes a date,
`keepwarm steering` lists every setting, and a contact's name comes from mail."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from daemon import book, steering
from daemon.contactstore import best_name
from daemon.errors import UsageError
from daemon.reminders import cadence_id, signin_id
from daemon.store import Store
from tests.test_cli import TODAY, Home, noon

Capture = pytest.CaptureFixture[str]
BOB = "bob@beta.example"
V1 = Path(__file__).parent / "data" / "v1"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """Bob (4 mails, as "Bob Baker"), Ann at two addresses, and me under an alias."""
    h = Home(tmp_path)
    for days in (300, 200, 120, 100):
        h.send(days, f"Bob Baker <{BOB}>")
    for days in (250, 150):
        h.send(days, "Ann Lee <ann@example.org>")
    h.send(90, "Ann <ann@home.example>")
    h.send(80, "Newsletter <news@lists.example>", extra="List-Id: <news.lists.example>\n")
    assert h.run("sync", "--no-write") == 0
    return h


def run(home: Home, capsys: Capture, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = home.run(*args)
    got = capsys.readouterr()
    return code, got.out, got.err


def steered(home: Home, capsys: Capture) -> dict[str, Any]:
    code, out, _ = run(home, capsys, "steering", "--json")
    assert code == 0
    return json.loads(out)  # type: ignore[no-any-return]


def settings(home: Home, capsys: Capture) -> dict[str, dict[str, Any]]:
    return {c["contact"]: c for c in steered(home, capsys)["contacts"]}


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# -- one parser --------------------------------------------------------------------------
@pytest.mark.parametrize("pasted", [
    f"Bob Baker <{BOB}>", f"<{BOB}>", f"mailto:{BOB}?subject=Lunch", "BOB@Beta.Example",
    f' "{BOB}" ', f"<mailto:{BOB}>", f'"Baker, Bob" <{BOB}>', "mailto:bob%40beta.example"])
def test_every_pasted_form_is_the_address(pasted: str) -> None:
    assert book.normalise(pasted) == BOB


@pytest.mark.parametrize("text", ["Bob Baker", "", "bob@", "@beta.example", "a@b@c.example",
                                  "bob baker@x.example", f"{BOB}, ann@example.org"])
def test_what_holds_no_one_address_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as exc:
        book.normalise(text)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("pasted", [f"Bob Baker <{BOB}>", f"mailto:{BOB}?subject=x",
                                    "BOB@BETA.EXAMPLE", f"<{BOB}>"])
def test_show_and_steering_take_what_is_pasted(home: Home, capsys: Capture,
                                               pasted: str) -> None:
    code, out, _ = run(home, capsys, "show", pasted)
    assert code == 0 and "Bob Baker" in out and "4 touchpoints" in out
    assert run(home, capsys, "cadence", pasted, "7d")[0] == 0
    assert run(home, capsys, "tag", pasted, "Client")[0] == 0
    assert settings(home, capsys) == {BOB: {
        "contact": BOB, "cadence_days": 7, "snooze_until": None, "ignored": False,
        "tags": ["client"], "merged": [], "unmerged": False}}


def test_a_name_instead_of_an_address_suggests_the_address(home: Home,
                                                          capsys: Capture) -> None:
    code, _, err = run(home, capsys, "show", "Bob Baker")
    assert code == 2 and f"did you mean {BOB}?" in one_line(err)
    code, _, err = run(home, capsys, "cadence", "nobody at all", "7d")
    assert code == 2 and "is not an e-mail address" in one_line(err)


# -- an address never seen ---------------------------------------------------------------
def test_show_of_an_unknown_address_suggests_close_ones(home: Home, capsys: Capture) -> None:
    code, out, _ = run(home, capsys, "show", "bob@beta.exmaple")
    assert code == 0
    assert out == f"keepwarm has never seen bob@beta.exmaple; did you mean {BOB}?\n"
    code, out, _ = run(home, capsys, "show", "zz9@plural.example")
    assert (code, out) == (0, "keepwarm has never seen zz9@plural.example.\n")


def test_a_dropped_address_has_been_seen(home: Home, capsys: Capture) -> None:
    code, out, _ = run(home, capsys, "show", "news@lists.example")
    assert code == 0 and "mailing list" in out and "never seen" not in out
    assert run(home, capsys, "ignore", "news@lists.example")[0] == 0


@pytest.mark.parametrize("args", [("cadence", "7d"), ("tag", "x"), ("untag", "x"),
                                  ("snooze", "2w"), ("ignore",), ("unignore",),
                                  ("merge", BOB), ("unmerge",)])
def test_steering_an_unknown_address_needs_force(home: Home, capsys: Capture,
                                                 args: tuple[str, ...]) -> None:
    cmd, *rest = args
    code, _, err = run(home, capsys, cmd, "bob@beta.exmaple", *rest)
    assert code == 2
    assert err.startswith("keepwarm: bob@beta.exmaple is in no message or meeting keepwarm "
                          f"has seen; did you mean {BOB}? Check the address, or add --force")
    assert one_line(err)
    assert "--force" in err
    assert steered(home, capsys) == {"contacts": [], "dismissed": [], "done": [], "promised": [],
                                     "notes": [], "referrals": []}


def test_with_force_a_person_not_seen_yet_is_steered(home: Home, capsys: Capture) -> None:
    code, out, _ = run(home, capsys, "cadence", "--force", "New Person <new@x.example>", "7d")
    assert code == 0 and out.startswith("new@x.example: every 7 days.")
    assert settings(home, capsys)["new@x.example"]["cadence_days"] == 7
    assert run(home, capsys, "tag", "new@x.example", "friend")[0] == 0  # known now


# -- refusals ----------------------------------------------------------------------------
@pytest.mark.parametrize("args, says", [
    (("merge", BOB, "BOB@beta.example"), "two different addresses"),
    (("merge", BOB, "me@example.com"), "one of your own addresses"),
    (("merge", "me@example.com", BOB), "one of your own addresses"),
    (("ignore", "Me <me@example.com>"), "one of your own addresses"),
    (("snooze", BOB, "-3d"), "not a duration"),
    (("snooze", BOB, "0d"), "not a duration"),
    (("snooze", BOB, "11y"), "more than ten years"),
    (("snooze", BOB, "2000-01-01"), "not after today"),
    (("snooze", BOB, TODAY.isoformat()), "not after today"),
    (("snooze", BOB, "2027-02-30"), "not a date"),
    (("snooze", BOB, (TODAY + timedelta(days=3660)).isoformat()), "more than ten years"),
    (("cadence", BOB, "4000d"), "more than ten years"),
    (("cadence", BOB, "-7d"), "not a duration"),
    (("untag", BOB, "nosuchtag"), "not tagged nosuchtag (it has no tags)"),
])
def test_refused_with_one_line_and_nothing_changed(home: Home, capsys: Capture,
                                                   args: tuple[str, ...], says: str) -> None:
    code, _, err = run(home, capsys, *args)
    assert code == 2 and says in one_line(err)
    assert steered(home, capsys) == {"contacts": [], "dismissed": [], "done": [], "promised": [],
                                     "notes": [], "referrals": []}


def test_a_learned_alias_is_one_of_your_own(home: Home, capsys: Capture) -> None:
    home.send(10, "ann@example.org", extra="")
    msg = sorted((home.maildir / "cur").iterdir())[-1]
    msg.write_text(msg.read_text().replace("From: Me <me@example.com>",
                                           "From: Me <me@alias.example>"))
    assert run(home, capsys, "sync", "--no-write")[0] == 0
    code, _, err = run(home, capsys, "ignore", "me@alias.example")
    assert code == 2 and "one of your own addresses" in one_line(err)


def test_untag_names_the_tags_there_are(home: Home, capsys: Capture) -> None:
    assert run(home, capsys, "tag", BOB, "client", "golf")[0] == 0
    code, _, err = run(home, capsys, "untag", BOB, "golf", "tennis")
    assert code == 2 and "not tagged tennis (its tags are client golf)" in one_line(err)
    assert settings(home, capsys)[BOB]["tags"] == ["client", "golf"]  # golf stays too
    code, out, _ = run(home, capsys, "untag", BOB, "golf")
    assert code == 0 and "untagged golf" in out
    assert settings(home, capsys)[BOB]["tags"] == ["client"]


def test_merging_what_is_one_contact_already_changes_nothing(home: Home,
                                                              capsys: Capture) -> None:
    assert run(home, capsys, "merge", "ann@example.org", "ann@home.example")[0] == 0
    code, out, _ = run(home, capsys, "merge", "ann@home.example", "<ANN@example.org>")
    assert code == 0 and out.startswith("ann@example.org: already owns ann@example.org")
    assert settings(home, capsys)["ann@example.org"]["merged"] == ["ann@home.example"]


# -- unmerge -----------------------------------------------------------------------------
def contacts(home: Home, capsys: Capture) -> dict[str, tuple[list[str], int]]:
    code, out, _ = run(home, capsys, "contacts", "--json")
    assert code == 0
    return {c["email"]: (c["emails"], c["touchpoints"]) for c in json.loads(out)}


def test_unmerge_undoes_a_merge_for_good(home: Home, capsys: Capture) -> None:
    before = contacts(home, capsys)
    assert run(home, capsys, "merge", "ann@example.org", "ann@home.example")[0] == 0
    assert run(home, capsys, "cadence", "ann@example.org", "30d")[0] == 0
    assert contacts(home, capsys)["ann@example.org"] == (
        ["ann@example.org", "ann@home.example"], 3)
    code, out, _ = run(home, capsys, "unmerge", "Ann <ann@home.example>")
    assert code == 0 and out.startswith(
        "ann@home.example: a contact of its own again, no longer part of ann@example.org")
    assert contacts(home, capsys) == before
    steered = settings(home, capsys)
    assert steered["ann@example.org"]["merged"] == [] and "ann@home.example" not in steered
    text = (home.root / "kw.steering.toml").read_text()
    assert "ann@home.example" not in text and "cadence_days = 30" in text
    # a later sync, and a store rebuilt from the sources and the file, keep them apart
    home.send(5, "ann@home.example")
    assert run(home, capsys, "sync", "--no-write")[0] == 0
    assert contacts(home, capsys)["ann@home.example"] == (["ann@home.example"], 2)
    for name in ("kw.db", "kw.db-wal", "kw.db-shm"):
        (home.root / name).unlink(missing_ok=True)
    assert run(home, capsys, "sync", "--no-write")[0] == 0
    after = contacts(home, capsys)
    assert after["ann@home.example"] == (["ann@home.example"], 2)
    assert after["ann@example.org"] == (["ann@example.org"], 2)


def test_unmerge_refuses_what_it_cannot_undo(home: Home, capsys: Capture) -> None:
    code, _, err = run(home, capsys, "unmerge", BOB)
    assert code == 2 and "not merged with another address" in one_line(err)
    assert run(home, capsys, "merge", "ann@example.org", "ann@home.example")[0] == 0
    code, _, err = run(home, capsys, "unmerge", "ann@example.org")
    assert code == 2 and "unmerge ann@home.example instead" in one_line(err)


# -- snooze until a date -----------------------------------------------------------------
def test_snooze_takes_a_date_a_duration_or_off(home: Home, capsys: Capture) -> None:
    day = TODAY + timedelta(days=40)
    code, out, _ = run(home, capsys, "snooze", BOB, day.isoformat())
    assert code == 0 and out.startswith(f"{BOB}: snoozed until {day}.")
    assert settings(home, capsys)[BOB]["snooze_until"] == day.isoformat()
    assert run(home, capsys, "snooze", BOB, "2w")[0] == 0
    assert settings(home, capsys)[BOB]["snooze_until"] == (
        TODAY + timedelta(days=14)).isoformat()
    assert run(home, capsys, "snooze", BOB, "OFF")[0] == 0
    assert BOB not in settings(home, capsys)


# -- keepwarm steering -------------------------------------------------------------------
def test_steering_lists_every_setting(home: Home, capsys: Capture) -> None:
    code, out, _ = run(home, capsys, "steering")
    assert code == 0 and out.startswith("Nothing steered yet")
    for args in (("cadence", BOB, "30d"), ("tag", BOB, "client", "golf"),
                 ("snooze", BOB, "2027-01-15" if TODAY.year < 2027 else "3w"),
                 ("ignore", "news@lists.example"),
                 ("merge", "ann@example.org", "ann@home.example")):
        assert run(home, capsys, *args)[0] == 0
    store = Store(home.root / "kw.db")
    # reminders deleted from the calendar: a contact's, and keepwarm's own notice
    store.replace_reminders({}, {cadence_id(BOB): TODAY, signin_id("sent"): TODAY})
    steering.save(store)
    store.close()
    code, out, _ = run(home, capsys, "steering")
    snooze = settings(home, capsys)[BOB]["snooze_until"]
    assert code == 0 and out.splitlines() == [
        "contact\tsetting\tvalue",
        "ann@example.org\tmerge\tann@home.example",
        f"{BOB}\tcadence\t30d", f"{BOB}\ttag\tclient", f"{BOB}\ttag\tgolf",
        f"{BOB}\tsnooze\t{snooze}",
        "news@lists.example\tignore\tyes",
        f"{BOB}\tdismissed\tcadence due {TODAY}",
        f"-\tdismissed\tnotice signin:sent due {TODAY}"]
    assert steered(home, capsys)["dismissed"] == [
        {"kind": "cadence", "contact": BOB, "key": "", "due": TODAY.isoformat()},
        {"kind": "notice", "contact": "", "key": "signin:sent", "due": TODAY.isoformat()}]


# -- the contact's name ------------------------------------------------------------------
def organised_by(home: Home, uid: str, days_ago: int, who: str, cn: str) -> None:
    """A meeting ``who`` organised, with ``cn`` as the organizer's name, that I attended."""
    start = noon(days_ago).astimezone(ZoneInfo("UTC"))
    event = "\r\n".join([
        "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}", f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}",
        "SUMMARY:Review", f"ORGANIZER;CN={cn}:mailto:{who}",
        "ATTENDEE;PARTSTAT=ACCEPTED;CN=Me:mailto:me@example.com", "END:VEVENT", ""])
    body = home.calendar.read_text()
    home.calendar.write_text(body.replace("END:VCALENDAR", event + "END:VCALENDAR"))


def names(home: Home, capsys: Capture) -> dict[str, str]:
    code, out, _ = run(home, capsys, "contacts", "--json")
    assert code == 0
    return {c["email"]: c["name"] for c in json.loads(out)}


def test_a_meetings_organizer_placeholder_never_replaces_a_mail_name(
        tmp_path: Path, capsys: Capture) -> None:
    home = Home(tmp_path)
    for days in range(300, 81, -3):  # 73 mails
        home.send(days, f"Bob Baker <{BOB}>")
    organised_by(home, "m1@x", 2, BOB, "Organizer")
    organised_by(home, "m2@x", 3, "cy@x.example", "Organizer")
    organised_by(home, "m3@x", 4, "dee@x.example", "dee@x.example")
    organised_by(home, "m4@x", 5, "eve@x.example", "Eve Example")
    assert home.run("sync", "--no-write") == 0
    assert names(home, capsys) == {BOB: "Bob Baker", "cy@x.example": "cy@x.example",
                                   "dee@x.example": "dee@x.example",
                                   "eve@x.example": "Eve Example"}


def test_the_name_written_most_wins_and_ties_go_to_the_latest(tmp_path: Path,
                                                               capsys: Capture) -> None:
    home = Home(tmp_path)
    for days in (300, 250, 200):
        home.send(days, f"Robert Baker <{BOB}>")
    home.send(10, f"Bob <{BOB}>")  # later, but once
    home.send(300, "Ann L. <ann@example.org>")
    home.send(100, "Ann Lee <ann@example.org>")  # once each: the later
    organised_by(home, "m1@x", 2, "ann@example.org", "Ann Lee-Meeting")  # mail comes first
    assert home.run("sync", "--no-write") == 0
    got = names(home, capsys)
    assert (got[BOB], got["ann@example.org"]) == ("Robert Baker", "Ann Lee")


def test_the_name_rule_itself() -> None:
    e = "bo@x.org"
    assert best_name([(e, "Organizer", "meeting", 9, 9), (e, "BO@x.org", "email", 5, 5),
                      (e, "<mailto:bo@x.org>", "meeting", 1, 1)]) == ""
    assert best_name([(e, "Bo Meeting", "meeting", 50, 50), (e, "Bo", "email", 1, 1)]) == "Bo"
    assert best_name([(e, "Bo A", "email", 2, 10), (e, "Bo B", "email", 2, 20)]) == "Bo B"
    # one person at two addresses: the counts of one name add up
    assert best_name([(e, "Bo", "email", 2, 10), ("b2@y.org", "Bo", "email", 2, 10),
                      (e, "Robert", "email", 3, 30)]) == "Bo"


def test_names_are_read_from_an_upgraded_store(tmp_path: Path) -> None:
    shutil.copy(V1 / "keepwarm.db", tmp_path / "keepwarm.db")
    old = sqlite3.connect(tmp_path / "keepwarm.db")
    had = {e: n for e, n in old.execute("SELECT email, name FROM addresses WHERE name != ''")}
    old.close()
    store = Store(tmp_path / "keepwarm.db")
    facts = {f.key: f.name for f in store.contact_facts()}
    store.close()
    assert had and all(facts[e] == n for e, n in had.items() if e in facts)
