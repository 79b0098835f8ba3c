"""What the looking commands print, wherever it goes: JSON with stable keys; a table that
fits an 80-column terminal without cutting an address or a date; tab-separated lines when
piped; English counts; an ASCII-only stdout; the user's steering in `show` and `contacts`;
the sparkline; and colour on a terminal only."""

from __future__ import annotations

import ast
import fcntl
import itertools
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from daemon import render, tables
from daemon.sparkline import ASCII_BLOCKS, BLOCKS, labelled, monthly_counts, sparkline
from daemon.words import moment, plural
from tests.test_cli import TODAY, Home

ROOT = Path(__file__).resolve().parent.parent
ENV = {**{k: v for k, v in os.environ.items()
          if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM", "NO_COLOR", "FORCE_COLOR",
                       "COLUMNS", "LINES", "TTY_COMPATIBLE", "PYTHONIOENCODING")},
       "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOXES = set("─│┃━┏┓┗┛┡┩╇╈┼═")
LONG = "dr.maximiliane.oberhuber-wittgenstein@example.org"  # 49 characters
JOSE = "jose@muller.example"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


@pytest.fixture
def people(home: Home) -> Home:
    """A long name at a long address, an accented name, a 30-day rule client, a meeting."""
    for d in (400, 300, 200):
        home.send(d, f"Maximiliane Oberhuber-Wittgenstein von Habsburg <{LONG}>")
    for d in (300, 150, 130):
        home.send(d, f"José Müller <{JOSE}>")
    for d in (90, 60):
        home.send(d, "bo@bigclient.example")
    home.meeting(100, "meet-1@example.com", "eve@example.org")
    home.send(5, "fay@example.org")
    assert home.run("sync", "--no-write") == 0
    return home


def cli(home: Home, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """keepwarm in its own process, stdout a pipe, with ``env`` added."""
    return subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(home.config),
                           *args], env={**ENV, **env}, capture_output=True, text=True,
                          encoding="utf-8", errors="strict", timeout=120)


