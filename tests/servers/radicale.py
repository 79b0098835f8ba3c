"""A real Radicale CalDAV and CardDAV server for the tests: a subprocess on a free loopback
port with a throw-away storage folder and a plain-text htpasswd file.

A subprocess rather than a thread, so a test can kill the server and start it again on the
same port and storage. Starting takes about half a second, so one server serves the whole
session (``shared()``) and every test gets a fresh user (``add_user``): users only see their
own collections, so tests never meet each other's calendars.
"""

from __future__ import annotations

import atexit
import base64
import itertools
import os
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.caldav import CaldavConnector
from connectors.carddav import CarddavConnector
from daemon.model import AccountConfig
from tests.servers import free_port

_users = itertools.count(1)
_C = "urn:ietf:params:xml:ns:caldav"
_CR = "urn:ietf:params:xml:ns:carddav"


@dataclass(frozen=True)
class User:
    """One Radicale login, plus plain-HTTP helpers to play that user's calendar app.

    The helpers use only the standard library (urllib, ElementTree), never keepwarm's
    CalDAV code, so a test that checks what keepwarm did does not trust what it checks."""

    name: str
    password: str
    url: str
    server: RadicaleServer

    @property
    def home(self) -> str:
        """The user's calendar home collection (Radicale puts it at /<user>/)."""
        return f"{self.url}{self.name}/"

    def options(self, **extra: Any) -> dict[str, Any]:
        """An ``[[accounts]]`` table's caldav keys for this user (the password by command)."""
        return {"url": self.url, "username": self.name,
                "password_command": f"printf %s {shlex.quote(self.password)}",
                "retries": 0, "timeout": 10, **extra}

    def account(self, name: str = "caldav", holds_reminders: bool = False,
                **extra: Any) -> AccountConfig:
        """A validated-looking AccountConfig (every option present, as config.parse gives)."""
        options = CaldavConnector.with_defaults(self.options(**extra))
        return AccountConfig(name=name, type="caldav", options=options,
                             holds_reminders=holds_reminders)

    def card_account(self, name: str = "carddav", **extra: Any) -> AccountConfig:
        """The same login as a carddav account."""
        options = CarddavConnector.with_defaults(self.options(**extra))
        return AccountConfig(name=name, type="carddav", options=options)

    def request(self, method: str, url: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One authenticated request: status, headers, body (errors are answers too)."""
        token = base64.b64encode(f"{self.name}:{self.password}".encode()).decode()
        req = urllib.request.Request(url, data=body or None, method=method,
                                     headers={"Authorization": f"Basic {token}",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=10) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def make_calendar(self, display_name: str, slug: str | None = None,
                      components: str = "VEVENT") -> str:
        """MKCALENDAR in the home set; the new calendar's URL."""
        url = f"{self.home}{slug or secrets.token_hex(6)}/"
        comps = "".join(f'<C:comp name="{c}"/>' for c in components.split(","))
        body = (f'<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="{_C}"><D:set>'
                f"<D:prop><D:displayname>{display_name}</D:displayname>"
                f"<C:supported-calendar-component-set>{comps}"
                "</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>")
        status, _, answer = self.request("MKCALENDAR", url, body.encode())
        assert status == 201, (status, answer)
        return url

    def make_addressbook(self, display_name: str, slug: str | None = None) -> str:
        """An address book in the home set (extended MKCOL, RFC 5689); its URL."""
        url = f"{self.home}{slug or secrets.token_hex(6)}/"
        body = (f'<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="{_CR}"><D:set>'
                "<D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>"
                f"<D:displayname>{display_name}</D:displayname></D:prop></D:set></D:mkcol>")
        status, _, answer = self.request("MKCOL", url, body.encode())
        assert status == 201, (status, answer)
        return url

    def put_card(self, url: str, vcf: bytes) -> str:
        """PUT a vCard as an address-book app does; the new ETag."""
        status, answer, body = self.request("PUT", url, vcf,
                                            {"Content-Type": "text/vcard; charset=utf-8"})
        assert status in (201, 204), (status, body)
        return answer.get("ETag", "")

    def calendars(self) -> dict[str, list[str]]:
        """display name -> URLs of the user's calendars."""
        body = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/>'
                "<D:resourcetype/></D:prop></D:propfind>")
        status, _, answer = self.request("PROPFIND", self.home, body.encode(), {"Depth": "1"})
        assert status == 207, status
        out: dict[str, list[str]] = {}
        for response in ET.fromstring(answer).iter("{DAV:}response"):
            if response.find(f".//{{{_C}}}calendar") is None:
                continue
            href = response.findtext("{DAV:}href") or ""
            name = response.findtext(".//{DAV:}displayname") or ""
            out.setdefault(name, []).append(urllib.parse.urljoin(self.url, href))
        return out

    def objects(self, calendar_url: str) -> dict[str, bytes]:
        """URL -> exact bytes (GET) of every object in a calendar."""
        status, _, answer = self.request("PROPFIND", calendar_url, b"", {"Depth": "1"})
        assert status == 207, status
        out = {}
        for href in ET.fromstring(answer).iter("{DAV:}href"):
            url = urllib.parse.urljoin(self.url, href.text or "")
            if not url.endswith("/"):
                out[url] = self.get(url)
        return out

    def get(self, url: str) -> bytes:
        status, _, body = self.request("GET", url)
        assert status == 200, (status, url)
        return body

    def put(self, url: str, ics: bytes, etag: str | None = None) -> str:
        """PUT as a calendar app does (If-Match when ``etag``); the new ETag."""
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        if etag:
            headers["If-Match"] = etag
        status, answer, _ = self.request("PUT", url, ics, headers)
        assert status in (201, 204), status
        return answer.get("ETag", "")

    def delete(self, url: str) -> None:
        status, _, _ = self.request("DELETE", url)
        assert status in (200, 204), status


