"""vCard text (2.1, 3.0, 4.0; RFC 2426, RFC 6350) read into ``Card``s: only the few
properties keepwarm uses, from whatever address books really hold, never raising.

Why not vobject: it refuses a whole file for one bad line, has no vCard 4, returns BDAY as a
plain string anyway, and builds every property (a 1 MB PHOTO included) as objects. Here a
line is looked at only as far as its name: a property keepwarm does not use is skipped with
its folded continuation lines, without joining them, so a huge PHOTO costs one pass over its
lines. What is read:

- content lines: CRLF or LF, folded with a space or tab (RFC 6350 section 3.2), vCard 2.1
  quoted-printable values continued by a soft break (``=`` at the end), property groups
  (``item1.EMAIL``), parameters (``TYPE``, ``VALUE``, ``CHARSET``, ``ENCODING``, quoted values,
  2.1's bare ``QUOTED-PRINTABLE``), backslash escapes;
- ``UID``, ``FN`` (else ``N``), every ``EMAIL``, ``CATEGORIES`` (a comma list), ``BDAY``,
  ``ANNIVERSARY``, ``X-ANNIVERSARY`` (vCard 3), Apple's and Google's labelled date
  (``itemN.X-ABDATE`` with ``itemN.X-ABLabel:_$!<Anniversary>!$_``), and ``ADR`` (the
  postal address: which one and how it is written, ``connectors.vcardpostal``);
- group cards: vCard 4 ``KIND:group`` with ``MEMBER``, Apple's (CardDAV servers')
  ``X-ADDRESSBOOKSERVER-KIND:group`` with ``X-ADDRESSBOOKSERVER-MEMBER``; the members are
  ``urn:uuid:`` UIDs (or ``mailto:`` addresses), and ``groups_of`` gives a card the names of
  the groups that list it. A group card is not a person: it is no ``Card`` itself.

Bytes are UTF-8, else each line on its own is read as UTF-8 or, failing that, Windows-1252
(an old export); a UTF-16 byte-order mark is honoured. A card that cannot be used becomes a
``Skipped`` with its line; a file cut off inside a card keeps the complete cards before it.
"""

from __future__ import annotations

import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from connectors import vcarddates, vcardpostal
from connectors.text import card_emails, clean_text
from daemon.model import Card, Skipped

# the properties read; every other one is skipped unread (PHOTO, KEY, SOUND, NOTE ...)
_WANTED = frozenset({
    "BEGIN", "END", "VERSION", "UID", "FN", "N", "EMAIL", "CATEGORIES", "BDAY",
    "ANNIVERSARY", "X-ANNIVERSARY", "KIND", "X-ADDRESSBOOKSERVER-KIND", "MEMBER",
    "X-ADDRESSBOOKSERVER-MEMBER", "X-ABDATE", "X-ABLABEL", "ADR"})
_NAME = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)?")
_ESCAPES = {"n": "\n", "N": "\n", ",": ",", ";": ";", "\\": "\\", ":": ":"}
_ANNIVERSARY_LABEL = re.compile(r"anniversary", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Group:
    """A group card: its name and its members (UIDs without ``urn:uuid:``, or addresses),
    lower-cased."""

    name: str
    members: frozenset[str]


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one text holds: the people's cards (``card_id`` still '': the reader names
    them), the group cards, and what could not be used."""

    cards: list[Card]
    groups: list[Group]
    skipped: list[Skipped]


@dataclass(slots=True)
class _Prop:
    group: str
    name: str
    params: dict[str, list[str]]
    value: str


@dataclass(slots=True)
class _Draft:
    """A card being read: its properties, in order, as far as keepwarm uses them."""

    line: int
    props: list[_Prop] = field(default_factory=list)


def parse(data: bytes, location: str) -> Parsed:
    """Every card in ``data`` (a .vcf file); ``location`` names it in each card and skip."""
    return parse_text(decode(data), location)


def parse_text(text: str, location: str) -> Parsed:
    """Every card in ``text`` (a CardDAV object, decoded by the XML parser already)."""
    cards: list[Card] = []
    groups: list[Group] = []
    skipped: list[Skipped] = []
    for item in _drafts(text.replace("\x00", ""), location):
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        where = f"{location}:{item.line}"
        try:
            made = _build(item, where)
        except (ValueError, UnicodeError) as exc:  # a value beyond repair: this card only
            skipped.append(Skipped(where, f"unreadable card: {exc}"))
            continue
        if isinstance(made, Group):
            groups.append(made)
        elif made is None:
            skipped.append(Skipped(where, "a card with no name, address or date"))
        else:
            cards.append(made)
    return Parsed(cards, groups, skipped)


def groups_of(card: Card, groups: list[Group]) -> tuple[str, ...]:
    """``card``'s groups: its own CATEGORIES, then each named group card that lists it,
    each once."""
    keys = {_member_key(card.uid), *card.emails} - {""}
    found = [g.name for g in groups if g.name and keys & g.members]
    return tuple(dict.fromkeys([*card.groups, *found]))


def with_groups(card: Card, groups: list[Group]) -> Card:
    names = groups_of(card, groups)
    return card if names == card.groups else replace(card, groups=names)


# -- bytes to lines ------------------------------------------------------------------------
def decode(data: bytes) -> str:
    """The text of ``data``: UTF-16 by its byte-order mark, else UTF-8, else line by line
    UTF-8 or Windows-1252 (bytes it lacks as Latin-1); NULs dropped."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace").replace("\x00", "")
    data = data.removeprefix(b"\xef\xbb\xbf").replace(b"\x00", b"")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(_decode_line(line) for line in data.splitlines(keepends=True))