def terminal(home: Home, *args: str, cols: int = 80, **env: str) -> str:
    """keepwarm on a real pseudo-terminal ``cols`` wide; everything it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "daemon.cli", "--config", str(home.config),
                             *args], stdin=slave, stdout=slave, stderr=slave,
                            env={**ENV, **env})
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def run_json(home: Home, capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    home.run(*args, "--json")
    return json.loads(capsys.readouterr().out)


# -- JSON ----------------------------------------------------------------------------------

def test_status_json_has_its_documented_keys(
        people: Home, capsys: pytest.CaptureFixture[str]) -> None:
    got = run_json(people, capsys, "status")
    assert isinstance(got, dict)
    assert set(got) == {"config", "store", "daemon", "accounts", "reminders", "counts",
                        "written_today", "followups", "promises"}
    assert got["promises"] == {"open": 0, "overdue": 0, "notes": 0}
    assert got["followups"]["enabled"] is False  # no account reads received mail
    assert got["followups"]["reason"].startswith("off: no account reads received mail")
    assert got["daemon"] is None and got["config"] == str(people.config)
    assert [a["name"] for a in got["accounts"]] == ["sent", "calendar", "followups"]
    assert set(got["accounts"][0]) == {
        "name", "type", "state", "last_success", "last_error", "last_error_at", "skipped",
        "next_poll", "backlog", "remaining", "needs_signin", "stored"}
    assert got["accounts"][0]["state"] == "ok" and got["accounts"][0]["last_error"] is None
    assert got["counts"]["messages"] == 9 and got["counts"]["meetings"] == 1


def test_status_json_still_exits_1_when_an_account_fails(
        people: Home, capsys: pytest.CaptureFixture[str]) -> None:
    people.config.write_text(people.config.read_text().replace('"Mail/Sent"', '"Mail/Gone"'))
    assert people.run("sync", "--no-write") == 1
    capsys.readouterr()
    assert people.run("status", "--json") == 1
    sent = json.loads(capsys.readouterr().out)["accounts"][0]
    assert sent["state"] == "failing" and "Mail/Gone" in sent["last_error"]
    assert sent["last_error_at"]


def test_status_skipped_json(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(3, "ann@example.org")
    (home.maildir / "cur" / "1.broken_test.host:2,S").write_bytes(b"no mail at all")
    assert home.run("sync", "--no-write") == 0
    got = run_json(home, capsys, "status", "--skipped")
    assert isinstance(got, list) and len(got) == 1
    assert set(got[0]) == {"account", "location", "reason", "skipped_at"}
    assert got[0]["account"] == "sent"


def test_plan_json_lists_changes_then_what_is_kept(
        people: Home, capsys: pytest.CaptureFixture[str]) -> None:
    got = run_json(people, capsys, "plan")
    assert isinstance(got, dict) and set(got) == {"changes", "kept"}
    assert got["kept"] == 0 and got["changes"]
    for c in got["changes"]:
        assert set(c) == {"action", "start", "title", "kind", "contact", "members"}
        assert c["members"] == []  # a digest's only (style = "digest")
        assert c["action"] == "create" and c["kind"] == "cadence"
        assert date.fromisoformat(c["start"][:10]) >= TODAY
    assert {c["contact"] for c in got["changes"]} >= {JOSE, "eve@example.org"}
    assert people.run("sync") == 0
    again = run_json(people, capsys, "plan")
    assert again == {"changes": [], "kept": len(got["changes"])}


def test_show_json_is_the_contact_its_timeline_and_its_sparkline(
        people: Home, capsys: pytest.CaptureFixture[str]) -> None:
    (contact,) = [c for c in run_json(people, capsys, "contacts")  # type: ignore[union-attr]
                  if c["email"] == JOSE]
    got = run_json(people, capsys, "show", JOSE)
    assert isinstance(got, dict)
    assert {k: got[k] for k in render.STATUS_KEYS} == contact
    assert got["name"] == "José Müller" and got["state"] == "lapsed"
    assert [(t["channel"], t["counted"], t["rule"]) for t in got["timeline"]] == [
        ("email", True, None)] * 3
    assert set(got["timeline"][0]) == {"at", "channel", "email", "role", "title", "counted",
                                       "rule"}
    spark = got["sparkline"]
    assert len(spark["counts"]) == 24 and sum(spark["counts"]) == 3
    assert spark["end"] == f"{TODAY:%Y-%m}"


def test_show_json_of_an_address_with_nothing_counted_has_null_fields(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(3, "noreply@shop.example")
    assert home.run("sync", "--no-write") == 0
    got = run_json(home, capsys, "show", "noreply@shop.example")
    assert isinstance(got, dict) and set(render.STATUS_KEYS) <= set(got)
    assert got["name"] is None and got["tracked"] is False and got["state"] is None
    assert got["timeline"][0]["counted"] is False and got["timeline"][0]["rule"]


def test_show_json_is_json_for_an_own_or_an_unseen_address(
        people: Home, capsys: pytest.CaptureFixture[str]) -> None:
    mine = run_json(people, capsys, "show", "me@example.com")
    unseen = run_json(people, capsys, "show", "nobody@example.org")
    assert isinstance(mine, dict) and isinstance(unseen, dict)
    assert unseen["timeline"] == [] and mine["tracked"] is False
    assert not any(t["counted"] for t in mine["timeline"])
    assert sum(unseen["sparkline"]["counts"]) == 0 and unseen["email"] == "nobody@example.org"


def test_lapsed_and_contacts_json_keep_their_keys(
        people: Home, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("lapsed", "contacts"):
        got = run_json(people, capsys, command)
        assert isinstance(got, list) and got
        assert all(list(x) == list(render.STATUS_KEYS) for x in got)


# -- piped: tab-separated ----------------------------------------------------------------

@pytest.mark.parametrize(("args", "header"), [
    (("lapsed",), "name\temail\tlast_touch\tcadence\tdue\toverdue\tstrength"),
    (("contacts",), "name\temail\ttouchpoints\tlast_touch\tcadence\tdue\tstate"),
    (("plan",), "action\twhen\ttitle"),
])
def test_piped_tables_are_tab_separated_with_a_header(
        people: Home, capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
        header: str) -> None:
    capsys.readouterr()
    assert people.run(*args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == header and len(lines) > 2
    assert all(line.count("\t") == header.count("\t") for line in lines)
    assert not BOXES & set("".join(lines))


def test_show_piped_is_plain_lines_then_the_timeline_tab_separated(
        people: Home, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert people.run("show", JOSE) == 0
    text = capsys.readouterr().out
    head, timeline = text.split("\n\n")
    assert head.splitlines()[0] == f"José Müller <{JOSE}>"
    rows = timeline.splitlines()
    assert rows[0] == "when\tchannel\trole\ttitle\tcounted" and len(rows) == 4
    assert all(r.count("\t") == 4 and r.endswith("\tyes") for r in rows[1:])
    assert not BOXES & set(text)


@pytest.mark.parametrize("args", [("contacts",), ("show", JOSE), ("status", "--json")])
def test_a_reader_that_stops_early_ends_keepwarm_quietly(people: Home,
                                                         args: tuple[str, ...]) -> None:
    """`keepwarm contacts | head -0`: exit 141 as after SIGPIPE, no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "daemon.cli", "--config",
                             str(people.config), *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before keepwarm has written anything
    assert proc.wait(timeout=120) == 141
    assert proc.stderr.read() == b""


