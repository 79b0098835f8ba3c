"""The one header parser every mail source shares (Maildir, mbox, IMAP).

Why not ``email.parser``: building a full message object costs ~200 us per message, and
keepwarm needs a dozen header fields of each message, sent or received, never the body. This
module finds the header block, picks only the wanted fields with one regex over bytes, splits
addresses with ``connectors.addrlist`` (the same on every Python, where the standard
library's parser is not). It never raises for one bad message: a message with nothing usable
comes back as ``Skipped``.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import BinaryIO

from connectors.addrlist import pairs
from connectors.text import clean_text
from daemon.model import Address, Mail, Skipped

log = logging.getLogger(__name__)

# Only this much of a message is ever looked at; a longer header block is cut here.
HEADER_CAP = 256 * 1024
SUBJECT_CAP = 500
VALUE_CAP = 998  # RFC 5322 line limit: caps list-id, list-unsubscribe and the like
EARLIEST_DATE = datetime(1980, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)
SYNTHETIC_ID_DOMAIN = "keepwarm.invalid"
MAX_REFERENCES = 20  # the ids nearest the message: enough to find its thread, bounded in size
_READ_CHUNK = 16 * 1024

_FIELD = re.compile(
    rb"\n(from|to|cc|bcc|date|message-id|subject|list-id|list-unsubscribe|precedence"
    rb"|auto-submitted|in-reply-to|references|x-autoreply|x-autorespond|x-autoresponder"
    rb"|content-type)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)",
    re.IGNORECASE,
)
_ANY_FIELD = re.compile(rb"(?:^|\n)[!-9;-~]+[ \t]*:")
_MULTI = frozenset((b"to", b"cc", b"bcc"))
# Present at all (any value): an autoresponder wrote it (vacation, ticket systems).
_AUTOREPLY = frozenset((b"x-autoreply", b"x-autorespond", b"x-autoresponder"))
_REPORT = re.compile(rb"\s*multipart/report\b", re.IGNORECASE)  # a bounce or a receipt

# Addresses: local@domain, no whitespace or specials, a domain of two or more labels
# (so bare hosts like "localhost" and "x@y" are dropped), no address literals.
_VALID_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"\\]+@[\w-]+(?:\.[\w-]+)+")

_MSG_ID = re.compile(r"<([^<>]*)>")
_PLAIN_REF = re.compile(r"<\s*([!-;=?-~]+)\s*>")  # an ASCII id: printable, no blank, no <>
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")
# The Date form nearly every mailer writes ("Mon, 2 Nov 2026 09:05:00 +0100"), read without
# the stdlib's general parser (a fifth of the parse time); anything else goes to the stdlib.
_PLAIN_DATE = re.compile(
    r"(?:[A-Za-z]{3},\s*)?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2})(?::(\d{2}))?"
    r" ([+-])(\d{2})(\d{2})(?: \([^()]*\))?")
# English month abbreviations as every mail date writes them (RFC 5322 Date, the mbox
# separator's asctime, IMAP's INTERNALDATE): lower case -> 1..12.
MONTHS = {m: n for n, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def find_header_end(data: bytes, start: int = 0, stop: int | None = None) -> tuple[int, int]:
    """(end, body): the header block is ``data[start:end]``, the body starts at ``body``.

    (-1, -1) when no blank line ends the header block within ``data[start:stop]``. A block
    that starts with a blank line is empty (end == start).
    """
    stop = len(data) if stop is None else min(stop, len(data))
    if data.startswith(b"\n", start):
        return start, start + 1
    if data.startswith(b"\r\n", start):
        return start, start + 2
    lf = data.find(b"\n\n", start, stop)
    crlf = data.find(b"\n\r\n", start, stop)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, crlf + 3
    if lf >= 0:
        return lf, lf + 2
    return -1, -1


def read_header_block(f: BinaryIO) -> bytes:
    """The header block of the message in ``f``, read in small chunks up to the blank line.

    Returns the block plus its terminating blank line, or the whole file when it has no
    blank line; when the block runs past HEADER_CAP, the first HEADER_CAP + 1 bytes (so
    parse_headers can tell it was cut). A 50 MB message costs one 16 KiB read.
    """
    buf = b""
    while len(buf) <= HEADER_CAP:
        chunk = f.read(_READ_CHUNK)
        if not chunk:
            return buf
        buf += chunk
        _, body = find_header_end(buf)
        if body >= 0:
            return buf[:body]
    return buf[: HEADER_CAP + 1]


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    data = payload.encode("ascii", "replace")
    try:
        if encoding in "qQ":
            return binascii.a2b_qp(data, header=True)
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return None


def _charset_decode(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset.partition("*")[0], "replace")
    except (LookupError, ValueError):  # unknown or strict-only charset: UTF-8 is likeliest
        return data.decode("utf-8", "replace")


def decode_words(s: str) -> str:
    """Decode RFC 2047 encoded-words best-effort: unknown charsets and bad bytes never raise.

    Adjacent words of one charset are joined before decoding (encoders split multi-byte
    characters across words), whitespace between encoded-words is dropped as the RFC says.
    """
    if "=?" not in s:
        return s
    out: list[str] = []
    run, run_charset, pos, after_word = b"", "", 0, False
    for m in _ENCODED_WORD.finditer(s):
        data = _word_bytes(m.group(2), m.group(3))
        if data is None:  # undecodable payload: its raw text stays, as part of the next gap
            continue
        gap = s[pos : m.start()]
        charset = m.group(1).lower()
        joinable = after_word and (not gap or gap.isspace())
        if not (joinable and charset == run_charset):
            if run:
                out.append(_charset_decode(run, run_charset))
                run = b""
            if not joinable:
                out.append(gap)
            run_charset = charset
        run += data
        pos, after_word = m.end(), True
    if run:
        out.append(_charset_decode(run, run_charset))
    out.append(s[pos:])
    return "".join(out)


def parse_addresses(values: Iterable[str]) -> tuple[Address, ...]:
    """Addresses of raw (still encoded) header values; invalid addresses are dropped.

    Parsing comes before RFC 2047 decoding so that a decoded comma in a display name
    (``=?utf-8?q?M=C3=BCller=2C_Hans?=``) cannot split one address into two.
    """
    out: list[Address] = []
    for value in values:
        for name, addr in pairs(value):
            email = addr.strip().lower()
            if not _VALID_EMAIL.fullmatch(email):
                continue
            out.append(Address(email, clean_text(decode_words(name)) if name else ""))
    return tuple(out)


def _decode(value: bytes) -> str:
    """Unfold one raw header value and decode it (UTF-8, else Latin-1 for raw 8-bit bytes)."""
    value = value.replace(b"\r", b"").replace(b"\n", b"")
    try:
        return value.decode("utf-8").strip()
    except UnicodeDecodeError:
        return value.decode("latin-1").strip()


def _msg_id(value: str) -> str:
    m = _MSG_ID.search(value)
    return "".join(clean_text(m.group(1) if m else value).split()).strip("<>")


def parse_date(value: str) -> datetime:
    """``email.utils.parsedate_to_datetime``, with the same result, faster for plain dates."""
    m = _PLAIN_DATE.fullmatch(value)
    month = MONTHS.get(m.group(2).lower(), 0) if m else 0
    if m is None or not month:
        return parsedate_to_datetime(value)
    day, _, year, hour, minute, second, sign, zh, zm = m.groups()
    offset = int(zh) * 3600 + int(zm) * 60
    zone = None if sign == "-" and not offset else timezone(
        timedelta(seconds=-offset if sign == "-" else offset))
    return datetime(int(year), month, int(day), int(hour), int(minute), int(second or 0),
                    tzinfo=zone)


def plausible(when: datetime | None, now: datetime) -> datetime | None:
    """``when`` (naive: UTC) if mail can have been sent or delivered then: from 1980 to two
    days after ``now``; else None. A delivery time (a Maildir file name, an mbox separator
    line, a file's mtime) is checked like a Date header: a name that says 2030 is a broken
    name, not a touchpoint in 2030."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when if EARLIEST_DATE <= when <= now + FUTURE_SLACK else None


def _date(value: str, fallback: datetime | None, now: datetime) -> datetime | None:
    """The Date header when it is plausible and at most two days after the delivery time
    (or now, without one); else the delivery time; None when neither is usable."""
    if value:
        try:
            d = parse_date(value)
        except Exception:  # garbage dates raise all sorts of errors
            return fallback
        if d.tzinfo is None:
            d = d.replace(tzinfo=UTC)
        if EARLIEST_DATE <= d <= min(fallback or now, now) + FUTURE_SLACK:
            return d
    return fallback


def _undated(date_raw: str, fallback: datetime | None) -> str:
    """The reason a message without a usable date is skipped."""
    header = f"Date {clean_text(date_raw)[:60]!r}" if date_raw else "no Date header"
    delivery = f"delivery time {fallback:%Y-%m-%d}" if fallback else "no delivery time"
    return f"no usable date ({header}, {delivery}): a date must lie between 1980 and now + 2 days"


def parse_headers(raw: bytes, location: str, fallback_date: datetime | None,
                  now: datetime | None = None, received: bool = False) -> Mail | Skipped:
    """The Mail in ``raw`` (a message or its header block), or Skipped if nothing is usable.

    ``fallback_date`` (delivery or file time) replaces a missing, unparseable, pre-1980 or
    far-future Date, if it is plausible itself (``plausible``, as of ``now``, default the
    clock); a message with neither is Skipped. Only the first HEADER_CAP bytes are looked at.
    ``received``: the source read it from a received folder (``Mail.received``).
    """
    block, fields = _fields(raw, location)

    def one(name: bytes) -> str:
        values = fields.get(name)
        return _decode(values[0]) if values else ""

    def plain(name: bytes) -> str:
        values = fields.get(name)
        return clean_text(_decode(values[0]))[:VALUE_CAP] if values else ""

    def many(name: bytes) -> list[str]:
        return [_decode(v) for v in fields.get(name, ())]

    from_raw = one(b"from")
    to_raw, cc_raw, bcc_raw = many(b"to"), many(b"cc"), many(b"bcc")
    senders = parse_addresses([from_raw]) if from_raw else ()
    to, cc, bcc = parse_addresses(to_raw), parse_addresses(cc_raw), parse_addresses(bcc_raw)
    if not (senders or to or cc or bcc):
        if not fields and not _ANY_FIELD.search(block):
            return Skipped(location, "no header block")
        return Skipped(location, "no sender and no recipient addresses")

    date_raw = one(b"date")
    now = now or datetime.now(UTC)
    fallback = plausible(fallback_date, now)
    date = _date(date_raw, fallback, now)
    if date is None:
        return Skipped(location, _undated(date_raw, fallback_date))
    subject_raw = one(b"subject")
    message_id = _msg_id(one(b"message-id")) or _synthetic_id(
        from_raw, ", ".join(to_raw), ", ".join(cc_raw), date_raw, subject_raw)
    in_reply_to = one(b"in-reply-to")
    return Mail(
        message_id=message_id,
        date=date,
        sender=senders[0] if senders else None,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=clean_text(decode_words(subject_raw))[:SUBJECT_CAP],
        list_id=plain(b"list-id"),
        list_unsubscribe=plain(b"list-unsubscribe"),
        precedence=plain(b"precedence").lower(),
        auto_submitted=plain(b"auto-submitted").lower(),
        in_reply_to=_msg_id(in_reply_to)[:VALUE_CAP] if in_reply_to else "",
        location=location,
        references=references(_decode(refs[0])) if (refs := fields.get(b"references")) else (),
        autoreply=not _AUTOREPLY.isdisjoint(fields),
        report=_REPORT.match(fields.get(b"content-type", (b"",))[0]) is not None,
        received=received,
    )


def _synthetic_id(*fields: str) -> str:
    """A stable id for a message without Message-ID, from the fields that tell it apart."""
    digest = hashlib.sha1("|".join(fields).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{digest}@{SYNTHETIC_ID_DOMAIN}"


def references(value: str) -> tuple[str, ...]:
    """The ids of a References header, normalised like Message-ID, the last MAX_REFERENCES:
    the nearest ancestors find the thread, and a 500-id chain costs nothing to store."""
    if not value.isascii():
        ids = [i for i in ("".join(clean_text(m).split())[:VALUE_CAP]
                           for m in _MSG_ID.findall(value)) if i]
    else:  # the common case, without cleaning each id: printable ASCII only, blanks trimmed
        ids = [i[:VALUE_CAP] for i in _PLAIN_REF.findall(value)]
    return tuple(ids[-MAX_REFERENCES:])


def _fields(raw: bytes, location: str) -> tuple[bytes, dict[bytes, list[bytes]]]:
    """The header block (with a leading newline) and the raw values of the wanted fields:
    the first of each, every one of To, Cc and Bcc."""
    data = raw[:HEADER_CAP]
    end, _ = find_header_end(data)
    if end < 0:
        if len(raw) > HEADER_CAP:
            log.warning("%s: header block longer than %d bytes; cut there", location, HEADER_CAP)
        end = len(data)
    block = b"\n" + data[:end]
    fields: dict[bytes, list[bytes]] = {}
    for m in _FIELD.finditer(block):
        name = m.group(1).lower()
        seen = fields.get(name)
        if seen is None:
            fields[name] = [m.group(2)]
        elif name in _MULTI:
            seen.append(m.group(2))
    return block, fields