def _decode_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return line.decode("cp1252")
        except UnicodeDecodeError:
            return line.decode("latin-1")


def _logical_lines(text: str) -> Iterator[tuple[int, str, str]]:
    """(line number, property name upper-cased, whole unfolded line) of each property
    keepwarm reads; the others are passed over without joining their folds."""
    lines = text.split("\n")
    i, count = 0, len(lines)
    while i < count:
        start, first = i, lines[i].rstrip("\r")
        i += 1
        if not first.strip() or first[0] in " \t":
            continue  # a blank line, or a fold of a line not read
        name = _prop_name(first)
        wanted = name in _WANTED
        parts = [first]
        while i < count and lines[i][:1] in (" ", "\t"):
            if wanted:
                parts.append(lines[i].rstrip("\r")[1:])
            i += 1
        colon = first.find(":")
        if "QUOTED-PRINTABLE" in first[:colon if colon >= 0 else None].upper():
            last = lines[i - 1].rstrip("\r")
            while last.endswith("=") and i < count:  # 2.1 soft line breaks
                last = lines[i].rstrip("\r")
                if wanted:
                    parts[-1] = parts[-1][:-1]
                    parts.append(last)
                i += 1
        if wanted:
            yield start + 1, name, "".join(parts)


def _prop_name(line: str) -> str:
    """The property name of a content line (without its group), upper-cased; '' if none."""
    match = _NAME.match(line)
    if not match or match.end() >= len(line) or line[match.end()] not in ":;":
        return ""
    return match.group().rpartition(".")[2].upper()


def _drafts(text: str, location: str) -> Iterator[_Draft | Skipped]:
    """The cards of ``text`` in order; content outside BEGIN/END is ignored, a card cut off
    (no END) is skipped, and a card nested in another (2.1 AGENT) is left out of it."""
    draft: _Draft | None = None
    depth = 0
    for number, name, line in _logical_lines(text):
        if name in ("BEGIN", "END"):
            is_card = line.partition(":")[2].strip().upper() == "VCARD"
            if name == "BEGIN" and is_card:
                depth += 1
                if depth == 1:
                    draft = _Draft(number)
            elif name == "END" and is_card and depth:
                depth -= 1
                if depth == 0 and draft is not None:
                    yield draft
                    draft = None
            continue
        if draft is not None and depth == 1:
            prop = _split(line, name)
            if prop is not None:
                draft.props.append(prop)
    if draft is not None:
        yield Skipped(f"{location}:{draft.line}", "the card is cut off: no END:VCARD")


def _split(line: str, name: str) -> _Prop | None:
    """A content line as group, name, parameters and decoded value; None when it has no
    value part at all."""
    head, value = _head_and_value(line)
    if value is None:
        return None
    pieces = _params(head)
    group = pieces[0].rpartition(".")[0].lower()
    params: dict[str, list[str]] = {}
    for piece in pieces[1:]:
        key, eq, val = piece.partition("=")
        if not eq:  # vCard 2.1: a bare TYPE value or encoding (HOME, QUOTED-PRINTABLE)
            key, val = _bare_param(key)
        key = key.strip().upper()
        values = [val] if key == "LABEL" else val.split(",")  # an address has commas
        params.setdefault(key, []).extend(v.strip().strip('"') for v in values)
    return _Prop(group, name, params, _decoded_value(value, params))


