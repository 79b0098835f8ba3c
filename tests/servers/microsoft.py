"""A local Microsoft identity platform and Microsoft Graph v1.0 for the tests, over HTTPS.

It speaks the documented subset keepwarm uses: the authority's OpenID discovery, the
device-code and token endpoints (a device code is approved after one pending poll; refresh
tokens can be revoked), and Graph's ``/me``, the message delta of the well-known folders
``sentitems``, ``inbox`` and ``archive`` (paging, deltaLink, 410; 404 for a folder the
mailbox lacks; every message with a ``conversationId`` and a ``webLink``; a raw message's
``uniqueBody``, as text with ``Prefer: outlook.body-content-type="text"`` else as HTML, and
only to a token with ``Mail.Read``: ``Mail.ReadBasic`` gets 403 for it),
calendarView delta, calendars and events CRUD with single-value extended properties and
``$filter`` on them, ``transactionId`` dedup, etags and 412; the address book (contacts,
contact folders and their delta) is ``tests.servers.graph_contacts``. Access tokens carry
the scopes asked for, and a refresh asking for a scope the user never consented to is
refused (AADSTS65001), as Entra ID does. Faults can be injected per
request: 429 or 503 with ``Retry-After``, 500, slow answers, connections dropped before or
after the request was carried out; or a share of every request fails (``plan``, see
tests.servers.faultplan).

MSAL insists on https, so the server has a throw-away self-signed certificate made at test
time with ``cryptography`` (which msal depends on anyway), trusted through
``REQUESTS_CA_BUNDLE`` pointing at certifi's bundle plus that certificate. Delta tokens hold
their whole state (sequence numbers of a change log), like Graph's opaque ones.
"""

from __future__ import annotations

import base64
import email
import hashlib
import html
import ipaddress
import json
import os
import re
import secrets
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.policy import default as default_policy
from email.utils import getaddresses, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors.graphzones import GRAPH_IANA
from connectors.outlook import OutlookConnector
from daemon.model import AccountConfig, Address, Meeting
from tests.servers.faultplan import FaultPlan, digest, reset
from tests.servers.graph_contacts import ContactBook

CLIENT_ID = "6f1c2a7e-0000-4000-8000-00000000c11e"
TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
USER_OID = "00000000-0000-0000-66f3-3332eca7ea81"
USER = "me@contoso.example"
PROXIES = ["SMTP:me@contoso.example", "smtp:Me.Alias@Contoso.Example", "X500:/o=Contoso/cn=me",
           "SIP:me@contoso.example"]
_RESERVED = {"openid", "profile", "offline_access"}
_FAULT_CODES = {"429": "TooManyRequests", "503": "ServiceUnavailable",
                "500": "ServiceUnavailable", "410": "SyncStateNotFound"}
_BODIES = {"body", "uniqueBody"}  # need Mail.Read: Mail.ReadBasic is refused them
_lock = threading.Lock()
_tls: dict[str, str] = {}


