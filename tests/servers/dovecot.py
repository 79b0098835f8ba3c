"""A real Dovecot IMAP server for the tests and the benchmark: ``/usr/sbin/dovecot -F`` on a
free loopback port with its own throw-away config and Maildirs.

Why a subprocess of the system package and not a mock: UIDVALIDITY, CONDSTORE, SPECIAL-USE
and connection faults only mean something when a real server implements them. The server
writes its own account of every session to its log (``imap_logout_format``: how many
messages' headers and bodies it sent), so "an idle sync downloads nothing" is proved by the
server, not by our code; ``rawlog`` keeps every command a client sent.

Runs as root (what CI does: login processes as ``dovenull``, internal ones as ``dovecot``)
or as an ordinary user (everything as that user, no chroot). Dovecot refuses to store mail as
uid 0, so root's servers keep it as ``nobody``, and the folder (under /tmp) is
world-traversable. Any user name logs in with one password (a static passdb), so a test gets
a fresh, empty mailbox by picking a new name.

Install: ``apt-get install dovecot-imapd`` (tests/run.sh does it when missing).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import grp
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from daemon.model import AccountConfig
from tests.servers import free_port

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
PASSWORD = "correct-horse-battery-staple-7"  # no spaces: it goes in a passdb args line
# Dovecot 2.3's built-in post-login capabilities minus CONDSTORE and QRESYNC.
NO_CONDSTORE_CAPS = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 ESEARCH ESORT SEARCHRES WITHIN "
    "CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE "
    "SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"
)
_LOGOUT = re.compile(r"imap\(([^)]+)\).*Logged out .*hdr_count=(\d+) .*body_count=(\d+)")
_LITERAL = re.compile(rb"\{(\d+)\+?\}$")
_users = itertools.count(1)


def installed() -> bool:
    return os.access(DOVECOT, os.X_OK)


class Dovecot:
    """One Dovecot master process and its folder; ``stop``/``kill`` then ``start`` again keeps
    the port, users and mail.

    ``sent``: the Sent folder's name (None: no Sent folder); ``special_use``: mark it
    ``\\Sent`` (RFC 6154); ``folders``: more folders; ``special``: more folders, each with
    its SPECIAL-USE attribute (``{"Archive": "\\Archive"}``); all are created at each login
    if missing. ``condstore``: advertise CONDSTORE. ``rawlog``: keep every client command.
    """

    def __init__(self, folder: Path | None = None, *, sent: str | None = "Sent",
                 special_use: bool = True, folders: Sequence[str] = (),
                 special: Mapping[str, str] | None = None, condstore: bool = True,
                 rawlog: bool = False, password: str = PASSWORD) -> None:
        if not installed():
            raise RuntimeError(f"{DOVECOT} is missing: apt-get install dovecot-imapd")
        self.own_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="keepwarm-dovecot-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o755)
        self.mail = self.folder / "mail"
        self.mail.mkdir(exist_ok=True)
        self.uid, self.gid = _mail_ids()
        os.chown(self.mail, self.uid, self.gid)
        self.log = self.folder / "dovecot.log"
        self.rawlog_dir = self.folder / "rawlog" if rawlog else None
        self.host = "127.0.0.1"
        self.port = free_port()
        self.sent = sent
        self.password = password
        self.conf = self.folder / "dovecot.conf"
        boxes = {f: "" for f in folders} | dict(special or {})
        self.conf.write_text(self._config(sent, special_use, boxes, condstore))
        self.process: subprocess.Popen[bytes] | None = None

    def _config(self, sent: str | None, special_use: bool, folders: Mapping[str, str],
                condstore: bool) -> str:
        me = pwd.getpwuid(os.getuid()).pw_name
        my_group = grp.getgrgid(os.getgid()).gr_name
        root = os.getuid() == 0
        boxes = [f'  mailbox "{sent}" {{\n    auto = create\n'
                 + ("    special_use = \\Sent\n" if special_use else "") + "  }\n"] if sent else []
        boxes += [f'  mailbox "{f}" {{\n    auto = create\n'
                  + (f"    special_use = {use}\n" if use else "") + "  }\n"
                  for f, use in folders.items()]
        lines = [
            "protocols = imap",
            "listen = 127.0.0.1",
            f"base_dir = {self.folder}/run",
            f"state_dir = {self.folder}/state",
            f"log_path = {self.log}",
            f"info_log_path = {self.log}",
            "ssl = no",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "auth_failure_delay = 0",  # Dovecot's default 2 s would slow the wrong-password test
            f"default_login_user = {'dovenull' if root else me}",
            f"default_internal_user = {'dovecot' if root else me}",
            f"default_internal_group = {'dovecot' if root else my_group}",
            "first_valid_uid = 0",
            "mail_max_userip_connections = 50",
            f"mail_location = maildir:{self.mail}/%u:LAYOUT=fs:INBOX={self.mail}/%u/INBOX",
            # Every user name logs in with the password: nothing to reload when a test adds one
            # (Dovecot stats a passwd-file at most once a second and misses quick additions).
            f"passdb {{\n  driver = static\n  args = password={self.password}\n}}",
            "userdb {\n  driver = static\n"
            f"  args = uid={self.uid} gid={self.gid} home={self.mail}/%u\n}}",
            "login_trusted_networks = 127.0.0.0/8",  # no growing delay after failed logins
            "service imap-login {\n  inet_listener imap {\n"
            f"    address = 127.0.0.1\n    port = {self.port}\n  }}\n"
            "  inet_listener imaps {\n    port = 0\n  }\n"
            + ("" if root else "  chroot =\n") + "}",
            "namespace inbox {\n  inbox = yes\n  separator = /\n" + "".join(boxes) + "}",
        ]
        if not root:
            lines.append("service anvil {\n  chroot =\n}")
        if not condstore:
            lines.append(f"imap_capability = {NO_CONDSTORE_CAPS}")
        if self.rawlog_dir is not None:
            lines.append(f"protocol imap {{\n  rawlog_dir = {self.rawlog_dir}/%u\n}}")
        return "\n".join(lines) + "\n"

    # -- process ---------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> Dovecot:
        """Run the master in the foreground (its own process group) and wait for the greeting."""
        if self.process is not None and self.process.poll() is None:
            return self
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log.read_text()[-2000:]}")
            if self.answers():
                return self
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"dovecot did not answer within {timeout} s")

    def answers(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as s:
                return s.recv(5) == b"* OK "
        except OSError:
            return False

    def stop(self) -> None:
        """A clean shutdown (SIGTERM to the master, which ends its children)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        """SIGKILL to the master and every child: a crash, sessions cut mid-reply."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def close(self) -> None:
        """Stop and, if the folder was made here, delete it."""
        self.kill()
        if self.own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- users and mail ----------------------------------------------------------
    def add_user(self, name: str | None = None) -> str:
        """A fresh user name (any name logs in with the password; its mail starts empty)."""
        name = name or f"user{next(_users)}"
        if self.rawlog_dir is not None:
            (self.rawlog_dir / name).mkdir(parents=True, exist_ok=True)
            os.chown(self.rawlog_dir, self.uid, self.gid)
            os.chown(self.rawlog_dir / name, self.uid, self.gid)
        return name

    def client(self, user: str) -> IMAPClient:
        c = IMAPClient(self.host, self.port, ssl=False, timeout=30)
        c.plain_login(user, self.password)
        return c

    def append(self, user: str, messages: Iterable[bytes], folder: str | None = None,
               when: datetime | None = None) -> None:
        """Deliver raw messages to ``folder`` (default: the Sent folder) by IMAP APPEND."""
        target = folder or self.sent
        if target is None:
            raise ValueError("this server has no Sent folder: name one")
        with contextlib.closing(_Closing(self.client(user))) as c:
            for raw in messages:
                c.imap.append(target, raw, msg_time=when)

    def account(self, user: str, name: str = "imap", **options: Any) -> AccountConfig:
        """An ``imap`` account for ``user``; the password comes from a file via a command.
        It reads no received folders unless ``received_folders`` is given (None: the
        connector's default), so a test of sent mail counts only sent mail's commands."""
        secret = self.folder / f"password-{user}"
        if not secret.exists():
            secret.write_text(self.password + "\n")
        opts: dict[str, Any] = {
            "host": self.host, "port": self.port, "tls": "none", "username": user,
            "password_command": f"cat {secret}", "keyring": False, "folders": [],
            "received_folders": [],
            "retries": 0, "timeout": 10,
        }
        opts.update(options)
        return AccountConfig(name=name, type="imap", options=opts)

    def doveadm(self, *args: str) -> str:
        done = subprocess.run([DOVEADM, "-c", str(self.conf), *args], capture_output=True,
                              text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def sessions(self, user: str, at_least: int = 0) -> list[tuple[int, int]]:
        """(messages whose headers were sent, messages whose bodies were sent) per finished
        session of ``user``, from the server's own log; waits (up to 5 s) for ``at_least``
        sessions, since the log process writes the logout lines a moment later."""
        deadline = time.monotonic() + 5
        while True:
            text = self.log.read_text(errors="replace")
            out = [(int(m.group(2)), int(m.group(3))) for m in _LOGOUT.finditer(text)
                   if m.group(1) == user]
            if len(out) >= at_least or time.monotonic() > deadline:
                return out
            time.sleep(0.02)

    def forget_commands(self, user: str) -> None:
        """Drop the rawlog so far: ``commands`` then shows only later sessions."""
        if self.rawlog_dir is not None:
            for path in (self.rawlog_dir / user).iterdir():
                path.unlink()

    def commands(self, user: str) -> list[str]:
        """Every command line clients of ``user`` sent (rawlog must be on), tags and literal
        contents (APPENDed messages) stripped."""
        if self.rawlog_dir is None:
            raise RuntimeError("start Dovecot with rawlog=True")
        out = []
        for path in sorted((self.rawlog_dir / user).glob("*.in")):
            skip = 0  # bytes of a literal still to pass over
            for stamped in path.read_bytes().split(b"\r\n"):
                line = stamped.partition(b" ")[2]  # rawlog puts a timestamp before each line
                if skip > 0:
                    skip -= len(line) + 2
                    continue
                literal = _LITERAL.search(line)
                if literal:
                    skip = int(literal.group(1))
                _, _, command = line.decode("utf-8", "replace").partition(" ")
                if command:
                    out.append(command)
        return out


class _Closing:
    def __init__(self, imap: IMAPClient) -> None:
        self.imap = imap

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.imap.logout()


def _die_with_parent() -> None:
    """Linux: the master gets SIGTERM (and ends its children) when the process that started
    it dies without cleaning up, e.g. a test run killed by a timeout."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _mail_ids() -> tuple[int, int]:
    """Who owns the mail: Dovecot refuses uid 0, so root's tests store it as ``nobody``."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


_shared: Dovecot | None = None


def shared() -> Dovecot:
    """The session's server, started on first use and killed when the interpreter exits
    (the conformance harness is built without fixtures, so it uses this too)."""
    global _shared
    if _shared is None:
        server = Dovecot().start()
        atexit.register(server.close)
        _shared = server
    return _shared


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A server of the test's own (Sent marked \\Sent, CONDSTORE on), for tests that change
    its config, kill or restart it."""
    with Dovecot() as server:
        yield server
