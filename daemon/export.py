"""Every contact written out (`keepwarm export`): CSV for a mail merge or a spreadsheet,
vCard 4.0 for an address book, JSON for scripts and for `keepwarm import`, which reads the
steering back from it (``daemon.exportread``).

Pure: statuses in, text out. CSV is RFC 4180 (a header row, CRLF, fields quoted where they
hold a comma, a quote or a line break), UTF-8 without a byte-order mark; list fields are
joined by ``"; "``. vCard follows RFC 6350: escaped text values, lines folded at 75 octets
(never inside a character), CRLF. CSV and vCard are for people: an ignored contact is left
out of them; JSON lists everyone, with ``ignored``, since its steering restores ignores.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from daemon.birthdays import written
from daemon.model import Note, PartialDate, Status

FORMAT = "keepwarm-export"
FORMAT_VERSION = 1
FORMATS = ("csv", "json", "vcf")
COLUMNS = ("name", "email", "emails", "tags", "cadence_days", "interval_source",
           "last_touch", "due", "touchpoints", "notes", "strength", "birthday", "postal")
LIST_SEPARATOR = "; "
FOLD_AT = 75  # octets of a vCard line, CRLF not counted (RFC 6350 section 3.2)
GROUP = "group:"  # the tag an address book's group becomes (``cardstore.GROUP``)
_VCARD_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", ";": "\\;", "\n": "\\n"})
_PARAM_ESCAPES = str.maketrans({"^": "^^", "\n": "^n", '"': "^'"})  # RFC 6868


@dataclass(frozen=True, slots=True)
class Row:
    """One contact as exported: the columns of ``COLUMNS``, and whether it is tracked and
    ignored (JSON's, and what CSV and vCard leave out)."""

    name: str
    email: str  # the key address
    emails: tuple[str, ...]  # every address, the key first
    tags: tuple[str, ...]
    cadence_days: int
    interval_source: str  # set, rule, new_relationship, default or learned
    last_touch: date
    due: date
    touchpoints: int
    notes: int  # how many notes the user wrote about them (`keepwarm note`)
    strength: int
    birthday: PartialDate | None
    postal: str  # lines joined by newlines, '' if unknown
    tracked: bool
    ignored: bool


def rows(statuses: Iterable[Status], notes: Sequence[Note] = (),
         tracked_only: bool = False) -> list[Row]:
    """The contacts to export, by name (then address): with ``tracked_only`` only those
    keepwarm keeps reminding the user of."""
    count = Counter(n.email for n in notes)
    out = []
    for s in statuses:
        f = s.facts
        if s.tracked or not tracked_only:
            out.append(Row(f.name, f.key, f.emails, tuple(sorted(f.tags)), s.interval_days,
                           s.interval_kind, s.last_date, s.due, f.touchpoints,
                           sum(count[e] for e in f.emails), s.strength, f.birthday,
                           f.postal, s.tracked, f.ignored))
    return sorted(out, key=lambda r: (r.name.casefold(), r.email))


def people(rows: Iterable[Row]) -> list[Row]:
    """The rows CSV and vCard hold: not the ignored."""
    return [r for r in rows if not r.ignored]


# -- CSV ---------------------------------------------------------------------------------------
class _Sink:
    """What ``csv.writer`` writes to: the text kept in pieces."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)


def to_csv(rows: Iterable[Row]) -> str:
    """A header row of ``COLUMNS``, then one row per person (RFC 4180)."""
    sink = _Sink()
    writer = csv.writer(sink, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in people(rows):
        writer.writerow([r.name, r.email, LIST_SEPARATOR.join(r.emails),
                         LIST_SEPARATOR.join(r.tags), r.cadence_days, r.interval_source,
                         r.last_touch.isoformat(), r.due.isoformat(), r.touchpoints, r.notes,
                         r.strength, written(r.birthday) if r.birthday else "", r.postal])
    return "".join(sink.parts)


# -- vCard -------------------------------------------------------------------------------------
def to_vcard(rows: Iterable[Row]) -> str:
    """One vCard 4.0 per person. UID is made from the key address (the same at every
    export, so an address book updates the card instead of doubling it); the tags are
    CATEGORIES (an address book's group as its own name again); BDAY ``--MMDD`` without a
    year; the postal address in ADR's street part, and as its LABEL."""
    return "".join(_vcard(r) for r in people(rows))


def _vcard(r: Row) -> str:
    uid = uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{r.email}")
    lines = ["BEGIN:VCARD", "VERSION:4.0", f"UID:urn:uuid:{uid}", f"FN:{_text(r.name)}"]
    lines += [f"EMAIL{';PREF=1' if i == 0 else ''}:{_text(e)}" for i, e in enumerate(r.emails)]
    if r.tags:
        lines.append("CATEGORIES:" + ",".join(_text(t.removeprefix(GROUP)) for t in r.tags))
    if r.birthday:
        b = r.birthday
        lines.append(f"BDAY:{b.year:04d}{b.month:02d}{b.day:02d}" if b.year else
                     f"BDAY:--{b.month:02d}{b.day:02d}")
    if r.postal:
        label = r.postal.translate(_PARAM_ESCAPES)
        lines.append(f'ADR;LABEL="{label}":;;{_text(r.postal)};;;;')
    lines.append("END:VCARD")
    return "".join(fold(line) for line in lines)


def _text(value: str) -> str:
    """A text value escaped (RFC 6350 section 3.4)."""
    return value.replace("\r\n", "\n").replace("\r", "\n").translate(_VCARD_ESCAPES)


def fold(line: str) -> str:
    """``line`` folded so that no line is longer than 75 octets, each fold starting with a
    space, never cutting a character; CRLF after each."""
    out, piece, size = [], "", 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > FOLD_AT:
            out.append(piece)
            piece, size = " ", 1
        piece += ch
        size += n
    out.append(piece)
    return "\r\n".join(out) + "\r\n"


# -- JSON --------------------------------------------------------------------------------------
def document(rows: Iterable[Row], steering_json: Mapping[str, Any],
             exported: datetime) -> dict[str, Any]:
    """The JSON export: its format and version, when, every contact, and the steering
    (``steering_json``: `keepwarm steering --json`, notes and referrals included)."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION,
            "exported": exported.isoformat(timespec="seconds"),
            "contacts": [row_json(r) for r in rows], "steering": steering_json}


def to_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def row_json(r: Row) -> dict[str, Any]:
    return {"name": r.name, "email": r.email, "emails": list(r.emails), "tags": list(r.tags),
            "cadence_days": r.cadence_days, "interval_source": r.interval_source,
            "last_touch": r.last_touch.isoformat(), "due": r.due.isoformat(),
            "touchpoints": r.touchpoints, "notes": r.notes, "strength": r.strength,
            "birthday": written(r.birthday) if r.birthday else None,
            "postal": r.postal or None, "tracked": r.tracked, "ignored": r.ignored}
