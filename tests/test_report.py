"""`keepwarm report`: the page built from the demo's store says what the demo's data holds
(daemon/demo_data/EXPECTED.md), fetches nothing, and the command behaves as a look does."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from daemon import reportdata, reporthtml
from daemon.cli import main
from daemon.demo import run_demo
from daemon.model import Awaiting, ContactFacts, Status

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-03-02"
# as daemon/demo_data/EXPECTED.md has them, most overdue first (the due list's order)
LAPSED = {"Priya Raman": 86, "Jürgen Müller": 52, "Tom Becker": 25, "Marco Rossi": 11,
          "Yuki Tanaka": 4, "Sofia Lind": 2}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    with open(folder / "out.txt", "w", encoding="utf-8") as f:
        assert run_demo(Console(file=f, width=200), folder=folder) == 0
    return folder


@pytest.fixture(scope="module")
def page(demo: Path) -> str:
    return (demo / "report.html").read_text(encoding="utf-8")


def report(folder: Path, *args: str) -> int:
    return main(["--config", str(folder / "config.toml"), "report", "--as-of", AS_OF, *args])


class Cells(HTMLParser):
    """The text of every table row, cell by cell, and every link's target."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th") and self.rows:
            self.rows[-1].append("")
        elif tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_data(self, data: str) -> None:
        if self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def parsed(html: str) -> Cells:
    cells = Cells()
    cells.feed(html)
    return cells


def section(html: str, name: str) -> str:
    found = re.search(f'<section id="{name}">(.*?)</section>', html, re.S)
    assert found, name
    return found.group(1)


def test_the_demo_writes_the_report_and_prints_its_path(demo: Path) -> None:
    printed = (demo / "out.txt").read_text(encoding="utf-8")
    assert f"{demo / 'report.html'}" in printed.replace("\n", "")
    assert (demo / "report.html").stat().st_mode & 0o077 == 0  # it names everyone


def test_the_header_counts_the_demo_contacts(page: str) -> None:
    assert "as of 2026-03-02: 25 contacts, 10 tracked, 6 lapsed" in page


def test_the_heatmap_marks_exactly_the_lapsed_in_words(page: str, demo: Path) -> None:
    rows = parsed(section(page, "strongest")).rows[1:]  # the first is the months
    marked = {r[0].split(" lapsed ")[0]: r[0].split(" lapsed ")[1] for r in rows
              if " lapsed " in r[0]}
    assert marked == {n: f"{d} day{'s' if d != 1 else ''}" for n, d in LAPSED.items()}
    assert len(rows[0]) == 2 + reportdata.MONTHS
    strengths = [int(r[1]) for r in rows]
    assert strengths == sorted(strengths, reverse=True)


