"""What the user told keepwarm survives a lost or damaged store: the steering file, and a
damaged store set aside and rebuilt by `keepwarm sync` without a duplicate reminder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.errors import ConfigError
from daemon.model import ContactSteering, ReminderId, Steering
from daemon.steering import parse, render
from tests.servers.radicale import User
from tests.test_cli import Home

ROOT = Path(__file__).resolve().parent.parent
ENV = {**{k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM")},
       "PYTHONPATH": str(ROOT)}

emails = st.from_regex(r"[a-z0-9._+-]{1,8}@[a-z0-9-]{1,8}\.[a-z]{2,4}", fullmatch=True)
texts = st.text(min_size=1, max_size=12).map(str.lower)
steerings = st.builds(
    Steering,
    st.dictionaries(emails, st.builds(
        ContactSteering, st.none() | st.integers(1, 999), st.none() | st.dates(),
        st.booleans(), st.frozensets(texts, max_size=3), st.frozensets(emails, max_size=2)),
        max_size=4),
    st.dictionaries(st.builds(ReminderId, st.sampled_from(["cadence", "notice"]), emails,
                              st.text(max_size=8)), st.dates(), max_size=3))


@given(steerings)
def test_the_file_says_exactly_what_the_store_holds(steering: Steering) -> None:
    text = render(steering)
    assert parse(text, Path("steering.toml")) == steering
    assert render(parse(text, Path("steering.toml"))) == text  # stable bytes


def test_a_hand_edited_file_with_mistakes_lists_each_one(tmp_path: Path) -> None:
    path = tmp_path / "steering.toml"
    text = ('[contacts."a@x.org"]\ncadence_days = "often"\ncolour = "red"\n'
            '[dismissed]\n"cadence:a@x.org:" = "yesterday"\n')
    with pytest.raises(ConfigError) as exc:
        parse(text, path)
    assert exc.value.problems == [
        f"{path}: contacts.a@x.org.colour: unknown key",
        f"{path}: contacts.a@x.org.cadence_days: must be an integer, not 'often'",
        f"{path}: dismissed.cadence:a@x.org:: must be a date like 2026-03-02"]


def run(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(home.config),
                           *args], env=ENV, capture_output=True, text=True, timeout=120)


def contacts(home: Home) -> list[dict[str, Any]]:
    done = run(home, "contacts", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def steer(home: Home) -> None:
    for args in (("cadence", "ann@example.org", "30d"), ("tag", "bo@example.org", "client"),
                 ("snooze", "cy@example.org", "3w"), ("ignore", "dee@example.org"),
                 ("merge", "ann@example.org", "ann.private@example.net")):
        assert run(home, *args).returncode == 0


@pytest.fixture
def home(tmp_path: Path) -> Home:
    h = Home(tmp_path)
    for who in ("ann@example.org", "bo@example.org", "cy@example.org", "dee@example.org"):
        for days in (400, 200, 120):
            h.send(days, who)
    h.send(150, "ann.private@example.net")
    return h


def test_steering_is_written_beside_the_store_and_survives_its_loss(home: Home) -> None:
    assert run(home, "sync").returncode == 0
    steer(home)
    path = home.root / "kw.steering.toml"
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert '[contacts."ann@example.org"]\ncadence_days = 30\n' in text
    assert 'addresses = ["ann.private@example.net"]' in text and "ignored = true" in text
    before = contacts(home)
    for name in ("kw.db", "kw.db-wal", "kw.db-shm"):
        (home.root / name).unlink(missing_ok=True)
    assert run(home, "sync").returncode == 0
    assert contacts(home) == before
    assert path.read_text() == text


def test_an_edit_of_the_file_is_taken_over(home: Home) -> None:
    assert run(home, "sync").returncode == 0
    steer(home)
    path = home.root / "kw.steering.toml"
    path.write_text(path.read_text().replace("cadence_days = 30", "cadence_days = 7"))
    (ann,) = [c for c in contacts(home) if c["email"] == "ann@example.org"]
    assert (ann["cadence_days"], ann["cadence_source"]) == (7, "set for this contact")
    path.write_text("[contacts\n")
    done = run(home, "lapsed")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"{path}: not valid TOML") and "Traceback" not in done.stderr


def test_unmerge_and_the_listing_survive_the_loss_of_the_store(home: Home) -> None:
    assert run(home, "sync").returncode == 0
    steer(home)
    assert run(home, "unmerge", "ann.private@example.net").returncode == 0
    path = home.root / "kw.steering.toml"
    assert "ann.private@example.net" not in path.read_text()
    listing = run(home, "steering").stdout
    assert listing.splitlines() == [
        "contact\tsetting\tvalue", "ann@example.org\tcadence\t30d",
        "bo@example.org\ttag\tclient", f"cy@example.org\tsnooze\t{snoozed(home)}",
        "dee@example.org\tignore\tyes"]
    for name in ("kw.db", "kw.db-wal", "kw.db-shm"):
        (home.root / name).unlink(missing_ok=True)
    assert run(home, "sync").returncode == 0
    assert run(home, "steering").stdout == listing
    emails = {c["email"]: c["emails"] for c in contacts(home)}
    assert emails["ann.private@example.net"] == ["ann.private@example.net"]
    assert emails["ann@example.org"] == ["ann@example.org"]


def test_a_merge_deleted_from_the_file_is_undone(home: Home) -> None:
    assert run(home, "sync").returncode == 0
    steer(home)
    path = home.root / "kw.steering.toml"
    path.write_text(path.read_text().replace('addresses = ["ann.private@example.net"]\n', ""))
    emails = {c["email"]: c["emails"] for c in contacts(home)}
    assert emails["ann.private@example.net"] == ["ann.private@example.net"]


def snoozed(home: Home) -> str:
    (cy,) = [c for c in contacts(home) if c["email"] == "cy@example.org"]
    return str(cy["snooze_until"])


def test_a_damaged_store_is_one_line_and_sync_rebuilds_it(home: Home) -> None:
    assert run(home, "sync").returncode == 0
    steer(home)
    before = contacts(home)
    store = home.root / "kw.db"
    store.write_bytes(os.urandom(store.stat().st_size))  # garbage over the whole file
    for args in (("lapsed",), ("contacts",), ("status",), ("show", "ann@example.org"),
                 ("cadence", "bo@example.org", "10d")):
        done = run(home, *args)
        assert done.returncode == 1 and done.stderr.count("\n") == 1, (args, done.stderr)
        assert f"the store {store} is damaged" in done.stderr
        assert "run `keepwarm sync`" in done.stderr and "Traceback" not in done.stderr
    done = run(home, "sync")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"keepwarm: warning: the store {store} was damaged")
    assert len(list(home.root.glob("kw.db.corrupt-*"))) == 1
    assert contacts(home) == before


def test_a_malformed_page_deep_in_the_store_is_caught_too(home: Home) -> None:
    assert run(home, "sync").returncode == 0
    store = home.root / "kw.db"
    assert run(home, "status").returncode == 0  # checkpointed: every page in the file
    data = bytearray(store.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[4 * page:len(data)] = os.urandom(len(data) - 4 * page)  # the header is fine
    store.write_bytes(bytes(data))
    done = run(home, "lapsed")
    assert done.returncode == 1 and "is damaged" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert run(home, "sync").returncode == 0
    assert run(home, "lapsed").returncode == 0


def calendar(user: User) -> dict[str, tuple[str, bytes]]:
    """uid -> (URL, the object) of the reminders calendar, read with plain HTTP."""
    urls = user.calendars().get("keepwarm", [])
    out = {}
    for url in urls:
        for href, data in user.objects(url).items():
            uid = data.split(b"UID:", 1)[1].split(b"\r\n", 1)[0].decode()
            out[uid] = (href, data)
    return out


def test_sigkill_and_garbage_over_the_store_lose_nothing_the_user_did(
        home: Home, radicale_user: User) -> None:
    """The whole promise: a store destroyed (a sync killed, then garbage over the file) is
    rebuilt by the next sync with the same lapsed list, the same steering, the same
    reminders in the calendar (none doubled) and the reminder the user deleted still gone."""
    text = home.config.read_text()
    text = text.replace('calendar = "followups"', 'calendar = "cal"').replace(
        '[[accounts]]\nname = "followups"\ntype = "ics"\npath = "followups.ics"\n', "")
    text += '[[accounts]]\nname = "cal"\ntype = "caldav"\n' + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in radicale_user.options(retries=2).items())
    home.config.write_text(text)
    home.config.chmod(0o600)  # it holds a password_command
    first = run(home, "sync")
    assert first.returncode == 0, first.stdout + first.stderr
    steer(home)
    assert run(home, "sync").returncode == 0
    events = calendar(radicale_user)
    assert len(events) >= 2
    gone_uid = sorted(events)[0]
    radicale_user.delete(events[gone_uid][0])  # the user deletes one
    assert run(home, "sync").returncode == 0  # the deletion is recorded: a dismissal
    assert "[dismissed]" in (home.root / "kw.steering.toml").read_text()
    before = (run(home, "lapsed", "--json").stdout, contacts(home), calendar(radicale_user))
    assert gone_uid not in before[2]
    proc = subprocess.Popen([sys.executable, "-m", "daemon.cli", "--config", str(home.config),
                             "sync"], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    store = home.root / "kw.db"
    store.write_bytes(os.urandom(max(store.stat().st_size, 8192)))
    done = run(home, "sync")
    assert done.returncode == 0 and "was damaged" in done.stderr, done.stderr
    after = (run(home, "lapsed", "--json").stdout, contacts(home), calendar(radicale_user))
    assert after[0] == before[0] and after[1] == before[1]
    assert {uid: data for uid, (_, data) in after[2].items()} == {
        uid: data for uid, (_, data) in before[2].items()}
