"""The keepwarm command end to end: real files, the real pipeline, exit codes."""

from __future__ import annotations

import json
import os
from datetime import datetime, time, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.cli import main

TZ = ZoneInfo("Europe/Berlin")
TODAY = datetime.now(TZ).date()


def noon(days_ago: int) -> datetime:
    """Noon of a past day; for today, a moment ago (noon may still be ahead)."""
    if days_ago == 0:
        return datetime.now(TZ) - timedelta(seconds=1)
    return datetime.combine(TODAY - timedelta(days=days_ago), time(12, 0), tzinfo=TZ)


class Home:
    """A user's files: a Maildir of sent mail, a calendar, a config."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.maildir = root / "Mail" / "Sent"
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        self.calendar = root / "calendar.ics"
        self.reminders = root / "followups.ics"
        self.config = root / "config.toml"
        self.calendar.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
                                 "END:VCALENDAR\r\n")
        self.n = 0
        self.config.write_text(f"""
[identity]
addresses = ["me@example.com"]
timezone = "Europe/Berlin"
[store]
path = "{root / 'kw.db'}"
[reminders]
calendar = "followups"
horizon = "14d"
[[cadence.rules]]
match = "*@bigclient.example"
every = "30d"
[[accounts]]
name = "sent"
type = "maildir"
path = "Mail/Sent"
[[accounts]]
name = "calendar"
type = "ics"
path = "calendar.ics"
[[accounts]]
name = "followups"
type = "ics"
path = "followups.ics"
""")

    def send(self, days_ago: int, *to: str, extra: str = "") -> None:
        self.n += 1
        when = noon(days_ago)
        msg = (f"From: Me <me@example.com>\nTo: {', '.join(to)}\n"
               f"Date: {format_datetime(when)}\nMessage-ID: <m{self.n}@example.com>\n"
               f"Subject: note {self.n}\n{extra}\nhello\n")
        name = f"{int(when.timestamp())}.{self.n}_test.host:2,S"
        (self.maildir / "cur" / name).write_text(msg)

    def meeting(self, days_ago: int, uid: str, *attendees: str) -> None:
        start = noon(days_ago).astimezone(ZoneInfo("UTC"))
        lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
                 f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
                 f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}",
                 "SUMMARY:Coffee", "ORGANIZER:mailto:me@example.com"]
        lines += [f"ATTENDEE;PARTSTAT=ACCEPTED;CN={a.split('@')[0]}:mailto:{a}"
                  for a in attendees]
        lines.append("END:VEVENT")
        body = self.calendar.read_text()
        self.calendar.write_text(body.replace("END:VCALENDAR", "\r\n".join(lines) +
                                              "\r\nEND:VCALENDAR"))

    def run(self, *args: str) -> int:
        return main(["--config", str(self.config), *args])


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


def lapsed(home: Home, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert home.run("lapsed", "--json", "--sort", "overdue") == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_sync_twice_then_a_new_message(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    # ann: 3 mails, last 120 days ago -> default 90d -> 30 days overdue
    for d in (400, 300, 120):
        home.send(d, "Ann Lee <ann@example.org>")
    # bo at bigclient: 4 mails, last 40 days ago -> rule 30d -> 10 days overdue
    for d in (200, 150, 100, 40):
        home.send(d, "bo@bigclient.example")
    # cy: 2 mails, last 50 days ago -> new relationship, 2nd touch: 30d -> 20 days overdue
    home.send(60, '"Cy, Dr." <cy@example.org>')
    home.send(50, "cy@example.org")
    # dee: one mail only (not tracked); eve: a meeting 100 days ago (tracked: 1st touch, 14d)
    home.send(200, "dee@example.org")
    home.meeting(100, "meet-1@example.com", "eve@example.org")
    # filtered: a newsletter to fay, a noreply
    home.send(10, "fay@example.org", extra="List-Id: <news.example.com>\n")
    home.send(10, "noreply@shop.example")
    # fresh: gus, 3 mails, last 5 days ago -> not lapsed, due in 85 days (beyond the horizon)
    for d in (30, 20, 5):
        home.send(d, "gus@example.org")

    assert home.run("sync") == 0
    got = lapsed(home, capsys)
    assert [(x["email"], x["overdue_days"], x["cadence_days"], x["touchpoints"]) for x in got] == [
        ("eve@example.org", 86, 14, 1),
        ("ann@example.org", 30, 90, 3),
        ("cy@example.org", 20, 30, 2),
        ("bo@bigclient.example", 10, 30, 4),
    ]
    assert got[1]["name"] == "Ann Lee" and got[2]["name"] == "Cy, Dr."
    assert got[1]["due"] == (TODAY - timedelta(days=30)).isoformat()
    assert got[1]["last_touch"] == noon(120).isoformat()
    first = home.reminders.read_bytes()
    assert first.count(b"BEGIN:VEVENT") == 4 and b"ATTENDEE" not in first
    assert oct(home.reminders.stat().st_mode & 0o777) == "0o600"

    assert home.run("sync") == 0
    assert home.reminders.read_bytes() == first

    home.send(0, "ann@example.org")
    assert home.run("sync") == 0
    assert [x["email"] for x in lapsed(home, capsys)] == [
        "eve@example.org", "cy@example.org", "bo@bigclient.example"]
    after = home.reminders.read_bytes()
    assert after.count(b"BEGIN:VEVENT") == 3 and b"Follow up: Ann Lee" not in after


def test_show_explains_dropped_items(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(10, "fay@example.org", extra="List-Id: <news.example.com>\n")
    home.send(5, "fay@example.org")
    assert home.run("sync", "--no-write") == 0
    assert not home.reminders.exists()
    capsys.readouterr()
    assert home.run("show", "Fay@Example.org") == 0
    out = capsys.readouterr().out
    assert "mailing list (List-Id)" in out and "1 touchpoint (0 meetings)" in out
    assert "not tracked: fewer than 2 touchpoints and no meeting" in out


def test_a_broken_account_fails_the_sync_but_not_the_others(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(10, "a@example.org")
    home.send(5, "a@example.org")
    home.meeting(3, "m@example.com", "b@example.org")
    text = home.config.read_text().replace('path = "Mail/Sent"', 'path = "Mail/Gone"')
    home.config.write_text(text)
    assert home.run("sync") == 1
    out = capsys.readouterr().out
    assert "✗ sent" in out and "Mail/Gone" in out and "✓ calendar" in out
    assert home.run("status") == 1
    assert "last sync failed" in capsys.readouterr().out


def test_bad_config_lists_every_problem_and_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[filters]\nmax_recipients = "x"\n[[accounts]]\nname = "a"\ntype = "fax"\n')
    assert main(["--config", str(cfg), "lapsed"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{cfg}: ") for line in lines)
    assert "Traceback" not in "".join(lines)


def test_init_writes_a_private_config_and_never_overwrites(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "conf" / "config.toml"
    assert main(["--config", str(cfg), "init"]) == 0
    assert oct(cfg.stat().st_mode & 0o777) == "0o600"
    cfg.write_text("# mine\n")
    assert main(["--config", str(cfg), "init"]) == 1
    assert cfg.read_text() == "# mine\n"


def test_config_comes_from_the_environment(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "env.toml"
    monkeypatch.setenv("KEEPWARM_CONFIG", str(cfg))
    assert main(["init"]) == 0 and cfg.exists()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("KEEPWARM_CONFIG")
    assert main(["init"]) == 0 and (tmp_path / "xdg" / "keepwarm" / "config.toml").exists()


def test_steering_from_the_command_line(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    for d in (300, 200, 120):
        home.send(d, "ann@example.org")
    home.send(100, "ann@home.example")
    assert home.run("sync", "--no-write") == 0
    assert home.run("merge", "ann@example.org", "ann@home.example") == 0
    assert home.run("cadence", "ann@example.org", "150d") == 0
    assert lapsed(home, capsys) == []
    assert home.run("cadence", "ann@example.org", "default") == 0
    assert [x["touchpoints"] for x in lapsed(home, capsys)] == [4]
    assert home.run("snooze", "ann@example.org", "2w") == 0
    assert lapsed(home, capsys) == []
    assert home.run("snooze", "ann@example.org", "off") == 0
    assert home.run("ignore", "ann@home.example") == 0
    assert lapsed(home, capsys) == []
    assert home.run("unignore", "ann@example.org") == 0
    assert home.run("tag", "ann@example.org", "friends") == 0
    assert [x["tags"] for x in lapsed(home, capsys)] == [["friends"]]
    assert home.run("cadence", "ann@example.org", "soon") == 2
    assert home.run("show", "not-an-address") == 2


def test_plan_shows_what_sync_would_write(home: Home,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    for d in (300, 200, 120):
        home.send(d, "ann@example.org")
    assert home.run("sync", "--no-write") == 0
    capsys.readouterr()
    assert home.run("plan") == 0
    assert "Follow up: ann@example.org" in capsys.readouterr().out
    assert not home.reminders.exists()
    assert home.run("sync") == 0
    capsys.readouterr()
    assert home.run("plan") == 0
    assert "Nothing to change" in capsys.readouterr().out


def test_state_files_are_private(home: Home) -> None:
    home.send(1, "a@example.org")
    assert home.run("sync") == 0
    assert oct((home.root / "kw.db").stat().st_mode & 0o777) == "0o600"
    assert os.access(home.root / "kw.db", os.R_OK)


def test_auth_of_an_account_without_sign_in_says_so(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    assert home.run("auth", "sent") == 2
    assert "has no sign-in" in capsys.readouterr().err
    assert home.run("auth", "nope") == 2


def test_the_progress_display_turns_an_estimate_into_a_bar() -> None:
    import io

    from rich.console import Console

    from daemon.model import IngestResult
    from daemon.render import SyncProgress

    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with SyncProgress(console) as progress:
        progress.update("gmail", IngestResult(messages=50), remaining=150)
        (task,) = progress.progress.tasks
        assert (task.completed, task.total) == (50, 200)
        progress.update("gmail", IngestResult(messages=40, duplicates=10), remaining=100)
        assert (task.completed, task.total) == (100, 200)
        progress.update("maildir", IngestResult(messages=7))
        assert progress.progress.tasks[1].total is None  # no estimate: a count and a rate