def test_a_heatmap_row_counts_the_contacts_touchpoints(page: str, demo: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """Each month's count, summed, is the touchpoints `lapsed --json` counts (all within
    the 24 months), and Priya's months are those of her messages."""
    capsys.readouterr()
    assert main(["--config", str(demo / "config.toml"), "lapsed", "--as-of", AS_OF,
                 "--json"]) == 0
    lapsed = {x["name"]: x["touchpoints"] for x in json.loads(capsys.readouterr().out)}
    rows = {r[0].split(" lapsed ")[0]: [int(c) for c in r[2:]]
            for r in parsed(section(page, "strongest")).rows[1:]}
    for name in LAPSED:
        assert sum(rows[name]) == lapsed[name], name
    assert 'title="Priya Raman, March 2025: 1 touch"' in page


def test_the_due_list_is_the_lapsed_then_who_falls_due_within_14_days(page: str) -> None:
    cells = parsed(section(page, "due"))
    rows = cells.rows[1:]
    assert [r[0] for r in rows] == [*LAPSED, "Daniel Okafor"]
    assert rows[-1][1:3] == ["2026-03-08", "in 6 days"]
    assert rows[0][2] == "overdue 86 days"
    assert "mailto:priya@lumen-analytics.example" in cells.links


def test_the_weeks_count_each_message_and_meeting_once(page: str, demo: Path) -> None:
    """Against the store read directly: the distinct counted messages and meetings of the
    104 weeks up to the week of 2026-03-02 (from Monday 2024-03-11)."""
    db = sqlite3.connect(demo / "keepwarm.db")
    start = datetime(2024, 3, 10, 23, tzinfo=UTC).timestamp()  # Monday, Berlin time
    end = datetime(2026, 3, 2, 22, 59, 59, tzinfo=UTC).timestamp()
    counts = dict(db.execute(
        "SELECT channel, count(DISTINCT source_id) FROM participants WHERE rule IS NULL "
        "AND role != 'from' AND at BETWEEN ? AND ? GROUP BY channel", (start, end)))
    db.close()
    assert (f"{counts['email']} messages and {counts['meeting']} meetings over 104 weeks "
            "from 2024-03-11") in page
    table = parsed(section(page, "weekly")).rows[1:]
    assert sum(int(r[1]) for r in table) == counts["email"]
    assert sum(int(r[2]) for r in table) == counts["meeting"]


def test_the_follow_ups_and_birthdays_are_those_of_the_demo(page: str) -> None:
    waiting = parsed(section(page, "awaiting")).rows[1:]
    assert [r[:2] for r in waiting] == [["Nadia Haddad", "Proposal: store review"],
                                        ["Victor Almeida", "Re: Freight audit"]]
    born = parsed(section(page, "birthdays")).rows[1:]
    assert [r[:3] for r in born] == [["2026-03-07", "Eva Morgan", "birthday, turns 70"],
                                     ["2026-03-09", "Sam Carter", "birthday"],
                                     ["2026-03-11", "Jane Doe", "birthday, turns 45"],
                                     ["2026-03-12", "Sam Carter", "anniversary, 10 years"]]


def test_the_intervals_add_up_to_the_tracked(page: str) -> None:
    found = re.findall(r'aria-label="Tracked contacts by interval: ([^"]*)"', page)
    assert len(found) == 1
    counts = [int(part.rsplit(": ", 1)[1]) for part in found[0].split(", ")]
    assert sum(counts) == 10 and len(counts) == len(reportdata.INTERVAL_EDGES) + 1


def test_the_page_fetches_nothing_and_runs_no_script(page: str) -> None:
    cells = parsed(page)
    assert not cells.tags & {"script", "img", "link", "iframe", "object", "embed"}
    assert "default-src 'none'" in page
    assert {u.split(":")[0] for u in cells.links} <= {"mailto", "https", "http"}
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "url(http" not in page and "@import" not in page
    assert "prefers-color-scheme: dark" in page and "@media print" in page


def test_out_dash_writes_the_page_to_stdout(demo: Path,
                                            capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    assert report(demo, "--out", "-") == 0
    got = capfdbinary.readouterr().out
    assert got.startswith(b"<!doctype html>") and "Jürgen Müller".encode() in got


def test_the_default_place_is_the_state_folder_and_the_path_is_printed(
        demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert report(demo) == 0
    path = demo / "state" / "report.html"
    assert capsys.readouterr().out.strip() == str(path)
    assert "Priya Raman" in path.read_text(encoding="utf-8")


def test_a_missing_folder_is_one_line_and_exit_2(demo: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert report(demo, "--out", str(demo / "nowhere" / "r.html")) == 2
    got = capsys.readouterr()
    assert got.out == "" and got.err.count("\n") == 1 and "does not exist" in got.err
    assert report(demo, "--out", "-", "--open") == 2


def test_open_hands_the_file_to_the_browser(demo: Path, tmp_path: Path) -> None:
    """$BROWSER is what Python's webbrowser (and xdg-open) run; a subprocess, since
    webbrowser reads it once per process."""
    seen = tmp_path / "seen"
    browser = tmp_path / "browser"
    browser.write_text(f"#!/bin/sh\necho \"$1\" > {seen}\n", encoding="utf-8")
    browser.chmod(0o755)
    out = tmp_path / "r.html"
    env = {**os.environ, "BROWSER": str(browser), "DISPLAY": ""}
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "--config",
                           str(demo / "config.toml"), "report", "--out", str(out), "--open"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert seen.read_text(encoding="utf-8").strip() == out.as_uri()


def test_open_without_a_browser_says_so_and_exits_1_with_the_page_written(
        demo: Path, tmp_path: Path) -> None:
    """No browser on the PATH (the standard ones are looked up there) and a $BROWSER that
    does not run."""
    out = tmp_path / "r.html"
    env = {**os.environ, "BROWSER": str(tmp_path / "no-such-browser"), "PATH": str(tmp_path),
           "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "--config",
                           str(demo / "config.toml"), "report", "--out", str(out), "--open"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == f"{out}\n" and out.exists()
    assert done.stderr.count("\n") == 1 and "no web browser could open" in done.stderr


def test_an_empty_store_gives_a_page_that_says_so(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[identity]\naddresses = ["me@example.com"]\n[store]\npath = '
                      f'"{tmp_path / "kw.db"}"\nstate_dir = "{tmp_path / "state"}"\n',
                      encoding="utf-8")
    assert main(["--config", str(config), "report", "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "0 contacts, 0 tracked, 0 lapsed" in html and "Nobody is due." in html


# -- the pure part ----------------------------------------------------------------------------
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def status(key: str, due: date, tracked: bool = True, interval: int = 30,
           strength: int = 0) -> Status:
    facts = ContactFacts(key, (key,), key.split("@")[0], 1, 0, NOW, "email")
    return Status(facts, tracked, "test", interval, "default", due, due,
                  max(0, (NOW.date() - due).days), strength=strength)


def test_the_heatmap_keeps_the_40_strongest_and_the_due_list_100() -> None:
    statuses = [status(f"p{i:03}@x.example", NOW.date() - timedelta(days=i % 20),
                       strength=10 * (i % 7)) for i in range(150)]
    touches = [(s.facts.key, "email", f"m{i}-{j}", NOW - timedelta(days=j))
               for i, s in enumerate(statuses) for j in range(i % 7)]
    r = reportdata.build(statuses, touches, (), (), NOW, UTC)
    assert len(r.rows) == reportdata.STRONGEST
    # the rows are the statuses' strengths, the strongest first (ties by name), each with
    # its own touches: 21 contacts of strength 60 (6 touches), then 19 of the 21 at 50
    assert [row.strength for row in r.rows] == [60] * 21 + [50] * 19
    assert [sum(row.months) for row in r.rows] == [6] * 21 + [5] * 19
    assert [row.name for row in r.rows[:2]] == ["p006", "p013"]
    assert len(r.due) == reportdata.DUE_SHOWN and r.due_more == 50
    assert sum(r.weekly_mail) == len(touches)


def test_interval_buckets_take_their_edges() -> None:
    got = dict(reportdata.interval_histogram([7, 8, 14, 90, 365, 366, 3650]))
    assert got["1-7 days"] == 1 and got["8-14 days"] == 2 and got["61-90 days"] == 1
    assert got["181-365 days"] == 1 and got["over 365 days"] == 2


def test_names_and_subjects_from_mail_are_text_and_only_web_or_mail_links_link() -> None:
    """A name or subject is whatever a sender wrote: never markup; a link that is not
    http(s) or mailto (``javascript:``) is not made one."""
    plain = status("x@evil.example", NOW.date())
    evil = dataclasses.replace(plain, facts=dataclasses.replace(
        plain.facts, name="<script>alert(1)</script>"))
    thread = Awaiting("x@evil.example", "<b>X</b>", "<img src=x onerror=alert(1)>", "m1",
                      "t1", (NOW,), 1, NOW.date(), "waiting", "javascript:alert(1)",
                      contact="x@evil.example")
    html = reporthtml.page(reportdata.build([evil], [], [thread], [], NOW, UTC))
    cells = parsed(html)
    assert not cells.tags & {"script", "img", "b"}
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not [u for u in cells.links if u.startswith("javascript")]
