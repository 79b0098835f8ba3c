"""`keepwarm status` and friends tell the truth: failed reminder writes, an interrupted first
sync, nothing synced yet, skipped items, and every error once, in one line."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.test_cli import Home

ROOT = Path(__file__).resolve().parent.parent
ENV = {**{k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM")},
       "PYTHONPATH": str(ROOT)}


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


def out_err(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    got = capsys.readouterr()
    return got.out, got.err


def test_a_failed_reminders_write_shows_in_status_until_a_write_succeeds(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    for d in (200, 120):
        home.send(d, "ann@example.org")
    blocker = home.root / "cal"
    blocker.write_text("a file where the reminders folder should be")
    home.config.write_text(home.config.read_text().replace('path = "followups.ics"',
                                                           'path = "cal/followups.ics"'))
    assert home.run("sync") == 1
    capsys.readouterr()
    assert home.run("status") == 1
    out, _ = out_err(capsys)
    assert "reminders into followups: last written never" in out
    assert "last write failed 20" in out and "cal/followups.ics" in out
    blocker.unlink()
    blocker.mkdir()
    assert home.run("sync") == 0
    capsys.readouterr()
    assert home.run("status") == 0
    out, _ = out_err(capsys)
    assert "reminders into followups: last written 20" in out and "write failed" not in out


def test_lapsed_before_any_sync_and_sync_without_accounts(
        home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert home.run("lapsed") == 0
    assert "Nothing has been synced yet: run `keepwarm sync` first." in capsys.readouterr().out
    home.send(3, "ann@example.org")
    assert home.run("sync") == 0
    capsys.readouterr()
    assert home.run("lapsed") == 0
    assert "Nobody has lapsed" in capsys.readouterr().out
    empty = tmp_path / "empty.toml"
    empty.write_text(f'[store]\npath = "{tmp_path / "e.db"}"\n')
    from daemon.cli import main
    assert main(["--config", str(empty), "sync"]) == 2
    out, err = out_err(capsys)
    assert out == "" and err.count("\n") == 1 and "has no [[accounts]] yet" in err


def test_skipped_items_are_counted_and_listed_with_the_reason(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(3, "ann@example.org")
    broken = home.maildir / "cur" / "1.broken_test.host:2,S"
    broken.write_bytes(b"this is no mail, no header block at all")
    assert home.run("sync") == 0
    capsys.readouterr()
    assert home.run("status") == 0
    out, _ = out_err(capsys)
    assert "sent (maildir): last success" in out
    assert "1 item skipped (`keepwarm status --skipped` lists them)" in out
    assert home.run("status", "--skipped") == 0
    out, _ = out_err(capsys)
    lines = out.splitlines()
    assert lines[0] == "account\tlocation\treason\tskipped at"
    assert lines[1].startswith("sent\tmaildir:cur/1.broken_test.host:2,S\tno header block\t")


def test_an_error_is_said_once_and_log_lines_name_no_module(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.send(3, "ann@example.org")
    (home.maildir / "cur" / "1.broken_test.host:2,S").write_bytes(b"no header block")
    home.config.write_text(home.config.read_text().replace('path = "calendar.ics"',
                                                           'path = "nowhere/calendar.ics"'))
    assert home.run("sync") == 1
    out, err = out_err(capsys)
    assert out.count("nowhere/calendar.ics") == 1 and "nowhere" not in err
    assert err.splitlines() == [
        "keepwarm: warning: sent: skipped maildir:cur/1.broken_test.host:2,S: no header block"]


def maildir_of(root: Path, count: int) -> Path:
    """A Maildir of ``count`` sent messages made by the benchmark's generator."""
    folder = root / "Big"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_maildir.py"), str(folder),
                    "--count", str(count)], check=True, capture_output=True)
    return folder


