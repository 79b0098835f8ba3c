"""`keepwarm demo` on the bundled sample, against the hand-computed daemon/demo_data/EXPECTED.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from daemon.cli import main
from daemon.demo import run_demo


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
    assert [(x["email"], x["overdue_days"], x["cadence_days"], x["touchpoints"], x["due"])
            for x in got] == [  # type: ignore[attr-defined]
        ("priya@lumen-analytics.example", 78, 90, 6, "2025-12-14"),
        ("sam.carter@harbor-logistics.example", 43, 90, 5, "2026-01-18"),
        ("juergen.mueller@brandt-maschinenbau.example", 22, 90, 5, "2026-02-08"),
        ("marco@rossi-design.example", 11, 30, 2, "2026-02-19"),
        ("tom.becker@bigclient.example", 5, 30, 17, "2026-02-25"),
        ("yuki.tanaka@kumo-ventures.example", 4, 14, 1, "2026-02-26"),
    ]
    names = {x["email"]: x["name"] for x in got}  # type: ignore[attr-defined]
    assert names["juergen.mueller@brandt-maschinenbau.example"] == "Jürgen Müller"


def test_contacts_and_the_learned_alias(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    got = run_json(demo, capsys, "contacts")
    emails = {x["email"]: x for x in got}  # type: ignore[attr-defined]
    assert len(emails) == 12
    assert "alex.morgan@gmail.example" not in emails
    assert emails["jane.doe@northwind-legal.example"]["name"] == "Doe, Jane"
    assert not emails["lena@fischer-studio.example"]["tracked"]


def test_reminders_file(demo: Path) -> None:
    text = (demo / "followups.ics").read_text()
    starts = sorted(re.findall(r"SUMMARY:Follow up: ([^\r\n]+)\r?\nDTSTART:(\d{8}T\d{6}Z)",
                               text), key=lambda x: (x[1], x[0]))
    assert starts == [  # 09:30 Berlin, five a day, the most overdue first; Sunday -> Monday
        ("Jürgen Müller", "20260302T083000Z"), ("Marco Rossi", "20260302T083000Z"),
        ("Priya Raman", "20260302T083000Z"), ("Sam Carter", "20260302T083000Z"),
        ("Tom Becker", "20260302T083000Z"), ("Yuki Tanaka", "20260303T083000Z"),
        ("Daniel Okafor", "20260309T083000Z"), ("Sam Carter", "20260316T083000Z"),
    ]
    assert "ATTENDEE" not in text and "ORGANIZER" not in text


def test_the_demo_reads_every_sample_and_warns_of_nothing(demo: Path) -> None:
    out = (demo / "out.txt").read_text()
    assert re.search(r"✓ sent: 47 new messages", out)
    assert "warning" not in out and "skipped" not in out.replace(" 0 skipped", "")
    assert "Lapsed as of 2026-03-02" in out and "Priya Raman" in out
