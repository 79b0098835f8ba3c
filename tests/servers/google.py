"""A local stand-in for Google: the documented subset of Gmail v1, Calendar v3, People v1
(contacts) and the OAuth endpoints that keepwarm uses, on a loopback port, in a thread.

What it models, because keepwarm depends on it: paging with ``nextPageToken``; ``multipart/
mixed`` batches (each part answered on its own); ``historyId`` and the 404 for an expired one;
``syncToken`` and the 410 for an expired one; deleted events that come back from incremental
sync with only their id; ``extendedProperties`` and ``privateExtendedProperty`` filtering;
etags, ``If-Match`` and 412; client-chosen event ids and the 409 for a reused one; scopes
(``gmail.metadata`` refuses ``q`` and bodies, ``calendar.app.created`` writes only calendars
the same OAuth client created); access-token expiry, refresh, revoked refresh tokens; the
installed-app consent with PKCE; a per-user rolling one-minute quota in Gmail units.

Faults are injected per user and per endpoint kind (``user.fault("messages.get",
status=429)``): a status with an error reason and optional Retry-After, a delay, or a dropped
or reset connection; or a share of every API call and every batch part fails (``user.plan``, see
tests.servers.faultplan). Every request is logged per user (``user.calls``), so tests can
count them.

One server serves the whole session (``shared()``); each test gets its own user, and users
never see each other's mail, calendars or tokens. The APIs themselves are in
tests.servers.gmail_api, tests.servers.gcal_api and tests.servers.people_api, OAuth in
tests.servers.google_oauth.
"""

from __future__ import annotations

import collections
import email.parser
import email.policy
import json
import re
import secrets
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from connectors.gmail import GmailConnector, scopes_for
from daemon.model import AccountConfig
from tests.servers import faultplan, gcal_api, gmail_api, google_oauth, people_api

Answer = tuple[int, dict[str, str], bytes]
UNITS = {"profile": 1, "messages.list": 5, "history.list": 2,  # messages.get: per user
         "threads.get": 10}


def error(status: int, message: str, reason: str, headers: dict[str, str] | None = None
          ) -> Answer:
    body = {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason}],
                      "status": reason.upper()}}
    return status, dict(headers or {}), json.dumps(body).encode()


def ok(data: Any, status: int = 200) -> Answer:
    return status, {}, json.dumps(data).encode()


@dataclass
class Fault:
    kind: str
    status: int = 0
    reason: str = ""
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False  # the connection closes before the request is handled
    lost: bool = False  # the request is handled, then the connection closes unanswered
    reset: bool = False  # the connection is reset (RST) before the request is handled
    times: int = 1
    match: str = ""  # only requests whose path and query contain this


@dataclass
class Message:
    id: str
    internal_ms: int
    headers: list[tuple[str, str]]
    history_id: int
    labels: tuple[str, ...] = ("SENT",)
    thread: str = ""  # the thread id: the message's own id when it starts a thread
    raw: bytes = b""  # the whole message, for format=full and raw (a body needs gmail.readonly)