def test_ctrl_c_in_a_first_sync_keeps_what_was_read_and_says_so(tmp_path: Path) -> None:
    folder = maildir_of(tmp_path, 12_000)
    config = tmp_path / "config.toml"
    config.write_text(f'[identity]\naddresses = ["alex.morgan@example.com"]\n'
                      f'[store]\npath = "{tmp_path / "kw.db"}"\nstate_dir = "{tmp_path}"\n'
                      f'[[accounts]]\nname = "sent"\ntype = "maildir"\npath = "{folder}"\n')
    cmd = [sys.executable, "-m", "daemon.cli", "--config", str(config)]
    proc = subprocess.Popen([*cmd, "sync"], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def stored() -> int:
        if not (tmp_path / "kw.db").exists():
            return 0
        db = sqlite3.connect(f"file:{tmp_path / 'kw.db'}?mode=ro", uri=True)
        try:
            return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0
        finally:
            db.close()

    deadline = time.monotonic() + 60
    while stored() == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    kept = stored()
    assert proc.returncode == 130 and 0 < kept < 12_000, (proc.returncode, kept, err)
    assert err.strip() == (f"interrupted: {kept:,} messages stored; the next `keepwarm sync` "
                           "resumes") and out == ""
    status = subprocess.run([*cmd, "status"], env=ENV, capture_output=True, text=True)
    assert (f"sent (maildir): first sync not finished, {kept:,} messages and 0 meetings "
            "stored; the next `keepwarm sync` resumes") in status.stdout
    done = subprocess.run([*cmd, "sync"], env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert stored() > kept and "Traceback" not in done.stderr + err


def test_the_rate_waits_for_a_second_of_data() -> None:
    import io

    from rich.console import Console

    from daemon.model import IngestResult
    from daemon.render import SyncProgress

    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with SyncProgress(console) as progress:
        progress.update("maildir", IngestResult(messages=5000))
        (task,) = progress.progress.tasks
        assert task.fields["rate"] == ""  # 5,000 in a few microseconds is no rate


def test_a_calendar_suddenly_empty_is_refused_until_accepted(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    for n, days in enumerate((30, 20, 10)):
        home.meeting(days, f"m{n}@example.com", "ann@example.org", "bo@example.org")
    assert home.run("sync") == 0
    capsys.readouterr()
    home.calendar.write_text("")  # `: > calendar.ics`: a sync tool truncated it
    assert home.run("sync") == 1
    out, err = out_err(capsys)
    assert ("✗ calendar: the calendar now holds 0 of the 3 meetings keepwarm has "
            "from it") in out and "keepwarm sync --accept-shrink calendar" in out and not err
    assert home.run("contacts", "--json") == 0 and "ann@example.org" in capsys.readouterr().out
    assert home.run("status") == 1
    assert "the calendar now holds 0 of the 3 meetings" in capsys.readouterr().out
    assert home.run("sync", "--accept-shrink", "nope") == 2
    assert home.run("sync", "--accept-shrink", "calendar") == 0
    capsys.readouterr()
    assert home.run("show", "ann@example.org") == 0
    assert "no message or meeting" in capsys.readouterr().out
    assert home.run("sync") == 0  # accepted once: an empty calendar is now the normal state


def test_losing_half_is_fine_more_than_half_is_refused(tmp_path: Path) -> None:
    from datetime import timedelta

    from daemon import sync
    from daemon.model import Address, Attendee, Meeting
    from tests.test_sync import NOW, World

    world = World(tmp_path)
    meetings = world.data["cal"].meetings

    def meet(n: int) -> Meeting:
        start = NOW - timedelta(days=n + 1)
        return Meeting(f"m{n}", start, start + timedelta(hours=1), Address("me@work.example"),
                       (Attendee(Address(f"p{n}@x.org"), "accepted"),))

    for n in range(4):
        meetings[f"m{n}"] = meet(n)
    world.data["cal"].meetings_version += 1
    assert world.sync().ok and world.store.counts()["meetings"] == 4
    del meetings["m0"], meetings["m1"]  # half: a real clean-up
    world.data["cal"].meetings_version += 1
    assert world.sync().ok and world.store.counts()["meetings"] == 2
    del meetings["m2"]
    meetings["m9"] = meet(9)  # one of two left, one new: still not more than half gone
    world.data["cal"].meetings_version += 1
    assert world.sync().ok and world.store.counts()["meetings"] == 2
    meetings.clear()
    meetings.update({f"n{n}": meet(n + 10) for n in range(5)})  # all replaced at once
    world.data["cal"].meetings_version += 1
    report = world.sync()
    (cal,) = [a for a in report.accounts if a.name == "cal"]
    assert cal.error and "holds 0 of the 2 meetings" in cal.error
    assert world.store.meeting_ids("cal") >= {"m3", "m9"}  # kept
    assert sync.sync(world.config, world.store, NOW, accept_shrink={"cal"}).ok
    assert world.store.meeting_ids("cal") == {f"m{n + 10}" for n in range(5)}


def test_a_maildir_suddenly_empty_is_an_error_never_zero_new_messages(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    for days in (20, 10):
        home.send(days, "ann@example.org")
    assert home.run("sync") == 0
    moved = home.root / "elsewhere"
    moved.mkdir()
    for f in (home.maildir / "cur").iterdir():  # the disk holding the mail is not mounted
        f.rename(moved / f.name)
    capsys.readouterr()
    assert home.run("sync") == 1
    out, err = out_err(capsys)
    assert "✗ sent: sent: the maildir folder" in out and "is empty, but it held mail" in out
    assert "keepwarm sync --accept-shrink sent" in out and not err
    assert home.run("sync", "--accept-shrink", "sent") == 0
    assert home.run("sync") == 0  # accepted: an empty folder is now the normal state
    for f in moved.iterdir():
        f.rename(home.maildir / "cur" / f.name)
    home.send(1, "bo@example.org")
    capsys.readouterr()
    assert home.run("sync") == 0
    assert "✓ sent: 1 new message," in capsys.readouterr().out  # the others are known


def test_show_counts_in_its_rows_what_its_header_counts(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    for days in (30, 20, 10):
        home.send(days, "ann@example.org")
    assert home.run("sync") == 0
    capsys.readouterr()
    as_of = (datetime.now(ZoneInfo("Europe/Berlin")) - timedelta(days=15)).date()
    assert home.run("show", "ann@example.org", "--as-of", as_of.isoformat()) == 0
    out = capsys.readouterr().out
    assert "2 touchpoints (0 meetings)" in out
    assert out.count("yes") == 2 and out.count("not counted yet") == 1