def _head_and_value(line: str) -> tuple[str, str | None]:
    """The line cut at its first colon outside double quotes."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            return line[:i], line[i + 1:]
    return line, None


def _params(head: str) -> list[str]:
    """``head`` cut at semicolons outside double quotes: the name, then each parameter."""
    out, start, quoted = [], 0, False
    for i, ch in enumerate(head):
        if ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            out.append(head[start:i])
            start = i + 1
    out.append(head[start:])
    return out


def _bare_param(word: str) -> tuple[str, str]:
    upper = word.strip().upper()
    if upper in ("QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT"):
        return "ENCODING", upper
    return "TYPE", word


def _decoded_value(value: str, params: dict[str, list[str]]) -> str:
    """The value with a 2.1 quoted-printable encoding undone, in its CHARSET."""
    if "QUOTED-PRINTABLE" not in (e.upper() for e in params.get("ENCODING", ())):
        return value
    raw = quopri.decodestring(value.encode("utf-8", errors="replace"))
    charset = (params.get("CHARSET") or ["utf-8"])[0]
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return _decode_line(raw)


# -- properties to a card -------------------------------------------------------------------
def unescape(text: str) -> str:
    """RFC 6350 section 3.4 backslash escapes undone (an unknown one keeps its character)."""
    if "\\" not in text:
        return text
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


def split_list(text: str, sep: str = ",") -> list[str]:
    """``text`` cut at the separators not escaped with a backslash, each part unescaped."""
    return [unescape(p) for p in _split_raw(text, sep)]


def _split_raw(text: str, sep: str) -> list[str]:
    """``text`` cut at the separators not escaped with a backslash, escapes kept."""
    parts = re.split(rf"(?<!\\)((?:\\\\)*){re.escape(sep)}", text)
    # re.split keeps the captured even runs of backslashes: glue them back to their part
    joined = [parts[0]]
    for i in range(1, len(parts), 2):
        joined[-1] += parts[i]
        joined.append(parts[i + 1])
    return joined


def _short(text: str) -> str:
    """A name, a UID or a group's name, cleaned and cut to a length nobody's has."""
    return clean_text(text)[:vcarddates.MAX_TEXT]


def _build(draft: _Draft, where: str) -> Card | Group | None:
    """The card ``draft`` describes; a Group for a group card; None for one with nothing
    keepwarm could use."""
    first: dict[str, _Prop] = {}
    for prop in draft.props:
        first.setdefault(prop.name, prop)
    name = _name(first)
    kind = first.get("KIND") or first.get("X-ADDRESSBOOKSERVER-KIND")
    if kind is not None and unescape(kind.value).strip().lower() == "group":
        members = [p.value for p in draft.props
                   if p.name in ("MEMBER", "X-ADDRESSBOOKSERVER-MEMBER")]
        return Group(name, frozenset(filter(None, map(_member_key, members))))
    emails = card_emails(unescape(p.value).removeprefix("mailto:")
                         for p in draft.props if p.name == "EMAIL")
    categories = [_short(c) for p in draft.props if p.name == "CATEGORIES"
                  for c in split_list(p.value)]
    dates = vcarddates.read_dates(_dates(draft))
    uid = _short(unescape(first["UID"].value)) if "UID" in first else ""
    if not (name or emails or dates.birthday or dates.anniversary or dates.birthday_text):
        return None
    postal = vcardpostal.postal([
        vcardpostal.Adr(p.params, [split_list(c) for c in _split_raw(p.value, ";")])
        for p in draft.props if p.name == "ADR"])
    return Card("", uid=uid, name=name, emails=emails,
                groups=tuple(dict.fromkeys(c for c in categories if c)),
                birthday=dates.birthday, anniversary=dates.anniversary,
                birthday_text=dates.birthday_text, notes=dates.notes, location=where,
                postal=postal)


def _name(first: dict[str, _Prop]) -> str:
    """FN, else N's parts in reading order (prefix, given, additional, family, suffix), each
    a comma list (``Long,With-Hyphen``: two additional names)."""
    if "FN" in first:
        name = _short(unescape(first["FN"].value))
        if name:
            return name
    if "N" not in first:
        return ""
    parts = [*_split_raw(first["N"].value, ";"), "", "", "", "", ""]
    family, given, additional, prefix, suffix = (" ".join(split_list(p)) for p in parts[:5])
    return _short(" ".join(p for p in (prefix, given, additional, family, suffix) if p.strip()))


def _member_key(value: str) -> str:
    """A member reference as the cards are looked up by: a UID or an address, lower-cased."""
    value = unescape(value).strip().lower()
    for prefix in ("urn:uuid:", "mailto:"):
        value = value.removeprefix(prefix)
    return value


def _dates(draft: _Draft) -> list[vcarddates.DateProp]:
    """The date properties of the card, with the label of their group (Apple's X-ABDATE)."""
    labels = {p.group: p.value for p in draft.props if p.name == "X-ABLABEL" and p.group}
    out = []
    for p in draft.props:
        if p.name in ("BDAY", "ANNIVERSARY", "X-ANNIVERSARY"):
            out.append(vcarddates.DateProp(p.name, p.params, p.value))
        elif p.name == "X-ABDATE" and _ANNIVERSARY_LABEL.search(labels.get(p.group, "")):
            out.append(vcarddates.DateProp("X-ANNIVERSARY", p.params, p.value))
    return out