@dataclass
class User:
    """One Google account: its mail, calendars, tokens, quota and pending faults."""

    server: GoogleServer
    email: str
    client_id: str
    client_secret: str
    quota: int | None = None  # Gmail units per rolling minute; None: unlimited
    get_units: int = 20
    window: float = 60.0  # the quota period in seconds (the benchmark shrinks it)
    token_lifetime: float = 3600.0
    messages: dict[str, Message] = field(default_factory=dict)
    history: list[tuple[int, str]] = field(default_factory=list)
    history_id: int = 1000
    history_floor: int = 0
    calendars: dict[str, gcal_api.Calendar] = field(default_factory=dict)
    contacts: people_api.AddressBook = field(default_factory=people_api.AddressBook)
    faults: list[Fault] = field(default_factory=list)
    plan: faultplan.FaultPlan | None = None  # a share of every API call and batch part fails
    calls: list[str] = field(default_factory=list)
    bodies_read: list[str] = field(default_factory=list)  # message ids served full or raw
    granted: dict[str, list[str]] = field(default_factory=dict)  # refresh token -> scopes
    revoked: set[str] = field(default_factory=set)
    refreshes: int = 0
    answered_429: int = 0
    spent: collections.deque[tuple[float, int]] = field(default_factory=collections.deque)
    sent_updates: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.calendars[self.email] = gcal_api.Calendar(self.email, self.email, primary=True)

    # -- the test's side ---------------------------------------------------------------
    def client_secrets(self, path: Path) -> Path:
        url = self.server.url
        path.write_text(json.dumps({"installed": {
            "client_id": self.client_id, "client_secret": self.client_secret,
            "auth_uri": url + "o/oauth2/auth", "token_uri": url + "token",
            "redirect_uris": ["http://localhost"]}}))
        return path

    def token_info(self, scopes: list[str], expired: bool = False) -> dict[str, Any]:
        """A signed-in user's authorized-user JSON (as `keepwarm auth` would have stored it),
        with Google's own token_uri in it, as google-auth writes it."""
        refresh = "1//" + secrets.token_urlsafe(24)
        with self.server.lock:
            self.granted[refresh] = list(scopes)
            access = self.server.new_access(self, scopes, 0 if expired else self.token_lifetime)
        expiry = datetime.now(UTC) + (timedelta(hours=-1) if expired else timedelta(hours=1))
        return {"token": access, "refresh_token": refresh, "client_id": self.client_id,
                "client_secret": self.client_secret, "scopes": scopes,
                "token_uri": "https://oauth2.googleapis.com/token",
                "expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def account(self, folder: Path, name: str = "google", holds_reminders: bool = False,
                scopes: list[str] | None = None, expired: bool = False,
                **options: Any) -> AccountConfig:
        """A validated-looking gmail AccountConfig for this user, signed in already: the
        client_secrets file and the token file (with the scopes the config needs) are written
        into ``folder``, which is also the state dir."""
        opts = GmailConnector.with_defaults({
            "client_secrets": str(self.client_secrets(folder / f"{name}.client.json")),
            "endpoint": self.server.url, "retries": 3, "timeout": 5,
            "quota_units_per_minute": 10**9,  # tests of the quota set their own
            **options})
        token = folder / f"{name}.google-token.json"
        if not token.exists():
            wanted = scopes if scopes is not None else scopes_for(opts, holds_reminders)
            token.write_text(json.dumps(self.token_info(wanted, expired)))
            token.chmod(0o600)
        return AccountConfig(name=name, type="gmail", options=opts,
                             holds_reminders=holds_reminders, state_dir=str(folder))

    def fault(self, kind: str, **kw: Any) -> None:
        with self.server.lock:
            self.faults.append(Fault(kind, **kw))

    def add_mail(self, raw: bytes, internal: datetime | None = None,
                 labels: tuple[str, ...] = ("SENT",), thread: str = "") -> str:
        """Deliver a message (sent by default; ``labels=("INBOX",)`` for received mail) into
        ``thread`` (a message id already added); without one, into the thread of a message
        its In-Reply-To or References names, as Gmail threads, or else a thread of its own."""
        parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        headers = [(k, _clean(v)) for k, v in parsed.items()]
        when = internal
        if when is None:
            try:
                when = parsedate_to_datetime(str(parsed.get("Date", "")))
            except (TypeError, ValueError):
                when = datetime.now(UTC)
        with self.server.lock:
            self.history_id += 1
            mid = f"{0x18C0000000000000 + len(self.history):x}"  # per user: runs compare
            self.messages[mid] = Message(mid, int(when.timestamp() * 1000), headers,
                                         self.history_id, labels,
                                         self.messages[thread].thread if thread
                                         else self._thread_of(parsed) or mid, raw)
            self.history.append((self.history_id, mid))
            return mid

    def _thread_of(self, parsed: Any) -> str:
        """The thread Gmail files ``parsed`` into: that of a stored copy of the same message,
        else of the message it answers (In-Reply-To, References), else, for a reply whose
        references were stripped (Re:), of one with its subject; '' for a thread of its own."""
        own = str(parsed.get("Message-ID", "")).strip().strip("<>")
        named = " ".join(str(parsed.get(h, "")) for h in ("In-Reply-To", "References"))
        wanted = set(re.findall(r"<([^<>]+)>", named))
        topic = _topic(str(parsed.get("Subject", "")))
        by_subject = ""
        for m in self.messages.values():
            ids = {v.strip().strip("<>") for k, v in m.headers if k.lower() == "message-id"}
            if own in ids or ids & wanted:
                return m.thread
            subjects = [_topic(v) for k, v in m.headers if k.lower() == "subject"]
            if topic and topic != str(parsed.get("Subject", "")).strip() and topic in subjects:
                by_subject = by_subject or m.thread
        return by_subject

    def delete_mail(self, mid: str) -> None:
        with self.server.lock:
            del self.messages[mid]

    def expire_history(self) -> None:
        """Every history id given out so far is now too old (Gmail keeps about a week)."""
        with self.server.lock:
            self.history_id += 1
            self.history_floor = self.history_id

    def calendar(self, cal_id: str = "primary") -> gcal_api.Calendar:
        return self.calendars[self.email if cal_id == "primary" else cal_id]

    def add_calendar(self, summary: str, by_app: bool = False) -> gcal_api.Calendar:
        with self.server.lock:
            cal = gcal_api.Calendar(f"{secrets.token_hex(8)}@group.calendar.google.com",
                                    summary, created_by=self.client_id if by_app else "")
            self.calendars[cal.id] = cal
            return cal

    def count(self, kind: str) -> int:
        return self.calls.count(kind)

    # -- quota --------------------------------------------------------------------------
    def charge(self, kind: str) -> bool:
        """Spend the call's units in the rolling minute; False when they do not fit."""
        units = self.get_units if kind == "messages.get" else UNITS.get(kind, 0)
        if self.quota is None or not units:
            return True
        now = time.monotonic()
        while self.spent and self.spent[0][0] <= now - self.window:
            self.spent.popleft()
        if sum(u for _, u in self.spent) + units > self.quota:
            self.answered_429 += 1
            return False
        self.spent.append((now, units))
        return True


