"""IMAP source: the headers of the mail in an account's Sent folder(s), over imapclient.

Why header fields by UID and nothing else: inference needs a dozen header fields, so the only
data that crosses the wire is ``BODY.PEEK[HEADER.FIELDS (...)]`` plus INTERNALDATE (the date
when the Date header is missing or absurd), for explicit UIDs in chunks of a few thousand
(``imapfolders.uid_sets``: imapclient 4.1 refuses ``1:*`` for FETCH, and Dovecot refuses
command lines of tens of thousands of UIDs). Each chunk is one Batch whose cursor says "every
UID up to here is stored", so a sync cut anywhere resumes after the last stored chunk and
loses nothing; the store drops re-read messages by Message-ID. What the cursor holds per
folder, and when a folder is read again, is decided in ``connectors.imapfolders``. An idle
sync costs LOGIN, one LIST (only when the Sent folder is discovered) and one STATUS per
folder, and downloads nothing.

Faults: refused/reset/timed-out connections, BYE and TLS failures are TransientError, retried
with backoff by ``connectors.retry`` (a new connection each time); a login the server refuses
is AuthError, never retried. The password is read once per fetch and never appears in a log
line or an error.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import re
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from imapclient.response_parser import parse_fetch_response

from connectors import imapfolders, retry, secrets
from connectors.base import Connector, Option
from connectors.imapfolders import FolderState, Status, uid_sets
from connectors.mailparse import parse_headers
from daemon.errors import AuthError, ConfigError, KeepwarmError, SourceError, TransientError
from daemon.model import JSON, AccountConfig, Batch, FetchContext, Observation, Skipped

log = logging.getLogger(__name__)
T = TypeVar("T")

FIELDS = ("FROM TO CC BCC DATE MESSAGE-ID SUBJECT LIST-ID LIST-UNSUBSCRIBE PRECEDENCE "
          "AUTO-SUBMITTED IN-REPLY-TO")
FETCH_ITEMS = ("INTERNALDATE", f"BODY.PEEK[HEADER.FIELDS ({FIELDS})]")
BODY_KEY = f"BODY[HEADER.FIELDS ({FIELDS})]".encode()
TLS_MODES = ("ssl", "starttls", "none")
# Login refusals that say "later", not "wrong password" (RFC 5530 response codes).
_LATER = (b"[UNAVAILABLE]", b"[INUSE]")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the name localhost: plain text never leaves the machine."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ImapConnector(Connector):
    """Reads the headers of sent mail from an IMAP server (Fastmail, iCloud, Dovecot, ...)."""

    type: ClassVar[str] = "imap"
    reads_mail: ClassVar[bool] = True
    options: ClassVar[Mapping[str, Option]] = {
        "host": Option(str, required=True, help="the IMAP server, e.g. imap.fastmail.com"),
        "port": Option(int, default=993, help="993 for tls = 'ssl', usually 143 otherwise"),
        "tls": Option(str, default="ssl",
                      help="'ssl' (TLS from the start), 'starttls', or 'none' (loopback only)"),
        "username": Option(str, required=True, help="the IMAP login name"),
        **secrets.PASSWORD_OPTIONS,
        "folders": Option(list, default=[],
                          help="folders to read; empty: the Sent folder (SPECIAL-USE \\Sent)"),
        **retry.RETRY_OPTIONS,
    }

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        opts = account.options
        self.host = str(opts.get("host", ""))
        self.port = int(opts.get("port", 993))
        self.tls = str(opts.get("tls", "ssl"))
        self.username = str(opts.get("username", ""))
        self.folders = [str(f) for f in opts.get("folders") or []]
        self.timeout = float(opts.get("timeout", 60))
        problems = []
        if self.tls not in TLS_MODES:
            problems.append(f"accounts[{self.name}].tls = {self.tls!r}: use one of "
                            + ", ".join(repr(m) for m in TLS_MODES))
        elif self.tls == "none" and not is_loopback(self.host):
            problems.append(
                f"accounts[{self.name}].tls = 'none' would send the password in plain text to "
                f"{self.host!r}; it is allowed only for a loopback host (127.0.0.1, ::1, "
                "localhost). Use tls = 'ssl' (port 993) or 'starttls' (port 143)")
        if not 0 < self.port < 65536:
            problems.append(f"accounts[{self.name}].port = {self.port}: not a TCP port")
        if problems:
            raise ConfigError(problems)
        self.session = Session(self)

    def close(self) -> None:
        self.session.close()

    # -- fetch -----------------------------------------------------------------
    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        states = imapfolders.load_cursor(cursor)
        folders = self._folders()  # connects now: a refused login raises here, not at next()
        return self._read(folders, states)

    def _folders(self) -> list[str]:
        if self.folders:
            self.session.call("LOGIN", lambda c: None)
            return self.folders
        listing = self.session.call("LIST", lambda c: c.list_folders())
        sent = imapfolders.find_sent(listing)
        if sent is None:
            raise SourceError(
                f"no Sent folder found on {self.host}: no folder is marked \\Sent and none is "
                f"named {', '.join(repr(n) for n in imapfolders.SENT_NAMES)}; set "
                f"accounts[{self.name}].folders to the folder(s) holding your sent mail "
                f"(folders there: {imapfolders.describe(imapfolders.names(listing))})")
        log.debug("%s: sent mail is in %r", self.name, sent)
        return [sent]

    def _read(self, folders: list[str], old: dict[str, FolderState]) -> Iterator[Batch]:
        states = {f: old[f] for f in folders if f in old}  # folders no longer read are dropped
        problems: list[str] = []
        for folder in folders:
            st = self._status(folder)
            p = imapfolders.plan(states.get(folder), st)
            states[folder] = p.state
            if p.changed:
                log.warning("%s: UIDVALIDITY of %r changed (%d in a row); reading it again",
                            self.name, folder, p.state.changes)
            if p.keeps_changing:
                problems.append(f"server keeps changing UIDVALIDITY of {folder!r} "
                                f"({p.state.changes} syncs in a row); not reading it again "
                                "until it stays the same")
                continue
            if p.skip:
                continue
            last = p.after
            for chunk_last, observations, left in self._messages(folder, st.uidvalidity,
                                                                  p.after):
                last = chunk_last
                states[folder] = FolderState(p.state.uidvalidity, last, None, p.state.changes)
                yield Batch(observations, imapfolders.dump_cursor(states), remaining=left)
            states[folder] = imapfolders.finished(p, st, last)
        yield Batch((), imapfolders.dump_cursor(states))
        if problems:
            raise SourceError(f"account {self.name!r}: " + "; ".join(problems))

    def _status(self, folder: str) -> Status:
        def status(c: IMAPClient) -> Status:
            what = ["UIDVALIDITY", "UIDNEXT", "MESSAGES"]
            if c.has_capability("CONDSTORE"):
                what.append("HIGHESTMODSEQ")
            return Status.parse(c.folder_status(folder, what), f"{self.host}: {folder!r}")

        try:
            return self.session.call(f"STATUS {folder}", status, quiet=True)
        except SourceError:
            listing = self.session.call("LIST", lambda c: c.list_folders())
            if folder in imapfolders.names(listing):
                raise
        if not self.folders:  # the Sent folder vanished between LIST and STATUS
            raise TransientError(f"folder {folder!r} disappeared during the sync")
        raise SourceError(
            f"folder {folder!r} not found on {self.host}; fix accounts[{self.name}].folders "
            f"(folders there: {imapfolders.describe(imapfolders.names(listing))})")

    def _messages(self, folder: str, uidvalidity: int,
                  after: int) -> Iterator[tuple[int, list[Observation], int]]:
        """(last UID of the chunk, its observations, messages left in the folder after it)
        for every message above ``after``."""

        def search(c: IMAPClient) -> list[int]:
            self.session.select(c, folder, uidvalidity)
            return sorted(u for u in c.search(["UID", f"{after + 1}:*"]) if u > after)

        uids = self.session.call(f"SEARCH {folder}", search)
        log.debug("%s: %d new messages in %r", self.name, len(uids), folder)
        done = 0
        for chunk, uid_set in uid_sets(uids, imapfolders.CHUNK, imapfolders.MAX_SET_CHARS):

            def fetch(c: IMAPClient, uid_set: str = uid_set) -> dict[int, Fetched]:
                self.session.select(c, folder, uidvalidity)
                return fetch_headers(c, uid_set)

            fetched = self.session.call(f"FETCH {folder}", fetch)
            observations = [obs for uid in chunk
                            if (obs := self._parse(folder, uid, fetched.get(uid))) is not None]
            done += len(chunk)
            yield chunk[-1], observations, len(uids) - done

    def _parse(self, folder: str, uid: int, item: Fetched | None) -> Observation | None:
        location = f"imap:{folder}/{uid}"
        if item is None:
            log.debug("%s vanished before it was fetched", location)
            return None
        raw, when = item
        if raw is None:
            return Skipped(location, "the server sent no header fields")
        return parse_headers(raw, location, when or datetime.now(UTC))


Fetched = tuple[bytes | None, datetime | None]  # the header fields and INTERNALDATE of a UID
# One message of a UID FETCH reply as imaplib hands it over, in the two orders servers use.
_PREFIX = re.compile(
    rb'\d+ \((?:UID (\d+) INTERNALDATE "([^"]*)"|INTERNALDATE "([^"]*)" UID (\d+)) '
    rb"BODY\[HEADER\.FIELDS \([^()]*\)\] \{\d+\}")
_IDATE = re.compile(rb" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([-+]\d{4})")
_MONTHS = {m.encode(): i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    start=1)}
_ZONES: dict[bytes, timezone] = {}


def fetch_headers(client: IMAPClient, uid_set: str) -> dict[int, Fetched]:
    """UID FETCH of the header fields and INTERNALDATE of ``uid_set``: uid -> (fields, date).

    Why not ``IMAPClient.fetch``: its generic response parser lexes the echoed
    ``BODY[HEADER.FIELDS (...)]`` name one byte at a time and costs three times what the
    server and the socket do (docs/PERFORMANCE.md). imaplib's raw reply is read here with
    one strict regex per message; any reply of another shape (unsolicited FLAGS, other item
    order, a quoted string instead of a literal) goes to imapclient's own parser instead.
    """
    imap = client._imap  # the imaplib.IMAP4 imapclient drives
    typ, data = imap.uid("FETCH", uid_set, "(" + " ".join(FETCH_ITEMS) + ")")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"UID FETCH failed: {data!r}")
    return parse_reply(data)


def parse_reply(data: Sequence[Any]) -> dict[int, Fetched]:
    """uid -> (header fields, INTERNALDATE) from imaplib's raw FETCH reply data."""
    fast = _parse_fetch(data)
    if fast is not None:
        return fast
    out: dict[int, Fetched] = {}
    for uid, item in parse_fetch_response(list(data), normalise_times=False,
                                          uid_is_key=True).items():
        raw, when = item.get(BODY_KEY), item.get(b"INTERNALDATE")
        if isinstance(when, datetime) and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        out[uid] = (raw if isinstance(raw, bytes) else None,
                    when if isinstance(when, datetime) else None)
    return out