class RadicaleServer:
    """One Radicale process; ``stop()`` kills it, ``start()`` brings it back unchanged."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.storage = folder / "collections"
        self.htpasswd = folder / "users"
        self.htpasswd.write_text("")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.config = folder / "config"
        self.config.write_text(
            "[server]\n"
            f"hosts = 127.0.0.1:{self.port}\n"
            "[auth]\n"
            "type = htpasswd\n"
            f"htpasswd_filename = {self.htpasswd}\n"
            "htpasswd_encryption = plain\n"
            "delay = 0\n"
            "[rights]\n"
            "type = owner_only\n"
            "[storage]\n"
            f"filesystem_folder = {self.storage}\n"
            "[web]\n"
            "type = none\n"
            "[logging]\n"
            "level = warning\n"
            "mask_passwords = True\n"
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "radicale.log"

    def start(self, timeout: float = 15.0) -> None:
        """Run the server and wait until it answers HTTP."""
        if self.process is not None and self.process.poll() is None:
            return
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(self.config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"radicale exited: {self.log.read_text()[-2000:]}")
            if self.answers():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"radicale did not answer within {timeout} s")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # 401 and friends: it is up
        except OSError:
            return False

    def stop(self) -> None:
        """Kill the server (SIGKILL: no goodbye, like a crash or a pulled cable)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel but never answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def add_user(self, name: str | None = None, password: str | None = None) -> User:
        """A fresh login; Radicale re-reads the htpasswd file on every login."""
        name = name or f"user{next(_users)}"
        password = password or secrets.token_urlsafe(12)
        with self.htpasswd.open("a") as f:
            f.write(f"{name}:{password}\n")
        return User(name, password, self.url, self)


_shared: RadicaleServer | None = None


def shared() -> RadicaleServer:
    """The session's server, started on first use and killed when the interpreter exits
    (the conformance harnesses are built without fixtures, so they use this too)."""
    global _shared
    if _shared is None:
        folder = Path(tempfile.mkdtemp(prefix="keepwarm-radicale-"))
        server = RadicaleServer(folder)
        server.start()
        atexit.register(server.stop)
        _shared = server
    return _shared


@pytest.fixture
def radicale_user() -> User:
    """A fresh user on the session's Radicale server."""
    return shared().add_user()


@pytest.fixture
def radicale_server(tmp_path: Path) -> Iterator[RadicaleServer]:
    """A server of the test's own, for tests that kill and restart it."""
    server = RadicaleServer(tmp_path / "radicale")
    server.start()
    try:
        yield server
    finally:
        server.stop()