def test_tab_separated_values_never_hold_a_tab_or_a_line_break() -> None:
    grid = tables.Grid("t", (tables.Column("A"), tables.Column("B b")))
    grid.add("one\ttwo", "three\nfour\r\nfive")
    assert list(tables.tsv(grid)) == ["a\tb_b", "one two\tthree four five"]


# -- a terminal 80 columns wide -----------------------------------------------------------

def _whole(text: str, *needles: str) -> None:
    """Every needle whole, nothing cut with an ellipsis, no date broken, 80 cells a line."""
    assert "…" not in text
    for needle in needles:
        assert needle in text, (needle, text)
    assert all(cell_len(line) <= 80 for line in text.splitlines()), text
    assert re.findall(r"\d{4}-\d\d(?!-\d\d)", re.sub(r"touches per month .*", "", text)) == []


def test_an_80_column_terminal_shows_every_address_and_date_whole(people: Home) -> None:
    lapsed = ANSI.sub("", terminal(people, "lapsed"))
    dues = [x["due"] for x in json.loads(cli(people, "lapsed", "--json").stdout)]
    _whole(lapsed, LONG, JOSE, "José Müller", *(dues if "Due" in lapsed else ()))
    contacts = ANSI.sub("", terminal(people, "contacts"))
    _whole(contacts, LONG, JOSE, "bo@bigclient.example", "eve@example.org", "fay@example.org")
    show = ANSI.sub("", terminal(people, "show", LONG))
    _whole(show, LONG, *(t["at"][:16].replace("T", " ") for t in json.loads(
        cli(people, "show", LONG, "--json").stdout)["timeline"]))
    plan = ANSI.sub("", terminal(people, "plan"))
    starts = [c["start"][:16].replace("T", " ") for c in json.loads(
        cli(people, "plan", "--json").stdout)["changes"]]
    _whole(plan, *starts)


def test_force_color_and_columns_put_the_table_into_a_pipe(people: Home) -> None:
    text = ANSI.sub("", cli(people, "contacts", FORCE_COLOR="1", COLUMNS="80").stdout)
    assert "─" in text and "\t" not in text
    _whole(text, LONG, JOSE)


def test_a_narrow_terminal_drops_secondary_columns_first(people: Home) -> None:
    wide = ANSI.sub("", terminal(people, "lapsed", cols=160))
    narrow = ANSI.sub("", terminal(people, "lapsed", cols=80))
    assert "Cadence" in wide and "Last touch" in wide
    assert "Cadence" not in narrow and "Overdue" in narrow and "Email" in narrow