def _parse_fetch(data: Sequence[Any]) -> dict[int, Fetched] | None:
    """The common reply shape only: ``(b'N (UID u INTERNALDATE "d" BODY[...] {n}', fields)``
    then ``b')'`` per message. None when anything else is in it."""
    out: dict[int, Fetched] = {}
    open_item = False
    for item in data:
        if isinstance(item, tuple) and not open_item and len(item) == 2:
            m = _PREFIX.fullmatch(item[0])
            if m is None:
                return None
            out[int(m.group(1) or m.group(4))] = (item[1], internaldate(m.group(2) or m.group(3)))
            open_item = True
        elif item == b")" and open_item:
            open_item = False
        elif item is None and not data[1:]:  # imaplib's way of saying "no FETCH reply"
            return out
        else:
            return None
    return None if open_item else out


def internaldate(value: bytes) -> datetime | None:
    """``22-Nov-2026 09:30:00 +0100`` as an aware datetime; None if it is not one."""
    m = _IDATE.fullmatch(value)
    month = _MONTHS.get(m.group(2).lower()) if m else None
    if m is None or month is None:
        return None
    zone = _ZONES.get(m.group(7))
    if zone is None:
        sign = -1 if m.group(7)[:1] == b"-" else 1
        minutes = int(m.group(7)[1:3]) * 60 + int(m.group(7)[3:5])
        zone = _ZONES.setdefault(m.group(7), timezone(sign * timedelta(minutes=minutes)))
    try:
        return datetime(int(m.group(3)), month, int(m.group(1)), int(m.group(4)),
                        int(m.group(5)), int(m.group(6)), tzinfo=zone)
    except ValueError:
        return None


