"""Byte-level splitting and splicing of an .ics file, so keepwarm can edit its own events
without re-serialising anybody else's.

A round trip through a parser rewrites folding, escaping, property order and sometimes
text encoding; the user's events, time zones and calendar properties must keep their exact
bytes. So the file is cut into top-level component blocks (``BEGIN:X`` .. ``END:X`` directly
inside ``VCALENDAR``, nested components such as VALARM stay inside their block) and the
runs of lines between them; only keepwarm's VEVENT blocks are ever replaced or removed.
Nothing here decodes a foreign block beyond reading its UID.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.base import KEEPWARM_PROPERTY

NEW_CALENDAR_HEAD = (
    b"BEGIN:VCALENDAR\r\n"
    b"PRODID:-//keepwarm//keepwarm//EN\r\n"
    b"VERSION:2.0\r\n"
    b"CALSCALE:GREGORIAN\r\n"
    b"X-WR-CALNAME:keepwarm\r\n"
)
NEW_CALENDAR_TAIL = b"END:VCALENDAR\r\n"

_FOLD = re.compile(rb"\r?\n[ \t]")
_DTSTAMP_LINE = re.compile(rb"^DTSTAMP[:;][^\r\n]*\r?\n", re.MULTILINE)
_TEXT_ESCAPE = re.compile(r"\\([\\;,nN])")


@dataclass(frozen=True, slots=True)
class Block:
    """One top-level component exactly as stored."""

    name: str  # upper-case component name: VEVENT, VTIMEZONE, VTODO ...
    raw: bytes  # from its BEGIN line through its END line, line ending included
    uid: str = ""  # unescaped UID, '' when the component has none
    ours: bool = False  # a VEVENT carrying KEEPWARM_PROPERTY: keepwarm may rewrite it


@dataclass(slots=True)
class IcsFile:
    """A calendar file as ``head`` + ``body`` + ``tail``; concatenated they give the input."""

    head: bytes  # up to and including the BEGIN:VCALENDAR line
    body: list[bytes | Block] = field(default_factory=list)  # runs of lines and blocks
    tail: bytes = NEW_CALENDAR_TAIL  # the END:VCALENDAR line and everything after it

    def blocks(self) -> list[Block]:
        return [part for part in self.body if isinstance(part, Block)]

    def ours(self) -> dict[str, bytes]:
        """uid -> raw bytes of every keepwarm event."""
        return {block.uid: block.raw for block in self.blocks() if block.ours}

    def to_bytes(self) -> bytes:
        body = b"".join(part.raw if isinstance(part, Block) else part for part in self.body)
        return self.head + body + self.tail


def new_file() -> IcsFile:
    """An empty calendar keepwarm creates when the reminders file does not exist yet."""
    return IcsFile(head=NEW_CALENDAR_HEAD)


def unfold(data: bytes) -> bytes:
    """Join folded lines at the byte level, so a fold inside a UTF-8 sequence heals."""
    return _FOLD.sub(b"", data)


def etag(raw: bytes) -> str:
    """The version tag of one event: a hash of its exact bytes."""
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


def same_except_stamp(a: bytes, b: bytes) -> bool:
    """True when two serialised events differ at most in DTSTAMP (re-applying is a no-op)."""
    return _DTSTAMP_LINE.sub(b"", a) == _DTSTAMP_LINE.sub(b"", b)


def split(data: bytes) -> IcsFile:
    """Cut ``data`` into head, body and tail; ValueError when it is not one well-nested
    VCALENDAR (then keepwarm must not edit it)."""
    lines = _logical_lines(data)
    position = 0
    head = b""
    while position < len(lines):
        raw, text = lines[position]
        position += 1
        head += raw
        if text.upper() == "BEGIN:VCALENDAR":
            break
    else:
        raise ValueError("no BEGIN:VCALENDAR line")
    ics = IcsFile(head=head, tail=b"")
    run = b""
    while position < len(lines):
        raw, text = lines[position]
        upper = text.upper()
        if upper == "END:VCALENDAR":
            ics.tail = b"".join(line for line, _ in lines[position:])
            break
        if upper.startswith("BEGIN:"):
            if run:
                ics.body.append(run)
                run = b""
            block, position = _read_block(lines, position)
            ics.body.append(block)
            continue
        run += raw
        position += 1
    else:
        raise ValueError("no END:VCALENDAR line")
    if run:
        ics.body.append(run)
    return ics


def splice(ics: IcsFile, ours: Mapping[str, bytes]) -> bytes:
    """The file with every foreign part verbatim and keepwarm's events replaced by ``ours``.

    Our events go after everything else, sorted by UID, so the same state always gives
    the same bytes."""
    kept: list[bytes | Block] = [
        part for part in ics.body if not (isinstance(part, Block) and part.ours)
    ]
    kept.extend(Block("VEVENT", ours[uid], uid, True) for uid in sorted(ours))
    return IcsFile(ics.head, kept, ics.tail).to_bytes()


def _logical_lines(data: bytes) -> list[tuple[bytes, str]]:
    """Content lines as (exact bytes with folds and line endings, unfolded text)."""
    out: list[tuple[bytes, str]] = []
    for physical in data.splitlines(keepends=True):
        if out and physical[:1] in (b" ", b"\t"):
            raw, _ = out[-1]
            out[-1] = (raw + physical, "")
        else:
            out.append((physical, ""))
    return [(raw, _text(raw)) for raw, _ in out]


def _text(raw: bytes) -> str:
    return unfold(raw).rstrip(b"\r\n").decode("utf-8", errors="replace")


def _read_block(lines: list[tuple[bytes, str]], position: int) -> tuple[Block, int]:
    """The component starting at ``position`` and the index of the line after it."""
    name = lines[position][1].partition(":")[2].strip().upper()
    raw = b""
    depth = 0
    uid = ""
    ours = False
    while position < len(lines):
        line, text = lines[position]
        position += 1
        raw += line
        upper = text.upper()
        if upper.startswith("BEGIN:"):
            depth += 1
        elif upper.startswith("END:"):
            depth -= 1
            if depth == 0:
                return Block(name, raw, uid, ours and name == "VEVENT"), position
        elif depth == 1:
            prop = re.split(r"[:;]", text, maxsplit=1)[0].strip().upper()
            if prop == "UID":
                uid = _unescape(_value(text)).strip()
            elif prop == KEEPWARM_PROPERTY:
                ours = True
    raise ValueError(f"component {name} is never closed")


def _value(text: str) -> str:
    """The value of a content line: after the first colon that is not inside a quoted param."""
    quoted = False
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return text[index + 1 :]
    return ""


def _unescape(value: str) -> str:
    return _TEXT_ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)