# -- grammar ------------------------------------------------------------------------------

def test_counts_read_as_english(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(60, "ann@example.org")
    home.meeting(40, "m1@example.com", "ann@example.org")
    capsys.readouterr()
    assert home.run("sync") == 0
    out = capsys.readouterr().out
    assert "✓ sent: 1 new message, 0 meetings, 1 new touchpoint, 0 duplicates" in out
    assert "✓ calendar: 0 new messages, 1 meeting, 1 new touchpoint" in out
    assert home.run("show", "ann@example.org") == 0
    out = capsys.readouterr().out
    assert "2 touchpoints (1 meeting)" in out
    assert home.run("plan") == 0
    assert capsys.readouterr().out.strip() == (
        "Nothing to change: 1 reminder is as it should be.")
    assert home.run("status") == 0
    assert "1 contact, 1 reminder" in capsys.readouterr().out


def test_plural() -> None:
    assert [plural(1, "meeting"), plural(0, "meeting"), plural(2, "reply", "replies"),
            plural(1234, "new message")] == [
        "1 meeting", "0 meetings", "2 replies", "1,234 new messages"]


def test_a_one_day_cadence_is_every_1_day(home: Home,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert home.run("cadence", "ann@example.org", "1d", "--force") == 0
    assert "ann@example.org: every 1 day." in capsys.readouterr().out


def test_show_never_says_not_tracked_twice(home: Home,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    home.send(5, "dee@example.org")
    assert home.run("sync", "--no-write") == 0
    capsys.readouterr()
    assert home.run("show", "dee@example.org") == 0
    out = capsys.readouterr().out
    assert "not tracked: fewer than 2 touchpoints and no meeting" in out
    assert "not tracked;" not in out and "(s)" not in out


def test_no_product_code_pluralises_by_hand() -> None:
    """The one helper is daemon.words.plural: no ``'s' * (n != 1)``, no "item(s)" in a
    string anywhere in the product."""
    found = []
    for path in sorted(ROOT.glob("daemon/*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult) and (
                    isinstance(node.left, ast.Constant) and node.left.value == "s"):
                found.append(f"{path.name}:{node.lineno} 's' * …")
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and re.search(r"[a-z]\(s\)", node.value)):
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert found == []


# -- an ASCII-only stdout -----------------------------------------------------------------

@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"},
                                 {"LC_ALL": "POSIX", "PYTHONCOERCECLOCALE": "0",
                                  "PYTHONUTF8": "0", "LANG": ""}])
def test_an_ascii_stdout_degrades_and_exits_0(people: Home, env: dict[str, str]) -> None:
    for args in (("lapsed",), ("contacts",), ("show", JOSE), ("status",), ("plan",)):
        done = subprocess.run([sys.executable, "-m", "daemon.cli", "--config",
                               str(people.config), *args], env={**ENV, **env},
                              capture_output=True, timeout=120)
        assert done.returncode == 0, (args, done.stderr)
        done.stdout.decode("ascii")  # nothing but ASCII
        assert b"Traceback" not in done.stderr
    lapsed = cli(people, "lapsed", **env).stdout
    assert "Jose Muller" in lapsed or "José Müller" in lapsed  # POSIX may be UTF-8 mode
    bad = subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(people.config),
                          "show", "josé"], env={**ENV, **env}, capture_output=True)
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr
    assert len(bad.stderr.decode("ascii").strip().splitlines()) == 1


def test_ascii_json_stays_exact(people: Home) -> None:
    done = cli(people, "show", JOSE, "--json", PYTHONIOENCODING="ascii")
    assert done.stdout.isascii() and json.loads(done.stdout)["name"] == "José Müller"


def test_an_ascii_terminal_gets_an_ascii_table_and_sparkline(people: Home) -> None:
    text = ANSI.sub("", terminal(people, "show", JOSE, PYTHONIOENCODING="ascii"))
    assert text.isascii() and "Jose Muller" in text and "----" in text
    assert re.search(r"touches per month \d{4}-\d\d [ .:=+*#@-]{24} \d{4}-\d\d", text)