class Session:
    """One logged-in IMAPClient, opened on first use and again after a dropped connection."""

    def __init__(self, conn: ImapConnector) -> None:
        self.conn = conn
        self.client: IMAPClient | None = None
        self.selected: str | None = None
        self._password: str | None = None

    def call(self, what: str, fn: Callable[[IMAPClient], T], quiet: bool = False) -> T:
        """``fn(client)``, with faults turned into keepwarm errors and transient ones retried."""
        return retry.call(self.conn.account, what, lambda: self._once(what, fn, quiet))

    def _once(self, what: str, fn: Callable[[IMAPClient], T], quiet: bool) -> T:
        server = f"IMAP server {self.conn.host}:{self.conn.port}"
        try:
            return fn(self.client or self._connect())
        except KeepwarmError:
            raise
        except (imaplib.IMAP4.abort, OSError) as exc:  # BYE, EOF, reset, timeout, TLS
            self._drop()
            raise TransientError(f"{server}: {self._text(exc)} ({what})") from None
        except imaplib.IMAP4.error as exc:  # NO / BAD: the server refused this command
            if not quiet:
                log.warning("%s refused %s: %s", server, what, self._text(exc))
            raise SourceError(f"{server} refused {what}: {self._text(exc)}") from None

    def select(self, client: IMAPClient, folder: str, uidvalidity: int) -> None:
        """EXAMINE ``folder`` unless selected; its UIDs must still mean what STATUS said."""
        if self.selected == folder:
            return
        reply = client.select_folder(folder, readonly=True)
        self.selected = folder
        now = reply.get(b"UIDVALIDITY")
        if now is not None and int(now) != uidvalidity:
            raise SourceError(f"UIDVALIDITY of {folder!r} changed during the sync; the next "
                              "sync reads the folder again")

    def _connect(self) -> IMAPClient:
        c = self.conn
        context = ssl.create_default_context() if c.tls != "none" else None
        client = IMAPClient(c.host, c.port, ssl=c.tls == "ssl", ssl_context=context,
                            timeout=c.timeout)
        try:
            # imaplib at imapclient's debug level 5 formats every reply line and dumps whole
            # FETCH replies into log calls: slow, and header contents do not belong in logs.
            client._imap.debug = 0
            if c.tls == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise SourceError(
                        f"IMAP server {c.host}:{c.port} does not offer STARTTLS; set "
                        f"accounts[{c.name}].tls = 'ssl' (usually port 993)")
                client.starttls(context)
            if self._password is None:
                self._password = secrets.password(c.account)
            try:
                if (c.username + self._password).isascii():
                    client.login(c.username, self._password)
                else:  # LOGIN is ASCII-only; AUTHENTICATE PLAIN carries UTF-8
                    client.plain_login(c.username, self._password)
            except LoginError as exc:
                text = self._text(exc)
                if any(code.decode() in text for code in _LATER):
                    raise TransientError(f"IMAP server {c.host} cannot log in "
                                         f"{c.username} right now: {text}") from None
                message = (f"IMAP server refused the login of {c.username}@{c.host}; check "
                           f"the password ({self._source()}); the server said: {text}")
                raise AuthError(message.replace(self._password, "********")) from None
            client.capabilities()  # cached now, from the login reply: no extra round trip
        except BaseException:
            _shutdown(client)
            raise
        self.client, self.selected = client, None
        return client

    def _source(self) -> str:
        command = self.conn.account.options.get("password_command")
        if command:
            return f"password_command: {command}"
        return f"keyring: keyring set {secrets.KEYRING_SERVICE} {self.conn.name}"

    def _text(self, exc: BaseException) -> str:
        """The error's text, decoded, with the password blanked should a server echo it."""
        if isinstance(exc, socket.timeout):
            text = f"no answer within {self.conn.timeout:g} s"
        else:
            arg = exc.args[0] if len(exc.args) == 1 else exc
            text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
            text = text.removeprefix("b'").removesuffix("'") or type(exc).__name__
        if self._password:
            text = text.replace(self._password, "********")
        return text

    def _drop(self) -> None:
        if self.client is not None:
            _shutdown(self.client)
        self.client, self.selected = None, None

    def close(self) -> None:
        """Log out politely; a dead connection is simply closed."""
        if self.client is not None:
            try:
                self.client.logout()
            except Exception:
                _shutdown(self.client)
        self.client, self.selected = None, None


def _shutdown(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:  # already closed
        log.debug("IMAP connection was already closed")
