"""The read-ahead helper process: it stays ahead but bounded, never blocks the reader, and
never outlives it. (What it buys is measured in bench/ingest.py, not asserted here.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors import readahead
from connectors.maildir import MaildirConnector
from connectors.readahead import LEAD, MIN_FILES, ReadAhead
from daemon.model import AccountConfig, FetchContext, Mail

ROOT = Path(__file__).resolve().parent.parent


def files(folder: Path, count: int) -> list[str]:
    folder.mkdir(exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"{n:06d}"
        path.write_bytes(b"To: a@example.org\n\nbody\n")
        paths.append(str(path))
    return paths


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_small_scan_starts_no_helper(tmp_path: Path) -> None:
    ra = ReadAhead(files(tmp_path / "few", 10))
    assert ra.child is None
    ra.advance(5)
    ra.close()


def test_the_helper_stays_a_bounded_lead_ahead_in_order(tmp_path: Path) -> None:
    paths = files(tmp_path / "many", MIN_FILES) * 10  # 10,000 paths
    ra = ReadAhead(paths)
    try:
        assert ra.child is not None and alive(ra.child.pid)
        assert 0 < ra.sent <= LEAD  # the first files, as many as the pipe takes
        deadline = time.monotonic() + 10
        while ra.sent < 5000 + LEAD and time.monotonic() < deadline:
            ra.advance(5000)  # the helper drains the pipe, so more can follow
            time.sleep(0.01)
        assert ra.sent == 5000 + LEAD  # and never more than LEAD ahead
        while (ra.sent < len(paths) or ra.pending) and time.monotonic() < deadline:
            ra.advance(len(paths))
            time.sleep(0.01)
        assert ra.sent == len(paths) and not ra.pending
    finally:
        ra.close()
    assert ra.child is None


def test_a_stuck_helper_never_blocks_the_reader(tmp_path: Path) -> None:
    paths = files(tmp_path / "many", MIN_FILES) * 100  # 100,000 paths
    ra = ReadAhead(paths)
    assert ra.child is not None
    os.kill(ra.child.pid, signal.SIGSTOP)
    started = time.monotonic()
    for done in range(0, len(paths), 64):
        ra.advance(done)
    assert time.monotonic() - started < 5  # the pipe filled up; no write waited for it
    assert len(ra.pending) < 2 * readahead._PIPE_BYTES
    ra.close()


def test_a_dead_helper_costs_nothing_but_speed(tmp_path: Path) -> None:
    paths = files(tmp_path / "many", MIN_FILES) * 20
    ra = ReadAhead(paths)
    assert ra.child is not None
    ra.child.kill()
    ra.child.wait()
    for done in range(0, len(paths), 64):
        ra.advance(done)  # a broken pipe is noticed and the helper dropped, never raised
    assert ra.child is None


def test_the_helper_dies_with_its_reader_even_on_sigkill(tmp_path: Path) -> None:
    listing = tmp_path / "paths"
    listing.write_text("\n".join(files(tmp_path / "many", MIN_FILES)))
    program = ("import sys, time\nfrom connectors.readahead import ReadAhead\n"
               f"ra = ReadAhead(open({str(listing)!r}).read().split())\n"
               "print(ra.child.pid, flush=True)\ntime.sleep(60)\n")
    reader = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True)
    assert reader.stdout is not None
    helper = int(reader.stdout.readline())
    assert alive(helper)
    reader.kill()
    reader.wait()
    deadline = time.monotonic() + 10
    while alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(helper), "the helper outlived a SIGKILLed reader"


@pytest.mark.parametrize("size", [MIN_FILES - 1, MIN_FILES])
def test_maildir_reads_the_same_with_and_without_the_helper(tmp_path: Path, size: int) -> None:
    cur = tmp_path / "Sent" / "cur"
    cur.mkdir(parents=True)
    (tmp_path / "Sent" / "new").mkdir()
    for n in range(size):
        (cur / f"{1700000000 + n}.M{n}.host:2,S").write_bytes(
            f"From: me@example.com\nTo: p{n % 50}@example.org\nMessage-ID: <m{n}@x>\n"
            "Date: Mon, 2 Nov 2026 09:05:00 +0100\n\nbody\n".encode())
    conn = MaildirConnector(AccountConfig("sent", "maildir",
                                          options={"path": str(tmp_path / "Sent")}))
    now = datetime(2026, 11, 22, tzinfo=UTC)
    ctx = FetchContext(now=now, tz=UTC, window_start=now.replace(year=2020), window_end=now)
    ids = [o.message_id for b in conn.fetch(None, ctx) for o in b.observations
           if isinstance(o, Mail)]
    assert sorted(ids) == sorted(f"m{n}@x" for n in range(size))