def _topic(subject: str) -> str:
    """A subject without its Re:/Fwd: prefixes, as Gmail compares them to thread mail."""
    return re.sub(r"^(\s*(re|fwd?|aw|wg)\s*:\s*)+", "", subject, flags=re.IGNORECASE).strip()


def _clean(value: str) -> str:
    """A header value as Gmail's JSON carries it: unfolded, valid Unicode."""
    text = value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    return " ".join(part.strip() for part in text.replace("\r", "").split("\n"))


class GoogleServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}  # client_id -> user
        self.access: dict[str, tuple[User, list[str], float]] = {}
        self.codes: dict[str, tuple[User, list[str], str, str]] = {}
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def add_user(self, **kw: Any) -> User:
        n = len(self.users) + 1
        user = User(self, f"user{n}@example.com", f"client-{n}.apps.example",
                    secrets.token_hex(8), **kw)
        with self.lock:
            self.users[user.client_id] = user
        return user

    def new_access(self, user: User, scopes: list[str], lifetime: float) -> str:
        token = "ya29." + secrets.token_urlsafe(24)
        self.access[token] = (user, scopes, time.monotonic() + lifetime)
        return token

    # -- the APIs -----------------------------------------------------------------------
    def api(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        """One API call (alone or from inside a batch), after sign-in and faults."""
        parsed = urllib.parse.urlsplit(target)
        path = [urllib.parse.unquote(p) for p in parsed.path.strip("/").split("/")]
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        auth = headers.get("authorization", "")
        seen = self.access.get(auth.removeprefix("Bearer "))
        if seen is None or seen[2] < time.monotonic():
            return error(401, "Request had invalid authentication credentials.",
                         "unauthenticated")
        user, scopes = seen[0], set(seen[1])
        if path[:2] == ["gmail", "v1"]:
            return gmail_api.route(user, scopes, path[2:], query)
        if path[:2] == ["calendar", "v3"]:
            data = json.loads(body) if body.strip() else {}
            return gcal_api.route(user, scopes, method, path[2:], query, headers, data)
        if path[:1] == ["v1"]:  # People, served at the root as on people.googleapis.com
            return people_api.route(user.contacts, scopes, path[1:], query)
        return error(404, "Not Found", "notFound")


def kind_of(method: str, target: str) -> str:
    """The endpoint name faults and counts use: ``messages.get``, ``events.list`` ..."""
    path = urllib.parse.urlsplit(target).path.strip("/").split("/")
    if path[:2] == ["gmail", "v1"]:
        tail = path[4:]
        if path[4:5] == ["messages"]:
            return "messages.get" if len(tail) == 2 else "messages.list"
        if path[4:5] == ["threads"]:
            return "threads.get" if len(tail) == 2 else "threads.list"
        return {"profile": "profile", "history": "history.list"}.get(path[4], "gmail")
    if path[:2] == ["calendar", "v3"]:
        return gcal_api.kind(method, path[2:])
    if path[:1] == ["v1"]:
        return people_api.kind(path[1:])
    return {"token": "token", "batch": "batch"}.get(path[0], path[0])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: GoogleServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()  # headers and body go out in two writes: no Nagle wait between them
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.serve()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        kind = kind_of(self.command, self.path)
        srv = self.server
        if kind == "_stats":  # the benchmark's view of what each user cost
            with srv.lock:
                self.send(ok({u.client_id: {"calls": collections.Counter(u.calls),
                                            "answered_429": u.answered_429}
                              for u in srv.users.values()}))
            return
        if kind == "o" and self.path.startswith("/o/oauth2/auth"):
            self.send(google_oauth.consent(
                srv, urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)))
            return
        if kind == "token":
            body = google_oauth.with_basic_auth(headers, body)
        user = self.user_for(headers, body if kind == "token" else b"")
        if user is not None:
            fault = self.take_fault(user, kind, self.path)
            if fault is None and user.plan is not None and kind not in ("token", "o"):
                fault = _from_plan(user.plan.fault(_request_name(self.command, self.path,
                                                                 body, kind)))
            with srv.lock:
                user.calls.append(kind)
            if fault is not None:
                if fault.reset:
                    faultplan.reset(self)
                    return
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault.status:
                    self.send(self.fault_answer(fault, kind))
                    return
                if fault.lost:
                    self.call(self.command, self.path, headers, body, kind)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
        if kind == "token":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            with srv.lock:
                self.send(google_oauth.token(srv, form))
            return
        if kind == "batch":
            self.send(self.batch(headers, body))
            return
        self.send(self.call(self.command, self.path, headers, body, kind))

    def user_for(self, headers: dict[str, str], form: bytes) -> User | None:
        if form:
            return self.server.users.get(dict(urllib.parse.parse_qsl(form.decode())).get(
                "client_id", ""))
        seen = self.server.access.get(headers.get("authorization", "").removeprefix("Bearer "))
        return seen[0] if seen else None

    def take_fault(self, user: User, kind: str, target: str) -> Fault | None:
        with self.server.lock:
            for fault in user.faults:
                if fault.kind == kind and fault.times > 0 and fault.match in target:
                    fault.times -= 1
                    return fault
        return None

    @staticmethod
    def fault_answer(fault: Fault, kind: str) -> Answer:
        if kind in people_api.KINDS:  # the newer APIs' shape of an error
            return people_api.fault(fault.status, fault.reason, fault.retry_after)
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        reason = fault.reason or ("rateLimitExceeded" if fault.status == 429 else "backendError")
        return error(fault.status, f"injected {reason}", reason, headers)

    def call(self, method: str, target: str, headers: dict[str, str], body: bytes,
             kind: str) -> Answer:
        srv = self.server
        with srv.lock:
            seen = srv.access.get(headers.get("authorization", "").removeprefix("Bearer "))
            if seen is not None and not seen[0].charge(kind):
                return error(429, "User-rate limit exceeded", "rateLimitExceeded")
            return srv.api(method, target, headers, body)

    def batch(self, headers: dict[str, str], body: bytes) -> Answer:
        parser = email.parser.BytesParser(policy=email.policy.compat32)
        outer = parser.parsebytes(
            b"Content-Type: " + headers.get("content-type", "").encode() + b"\r\n\r\n" + body)
        boundary = "batch_" + secrets.token_hex(8)
        chunks = []
        parts: list[Any] = outer.get_payload() if outer.is_multipart() else []  # type: ignore[assignment]
        for part in parts:
            raw = str(part.get_payload())
            head, _, inner_body = raw.replace("\r\n", "\n").partition("\n\n")
            lines = head.split("\n")
            method, target = lines[0].split(" ")[:2]
            inner = {k.strip().lower(): v.strip() for k, _, v in
                     (line.partition(":") for line in lines[1:] if ":" in line)}
            kind = kind_of(method, target)
            user = self.user_for(inner, b"")
            fault = self.take_fault(user, kind, target) if user is not None else None
            if fault is None and user is not None and user.plan is not None:
                fault = _from_plan(user.plan.fault(f"{method} {target}", can_reset=False))
            if user is not None:
                with self.server.lock:
                    user.calls.append(f"batch:{kind}")
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            status, extra, data = (self.fault_answer(fault, kind)
                                   if fault is not None and fault.status
                                   else self.call(method, target, inner,
                                                  inner_body.encode(), kind))
            content_id = str(part.get("Content-ID", "<x>")).strip("<>")
            head_lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
                          "Content-Type: application/json; charset=UTF-8",
                          *(f"{k}: {v}" for k, v in extra.items())]
            chunks.append(f"--{boundary}\r\nContent-Type: application/http\r\n"
                          f"Content-ID: <response-{content_id}>\r\n\r\n"
                          + "\r\n".join(head_lines) + "\r\n\r\n" + data.decode() + "\r\n")
        payload = ("".join(chunks) + f"--{boundary}--\r\n").encode()
        return 200, {"Content-Type": f"multipart/mixed; boundary={boundary}"}, payload

    def send(self, answer: Answer) -> None:
        status, headers, body = answer
        self.send_response(status)
        headers = {"Content-Type": "application/json; charset=UTF-8", **headers}
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        try:
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a slow fault)
            self.close_connection = True


def _request_name(method: str, target: str, body: bytes, kind: str) -> str:
    """What the fault plan calls a request: a batch by the requests in it (its boundary and
    part ids are random), any other by method, target and body."""
    if kind == "batch":
        parts = re.findall(rb"^(?:GET|POST|PATCH|PUT|DELETE) \S+", body, re.MULTILINE)
        return "batch " + b" ".join(parts).decode()
    return f"{method} {target} {faultplan.digest(body)}"


def _from_plan(planned: faultplan.Fault | None) -> Fault | None:
    if planned is None:
        return None
    return Fault("planned", status=planned.status, reason=planned.reason,
                 retry_after=planned.retry_after, reset=not planned.status)


_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 409: "Conflict", 410: "Gone",
            412: "Precondition Failed", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}
_shared: GoogleServer | None = None
_shared_lock = threading.Lock()


def shared() -> GoogleServer:
    """The session's server (the conformance harnesses are built without fixtures)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = GoogleServer()
        return _shared


@pytest.fixture
def google_user() -> User:
    """A fresh user on the session's fake Google server."""
    return shared().add_user()
