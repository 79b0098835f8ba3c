"""`keepwarm demo` on the bundled sample, against the hand-computed daemon/demo_data/EXPECTED.md."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from daemon import demo as demo_module
from daemon import sync
from daemon.cli import main
from daemon.config import load
from daemon.demo import run_demo
from daemon.store import Store

ROOT = Path(__file__).resolve().parent.parent
NADIA = "nadia@haddad.example"
VICTOR = "victor@almeida.example"
GRETA = "greta@nordic-forum.example"
SAM_WORK = "sam.carter@harbor-logistics.example"
SAM_HOME = "sam.carter@postbox.example"
JANE = "jane.doe@northwind-legal.example"
JUERGEN = "juergen.mueller@brandt-maschinenbau.example"
TOM = "tom.becker@bigclient.example"
SOFIA = "sofia.lind@bigclient.example"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    console = Console(file=open(folder / "out.txt", "w"), width=200)  # noqa: SIM115
    assert run_demo(console, folder=folder) == 0
    console.file.close()
    return folder


def run_json(folder: Path, capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    assert main(["--config", str(folder / "config.toml"), *args, "--as-of", "2026-03-02",
                 "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_lapsed_matches_the_hand_computed_table(demo: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    got = run_json(demo, capsys, "lapsed")
    assert [(x["email"], x["overdue_days"], x["cadence_days"], x["touchpoints"], x["due"],
             x["strength"]) for x in got] == [  # type: ignore[attr-defined]
        # by priority, intervals overdue x strength: the weekly sync's people first
        (TOM, 25, 10, 17, "2026-02-05", 89),  # learned: every 7 days, so 10 not 30
        (SOFIA, 2, 10, 16, "2026-02-28", 89),
        ("priya@lumen-analytics.example", 86, 82, 6, "2025-12-06", 9),  # learned: 55 -> 82
        (JUERGEN, 52, 60, 5, "2026-01-09", 9),  # a client: the rule for tag:group:Clients
        ("yuki.tanaka@kumo-ventures.example", 4, 14, 1, "2026-02-26", 22),
        ("marco@rossi-design.example", 11, 30, 2, "2026-02-19", 13),
    ]
    plain = run_json(demo, capsys, "lapsed", "--sort", "overdue")
    assert [x["overdue_days"] for x in plain] == [86, 52, 25, 11, 4, 2]  # type: ignore[attr-defined]
    names = {x["email"]: x["name"] for x in got}  # type: ignore[attr-defined]
    assert names[JUERGEN] == "Jürgen Müller"


def test_learned_rhythms(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """EXPECTED.md, Learned rhythm: five touch days or more give a rhythm; it decides only
    where 1.5 times it is shorter than the configured interval."""
    emails = {x["email"]: x for x in run_json(demo, capsys, "contacts")}  # type: ignore[attr-defined]
    assert {e: (x["learned_days"], x["cadence_days"], x["interval_source"])
            for e, x in emails.items() if x["learned_days"] is not None} == {
        TOM: (7, 10, "learned"), SOFIA: (7, 10, "learned"),
        "priya@lumen-analytics.example": (55, 82, "learned"),
        JUERGEN: (63, 60, "rule"), JANE: (69, 60, "rule"), SAM_WORK: (70, 90, "default"),
        "oliver.grant@grant-partners.example": (70, 90, "default")}
    capsys.readouterr()
    assert main(["--config", str(demo / "config.toml"), "show", TOM, "--as-of",
                 "2026-03-02"]) == 0
    assert ("you usually write every 7 days, from 16 gaps; due after 10 days of quiet"
            in capsys.readouterr().out)


def test_contacts_and_the_learned_alias(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    got = run_json(demo, capsys, "contacts")
    emails = {x["email"]: x for x in got}  # type: ignore[attr-defined]
    # 12 of the first sample, less Sam's second address (his card joins them), 10 guests,
    # Nadia, Omar, Victor, Greta; the card without an address (Eva Morgan) is no contact
    assert len(emails) == 25
    assert "alex.morgan@gmail.example" not in emails
    assert "ruth.adler@morgan-consulting.example" not in emails  # received mail makes none
    assert not emails["lena@fischer-studio.example"]["tracked"]
    assert not [x for x in emails.values() if x["name"] == "Eva Morgan"]


def test_two_way_tracks_who_wrote_back_or_met(demo: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    emails = {x["email"]: x for x in run_json(demo, capsys, "contacts")}  # type: ignore[attr-defined]
    tracked = {e for e, x in emails.items() if x["tracked"]}
    assert tracked == {
        "priya@lumen-analytics.example", "sam.carter@harbor-logistics.example",
        "juergen.mueller@brandt-maschinenbau.example", "marco@rossi-design.example",
        "tom.becker@bigclient.example", "yuki.tanaka@kumo-ventures.example",
        "daniel.okafor@northwind-legal.example",
        "sofia.lind@bigclient.example", "jane.doe@northwind-legal.example",
        "oliver.grant@grant-partners.example"}
    # written to four times and twice, never an answer: follow-ups, never a cadence
    for email in (GRETA, VICTOR, NADIA):
        assert emails[email]["why"] == "one-way: never wrote back"
    # what each wrote (EXPECTED.md, Received mail): Victor's out-of-office and list post are
    # not him writing; Daniel, who declined the one meeting, is tracked because he wrote back
    # Sam: two from each of his addresses, one contact through his card
    wrote = {e: x["received"] for e, x in emails.items() if x["received"]}
    assert wrote == {
        "oliver.grant@grant-partners.example": 3, SAM_WORK: 4, JUERGEN: 2, JANE: 2,
        "priya@lumen-analytics.example": 2, "tom.becker@bigclient.example": 2,
        "marco@rossi-design.example": 2, "daniel.okafor@northwind-legal.example": 1,
        "lena@fischer-studio.example": 1}


def test_the_address_book_joins_names_and_tags(demo: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """EXPECTED.md, Address book: Sam's card makes his two addresses one contact, kept under
    the one Alex wrote to first; the card's name beats the header's "Doe, Jane"; CATEGORIES
    are tags, and the Clients rule gives Jane and Jürgen 60 days."""
    emails = {x["email"]: x for x in run_json(demo, capsys, "contacts")}  # type: ignore[attr-defined]
    sam = emails[SAM_WORK]
    assert SAM_HOME not in emails and sam["emails"] == [SAM_WORK, SAM_HOME]
    assert (sam["touchpoints"], sam["last_touch"][:10], sam["cadence_days"], sam["due"],
            sam["overdue_days"], sam["tags"]) == (7, "2026-02-14", 90, "2026-05-15", -74,
                                                  ["group:Friends"])
    assert emails[JANE]["name"] == "Jane Doe"
    assert [(emails[e]["tags"], emails[e]["cadence_days"], emails[e]["due"])
            for e in (JANE, JUERGEN)] == [(["group:Clients"], 60, "2026-04-21"),
                                          (["group:Clients"], 60, "2026-01-09")]
    carded = {e for e, x in emails.items() if x["carded"]}
    assert carded == {SAM_WORK, JANE, JUERGEN, "oliver.grant@grant-partners.example",
                      "priya@lumen-analytics.example", "daniel.okafor@northwind-legal.example"}
    assert emails["daniel.okafor@northwind-legal.example"]["card_notes"] == [
        "BDAY 1986-02-30 is not a date"]
    assert (emails[JUERGEN]["birthday"], emails[JUERGEN]["birthday_text"]) == (None, "Ende März")


def test_birthdays_lists_the_cards_dates(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Within the reminders' horizon: Eva (no address) turns 70, Sam's year-less birthday
    (Apple's 1604), Jane turns 45, Sam's tenth anniversary; Jürgen's "Ende März" is words, never
    listed. Oliver's --0520 is further ahead; Priya's 29 February fell on the 28th."""
    def listed(*args: str) -> list[tuple[object, ...]]:
        got = run_json(demo, capsys, "birthdays", *args)
        return [(x["date"], x["kind"], x["name"], x["email"], x["years"])
                for x in got]  # type: ignore[attr-defined]
    assert listed("--days", "14") == [
        ("2026-03-07", "birthday", "Eva Morgan", None, 70),
        ("2026-03-09", "birthday", "Sam Carter", SAM_WORK, None),
        ("2026-03-11", "birthday", "Jane Doe", JANE, 45),
        ("2026-03-12", "anniversary", "Sam Carter", SAM_WORK, 10)]
    assert listed("--days", "90")[4:] == [
        ("2026-05-20", "birthday", "Oliver Grant", "oliver.grant@grant-partners.example", None)]
    capsys.readouterr()
    assert main(["--config", str(demo / "config.toml"), "birthdays", "--as-of", "2026-02-27",
                 "--days", "3", "--json"]) == 0
    assert [(x["date"], x["name"], x["years"]) for x in json.loads(capsys.readouterr().out)] == [
        ("2026-02-28", "Priya Raman", 38)]