# -- steering shown -----------------------------------------------------------------------

def test_show_and_contacts_say_snoozed_ignored_merged_tagged(
        people: Home, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (("snooze", JOSE, "400d"), ("tag", JOSE, "client", "vip"),
                 ("merge", JOSE, "jose@home.example", "--force"),
                 ("ignore", "bo@bigclient.example")):
        assert people.run(*args) == 0
    capsys.readouterr()
    assert people.run("show", JOSE) == 0
    out = capsys.readouterr().out
    assert re.search(r"snoozed until \d{4}-\d\d-\d\d: no reminder before then", out)
    assert f"merged: one person with 2 addresses ({JOSE}, jose@home.example)" in out
    assert "tagged: client, vip" in out
    assert people.run("show", "bo@bigclient.example") == 0
    assert "not tracked: ignored" in capsys.readouterr().out
    assert people.run("contacts") == 0
    rows = {r.split("\t")[1]: r.split("\t")[-1]
            for r in capsys.readouterr().out.splitlines()[1:]}
    assert rows["bo@bigclient.example"] == "ignored"
    assert re.fullmatch(r"tracked; snoozed until \d{4}-\d\d-\d\d; merged \(2 addresses\); "
                        r"tags: client, vip", rows[f"{JOSE}, jose@home.example"])


# -- sparkline ----------------------------------------------------------------------------

counts = st.lists(st.integers(0, 500), min_size=24, max_size=24)


@given(counts, st.booleans())
def test_sparkline_properties(values: list[int], ascii: bool) -> None:
    line = sparkline(values, ascii)
    steps = ASCII_BLOCKS if ascii else BLOCKS
    assert len(line) == 24
    assert all((ch == " ") == (v == 0) for ch, v in zip(line, values, strict=True))
    if max(values):
        assert line[values.index(max(values))] == steps[-1]
    pairs = sorted((v, steps.index(ch)) for ch, v in zip(line, values, strict=True) if v)
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(pairs))  # more is never lower


def test_sparkline_months_and_label() -> None:
    days = [date(2026, 11, 3), date(2026, 11, 20), date(2024, 12, 1), date(2024, 11, 30)]
    got = monthly_counts(days, date(2026, 11, 30))
    assert got[0] == 1 and got[-1] == 2 and sum(got) == 3  # November 2024 is outside
    assert labelled(got, date(2026, 11, 30)) == "2024-12 ▄" + " " * 22 + "█ 2026-11"


def test_show_draws_the_sparkline(people: Home, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert people.run("show", LONG) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "touches per month" in x)
    assert line.endswith(f" {TODAY:%Y-%m}") and line.count("█") == 3


# -- colour -------------------------------------------------------------------------------

def test_lapsed_is_coloured_on_a_terminal_only(people: Home) -> None:
    coloured = terminal(people, "lapsed")
    assert "\x1b[31m" in coloured  # José: one interval and more overdue
    assert "\x1b[" not in terminal(people, "lapsed", NO_COLOR="1")
    assert "\x1b[" not in cli(people, "lapsed").stdout


def test_moments_read_in_local_time_with_how_long_ago() -> None:
    tz = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 2, 12, 0, tzinfo=tz)
    assert moment("2026-03-02T08:45:28.398300+00:00", tz, now) == "2026-03-02 09:45, 2 hours ago"
    assert moment("2026-03-02T10:59:30+00:00", tz, now) == "2026-03-02 11:59, just now"
    assert moment("2026-02-28T11:00:00+00:00", tz, now) == "2026-02-28 12:00, 2 days ago"
    assert moment("2026-03-02T11:05:00+00:00", tz, now) == "2026-03-02 12:05, in 5 minutes"
    assert moment("2026-03-02T11:01:00+00:00", tz, now) == "2026-03-02 12:01, in 1 minute"
    assert moment(None, tz, now) == "never"
    assert moment("garbage", tz, now) == "garbage"
