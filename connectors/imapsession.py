"""The IMAP connection of ``connectors.imap``: one logged-in imapclient session, faults
turned into keepwarm's errors, and the header FETCH read straight from imaplib's reply.

Kept apart from the connector so that loading the config (which imports every connector
class) never imports imapclient; ``ImapConnector`` builds a Session when it is constructed.

Faults: refused/reset/timed-out connections, BYE and TLS failures are TransientError, retried
with backoff by ``connectors.retry`` (a new connection each time); a login the server refuses
is AuthError naming password_command or the keyring, never retried. The password is read once
per session and never appears in a log line or an error.
"""

from __future__ import annotations

import imaplib
import logging
import re
import socket
import ssl
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from imapclient.response_parser import parse_fetch_response

from connectors import passwords, retry
from connectors.bodytext import BODY_CAP
from connectors.imap import BODY_KEY, FETCH_ITEMS
from connectors.mailparse import MONTHS
from daemon.errors import AuthError, KeepwarmError, SourceError, TransientError

if TYPE_CHECKING:
    from connectors.imap import ImapConnector

log = logging.getLogger(__name__)
T = TypeVar("T")

# Login refusals that say "later", not "wrong password" (RFC 5530 response codes).
_LATER = (b"[UNAVAILABLE]", b"[INUSE]")

Fetched = tuple[bytes | None, datetime | None]  # the header fields and INTERNALDATE of a UID
# For promises (sent folders only): the whole header and the start of the body, one command.
TEXT_ITEMS = ("INTERNALDATE", "BODY.PEEK[HEADER]", f"BODY.PEEK[TEXT]<0.{BODY_CAP}>")
# One message of a UID FETCH reply as imaplib hands it over, in the two orders servers use.
_PREFIX = re.compile(
    rb'\d+ \((?:UID (\d+) INTERNALDATE "([^"]*)"|INTERNALDATE "([^"]*)" UID (\d+)) '
    rb"BODY\[HEADER\.FIELDS \([^()]*\)\] \{\d+\}")
_IDATE = re.compile(rb" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([-+]\d{4})")
_MONTHS = {name.encode(): number for name, number in MONTHS.items()}  # INTERNALDATE is bytes
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
    return _parse_slow(data, (BODY_KEY,))


def fetch_messages(client: IMAPClient, uid_set: str) -> dict[int, Fetched]:
    """UID FETCH of the whole header, INTERNALDATE and the first BODY_CAP bytes of the body
    of ``uid_set``: uid -> (header and body start, date). For ``promises = true`` only: a
    partial ``BODY.PEEK[TEXT]`` costs one command per chunk, no BODYSTRUCTURE round trip, and
    mail clients put the text part before any attachment."""
    typ, data = client._imap.uid("FETCH", uid_set, "(" + " ".join(TEXT_ITEMS) + ")")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"UID FETCH failed: {data!r}")
    return _parse_slow(data, (b"BODY[HEADER]", b"BODY[TEXT]<0>"))


def _parse_slow(data: Sequence[Any], keys: Sequence[bytes]) -> dict[int, Fetched]:
    """uid -> (the sections ``keys`` joined, INTERNALDATE) by imapclient's own parser; None
    for a message whose first section is missing."""
    out: dict[int, Fetched] = {}
    for uid, item in parse_fetch_response(list(data), normalise_times=False,
                                          uid_is_key=True).items():
        parts = [item.get(key) for key in keys]
        when = item.get(b"INTERNALDATE")
        if isinstance(when, datetime) and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        raw = b"".join(p for p in parts if isinstance(p, bytes))
        out[uid] = (raw if isinstance(parts[0], bytes) else None,
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

    def headers(self, folder: str, uidvalidity: int, uid_set: str, bodies: bool = False
                ) -> dict[int, Fetched]:
        """The header fields and INTERNALDATE of ``uid_set`` in ``folder`` (``fetch_headers``);
        with ``bodies`` the whole header and the body's start (``fetch_messages``)."""

        def fetch(c: IMAPClient) -> dict[int, Fetched]:
            self.select(c, folder, uidvalidity)
            return fetch_messages(c, uid_set) if bodies else fetch_headers(c, uid_set)

        return self.call(f"FETCH {folder}", fetch)

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
                self._password = passwords.password(c.account)
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
                message = (f"IMAP server refused the login of {c.username}@{c.host}; "
                           f"{passwords.what_to_check(c.account)}; the server said: {text}")
                raise AuthError(message.replace(self._password, "********")) from None
            client.capabilities()  # cached now, from the login reply: no extra round trip
        except BaseException:
            _shutdown(client)
            raise
        self.client, self.selected = client, None
        return client

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
