"""Byte-level splitting and splicing of an .ics file, so keepwarm can edit its own events
without re-serialising anybody else's, and read a calendar that is broken in part.

A round trip through a parser rewrites folding, escaping, property order and sometimes
text encoding; the user's events, time zones and calendar properties must keep their exact
bytes. So the file is cut into top-level component blocks (``BEGIN:X`` .. ``END:X`` directly
inside ``VCALENDAR``, nested components such as VALARM stay inside their block) and the
runs of lines between them; only keepwarm's VEVENT blocks are ever replaced or removed.
Nothing here decodes a foreign block beyond reading its UID.

The cut is tolerant of files people really have, so that the reader (``connectors.icalmap``
parses each block on its own) and the writer see the same calendar: a UTF-8 byte-order mark
before ``BEGIN:VCALENDAR`` (Windows and Outlook exports), several ``VCALENDAR``s one after the
other (the body runs from the first ``BEGIN:VCALENDAR`` to the last ``END:VCALENDAR``), a file
that ends without ``END:VCALENDAR``, and a component whose END line is missing: it ends where
the next top-level component begins and is marked ``cut``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
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

# icalendar unfolds across blank lines too ("NAME\n\n :value", old Mozilla exports)
_FOLD = re.compile(rb"(?:\r?\n)+[ \t]")
_DTSTAMP_LINE = re.compile(rb"^DTSTAMP[:;][^\r\n]*\r?\n", re.MULTILINE)
_TEXT_ESCAPE = re.compile(r"\\([\\;,nN])")
_CONTENT_LINE = re.compile(r"\s*[\w.-][\w.\s-]*[;:]")  # a name (icalendar allows spaces)
# Components RFC 5545 (and 7953) allow only directly inside VCALENDAR: a BEGIN of one of
# them inside another component means that component lost its END line.
_TOP_LEVEL_ONLY = frozenset(
    ("VCALENDAR", "VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VTIMEZONE", "VAVAILABILITY"))
_BOM = "\ufeff"
_WANTED = (b"UID", KEEPWARM_PROPERTY[:3].encode())  # the properties read from a block



@dataclass(frozen=True, slots=True)
class Block:
    """One top-level component exactly as stored."""

    name: str  # upper-case component name: VEVENT, VTIMEZONE, VTODO ...
    raw: bytes  # from its BEGIN line through its END line, line ending included
    uid: str = ""  # unescaped UID, '' when the component has none
    ours: bool = False  # a VEVENT carrying KEEPWARM_PROPERTY: keepwarm may rewrite it
    cut: bool = False  # its END line is missing: ``raw`` runs up to the next component


@dataclass(slots=True)
class IcsFile:
    """A calendar file as ``head`` + ``body`` + ``tail``; concatenated they give the input."""

    head: bytes  # up to and including the first BEGIN:VCALENDAR line
    body: list[bytes | Block] = field(default_factory=list)  # runs of lines and blocks
    tail: bytes = NEW_CALENDAR_TAIL  # the last END:VCALENDAR line and all after it, or b""
    calendar: bool = True  # False: no BEGIN:VCALENDAR, the body is bare components

    def blocks(self) -> list[Block]:
        return [part for part in self.body if isinstance(part, Block)]

    def ours(self) -> dict[str, bytes]:
        """uid -> raw bytes of every keepwarm event."""
        return {block.uid: block.raw for block in self.blocks() if block.ours}

    def to_bytes(self) -> bytes:
        body = b"".join(part.raw if isinstance(part, Block) else part for part in self.body)
        return self.head + body + self.tail

    def numbered(self) -> Iterator[tuple[int, bytes | Block]]:
        """Each part of the body with the number of the line it starts on (from 1)."""
        number = 1 + len(self.head.splitlines())
        for part in self.body:
            yield number, part
            number += len((part.raw if isinstance(part, Block) else part).splitlines())

    def first_cut(self) -> tuple[int, Block] | None:
        """The first component whose END line is missing, with its line number."""
        return next(((n, p) for n, p in self.numbered() if isinstance(p, Block) and p.cut),
                    None)

    def stray_lines(self) -> Iterator[tuple[int, str]]:
        """Lines between the components that are not iCalendar content lines (or are an
        END without its BEGIN), with their line numbers: what a reader cannot use."""
        for number, part in self.numbered():
            if isinstance(part, Block):
                continue
            for raw in _logical_lines(part):
                text = _text(raw)
                if text.strip() and _stray(text):
                    yield number, text
                number += len(raw.splitlines())


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
    """Cut ``data`` into head, body and tail; ValueError when it holds no component at all.

    Without a ``BEGIN:VCALENDAR`` line (a bare VEVENT saved on its own) the whole file is
    the body and ``calendar`` is False: readable, but not a file keepwarm may edit."""
    lines = _logical_lines(data)
    names = [_component_line(raw) for raw in lines]
    if ("BEGIN", "VCALENDAR") in names:
        start = names.index(("BEGIN", "VCALENDAR"))
    elif any(kind == "BEGIN" for kind, _ in names):
        start = -1
    else:
        raise ValueError("no BEGIN:VCALENDAR line")
    end = max((i for i, n in enumerate(names) if n == ("END", "VCALENDAR") and i > start),
              default=len(lines))
    ics = IcsFile(b"".join(lines[: start + 1]), tail=b"".join(lines[end:]), calendar=start >= 0)
    run: list[bytes] = []
    position = start + 1
    while position < end:
        kind, name = names[position]
        if kind == "BEGIN" and name != "VCALENDAR":
            if run:
                ics.body.append(b"".join(run))
                run = []
            block, position = _read_block(lines, names, position, end)
            ics.body.append(block)
            continue
        run.append(lines[position])
        position += 1
    if run:
        ics.body.append(b"".join(run))
    return ics


def splice(ics: IcsFile, ours: Mapping[str, bytes]) -> bytes:
    """The file with every foreign part verbatim and keepwarm's events replaced by ``ours``.

    Our events go after everything else, sorted by UID, so the same state always gives
    the same bytes. A file that ended without ``END:VCALENDAR`` gets one."""
    kept: list[bytes | Block] = [
        part for part in ics.body if not (isinstance(part, Block) and part.ours)
    ]
    tail = ics.tail
    if not tail:
        tail = NEW_CALENDAR_TAIL
        if not (ics.head + b"".join(p.raw if isinstance(p, Block) else p for p in kept)
                ).endswith((b"\n", b"\r")):
            kept.append(b"\r\n")  # the last line had no line break
    kept.extend(Block("VEVENT", ours[uid], uid, True) for uid in sorted(ours))
    return IcsFile(ics.head, kept, tail).to_bytes()


def _logical_lines(data: bytes) -> list[bytes]:
    """Content lines, each its exact bytes with folds and line endings."""
    out: list[list[bytes]] = []
    blanks: list[bytes] = []  # blank lines are part of a fold when a continuation follows
    for physical in data.splitlines(keepends=True):
        if physical[:1] in (b" ", b"\t") and out:
            out[-1].extend(blanks)
            out[-1].append(physical)
            blanks = []
        elif physical.strip(b"\r\n"):
            out.extend([blank] for blank in blanks)
            out.append([physical])
            blanks = []
        else:
            blanks.append(physical)
    out.extend([blank] for blank in blanks)
    return [parts[0] if len(parts) == 1 else b"".join(parts) for parts in out]


def _text(raw: bytes) -> str:
    return unfold(raw).rstrip(b"\r\n").decode("utf-8", errors="replace").lstrip(_BOM)


def _component_line(raw: bytes | str) -> tuple[str, str]:
    """("BEGIN" or "END", the component's name) for a BEGIN or END line, else ("", "")."""
    if isinstance(raw, bytes):
        if raw[:3].upper() not in (b"BEG", b"END", _BOM.encode()):
            return "", ""  # the common case, without decoding the line
        raw = _text(raw)
    kind, colon, name = raw.partition(":")
    kind = kind.strip().upper()
    if colon and kind in ("BEGIN", "END"):
        return kind, name.strip().upper()
    return "", ""


def _stray(text: str) -> bool:
    kind, name = _component_line(text)
    return (kind == "END" and name != "VCALENDAR") or not _CONTENT_LINE.match(text)


def _read_block(lines: list[bytes], names: list[tuple[str, str]], position: int, end: int
                ) -> tuple[Block, int]:
    """The component starting at ``position`` and the index of the line after it. One
    whose END line is missing ends before the next top-level component (or at ``end``)."""
    name = names[position][1]
    raw = [lines[position]]
    depth = 1
    uid = ""
    ours = False
    position += 1
    while position < end:
        kind, inner = names[position]
        if (kind, inner) == ("END", "VCALENDAR") or (kind == "BEGIN" and inner in _TOP_LEVEL_ONLY):
            break  # it lost its END line
        line = lines[position]
        raw.append(line)
        position += 1
        depth += 1 if kind == "BEGIN" else -1 if kind == "END" else 0
        if depth == 0:
            return Block(name, b"".join(raw), uid, ours and name == "VEVENT"), position
        if depth == 1 and not kind and line[:3].upper() in _WANTED:
            text = _text(line)
            prop = re.split(r"[:;]", text, maxsplit=1)[0].strip().upper()
            if prop == "UID":
                uid = _unescape(_value(text)).strip()
            elif prop == KEEPWARM_PROPERTY:
                ours = True
    return Block(name, b"".join(raw), uid, cut=True), position


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
