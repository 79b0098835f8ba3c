"""`keepwarm run` as a real process: sd_notify, polling, signals, one instance, the unit."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from daemon import service
from daemon.lock import InstanceLock, LockedError

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
ENV.pop("NOTIFY_SOCKET", None)
ENV.pop("JOURNAL_STREAM", None)


def keepwarm(*args: str, env: dict[str, str] | None = None, **kw: object) -> list[str]:
    return [sys.executable, "-m", "daemon.cli", *args]


class Home:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cur = root / "Sent" / "cur"
        self.cur.mkdir(parents=True)
        self.config = root / "config.toml"
        self.config.write_text(self.text())
        self.n = 0

    def text(self, extra: str = "") -> str:
        return ('[identity]\naddresses = ["me@example.com"]\n[store]\npath = "kw.db"\n'
                'state_dir = "state"\n[reminders]\ncalendar = "cal"\n'
                '[[accounts]]\nname = "sent"\ntype = "maildir"\npath = "Sent"\n'
                'poll_interval = "1s"\n'
                '[[accounts]]\nname = "cal"\ntype = "ics"\npath = "reminders.ics"\n' + extra)

    def send(self, days_ago: int, to: str) -> None:
        self.n += 1
        when = datetime.now(UTC) - timedelta(days=days_ago)
        (self.cur / f"{int(when.timestamp())}.{self.n}_t.host:2,S").write_text(
            f"From: me@example.com\nTo: {to}\nDate: {format_datetime(when)}\n"
            f"Message-ID: <d{self.n}@example.com>\n\nhi\n")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(keepwarm("--config", str(self.config), *args), env=ENV,
                              capture_output=True, text=True, timeout=60)


class Daemon:
    """`keepwarm run` with a notify socket we listen on."""

    def __init__(self, home: Home, env: dict[str, str] | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock_path = str(home.root / "notify.sock")
        self.sock.bind(self.sock_path)
        self.sock.settimeout(0.2)
        self.log = home.root / "daemon.log"
        self.messages: list[str] = []
        self.stderr = open(self.log, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            keepwarm("--config", str(home.config), "--log-level", "info", "run"),
            env={**ENV, "NOTIFY_SOCKET": self.sock_path, "WATCHDOG_USEC": "1000000",
                 **(env or {})},
            stdout=subprocess.DEVNULL, stderr=self.stderr)

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in m for m in self.messages):
                return
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                assert self.proc.poll() is None, self.log.read_text()
        raise AssertionError(f"no {text!r} in {self.messages}; log:\n{self.log.read_text()}")

    def listen(self, seconds: float) -> list[str]:
        """Every message that comes within ``seconds``; the daemon must live throughout."""
        got: list[str] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                got.append(self.sock.recv(4096).decode())
            assert self.proc.poll() is None, self.log.read_text()
        self.messages += got
        return got

    def stop(self) -> float:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=15) == 0, self.log.read_text()
        return time.monotonic() - started

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        self.stderr.close()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


@pytest.fixture
def daemon(home: Home) -> Iterator[Daemon]:
    d = Daemon(home)
    yield d
    d.close()


def until(check: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_run_notifies_polls_and_stops_cleanly(home: Home, daemon: Daemon) -> None:
    daemon.wait_for("READY=1")
    daemon.wait_for("WATCHDOG=1")
    assert oct((home.root / "state").stat().st_mode & 0o777) == "0o700"
    home.send(200, "ann@example.org")
    home.send(120, "ann@example.org")
    reminders = home.root / "reminders.ics"
    until(lambda: reminders.exists() and "Follow up: ann@example.org" in reminders.read_text())
    daemon.wait_for("STATUS=")
    assert daemon.stop() < 10
    daemon.wait_for("STOPPING=1")


def test_one_instance_and_commands_while_it_runs(home: Home, daemon: Daemon) -> None:
    daemon.wait_for("READY=1")
    second = home.cli("run")
    assert second.returncode == 1
    assert f"already running as process {daemon.proc.pid}" in second.stderr
    home.send(100, "bo@example.org")
    home.send(90, "bo@example.org")
    assert home.cli("sync").returncode == 0  # waits for the daemon's cycle, then runs
    lapsed = home.cli("lapsed", "--json")
    assert lapsed.returncode == 0 and json.loads(lapsed.stdout)[0]["email"] == "bo@example.org"
    status = home.cli("status")
    assert f"keepwarm run: process {daemon.proc.pid}" in status.stdout
    assert "next poll" in status.stdout
    daemon.stop()
    assert "keepwarm run: not running" in home.cli("status").stdout


def test_sighup_reloads_and_a_bad_config_keeps_the_old(home: Home, daemon: Daemon) -> None:
    daemon.wait_for("READY=1")
    home.config.write_text(home.text('[[accounts]]\nname = "x"\ntype = "fax"\n'))
    daemon.proc.send_signal(signal.SIGHUP)
    until(lambda: "config reload failed" in daemon.log.read_text())
    assert daemon.proc.poll() is None
    (home.root / "More").mkdir()
    (home.root / "More" / "cur").mkdir()
    home.config.write_text(home.text('[[accounts]]\nname = "more"\ntype = "maildir"\n'
                                     'path = "More"\n'))
    daemon.proc.send_signal(signal.SIGHUP)
    until(lambda: "config reloaded: 3 accounts" in daemon.log.read_text())
    assert daemon.stop() < 10


def test_journal_gets_priority_prefixes(home: Home, tmp_path: Path) -> None:
    log = tmp_path / "journal.log"
    log.touch()
    st = log.stat()
    with open(log, "w") as err:
        proc = subprocess.Popen(keepwarm("--config", str(home.config), "--log-level", "info",
                                         "run"),
                                env={**ENV, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"},
                                stdout=subprocess.DEVNULL, stderr=err)
        until(lambda: "started" in log.read_text())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    lines = log.read_text().splitlines()
    assert lines and all(line[:3] in ("<6>", "<4>", "<3>") for line in lines), lines
    assert any(line.startswith("<6>started: ") for line in lines)


XDG_HOMES = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")


def run_as(user: Path, *args: str, **xdg: Path) -> subprocess.CompletedProcess[str]:
    """A command as a user whose home is ``user``, with only the XDG homes given set."""
    env = {**ENV, "HOME": str(user), "XDG_RUNTIME_DIR": str(user / "run"),
           **{k: str(v) for k, v in xdg.items()}}
    for name in {*XDG_HOMES, "KEEPWARM_CONFIG"} - set(xdg):
        env.pop(name, None)
    (user / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
    if args[0] == "systemd-analyze":
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    return subprocess.run(keepwarm(*args), env=env, capture_output=True, text=True, timeout=60)


def test_service_install_writes_a_unit_systemd_accepts(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[accounts]]\nname = "sent"\ntype = "maildir"\npath = "Sent"\n')
    done = run_as(tmp_path, "--config", str(config), "service", "install")
    assert done.returncode == 0, done.stderr
    assert "systemctl --user daemon-reload && systemctl --user enable --now keepwarm" in done.stdout
    unit = tmp_path / ".config" / "systemd" / "user" / "keepwarm.service"
    text = unit.read_text()
    assert f"ExecStart={sys.executable} -m daemon.cli --config {config} run" in text
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "PrivateTmp=yes",
                 f"ReadWritePaths={tmp_path}/.local/share/keepwarm "
                 f"{tmp_path}/.local/state/keepwarm\n"):
        assert line in text
    verify = run_as(tmp_path, "systemd-analyze", "verify", "--user", str(unit))
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr


def test_init_and_service_install_follow_xdg_and_the_config(tmp_path: Path) -> None:
    """Every XDG home moved, to folders with a space and a `%h` (a specifier to systemd):
    `init` writes the config there naming the store and state folders there, and `service
    install` writes the unit where systemd reads it, letting keepwarm write in exactly the
    folders the config names, each existing, written the way systemd reads them."""
    user = tmp_path / "home"
    xdg = {"XDG_CONFIG_HOME": tmp_path / "conf dir", "XDG_DATA_HOME": tmp_path / "data 100%h",
           "XDG_STATE_HOME": tmp_path / "state dir"}
    data, state = xdg["XDG_DATA_HOME"] / "keepwarm", xdg["XDG_STATE_HOME"] / "keepwarm"
    refused = run_as(user, "service", "install", **xdg)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "keepwarm init" in refused.stderr and "Traceback" not in refused.stderr
    assert run_as(user, "init", **xdg).returncode == 0
    config = xdg["XDG_CONFIG_HOME"] / "keepwarm" / "config.toml"
    assert run_as(user, "sync", **xdg).returncode == 1  # the starter's ~/Mail/Sent is missing
    assert (data / "keepwarm.db").exists() and (state / "cycle.lock").exists()
    assert not (user / ".local").exists() and not (user / ".config").exists()
    calendars, tokens = tmp_path / "Calendars dir", tmp_path / "tokens dir"
    config.write_text(config.read_text().replace(str(data / "followups.ics"),
                                                 str(calendars / "followups.ics"))
                      + f'[[accounts]]\nname = "g"\ntype = "gmail"\ncalendar = false\n'
                        f'client_secrets = "{tokens / "client.json"}"\n'
                        f'token_file = "{tokens / "g.json"}"\n')
    done = run_as(user, "service", "install", **xdg)
    assert done.returncode == 0, done.stderr
    unit = xdg["XDG_CONFIG_HOME"] / "systemd" / "user" / "keepwarm.service"
    text = unit.read_text()
    assert f'ExecStart={sys.executable} -m daemon.cli --config "{config}" run\n' in text
    folders = sorted([calendars, data, state, tokens])
    assert all(f.is_dir() for f in folders)
    written = " ".join(f'"{str(f).replace("%", "%%")}"' for f in folders)
    assert f"\nReadWritePaths={written}\n" in text
    assert (f'\nEnvironment="XDG_DATA_HOME={str(xdg["XDG_DATA_HOME"]).replace("%", "%%")}" '
            f'"XDG_STATE_HOME={xdg["XDG_STATE_HOME"]}"\n') in text
    verify = run_as(user, "systemd-analyze", "verify", "--user", str(unit), **xdg)
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr


def test_unit_words_are_written_the_way_systemd_reads_them(tmp_path: Path) -> None:
    """`systemd-analyze verify` checks that ExecStart's program exists, so a program whose
    path holds a space, a specifier (`%h`) and a `$` is found only when written right."""
    program = tmp_path / "a b 100%h $x" / "prog"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)

    def verify(word: str) -> subprocess.CompletedProcess[str]:
        unit = tmp_path / "probe.service"
        unit.write_text(f"[Service]\nType=oneshot\nExecStart={word} x\n")
        return run_as(tmp_path, "systemd-analyze", "verify", "--user", str(unit))

    assert verify(f'"{program}"').returncode != 0  # the probe tells a wrong word
    done = verify(service.systemd_word(str(program)))
    assert done.returncode == 0 and done.stderr == "", done.stderr


@pytest.fixture
def manual_sync(home: Home) -> Iterator[InstanceLock]:
    """The cycle lock held by this process, as a long manual `keepwarm sync` holds it."""
    lock = InstanceLock(home.root / "state", "cycle.lock")
    lock.acquire()
    yield lock
    lock.release()


def test_the_daemon_waits_out_a_long_manual_sync(home: Home,
                                                 manual_sync: InstanceLock) -> None:
    """A Gmail backfill holds the cycle lock for hours: the daemon waits without limit (it
    used to give up after 10 min, unpinged, and exit), keeps pinging the watchdog, says what
    it waits for, and polls as soon as the lock is free."""
    home.send(200, "ann@example.org")
    home.send(120, "ann@example.org")
    reminders = home.root / "reminders.ics"
    waiting = f"waiting for a manual sync (pid {os.getpid()}) since "
    daemon = Daemon(home)
    try:
        daemon.wait_for("READY=1")
        daemon.wait_for(f"STATUS={waiting}")
        beats = daemon.listen(3.0)
        assert beats.count("WATCHDOG=1") >= 4, beats  # every 0.5 s with WATCHDOG_USEC=1 s
        assert not reminders.exists()  # no cycle ran meanwhile
        status = home.cli("status")
        assert f"keepwarm run: process {daemon.proc.pid}" in status.stdout
        assert waiting in status.stdout
        manual_sync.release()
        until(lambda: reminders.exists() and "Follow up: ann@example.org" in reminders.read_text())
        assert "waiting for a manual sync" not in home.cli("status").stdout
        assert daemon.stop() < 10
    finally:
        daemon.close()


def test_sigterm_ends_the_wait_for_a_manual_sync(home: Home,
                                                 manual_sync: InstanceLock) -> None:
    daemon = Daemon(home)
    try:
        daemon.wait_for("STATUS=waiting for a manual sync")
        assert daemon.stop() < 3
        daemon.wait_for("STOPPING=1")
    finally:
        daemon.close()


def test_a_wait_for_the_cycle_lock_that_runs_out_says_what_to_do(tmp_path: Path) -> None:
    """What `keepwarm sync` prints when the daemon's cycle outlasts its wait: one line that
    names the holder and what to do."""
    with InstanceLock(tmp_path, "cycle.lock"), pytest.raises(LockedError) as caught:
        InstanceLock(tmp_path, "cycle.lock", wait=0.3, what="keepwarm is syncing").acquire()
    assert str(caught.value) == (f"keepwarm is syncing as process {os.getpid()} (lock "
                                 f"{tmp_path / 'cycle.lock'}) and is still busy after 0.3 s: "
                                 "try again when it has finished")