def certificate() -> dict[str, str]:
    """The session's throw-away certificate: paths of cert, key and the trust bundle."""
    with _lock:
        if not _tls:
            folder = Path(tempfile.mkdtemp(prefix="kw-ms-tls-"))
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keepwarm test server")])
            now = datetime.now(UTC)
            ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
            cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                    .public_key(key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - timedelta(days=1))
                    .not_valid_after(now + timedelta(days=7))
                    .add_extension(x509.SubjectAlternativeName([
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                    .add_extension(ski, critical=False)
                    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                        ski), critical=False)
                    .sign(key, hashes.SHA256()))
            pem = cert.public_bytes(serialization.Encoding.PEM)
            (folder / "cert.pem").write_bytes(pem)
            (folder / "key.pem").write_bytes(key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
            (folder / "bundle.pem").write_bytes(Path(certifi.where()).read_bytes() + b"\n" + pem)
            _tls.update(cert=str(folder / "cert.pem"), key=str(folder / "key.pem"),
                        bundle=str(folder / "bundle.pem"))
        return dict(_tls)


def trust() -> None:
    """Make requests (and so MSAL) trust the test certificate, for the whole process; the
    bundle keeps certifi's authorities, so nothing else loses trust."""
    os.environ["REQUESTS_CA_BUNDLE"] = certificate()["bundle"]


@dataclass(frozen=True)
class Hit:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    status: int  # 0: the connection was dropped
    start: float
    end: float


@dataclass
class Fault:
    kind: str  # 429 | 503 | 500 | 410 | slow | drop | drop_after | reset
    method: str | None
    path: str | None  # a substring of the path
    times: int
    seconds: float  # how slow, or the Retry-After of a 429 or 503
    retry_after: bool = True  # False: a 429 or 503 without Retry-After


@dataclass
class Item:
    """A message or event with its place in the change log; deleted ones stay as tombstones."""

    data: dict[str, Any]
    seq: int
    calendar: str = ""  # an event's calendar id, or a message's well-known folder name
    deleted: bool = False


@dataclass
class _State:
    messages: dict[str, Item] = field(default_factory=dict)
    events: dict[str, Item] = field(default_factory=dict)
    calendars: dict[str, str] = field(default_factory=lambda: {"cal-default": "Calendar"})
    seq: int = 0
    epoch: int = 0
    access: dict[str, float] = field(default_factory=dict)  # token -> expiry
    refresh: set[str] = field(default_factory=set)
    devices: dict[str, int] = field(default_factory=dict)  # device code -> polls
    scopes: list[str] = field(default_factory=list)
    consented: set[str] = field(default_factory=set)  # every scope the user ever granted
    granted: dict[str, set[str]] = field(default_factory=dict)  # access token -> its scopes


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(state: dict[str, Any]) -> str:
    return _b64(json.dumps(state, sort_keys=True).encode())


def _untoken(text: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class MicrosoftServer:
    """One tenant with one user's mailbox; ``start()`` serves it on a free loopback port."""

    def __init__(self, max_page: int = 1000, token_lifetime: int = 3600) -> None:
        self.max_page = max_page
        self.token_lifetime = token_lifetime
        self.state = _State()
        self.faults: list[Fault] = []
        self.plan: FaultPlan | None = None  # a share of every Graph request fails
        self.log: list[Hit] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.folders = {"sentitems", "inbox", "archive"}  # a test may take archive away
        self.book = ContactBook(self)  # the address book (tests.servers.graph_contacts)
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- running ---------------------------------------------------------------------
    def start(self) -> MicrosoftServer:
        tls = certificate()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls["cert"], tls["key"])
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30

            def handle_one(self) -> None:
                app.handle(self)

            do_GET = do_POST = do_PATCH = do_DELETE = handle_one

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    def account(self, tmp_path: Path, name: str = "outlook", holds_reminders: bool = False,
                **extra: Any) -> AccountConfig:
        """An ``[[accounts]]`` table of this server (every option present, as config gives)."""
        options = OutlookConnector.with_defaults({
            "client_id": CLIENT_ID, "authority_host": self.url,
            "graph_endpoint": f"{self.url}/v1.0", "retries": 3, "timeout": 10,
            "token_cache": str(tmp_path / f"{name}.msal-cache.bin"), **extra})
        return AccountConfig(name=name, type="outlook", options=options,
                             holds_reminders=holds_reminders, state_dir=str(tmp_path))

    def sign_in(self, account: AccountConfig) -> list[str]:
        """Run keepwarm's device-code sign-in for ``account``; returns what it said."""
        said: list[str] = []
        conn = OutlookConnector(account)
        conn.authenticate(open_browser=False, say=said.append)
        conn.close()
        return said

    # -- playing the user and Exchange -------------------------------------------------
    def _bump(self, item: Item) -> Item:
        self.state.seq += 1
        item.seq = self.state.seq
        return item

    def add_message(self, folder: str = "sentitems", **data: Any) -> str:
        """A message in ``folder`` (Sent Items unless told), Graph-shaped (``toRecipients``
        ... ``sentDateTime``); a conversation of its own unless ``conversationId`` is given."""
        with self._lock:
            mid = data.setdefault("id", "AAMkMsg" + secrets.token_hex(8))
            data.setdefault("receivedDateTime", data.get("sentDateTime"))
            seed = hashlib.sha256(str(data.get("internetMessageId") or mid).encode()).hexdigest()
            data.setdefault("conversationId", "AAQkConv" + seed[:12])  # the same in every run
            data.setdefault("webLink", f"https://outlook.office365.com/owa/?ItemID=AAMk{seed[:16]}"
                                       "&exvsurl=1&viewmodel=ReadMessageItem")
            self.state.messages[mid] = self._bump(Item(data, 0, folder))
            return str(mid)

    def conversation(self, mid: str) -> str:
        return str(self.state.messages[mid].data["conversationId"])

    def add_raw_message(self, raw: bytes, folder: str = "sentitems", **extra: Any) -> str:
        """Deliver an RFC 5322 message the way Exchange would show it through Graph."""
        head = BytesHeaderParser(policy=default_policy).parsebytes(raw)

        def people(name: str) -> list[dict[str, Any]]:
            values = [str(v) for v in head.get_all(name) or []]
            return [{"emailAddress": {"name": n, "address": a}}
                    for n, a in getaddresses(values) if "@" in a]

        try:
            sent = parsedate_to_datetime(str(head["Date"])).astimezone(UTC)
        except (TypeError, ValueError):
            sent = datetime.now(UTC)
        sender = people("From")
        answered = set(re.findall(r"<([^<>]+)>", " ".join(
            str(head.get(h, "")) for h in ("In-Reply-To", "References"))))
        conversation = [it.data["conversationId"] for it in self.state.messages.values()
                        if str(it.data.get("internetMessageId") or "").strip("<>") in answered]
        if conversation:  # Exchange files an answer into its conversation
            extra.setdefault("conversationId", conversation[0])
        return self.add_message(
            folder, **{"uniqueBody": unique_body(raw), **extra},
            toRecipients=people("To"), ccRecipients=people("Cc"), bccRecipients=people("Bcc"),
            **({"from": sender[0]} if sender else {}),
            sentDateTime=sent.strftime("%Y-%m-%dT%H:%M:%SZ"),
            internetMessageId=str(head["Message-ID"] or "") or None,
            subject=str(head["Subject"] or ""),
            internetMessageHeaders=[{"name": k, "value": str(v)} for k, v in head.items()])

    def delete_message(self, mid: str) -> None:
        with self._lock:
            self._bump(self.state.messages[mid]).deleted = True

    def calendar_id(self, name: str) -> str | None:
        return next((i for i, n in self.state.calendars.items() if n.lower() == name.lower()),
                    None)

    def add_calendar(self, name: str) -> str:
        with self._lock:
            cid = "cal-" + secrets.token_hex(6)
            self.state.calendars[cid] = name
            return cid

    def add_event(self, calendar: str = "Calendar", **data: Any) -> str:
        """An event as the user's calendar app or Exchange made it (``start``/``end`` as
        Graph's dateTimeTimeZone, UTC)."""
        with self._lock:
            cid = self.calendar_id(calendar) or self.add_calendar(calendar)
            eid = data.setdefault("id", "AAMkEvt" + secrets.token_hex(8))
            data.setdefault("iCalUId", "040000008200E00074C5B7101A82E008" + secrets.token_hex(8))
            data.setdefault("type", "singleInstance")
            data["changeKey"] = secrets.token_hex(6)
            self.state.events[eid] = self._bump(Item(data, 0, cid))
            return str(eid)

    def edit_event(self, eid: str, **fields: Any) -> None:
        with self._lock:
            item = self.state.events[eid]
            item.data.update(fields, changeKey=secrets.token_hex(6))
            self._bump(item)

    def delete_event(self, eid: str) -> None:
        with self._lock:
            self._bump(self.state.events[eid]).deleted = True

    def events(self, calendar: str) -> dict[str, dict[str, Any]]:
        """id -> a copy of each live event in ``calendar`` (extended properties included)."""
        cid = self.calendar_id(calendar)
        with self._lock:
            return {i: json.loads(json.dumps(it.data)) for i, it in self.state.events.items()
                    if it.calendar == cid and not it.deleted}

    def expire_delta_tokens(self) -> None:
        self.state.epoch += 1

    def expire_access_tokens(self) -> None:
        self.state.access.clear()

    def revoke_refresh_tokens(self) -> None:
        self.state.refresh.clear()

    def fault(self, kind: str, method: str | None = None, path: str | None = None,
              times: int = 1, seconds: float = 0.0, retry_after: bool = True) -> None:
        """``retry_after`` False: a 429 or 503 without the header."""
        self.faults.append(Fault(kind, method, path, times, seconds, retry_after))

    def hits(self, method: str | None = None, path: str = "") -> list[Hit]:
        return [h for h in list(self.log) if (method is None or h.method == method)
                and path in h.path]

    # -- serving ---------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path = unquote(parts.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        start = time.monotonic()
        graph = path.startswith("/v1.0/")
        fault = self._take_fault(h.command, path, f"{h.path} {digest(raw)}") if graph else None
        with self._lock:
            self.in_flight += graph
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        status = 0
        logged: list[bool] = []

        def record(status: int) -> None:
            if not logged:
                logged.append(True)
                with self._lock:
                    self.log.append(Hit(h.command, path, query, status, start, time.monotonic()))

        try:
            if fault and fault.kind == "slow":
                time.sleep(fault.seconds)
            if fault and fault.kind == "drop":
                h.close_connection = True
                return
            if fault and fault.kind == "reset":
                reset(h)
                return
            if fault and fault.kind in _FAULT_CODES:
                status = int(fault.kind)
                body = {"error": {"code": _FAULT_CODES[fault.kind], "message": "injected fault"}}
                extra = ({"Retry-After": f"{fault.seconds:g}"}
                         if fault.kind in ("429", "503") and fault.retry_after else {})
            else:
                try:
                    status, body, extra = self._route(h.command, path, query, raw, h.headers)
                except Exception as exc:  # a bug of this fake: say it in the answer
                    status, body, extra = 500, {"error": {"code": "FakeServerBug",
                                                          "message": repr(exc)}}, {}
            if fault and fault.kind == "drop_after":
                status, h.close_connection = 0, True
                return
            data = b"" if body is None else json.dumps(body).encode()
            record(status)  # before the answer leaves: a client holding it finds it logged
            h.send_response(status)
            for key, value in {"Content-Type": "application/json",
                               "Content-Length": str(len(data)), **extra}.items():
                h.send_header(key, value)
            h.end_headers()
            h.wfile.write(data)
        finally:
            record(status)  # a dropped connection: logged when it is dropped
            with self._lock:
                self.in_flight -= graph

    def _take_fault(self, method: str, path: str, request: str) -> Fault | None:
        """The fault this request meets: the first set up for it, else the plan's."""
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method in (None, method) and (
                        fault.path is None or fault.path in path):
                    fault.times -= 1
                    return fault
        planned = None if self.plan is None else self.plan.fault(f"{method} {request}")
        if planned is None:
            return None
        return Fault(str(planned.status or "reset"), method, path, 1,
                     planned.retry_after or 0.0, planned.retry_after is not None)

    def _route(self, method: str, path: str, query: dict[str, str], raw: bytes,
               headers: Any) -> tuple[int, Any, dict[str, str]]:
        if not path.startswith("/v1.0/"):
            return self._identity(method, path, raw)
        token = str(headers.get("Authorization") or "").removeprefix("Bearer ")
        with self._lock:
            if self.state.access.get(token, 0) < time.time():
                return 401, {"error": {"code": "InvalidAuthenticationToken",
                                       "message": "Access token has expired."}}, {}
            body = json.loads(raw) if raw else None
            prefer = str(headers.get("Prefer") or "")
            return self._graph(method, path[len("/v1.0"):], query, body, headers, prefer)

    # -- identity --------------------------------------------------------------------
    def _identity(self, method: str, path: str, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        tenant = path.split("/")[1]
        base = f"{self.url}/{tenant}/oauth2/v2.0"
        if method == "GET" and path.endswith("/v2.0/.well-known/openid-configuration"):
            return 200, {"issuer": f"{self.url}/{TENANT_ID}/v2.0",
                         "authorization_endpoint": f"{base}/authorize",
                         "token_endpoint": f"{base}/token",
                         "device_authorization_endpoint": f"{base}/devicecode"}, {}
        with self._lock:
            if path.endswith("/devicecode"):
                if form.get("client_id") != CLIENT_ID:
                    return 400, {"error": "unauthorized_client", "error_description":
                                 "AADSTS700016: Application not found in the directory."}, {}
                self.state.scopes = form.get("scope", "").split()
                code, user_code = secrets.token_urlsafe(16), secrets.token_hex(4).upper()
                self.state.devices[code] = 0
                return 200, {"device_code": code, "user_code": user_code,
                             "verification_uri": f"{self.url}/devicelogin", "expires_in": 900,
                             "interval": 0, "message": f"To sign in, use a web browser to open "
                             f"the page {self.url}/devicelogin and enter the code {user_code} "
                             "to authenticate."}, {}
            grant = form.get("grant_type", "")
            if grant.endswith("device_code") and form.get("device_code") in self.state.devices:
                self.state.devices[form["device_code"]] += 1
                if self.state.devices[form["device_code"]] == 1:
                    return 400, {"error": "authorization_pending", "error_description":
                                 "AADSTS70016: OAuth 2.0 device flow error."}, {}
                self.state.consented |= set(self.state.scopes) - _RESERVED
                return 200, self._issue({"scope": " ".join(self.state.scopes)}), {}
            if grant == "refresh_token" and form.get("refresh_token") in self.state.refresh:
                if set(form.get("scope", "").split()) - _RESERVED - self.state.consented:
                    return 400, {"error": "invalid_grant", "suberror": "consent_required",
                                 "error_description": "AADSTS65001: The user or administrator "
                                 "has not consented to use the application."}, {}
                return 200, self._issue(form), {}
        return 400, {"error": "invalid_grant", "suberror": "bad_token", "error_description":
                     "AADSTS70008: The refresh token has expired or was revoked."}, {}

    def _issue(self, form: dict[str, str]) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        self.state.access[access] = time.time() + self.token_lifetime
        self.state.refresh.add(refresh)
        now = int(time.time())
        claims = {"aud": CLIENT_ID, "iss": f"{self.url}/{TENANT_ID}/v2.0", "iat": now,
                  "nbf": now, "exp": now + 3600, "name": "Me", "oid": USER_OID,
                  "preferred_username": USER, "sub": "sub-" + USER_OID, "tid": TENANT_ID,
                  "ver": "2.0"}
        id_token = ".".join(_b64(json.dumps(part).encode()) for part in (
            {"alg": "none", "typ": "JWT"}, claims)) + "."
        scope = [s for s in form.get("scope", "").split() if s not in _RESERVED]
        self.state.granted[access] = set(scope)
        return {"token_type": "Bearer", "scope": " ".join(scope),
                "expires_in": self.token_lifetime, "ext_expires_in": self.token_lifetime,
                "access_token": access, "refresh_token": refresh, "id_token": id_token,
                "client_info": _b64(json.dumps({"uid": USER_OID, "utid": TENANT_ID}).encode())}

    # -- Graph -------------------------------------------------------------------------
    def _graph(self, method: str, path: str, query: dict[str, str], body: Any, headers: Any,
               prefer: str) -> tuple[int, Any, dict[str, str]]:
        lower = path.lower()
        token = str(headers.get("Authorization") or "").removeprefix("Bearer ")
        contacts = self.book.route(method, path, query, token, prefer)
        if contacts is not None:
            return contacts
        if method == "GET" and lower == "/me":
            return 200, {"id": USER_OID, "displayName": "Me", "mail": USER,
                         "userPrincipalName": USER, "proxyAddresses": PROXIES}, {}
        m = re.fullmatch(r"/me/mailfolders/([^/]+)/messages/delta", lower)
        if method == "GET" and m:
            if m.group(1) not in self.folders:
                return 404, {"error": {"code": "ErrorItemNotFound",
                                       "message": "The specified object was not found in the "
                                                  "store."}}, {}
            return self._delta(f"mail:{m.group(1)}", self.state.messages, path, query, prefer,
                               self.state.granted.get(token, set()))
        if lower == "/me/calendars":
            if method == "POST":
                name = str(body.get("name", ""))
                if self.calendar_id(name):
                    return 409, {"error": {"code": "ErrorFolderExists",
                                           "message": "A folder with the specified name "
                                                      "already exists."}}, {}
                return 201, {"id": self.add_calendar(name), "name": name}, {}
            return 200, {"value": [{"id": i, "name": n, "isDefaultCalendar": i == "cal-default"}
                                   for i, n in self.state.calendars.items()]}, {}
        m = re.fullmatch(r"/me(?:/calendars/([^/]+))?/calendarview/delta", lower)
        if method == "GET" and m:
            cid = path.split("/")[3] if m.group(1) else "cal-default"
            if cid not in self.state.calendars:
                return 404, {"error": {"code": "ErrorItemNotFound"}}, {}
            return self._delta(f"cal:{cid}", self.state.events, path, query, prefer)
        m = re.fullmatch(r"/me/calendars/([^/]+)/events", path)
        if m:
            return self._events(method, m.group(1), query, body)
        m = re.fullmatch(r"/me/events/([^/]+)", path)
        if m:
            return self._event(method, m.group(1), query, body, headers)
        return 404, {"error": {"code": "BadRequest", "message": f"no route {path}"}}, {}

    def _delta(self, kind: str, items: dict[str, Item], path: str, query: dict[str, str],
               prefer: str, granted: set[str] | None = None) -> tuple[int, Any, dict[str, str]]:
        m = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        size = min(self.max_page, int(m.group(1)) if m else 10)
        if "$skiptoken" in query or "$deltatoken" in query:
            st = _untoken(query.get("$skiptoken") or query.get("$deltatoken") or "")
            if not st:
                return 400, {"error": {"code": "BadRequest",
                                       "message": "Invalid delta or skip token."}}, {}
            if st.get("epoch") != self.state.epoch or st.get("kind") != kind:
                return 410, {"error": {"code": "SyncStateNotFound",
                                       "message": "The sync state was not found."}}, {}
            if "$deltatoken" in query:
                st.update(after=st["upto"], upto=self.state.seq, full=False)
        else:
            st = {"kind": kind, "epoch": self.state.epoch, "after": 0, "upto": self.state.seq,
                  "full": True, "select": query.get("$select", ""),
                  "since": (re.findall(r"receivedDateTime ge (\S+)", query.get("$filter", ""))
                            or [""])[0],
                  "start": query.get("startDateTime"), "end": query.get("endDateTime")}
            if kind.startswith("cal:") and not (st["start"] and st["end"]):
                return 400, {"error": {"code": "ErrorInvalidParameter",
                                       "message": "startDateTime and endDateTime required"}}, {}
        if granted is not None and _BODIES & set(st["select"].split(",")) and not (
                granted & {"Mail.Read", "Mail.ReadWrite"}):
            return 403, {"error": {"code": "ErrorAccessDenied", "message": "Access is denied. "
                                   "Check credentials and try again."}}, {}
        st["text"] = 'outlook.body-content-type="text"' in prefer
        cid = kind.partition(":")[2]
        changed = sorted((it for it in items.values() if st["after"] < it.seq <= st["upto"]
                          and (not cid or it.calendar == cid)), key=lambda it: it.seq)
        out: list[dict[str, Any]] = []
        more = False
        for it in changed:
            entry = self._delta_entry(it, st)
            if entry is None:
                continue
            if len(out) == size:
                more = True
                break
            out.append(entry)
            st["after"] = it.seq
        root = f"{self.url}/v1.0{path}"
        link = (f"{root}?$skiptoken={_token(st)}" if more else
                f"{root}?$deltatoken={_token({**st, 'after': st['upto']})}")
        return 200, {"value": out, ("@odata.nextLink" if more else "@odata.deltaLink"): link}, {}

    def _delta_entry(self, it: Item, st: dict[str, Any]) -> dict[str, Any] | None:
        if it.deleted:
            return None if st["full"] else {"id": it.data["id"], "@removed": {"reason": "deleted"}}
        if st["kind"].startswith(("mail:", "contacts:")):
            received = it.data.get("receivedDateTime")
            if st["since"] and received and _utc(received) < _utc(st["since"]):
                return None
            wanted = [f for f in st["select"].split(",") if f] or [
                k for k in it.data if k != "internetMessageHeaders"]
            entry = {k: it.data[k] for k in wanted if k in it.data and it.data[k] is not None}
            if "uniqueBody" in entry and not st.get("text"):  # Graph's default: HTML
                entry["uniqueBody"] = as_html(entry["uniqueBody"])
            return {"id": it.data["id"], **entry}
        start, end = _utc(it.data["start"]["dateTime"]), _utc(it.data["end"]["dateTime"])
        if not (start < _utc(st["end"]) and end > _utc(st["start"])):
            return None
        return self._render(it, set())

    def _render(self, it: Item, props: set[str]) -> dict[str, Any]:
        out = {k: v for k, v in it.data.items()
               if k not in ("singleValueExtendedProperties", "transactionId", "changeKey")}
        out["@odata.etag"] = f'W/"{it.data["changeKey"]}"'
        found = [p for p in it.data.get("singleValueExtendedProperties") or []
                 if p["id"] in props]
        if props:
            out["singleValueExtendedProperties"] = found
        return out

    def _events(self, method: str, cid: str, query: dict[str, str],
                body: Any) -> tuple[int, Any, dict[str, str]]:
        if cid not in self.state.calendars:
            return 404, {"error": {"code": "ErrorItemNotFound"}}, {}
        if method == "POST":
            refused = _times_refused(body)
            if refused:
                return 400, refused, {}
            tid = body.get("transactionId")
            for it in self.state.events.values():
                if tid and not it.deleted and it.data.get("transactionId") == tid:
                    return 201, self._render(it, set()), {}
            eid = self.add_event(self.state.calendars[cid], **{
                **body, "organizer": {"emailAddress": {"name": "Me", "address": USER}},
                "responseStatus": {"response": "organizer"}, "isCancelled": False})
            return 201, self._render(self.state.events[eid], set()), {}
        wanted = re.fullmatch(r"singleValueExtendedProperties/Any\(ep: ep/id eq '([^']*)' and "
                              r"ep/value (eq|ne) '([^']*)'\)", query.get("$filter", ""))
        props = set(re.findall(r"id eq '([^']*)'", query.get("$expand", "")))
        out = []
        for it in self.state.events.values():
            if it.deleted or it.calendar != cid:
                continue
            if wanted:
                values = [p.get("value", "") for p in it.data.get("singleValueExtendedProperties")
                          or [] if p["id"] == wanted.group(1)]
                if not any((v == wanted.group(3)) == (wanted.group(2) == "eq") for v in values):
                    continue
            out.append(self._render(it, props))
        skip, top = int(query.get("$skip", 0)), int(query.get("$top", 10))
        page: dict[str, Any] = {"value": out[skip:skip + top]}
        if skip + top < len(out):
            page["@odata.nextLink"] = (f"{self.url}/v1.0/me/calendars/{cid}/events?$skip="
                                       f"{skip + top}&$top={top}&$filter={query.get('$filter', '')}"
                                       f"&$expand={query.get('$expand', '')}")
        return 200, page, {}

    def _event(self, method: str, eid: str, query: dict[str, str], body: Any,
               headers: Any) -> tuple[int, Any, dict[str, str]]:
        it = self.state.events.get(eid)
        if it is None or it.deleted:
            return 404, {"error": {"code": "ErrorItemNotFound",
                                   "message": "The specified object was not found."}}, {}
        if method == "GET":
            return 200, self._render(it, set(re.findall(r"id eq '([^']*)'",
                                                        query.get("$expand", "")))), {}
        match = headers.get("If-Match")
        if match and match != f'W/"{it.data["changeKey"]}"':
            return 412, {"error": {"code": "ErrorIrresolvableConflict", "message":
                                   "The change key does not match the current change key."}}, {}
        if method == "DELETE":
            self.delete_event(eid)
            return 204, None, {}
        refused = _times_refused(body)
        if refused:
            return 400, refused, {}
        props = {p["id"]: p for p in it.data.get("singleValueExtendedProperties") or []}
        props.update({p["id"]: p for p in body.pop("singleValueExtendedProperties", [])})
        self.edit_event(eid, **body, singleValueExtendedProperties=list(props.values()))
        return 200, self._render(it, set()), {}


def _times_refused(body: Any) -> dict[str, Any] | None:
    """Graph's answer to a create or update whose times it refuses: a time zone that is
    neither Windows' (``... Standard Time``), UTC, nor one of the IANA names the
    documentation lists; an all-day event not from midnight to midnight. An all-day event it
    takes is kept as Exchange lists it: midnight of its dates, labelled UTC."""
    for key in ("start", "end"):
        when = body.get(key) if isinstance(body, dict) else None
        if not isinstance(when, dict):
            continue
        zone = str(when.get("timeZone") or "")
        if zone != "UTC" and zone not in GRAPH_IANA and not zone.endswith(" Standard Time"):
            return {"error": {"code": "TimeZoneNotSupportedException", "message":
                              "A valid TimeZone value must be specified. The following "
                              f"TimeZone value is not supported: '{zone}'."}}
        if body.get("isAllDay"):
            if str(when.get("dateTime", ""))[10:19] != "T00:00:00":
                return {"error": {"code": "ErrorPropertyValidationFailure", "message":
                                  "If isAllDay is true, start and end must be at midnight."}}
            when.update(dateTime=when["dateTime"][:10] + "T00:00:00.0000000", timeZone="UTC")
    return None


_RESPONSES = {"accepted": "accepted", "declined": "declined",
              "tentative": "tentativelyAccepted", "needs-action": "none", "delegated": "none"}


def unique_body(raw: bytes) -> dict[str, str]:
    """The ``uniqueBody`` Exchange would give a message, as text: its first text part up to
    the quoted history (an "On ... wrote:" line or the first "> " line), which Exchange cuts
    off by knowing the conversation; good enough for the tests' plain replies."""
    msg = email.message_from_bytes(raw, policy=compat32)
    parts = [p for p in msg.walk() if p.get_content_type() in ("text/plain", "text/html")]
    data = parts[0].get_payload(decode=True) if parts else b""
    text = (data if isinstance(data, bytes) else b"").decode(
        parts[0].get_content_charset() or "utf-8" if parts else "utf-8", "replace")
    kept = re.split(r"\n(?:On .*wrote:|>)", text.replace("\r\n", "\n"), maxsplit=1)[0]
    return {"contentType": "text", "content": kept.replace("\n", "\r\n")}


def as_html(body: dict[str, str]) -> dict[str, str]:
    """A text ``uniqueBody`` the way Graph sends it unless told otherwise: HTML."""
    if body.get("contentType") != "text":
        return body
    lines = "".join(f"<div>{html.escape(line)}</div>" for line in body["content"].split("\r\n"))
    return {"contentType": "html", "content": f"<html><body>{lines}</body></html>"}


def graph_event(meeting: Meeting, response: str = "none") -> dict[str, Any]:
    """The Graph event Exchange would show for ``meeting`` (times in UTC; ``response`` is the
    user's own answer)."""
    def when(t: datetime) -> dict[str, str]:
        if meeting.all_day:
            return {"dateTime": t.strftime("%Y-%m-%dT00:00:00.0000000"), "timeZone": "UTC"}
        return {"dateTime": t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                "timeZone": "UTC"}

    def person(a: Address) -> dict[str, Any]:
        return {"emailAddress": {"name": a.name, "address": a.email}}

    return {"iCalUId": meeting.meeting_id, "subject": meeting.summary,
            "start": when(meeting.start), "end": when(meeting.end),
            "isAllDay": meeting.all_day, "isCancelled": meeting.status == "cancelled",
            "showAs": "free" if meeting.free else "busy",
            "organizer": person(meeting.organizer) if meeting.organizer else None,
            "attendees": [{**person(a.address), "type": "required",
                           "status": {"response": _RESPONSES[a.status], "time": None}}
                          for a in meeting.attendees],
            "responseStatus": {"response": response}}


@pytest.fixture
def microsoft() -> Iterator[MicrosoftServer]:
    """A fresh Microsoft identity + Graph server on loopback, trusted by requests."""
    trust()
    server = MicrosoftServer().start()
    yield server
    server.stop()