def test_show_prints_the_card_and_what_it_could_not_read(
        demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def shown(address: str) -> str:
        capsys.readouterr()
        assert main(["--config", str(demo / "config.toml"), "show", address, "--as-of",
                     "2026-03-02"]) == 0
        return capsys.readouterr().out
    assert "note: BDAY 1986-02-30 is not a date" in shown("daniel.okafor@northwind-legal.example")
    juergen = shown(JUERGEN)
    assert "group:Clients" in juergen and "birthday as written: 'Ende März'" in juergen
    assert "birthday 9 March" in shown(SAM_HOME)


def test_unmerge_splits_sam_as_before_the_card(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """EXPECTED.md, After unmerge: his personal address leaves the card, and each address
    is the contact it was before the address book: the work one lapsed 43 days."""
    cfg = load(demo_module.prepare(tmp_path))
    store = Store(cfg.store_path)
    assert sync.sync(cfg, store, demo_module.DEMO_NOW, write=False).ok
    store.close()
    assert main(["--config", str(tmp_path / "config.toml"), "unmerge", SAM_HOME]) == 0
    emails = {x["email"]: x for x in run_json(tmp_path, capsys, "contacts")}  # type: ignore[attr-defined]
    assert [(emails[e]["touchpoints"], emails[e]["cadence_days"], emails[e]["due"],
             emails[e]["overdue_days"], emails[e]["carded"]) for e in (SAM_WORK, SAM_HOME)] == [
        (5, 90, "2026-01-18", 43, True), (2, 30, "2026-03-16", -14, False)]


def test_awaiting_matches_the_hand_computed_threads(demo: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    got = run_json(demo, capsys, "awaiting", "--all")
    assert [(x["email"], x["subject"], [s[:10] for s in x["sent"]], x["waiting_days"],
             x["attempt"], x["next_followup"], x["state"])
            for x in got] == [  # type: ignore[attr-defined]
        (NADIA, "Proposal: store review", ["2026-02-26"], 4, 1, "2026-03-03", "waiting"),
        (VICTOR, "Re: Freight audit", ["2026-02-10", "2026-02-23"], 20, 2, "2026-03-04",
         "waiting"),
        (GRETA, "Re: A talk at the forum in May",
         ["2026-01-07", "2026-01-12", "2026-01-21", "2026-02-10"], 54, 4, None, "gone_quiet"),
    ]
    assert [x["email"] for x in run_json(demo, capsys, "awaiting")] == [  # type: ignore[attr-defined]
        NADIA, VICTOR]


def test_answered_broadcast_and_cc_threads_wait_for_nothing(
        demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each of these waits for nothing, each for its own reason (EXPECTED.md): answered in
    the thread (Tom's Outlook reply keeps only In-Reply-To), answered by a colleague (Karin
    for Sofia), an automated address only, Ruth's message (Alex only in Cc), ten people."""
    got = run_json(demo, capsys, "awaiting", "--all")
    waiting_on = {x["email"] for x in got}  # type: ignore[attr-defined]
    assert waiting_on.isdisjoint({
        "tom.becker@bigclient.example", "sofia.lind@bigclient.example",
        "noreply@billing.cloudhost.example", "hanna.berger@berger-pharma.example",
        "anna.kowalski@vistula-foods.example", "oliver.grant@grant-partners.example",
        "lena@fischer-studio.example", SAM_WORK, SAM_HOME,
        "marco@rossi-design.example", JANE})


def unfolded(ics: str) -> str:
    return re.sub(r"\r?\n[ \t]", "", ics)


def test_reminders_file(demo: Path) -> None:
    text = unfolded((demo / "followups.ics").read_text())
    starts = sorted(re.findall(r"SUMMARY:Follow up: ([^\r\n]+)\r?\nDTSTART:(\d{8}T\d{6}Z)",
                               text), key=lambda x: (x[1], x[0]))
    assert starts == [  # 09:30 Berlin, five a day, the earliest due first; Sunday -> Monday
        ("Jürgen Müller", "20260302T083000Z"), ("Marco Rossi", "20260302T083000Z"),
        ("Priya Raman", "20260302T083000Z"), ("Tom Becker", "20260302T083000Z"),
        ("Yuki Tanaka", "20260302T083000Z"),
        ('Nadia Haddad — no reply to "Proposal: store review"', "20260303T083000Z"),
        ("Sofia Lind", "20260303T083000Z"),  # due 02-28, the sixth: Monday is full
        ('Victor Almeida — no reply to "Re: Freight audit"', "20260304T083000Z"),
        ("Daniel Okafor", "20260309T083000Z"),
    ]
    # the address book's, all day on the day, in the same file
    days = sorted(re.findall(r"SUMMARY:((?:Birthday|Anniversary): [^\r\n]+)\r?\n"
                             r"DTSTART;VALUE=DATE:(\d{8})", text), key=lambda x: x[1])
    assert days == [("Birthday: Eva Morgan (turns 70)", "20260307"),
                    ("Birthday: Sam Carter", "20260309"),
                    ("Birthday: Jane Doe (turns 45)", "20260311"),
                    ("Anniversary: Sam Carter (10 years)", "20260312")]
    assert "ATTENDEE" not in text and "ORGANIZER" not in text
    # the follow-up says when Alex wrote, which attempt it is, and how to answer
    victor = text[text.index("Follow up: Victor Almeida"):]
    victor = victor[:victor.index("END:VEVENT")].replace("\\n", "\n").replace("\\,", ",")
    assert "Sent: 2026-02-10, 2026-02-23 (attempt 2)" in victor
    assert "Follow up on: 2026-03-04" in victor
    assert "Open: mailto:victor@almeida.example?subject=Re%3A%20Freight%20audit" in victor


def test_the_demo_reads_every_sample_and_warns_of_nothing(demo: Path) -> None:
    out = (demo / "out.txt").read_text()
    assert re.search(r"✓ mail: 80 new messages", out)  # 55 sent, 25 received
    assert "✓ contacts: 7 cards read, 0 skipped" in out
    assert "warning" not in out and "skipped" not in out.replace(" 0 skipped", "")
    assert "Lapsed as of 2026-03-02" in out and "Priya Raman" in out


def test_the_demo_lists_the_threads_waiting_and_names_the_command(demo: Path) -> None:
    out = (demo / "out.txt").read_text()
    lapsed, waiting = out.split("Waiting for a reply as of 2026-03-02:")
    assert "Priya Raman" in lapsed and "Nadia Haddad" not in lapsed
    assert "Nadia Haddad" in waiting and "Victor Almeida" in waiting
    assert "Greta" not in waiting  # gone quiet: `awaiting --all` only
    assert f"keepwarm --config {demo / 'config.toml'} awaiting --as-of 2026-03-02" in out


def test_the_demo_lists_the_birthdays_after_the_threads(demo: Path) -> None:
    out = (demo / "out.txt").read_text()
    waiting, coming = out.split("Birthdays and anniversaries from 2026-03-02 to 2026-03-16:")
    assert "Victor Almeida" in waiting and "Eva Morgan" not in waiting
    assert [line.split()[:3] for line in coming.splitlines() if line.startswith("2026")] == [
        ["2026-03-07", "birthday", "Eva"], ["2026-03-09", "birthday", "Sam"],
        ["2026-03-11", "birthday", "Jane"], ["2026-03-12", "anniversary", "Sam"]]
    assert (f"keepwarm --config {demo / 'config.toml'} birthdays --as-of 2026-03-02 "
            "--days 14") in coming


def test_the_demo_fits_80_columns(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    with open(tmp_path / "out.txt", "w") as file:
        console = Console(file=file, width=80, force_terminal=True, color_system=None)
        assert run_demo(console, folder=tmp_path / "demo") == 0
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "Nadia Haddad" in text and "Next follow-up" in text
    # the ages are what a birthday list is for: Years stays at 80 columns (Source goes)
    assert re.search(r"2026-03-07 +birthday +Eva Morgan +70\n", text)


def test_the_demo_is_plain_when_piped(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "COLUMNS": "80"}
    env.pop("FORCE_COLOR", None)
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "demo"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stderr == ""
    assert "\x1b" not in done.stdout and "─" not in done.stdout
    assert "next_followup\tname\temail\tsubject\tsent\tattempt\twaiting_days" in done.stdout
    assert ("2026-03-04\tVictor Almeida\tvictor@almeida.example\tRe: Freight audit\t"
            "2026-02-10, 2026-02-23\t2\t20d") in done.stdout
    assert "2026-03-07\tbirthday\tEva Morgan\t\t70\tcontacts\n" in done.stdout
