"""`keepwarm run` as a real process: sd_notify, polling, signals, one instance, the unit."""

from __future__ import annotations

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


def test_service_install_writes_a_unit_systemd_accepts(tmp_path: Path) -> None:
    env = {**ENV, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    (tmp_path / "run").mkdir(mode=0o700)
    config = tmp_path / "c.toml"
    done = subprocess.run(keepwarm("--config", str(config), "service", "install"), env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "systemctl --user daemon-reload && systemctl --user enable --now keepwarm" in done.stdout
    unit = tmp_path / ".config" / "systemd" / "user" / "keepwarm.service"
    text = unit.read_text()
    assert f"ExecStart={sys.executable} -m daemon.cli --config {config} run" in text
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "PrivateTmp=yes"):
        assert line in text
    verify = subprocess.run(["systemd-analyze", "verify", "--user", str(unit)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
