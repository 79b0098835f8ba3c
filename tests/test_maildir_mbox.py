"""Maildir and mbox sources on real files: incremental cursors, rewrites, bad files."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors import maildir as maildir_module
from connectors.base import Connector
from connectors.maildir import MaildirConnector, _Entry
from connectors.mbox import MboxConnector
from daemon.errors import SourceError
from daemon.model import AccountConfig, Batch, FetchContext, Mail, Skipped
from tests.conformance.harnesses.maildir import MaildirHarness
from tests.conformance.harnesses.mbox import MboxHarness, mbox_entry

NOW = datetime.now(UTC)
CTX = FetchContext(
    now=NOW, tz=UTC, window_start=NOW - timedelta(days=1095), window_end=NOW + timedelta(days=14)
)


def mail(n: int, *, date: bool | str = True, body: bytes = b"hello\n") -> bytes:
    lines = [
        "From: Me <me@example.org>",
        f"To: Person {n} <p{n}@example.com>",
        f"Subject: message {n}",
        f"Message-ID: <m{n}@example.org>",
    ]
    if date:
        lines.append(f"Date: {'Tue, 14 Nov 2023 10:22:33 +0000' if date is True else date}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def fetch(connector: Connector, cursor: Any) -> tuple[list[Batch], Any]:
    batches = list(connector.fetch(cursor, CTX))
    assert batches, "every fetch yields at least one batch"
    return batches, batches[-1].cursor


def mails(batches: list[Batch]) -> list[Mail]:
    return [o for b in batches for o in b.observations if isinstance(o, Mail)]


def ids(batches: list[Batch]) -> list[str]:
    return [m.message_id for m in mails(batches)]


# -- Maildir --------------------------------------------------------------------------------


def maildir(tmp_path: Path) -> tuple[Path, MaildirConnector]:
    root = tmp_path / "Sent"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    account = AccountConfig(name="work", type="maildir", options={"path": str(root)})
    return root, MaildirConnector(account)


def deliver(root: Path, name: str, raw: bytes, sub: str = "new") -> Path:
    tmp = root / "tmp" / name
    tmp.write_bytes(raw)
    target = root / sub / name
    os.rename(tmp, target)
    return target


def test_maildir_incremental_fetches(tmp_path: Path) -> None:
    root, conn = maildir(tmp_path)
    for n in range(3):
        deliver(root, f"170000000{n}.M1P1Q{n}.host", mail(n))
    (root / "tmp" / "1700000009.half.host").write_bytes(mail(9))  # never read: still in tmp/
    (root / "cur" / ".hidden").write_bytes(mail(8))
    batches, cursor = fetch(conn, None)
    assert sorted(ids(batches)) == ["m0@example.org", "m1@example.org", "m2@example.org"]
    assert {o.location for b in batches for o in b.observations} == {
        f"maildir:new/170000000{n}.M1P1Q{n}.host" for n in range(3)
    }

    batches, cursor = fetch(conn, cursor)
    assert ids(batches) == []
    assert [o for b in batches for o in b.observations] == []

    deliver(root, "1700000003.M1P1Q3.host", mail(3))
    batches, cursor = fetch(conn, cursor)
    assert ids(batches) == ["m3@example.org"]
    batches, cursor = fetch(conn, cursor)
    assert ids(batches) == []


def test_maildir_move_to_cur_is_read_again_once(tmp_path: Path) -> None:
    """Documented choice: a rename gives a new ctime, so the message is re-read (the store
    deduplicates by Message-ID); after that it is quiet again."""
    root, conn = maildir(tmp_path)
    deliver(root, "1700000000.M1P1.host", mail(1))
    _, cursor = fetch(conn, None)
    os.rename(root / "new" / "1700000000.M1P1.host", root / "cur" / "1700000000.M1P1.host:2,S")
    batches, cursor = fetch(conn, cursor)
    assert ids(batches) == ["m1@example.org"]
    assert batches[-1].observations[0].location == "maildir:cur/1700000000.M1P1.host:2,S"
    batches, _ = fetch(conn, cursor)
    assert ids(batches) == []


def test_maildir_empty_folder_yields_one_batch_with_a_cursor(tmp_path: Path) -> None:
    root, conn = maildir(tmp_path)
    batches = list(conn.fetch(None, CTX))
    assert len(batches) == 1 and batches[0].observations == ()
    assert isinstance(batches[0].cursor, dict)
    deliver(root, "1700000000.M1P1.host", mail(1))
    new, _ = fetch(conn, batches[0].cursor)
    assert ids(new) == ["m1@example.org"]


@pytest.fixture(scope="module")
def old_maildir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MaildirConnector]:
    """2,500 messages delivered more than 2 s before the first scan (the common case)."""
    root, conn = maildir(tmp_path_factory.mktemp("old"))
    for n in range(2500):
        deliver(root, f"{1700000000 + n}.M{n}P1.host", mail(n), sub="cur" if n % 2 else "new")
    time.sleep(2.2)
    return root, conn


def test_maildir_batches_resume_from_any_cursor(
    old_maildir: tuple[Path, MaildirConnector],
) -> None:
    conn = MaildirConnector(old_maildir[1].account, batch_size=1000)
    batches, _ = fetch(conn, None)
    assert [len(b.observations) for b in batches] == [1000, 1000, 500]
    assert [b.remaining for b in batches] == [1500, 500, None]  # for progress and status
    all_ids = ids(batches)
    assert len(set(all_ids)) == 2500
    for k in (0, 1):
        rest, final = fetch(conn, batches[k].cursor)
        assert ids(rest) == all_ids[(k + 1) * 1000 :]
        again, _ = fetch(conn, final)
        assert ids(again) == []


def test_maildir_cursors_of_earlier_releases_resume_exactly(
    old_maildir: tuple[Path, MaildirConnector],
) -> None:
    """Earlier releases wrote a version key "v" nobody read; it is no longer written, and a
    stored cursor that has it resumes exactly where it says."""
    conn = MaildirConnector(old_maildir[1].account, batch_size=1000)
    batches, final = fetch(conn, None)
    assert all("v" not in b.cursor for b in batches)
    for k in (0, 1):
        rest, _ = fetch(conn, {"v": 1, **batches[k].cursor})
        assert ids(rest) == ids(batches)[(k + 1) * 1000 :]
    assert ids(fetch(conn, {"v": 1, **final})[0]) == []


def test_maildir_unchanged_folder_is_not_listed(
    old_maildir: tuple[Path, MaildirConnector], caplog: pytest.LogCaptureFixture
) -> None:
    root, conn = old_maildir
    _, cursor = fetch(conn, None)
    with caplog.at_level(logging.DEBUG, logger="connectors.maildir"):
        batches, cursor2 = fetch(conn, cursor)
    assert ids(batches) == [] and cursor2 == cursor
    assert "unchanged since the last scan" in caplog.text
    path = deliver(root, "1800000000.M1P1.host", mail(9999))
    try:
        batches, _ = fetch(conn, cursor)
        assert ids(batches) == ["m9999@example.org"]
    finally:
        path.unlink()


def test_maildir_date_falls_back_to_delivery_time(tmp_path: Path) -> None:
    root, conn = maildir(tmp_path)
    deliver(root, "1700000000.M1P1.host:2,S", mail(1, date=False), sub="cur")
    path = deliver(root, "no-timestamp-here", mail(2, date=False))
    os.utime(path, (1_650_000_000, 1_650_000_000))
    batches, _ = fetch(conn, None)
    dates = {m.message_id: m.date for m in mails(batches)}
    assert dates == {
        "m1@example.org": datetime.fromtimestamp(1_700_000_000, UTC),
        "m2@example.org": datetime.fromtimestamp(1_650_000_000, UTC),
    }


FUTURE = 1_900_000_000  # 2030-03-17: a broken file name, or a clock that was wrong
PAST = 1_650_000_000  # 2022-04-15


def test_maildir_a_delivery_time_in_the_future_is_no_date(tmp_path: Path) -> None:
    """The fallback is checked like a Date header (1980 .. now + 2 days): a file name in 2030
    gives way to the file's mtime, and with both absurd the message is Skipped, never a
    touchpoint in 2030; a Date header past now + 2 days cannot hide behind it either."""
    root, conn = maildir(tmp_path)
    named = deliver(root, f"{FUTURE}.M1P1.host", mail(1, date=False))
    both = deliver(root, f"{FUTURE + 1}.M2P1.host", mail(2, date=False))
    header = deliver(root, f"{FUTURE + 2}.M3P1.host",
                     mail(3, date="Mon, 1 Jan 2029 10:00:00 +0000"))
    os.utime(named, (PAST, PAST))
    os.utime(both, (FUTURE, FUTURE))
    os.utime(header, (PAST, PAST))
    batches, _ = fetch(conn, None)
    assert {m.message_id: m.date for m in mails(batches)} == {
        "m1@example.org": datetime.fromtimestamp(PAST, UTC),
        "m3@example.org": datetime.fromtimestamp(PAST, UTC),
    }
    assert [o for b in batches for o in b.observations if isinstance(o, Skipped)] == [Skipped(
        f"maildir:new/{FUTURE + 1}.M2P1.host",
        "no usable date (no Date header, delivery time 2030-03-17): a date must lie between "
        "1980 and now + 2 days")]


def test_maildir_missing_folder_is_a_source_error(tmp_path: Path) -> None:
    conn = MaildirConnector(
        AccountConfig(name="work", type="maildir", options={"path": str(tmp_path / "nope")})
    )
    with pytest.raises(SourceError, match=r"nope.*accounts\[work\]\.path"):
        list(conn.fetch(None, CTX))
    (tmp_path / "plain").mkdir()
    conn = MaildirConnector(
        AccountConfig(name="work", type="maildir", options={"path": str(tmp_path / "plain")})
    )
    with pytest.raises(SourceError, match="no cur/ or new/"):
        list(conn.fetch(None, CTX))


def test_maildir_tilde_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    root, _ = maildir(tmp_path)
    deliver(root, "1700000000.M1P1.host", mail(1))
    conn = MaildirConnector(AccountConfig(name="w", type="maildir", options={"path": "~/Sent"}))
    assert ids(fetch(conn, None)[0]) == ["m1@example.org"]


def unreadable(bad: Path, how: str, content: bytes) -> Callable[[], None]:
    """Make the message file ``bad`` unreadable in one of three ways (root reads a chmod 000
    file, the other two fail for anyone), without changing its folder again after; returns
    what makes it readable, with ``content``, still without touching the folder."""
    target = bad.parent.parent.parent / f"{bad.name}.target"  # outside the Maildir
    if how == "chmod-000":
        if os.geteuid() == 0:
            pytest.skip("root reads a chmod 000 file")
        bad.write_bytes(content)
        bad.chmod(0)
        return lambda: bad.chmod(0o600)
    if how == "io-error":  # the file opens, its read fails (EIO)
        target.symlink_to("/proc/self/mem")
    bad.symlink_to(target)  # "dangling-link": a link to nothing, as a sync tool may leave
    real = target.with_suffix(".real")
    real.write_bytes(content)
    return lambda: os.replace(real, target)


def age(root: Path) -> None:
    """Folders last changed a minute ago: a scan that finds them unchanged lists nothing."""
    for sub in ("cur", "new"):
        os.utime(root / sub, (time.time() - 60, time.time() - 60))


@pytest.mark.parametrize("how", ["io-error", "dangling-link", "chmod-000"])
def test_maildir_unreadable_file_is_skipped_once_and_retried_until_read(
        tmp_path: Path, how: str) -> None:
    root, conn = maildir(tmp_path)
    deliver(root, "1700000000.M1P1.host", mail(1))
    make_readable = unreadable(root / "cur" / "1700000001.M2P1.host", how, mail(2))
    deliver(root, "1700000002.M3P1.host", mail(3))
    age(root)
    batches, cursor = fetch(conn, None)
    skipped = [o for b in batches for o in b.observations if isinstance(o, Skipped)]
    assert [s.location for s in skipped] == ["maildir:cur/1700000001.M2P1.host"]
    assert skipped[0].reason.startswith("cannot read: ")
    assert skipped[0].reason.endswith("; tried again at every sync until it can be read or is gone")
    assert sorted(ids(batches)) == ["m1@example.org", "m3@example.org"]
    assert cursor["retry"] == ["cur/1700000001.M2P1.host"]
    batches, cursor = fetch(conn, cursor)  # still unreadable: counted once, not every sync
    assert [o for b in batches for o in b.observations] == []
    make_readable()  # the folder does not change
    batches, cursor = fetch(conn, cursor)
    assert ids(batches) == ["m2@example.org"] and cursor["retry"] == []
    assert ids(fetch(conn, cursor)[0]) == []


def test_maildir_unreadable_file_that_is_gone_is_forgotten(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maildir_module, "RETRY_LIMIT", 1)
    root, conn = maildir(tmp_path)
    first, second = root / "cur" / "1700000001.M1P1.host", root / "cur" / "1700000002.M2P1.host"
    unreadable(first, "dangling-link", mail(1))
    unreadable(second, "dangling-link", mail(2))
    batches, cursor = fetch(conn, None)
    reasons = {o.location: o.reason for b in batches for o in b.observations}
    assert cursor["retry"] == ["cur/1700000001.M1P1.host"]
    assert reasons["maildir:cur/1700000002.M2P1.host"].endswith(
        "; not tried again: more than 1 files here cannot be read")
    first.unlink()
    batches, cursor = fetch(conn, cursor)
    assert [o for b in batches for o in b.observations] == [] and cursor["retry"] == []


def test_maildir_vanished_file_is_skipped_silently(tmp_path: Path) -> None:
    _, conn = maildir(tmp_path)
    assert conn.sent._read(_Entry(0, "new/gone", 0), NOW) is None


def test_maildir_big_message_is_read_only_up_to_its_header(tmp_path: Path) -> None:
    root, conn = maildir(tmp_path)
    path = deliver(root, "1700000000.M1P1.host", mail(1))
    with path.open("r+b") as f:
        f.truncate(50 * 1024 * 1024)  # a sparse 50 MB body
    started = time.perf_counter()
    batches, _ = fetch(conn, None)
    assert ids(batches) == ["m1@example.org"]
    assert time.perf_counter() - started < 1.0


def test_maildir_header_only_junk_and_empty_files(tmp_path: Path) -> None:
    root, conn = maildir(tmp_path)
    deliver(root, "1700000000.M1P1.host", b"")
    deliver(root, "1700000001.M1P1.host", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    deliver(root, "1700000002.M1P1.host", b"To: a@example.com\n")  # header, no body
    batches, _ = fetch(conn, None)
    obs = sorted((o for b in batches for o in b.observations), key=lambda o: o.location)
    assert [type(o).__name__ for o in obs] == ["Skipped", "Skipped", "Mail"]


# -- mbox -----------------------------------------------------------------------------------


def mbox(tmp_path: Path, *raws: bytes) -> tuple[Path, MboxConnector]:
    path = tmp_path / "Sent"
    path.write_bytes(b"".join(mbox_entry(r) for r in raws))
    return path, MboxConnector(AccountConfig(name="tb", type="mbox", options={"path": str(path)}))


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def test_mbox_incremental_append(tmp_path: Path) -> None:
    body = b"From the start, this line needs escaping.\n>From here too.\n"
    path, conn = mbox(tmp_path, mail(1, body=body), mail(2))
    batches, cursor = fetch(conn, None)
    assert ids(batches) == ["m1@example.org", "m2@example.org"]
    assert batches[0].observations[0].location == "mbox:Sent#0"
    assert cursor["offset"] == path.stat().st_size
    batches, cursor = fetch(conn, cursor)
    assert ids(batches) == []
    offset = path.stat().st_size
    append(path, mbox_entry(mail(3)))
    batches, cursor = fetch(conn, cursor)
    assert ids(batches) == ["m3@example.org"]
    assert batches[0].observations[0].location == f"mbox:Sent#{offset}"


def test_mbox_partial_trailing_message_waits(tmp_path: Path) -> None:
    path, conn = mbox(tmp_path, mail(1))
    start = path.stat().st_size
    append(path, b"From - Tue Nov 14 10:22:33 2023\nFrom: me@example.org\nTo: p2@exam")
    batches, cursor = fetch(conn, None)
    assert ids(batches) == ["m1@example.org"]
    assert cursor["offset"] == start
    append(path, b"ple.com\nMessage-ID: <m2@example.org>\n\nbody still being wri")
    batches, cursor = fetch(conn, cursor)
    assert ids(batches) == ["m2@example.org"]
    assert [a.email for a in mails(batches)[0].to] == ["p2@example.com"]
    append(path, b"tten\n\n" + mbox_entry(mail(3)))
    batches, cursor = fetch(conn, cursor)
    assert ids(batches) == ["m3@example.org"]
    batches, _ = fetch(conn, cursor)
    assert ids(batches) == []


def test_mbox_compaction_rereads_from_the_start(tmp_path: Path) -> None:
    path, conn = mbox(tmp_path, mail(1), mail(2), mail(3))
    _, cursor = fetch(conn, None)
    # Thunderbird compacts by writing a new file and renaming it over the old one
    new = tmp_path / "Sent.new"
    new.write_bytes(mbox_entry(mail(1)) + mbox_entry(mail(3)) + mbox_entry(mail(4)))
    os.replace(new, path)
    batches, cursor = fetch(conn, cursor)
    assert ids(batches) == ["m1@example.org", "m3@example.org", "m4@example.org"]
    # rewritten in place to something shorter: also read again
    path.write_bytes(mbox_entry(mail(5)))
    batches, cursor = fetch(conn, cursor)
    assert ids(batches) == ["m5@example.org"]
    # same inode, same length, different first bytes: read again
    path.write_bytes(mbox_entry(mail(6)))
    batches, _ = fetch(conn, cursor)
    assert ids(batches) == ["m6@example.org"]


def test_mbox_batches_resume_from_any_cursor(tmp_path: Path) -> None:
    _, conn = mbox(tmp_path, *(mail(n) for n in range(2500)))
    batches, final = fetch(conn, None)
    assert [len(b.observations) for b in batches] == [1000, 1000, 500]
    all_ids = ids(batches)
    assert len(set(all_ids)) == 2500
    rest, final2 = fetch(conn, batches[0].cursor)
    assert ids(rest) == all_ids[1000:]
    assert final2 == final


def test_mbox_cursors_of_earlier_releases_resume_exactly(tmp_path: Path) -> None:
    """The version key "v" of earlier releases is no longer written; a cursor with it
    resumes exactly where it says."""
    path, conn = mbox(tmp_path, *(mail(n) for n in range(1500)))
    batches, final = fetch(conn, None)
    assert all("v" not in b.cursor for b in batches)
    rest, again = fetch(conn, {"v": 1, **batches[0].cursor})
    assert ids(rest) == ids(batches)[1000:] and again == final
    append(path, mbox_entry(mail(9999)))
    new, _ = fetch(conn, {"v": 1, **final})
    assert ids(new) == ["m9999@example.org"]


def test_mbox_fallback_date_from_the_separator_line(tmp_path: Path) -> None:
    path = tmp_path / "Sent"
    path.write_bytes(
        b"From - Tue Nov  7 08:09:10 2023\n" + mail(1, date=False) + b"\n"
        b"From someone@example.com Not a date\n" + mail(2, date=False) + b"\n"
    )
    os.utime(path, (1_650_000_000, 1_650_000_000))
    conn = MboxConnector(AccountConfig(name="tb", type="mbox", options={"path": str(path)}))
    batches, _ = fetch(conn, None)
    assert [m.date for m in mails(batches)] == [
        datetime(2023, 11, 7, 8, 9, 10, tzinfo=UTC),
        datetime.fromtimestamp(1_650_000_000, UTC),
    ]


def test_mbox_separator_dates_in_the_future_or_before_1980_give_way_to_mtime(
        tmp_path: Path) -> None:
    path = tmp_path / "Sent"
    path.write_bytes(
        b"From - Sun Mar 17 10:00:00 2030\n" + mail(1, date=False) + b"\n"
        b"From - Thu Jan  1 00:00:00 1970\n" + mail(2, date=False) + b"\n"
    )
    os.utime(path, (PAST, PAST))
    conn = MboxConnector(AccountConfig(name="tb", type="mbox", options={"path": str(path)}))
    assert [m.date for m in mails(fetch(conn, None)[0])] == [
        datetime.fromtimestamp(PAST, UTC)] * 2


def test_mbox_read_error_is_one_line_and_the_next_sync_resumes(tmp_path: Path) -> None:
    path = tmp_path / "Sent"
    path.symlink_to("/proc/self/mem")  # opens, but its first read fails (EIO), root or not
    conn = MboxConnector(AccountConfig(name="tb", type="mbox", options={"path": str(path)}))
    with pytest.raises(SourceError, match=r"^cannot read mbox file \S+/Sent: Input/output "
                                          r"error; tried again at the next sync$"):
        list(conn.fetch(None, CTX))


def test_mbox_junk_and_broken_messages_do_not_stop_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "Sent"
    path.write_bytes(
        b"this is not an mbox line\n\n"
        + b"From - Tue Nov 14 10:22:33 2023\n\nno header at all\n\n"
        + mbox_entry(mail(1))
        + b"From - Tue Nov 14 10:22:33 2023\nSubject: no addresses\nFrom - Tue Nov 14 2023\n"
        + mbox_entry(mail(2))
    )
    conn = MboxConnector(AccountConfig(name="tb", type="mbox", options={"path": str(path)}))
    batches, _ = fetch(conn, None)
    obs = batches[0].observations
    assert [type(o).__name__ for o in obs] == [
        "Skipped",
        "Skipped",
        "Mail",
        "Skipped",
        "Skipped",
        "Mail",
    ]
    assert obs[0] == Skipped("mbox:Sent#0", "does not start with a 'From ' line")
    assert ids(batches) == ["m1@example.org", "m2@example.org"]


def test_mbox_big_body_and_crlf(tmp_path: Path) -> None:
    big = mail(1, body=b"line of body text\r\n" * 600_000)  # ~11 MB
    _, conn = mbox(tmp_path, big, mail(2), b"To: x@example.com\r\n\r\n")
    batches, _ = fetch(conn, None)
    found = ids(batches)
    assert found[:2] == ["m1@example.org", "m2@example.org"]
    assert len(found) == 3 and found[2].endswith("@keepwarm.invalid")


def test_mbox_empty_file_yields_one_batch(tmp_path: Path) -> None:
    path, conn = mbox(tmp_path)
    batches, cursor = fetch(conn, None)
    assert len(batches) == 1 and batches[0].observations == []
    append(path, mbox_entry(mail(1)))
    assert ids(fetch(conn, cursor)[0]) == ["m1@example.org"]


def test_mbox_missing_file_is_a_source_error(tmp_path: Path) -> None:
    conn = MboxConnector(
        AccountConfig(name="tb", type="mbox", options={"path": str(tmp_path / "Sent")})
    )
    with pytest.raises(SourceError, match=r"Sent.*accounts\[tb\]\.path"):
        list(conn.fetch(None, CTX))


# -- the conformance harnesses drive the real connectors --------------------------------------


@pytest.mark.parametrize("harness_cls", [MaildirHarness, MboxHarness])
def test_harness_round_trip(harness_cls: Any, tmp_path: Path) -> None:
    harness = harness_cls(tmp_path)
    conn = {"maildir": MaildirConnector, "mbox": MboxConnector}[harness.type](harness.account())
    harness.add_mail(mail(1, body=b"From me\n"))
    harness.add_mail(mail(2))
    batches, cursor = fetch(conn, None)
    assert sorted(ids(batches)) == ["m1@example.org", "m2@example.org"]
    harness.add_mail(mail(3))
    batches, cursor = fetch(conn, cursor)
    assert ids(batches) == ["m3@example.org"]
    assert ids(fetch(conn, cursor)[0]) == []
    with pytest.raises(NotImplementedError):
        harness.add_meeting(None)
