"""Address-list header values (From, To, Cc, Bcc) split into (display name, address) pairs,
the same on every Python.

Why not ``email.utils.getaddresses``: since the CVE-2023-27043 fix (Python 3.13, and the
later 3.11 and 3.12 patch releases distributions ship) it returns nothing at all for a header
in which one address is malformed, so a ``bad@@example.com`` or an unclosed quote next to real
recipients loses every one of them; the parser before the fix instead makes addresses out of
the pieces of a malformed one (``a@b.org)<c@d.org>`` gives both). Here each item of the list
is judged on its own: a well-formed item gives what the standard library gives for it, a
malformed one gives nothing, and its neighbours are untouched.

An exact regex fast path handles the plain forms (``addr``, ``Name <addr>``, ``"Quoted,
Name" <addr>``) that make up nearly all real headers; the tokenizer below sees the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Pair = tuple[str, str]  # (display name, address), both as written (names still encoded)
Token = tuple[str, str, bool]  # (kind, text, whitespace before it)

# `addr`, `Name <addr>`, `"Quoted, Name" <addr>`, separated by commas.
_FAST_ITEM = re.compile(
    r'\s*(?:(?:"([^"\\]*)"|([^",<>@()\\:;\[\]]*?))\s*<([^<>\s@",()\\:;\[\]]+@[^<>\s@",()\\:;\[\]]+)>'
    r'|([^<>\s@",()\\:;\[\]]+@[^<>\s@",()\\:;\[\]]+))\s*(?:,|$)'
)
# RFC 5322 atom text: anything but whitespace and the specials (the backslash is atom text,
# as it is to the standard library).
_ATOM = re.compile(r'[^\s()<>@,:;."\[\]]+')
_CLOSE = {'"': '"', "(": ")", "[": "]"}
_KIND = {'"': "quoted", "(": "comment", "[": "literal"}
_PHRASE = frozenset(("atom", "dot", "quoted", "comment"))
_LOCAL = frozenset(("atom", "dot", "quoted"))
_DOMAIN = frozenset(("atom", "dot", "literal"))


def pairs(value: str) -> list[Pair]:
    """The (name, address) pairs of one header value; items without an address (a group's
    name, ``<>``, a bare word) and malformed items are left out."""
    out: list[Pair] = []
    pos, n = 0, len(value)
    while pos < n:
        m = _FAST_ITEM.match(value, pos)
        if m is None or m.end() == pos:
            if value[pos:].strip(" \t,"):
                return slow_pairs(value)
            break
        quoted, phrase, addr, bare = m.groups()
        if bare is not None:
            out.append(("", bare))
        else:
            out.append((quoted if quoted is not None else " ".join(phrase.split()), addr))
        pos = m.end()
    return out


def slow_pairs(value: str) -> list[Pair]:
    """``pairs`` without the fast path: every item through the tokenizer."""
    found = (_mailbox(item) for item in _items(_tokens(value)))
    return [pair for pair in found if pair is not None]


def _tokens(value: str) -> list[Token]:
    """The lexical tokens of ``value``. An unclosed quote, comment or domain literal, and a
    stray ``)`` or ``]``, is one ``bad`` token, and the rest is read on after it, so the
    damage stays inside its own item."""
    out: list[Token] = []
    pos, n, space = 0, len(value), False
    while pos < n:
        char = value[pos]
        if char.isspace():
            pos, space = pos + 1, True
            continue
        kind, text, end = char, char, pos + 1
        if char in _CLOSE:
            kind, text, end = _enclosed(value, pos)
        elif char in ")]":
            kind = "bad"
        elif char == ".":
            kind = "dot"
        elif char not in "<>@,:;":
            m = _ATOM.match(value, pos)
            assert m is not None  # not a space and not a special: atom text
            kind, text, end = "atom", m.group(), m.end()
        out.append((kind, text, space))
        pos, space = end, False
    return out


def _enclosed(value: str, start: int) -> tuple[str, str, int]:
    """(kind, text, end) of the quoted string (its text unescaped), comment (inner
    parentheses dropped, as the standard library drops them) or domain literal (kept with
    its brackets) opening at ``start``; ``bad`` when it is never closed."""
    opener = value[start]
    close = _CLOSE[opener]
    chars: list[str] = []
    depth, pos = 1, start + 1
    while pos < len(value):
        char = value[pos]
        if char == "\\" and pos + 1 < len(value):
            chars.append(value[pos + 1])
            pos += 2
            continue
        if opener == "(" and char == "(":
            depth += 1
        elif char == close:
            depth -= 1
            if depth == 0:
                text = "".join(chars)
                return _KIND[opener], f"[{text}]" if opener == "[" else text, pos + 1
        if opener != "(" or char not in "()":
            chars.append(char)
        pos += 1
    return "bad", opener, start + 1


def _items(tokens: list[Token]) -> Iterator[list[Token]]:
    """The items of an address list: split at commas and at semicolons (a group's end, or a
    separator some mailers write); ``Name:`` opens a group, whose name is no address."""
    item: list[Token] = []
    for token in tokens:
        kind = token[0]
        if kind in (",", ";"):
            yield item
            item = []
        elif kind == ":" and all(t[0] in _PHRASE for t in item):
            item = []
        else:
            item.append(token)
    yield item


def _mailbox(item: list[Token]) -> Pair | None:
    """The (name, address) of one item, or None: no address in it, or malformed."""
    if any(kind == "bad" for kind, _, _ in item):
        return None
    if any(kind == "<" for kind, _, _ in item):
        return _angle_mailbox(item)
    comments = [text for kind, text, _ in item if kind == "comment"]
    address = _addr_spec([t for t in item if t[0] != "comment"])
    return None if address is None else (" ".join(comments), address)


def _angle_mailbox(item: list[Token]) -> Pair | None:
    """``phrase <[@route:]addr-spec>``; the closing ``>`` may be missing at the very end,
    after it only comments may follow."""
    kinds = [kind for kind, _, _ in item]
    opened = kinds.index("<")
    closed = kinds.index(">") if ">" in kinds else len(item)
    phrase, inside, after = item[:opened], item[opened + 1 : closed], item[closed + 1 :]
    if (any(kind not in _PHRASE and kind != "@" for kind, _, _ in phrase)
            or any(kind == "<" for kind, _, _ in inside)
            or any(kind != "comment" for kind, _, _ in after)):
        return None
    spec = [t for t in inside if t[0] != "comment"]
    if spec and spec[0][0] == "@":  # an obsolete source route: @host:addr
        route_end = next((i for i, t in enumerate(spec) if t[0] == ":"), None)
        if route_end is None:
            return None
        spec = spec[route_end + 1 :]
    if not spec:
        return None  # <>: the null sender, no address
    address = _addr_spec(spec)
    if address is None:
        return None
    name = _phrase_text(phrase)
    comments = [text for kind, text, _ in (*phrase, *inside) if kind == "comment"]
    if comments:  # as the standard library names it
        name = f"{name} ({' '.join(comments)})"
    return name, address


def _phrase_text(phrase: list[Token]) -> str:
    """A display name: its words joined by single spaces; a dot belongs to the word it
    touches (``John X. Doe``), a quoted string is a word of its own."""
    words: list[str] = []
    glued = False
    for kind, text, space in phrase:
        if kind == "comment":
            glued = False
            continue
        if kind == "quoted":
            words.append(text)
            glued = False
        elif glued and not space:
            words[-1] += text
        else:
            words.append(text)
            glued = True
    return " ".join(words)


def _addr_spec(tokens: list[Token]) -> str | None:
    """``local@domain`` from its tokens, written as the standard library writes it, or None
    when the tokens are not one (no ``@``, several, or other specials among them)."""
    ats = [i for i, (kind, _, _) in enumerate(tokens) if kind == "@"]
    if len(ats) != 1:
        return None
    local, domain = tokens[: ats[0]], tokens[ats[0] + 1 :]
    if (not local or not domain or any(kind not in _LOCAL for kind, _, _ in local)
            or any(kind not in _DOMAIN for kind, _, _ in domain)):
        return None
    parts: list[str] = []
    previous = "dot"
    for kind, text, space in local:
        if kind != "dot" and previous != "dot" and space:
            parts.append(" ")  # kept, as the standard library keeps it: never a valid address
        parts.append(_quote(text) if kind == "quoted" else text)
        previous = kind
    return "".join(parts) + "@" + "".join(text for _, text, _ in domain)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
