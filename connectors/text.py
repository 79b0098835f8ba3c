"""Text from mail and calendars made safe to store, show and write into a calendar.

Every source and writer cleans text the same way, so what keepwarm wrote into a calendar reads
back equal and an unchanged reminder is never rewritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_DROP = dict.fromkeys(
    [
        *range(0x00, 0x20),
        0x7F,
        *range(0x80, 0xA0),
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0xFEFF,
    ]
)
_DROP.update({0x09: 0x20, 0x0A: 0x20, 0x0D: 0x20})
_CLEAN_TABLE = str.maketrans(_DROP)
_UNCLEAN_EDGE = frozenset(" \"'")


def clean_text(s: str, keep_newlines: bool = False) -> str:
    """Text safe to show and store: control characters (C0, DEL, C1) and invisible bidi or
    zero-width marks removed (tab/CR/LF become spaces), whitespace runs collapsed, surrounding
    whitespace and matching pairs of surrounding quotes stripped. With ``keep_newlines`` each
    line is cleaned on its own and the line breaks stay (descriptions)."""
    if keep_newlines:
        return "\n".join(clean_text(line) for line in s.replace("\r\n", "\n").split("\n"))
    edges = s[:1] + s[-1:]
    if s.isascii() and s.isprintable() and "  " not in s and not _UNCLEAN_EDGE & set(edges):
        return s  # the common case: nothing to clean
    s = " ".join(s.translate(_CLEAN_TABLE).split())
    while len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        s = s[1:-1].strip()
    return s


def text_lines(text: str) -> str:
    """Text of several lines (a postal address) cleaned line by line, the empty lines left
    out, joined by newlines."""
    return "\n".join(line for line in clean_text(text, keep_newlines=True).split("\n") if line)


def laid_out(fields: Mapping[str, Any], layout: Sequence[Sequence[str]]) -> str:
    """An address given as named parts (Google's, Graph's) as the lines of a letter: one
    line per entry of ``layout``, its parts joined by spaces (not yet cleaned)."""
    return "\n".join(" ".join(str(fields.get(k) or "") for k in keys) for keys in layout)


def card_emails(emails: Iterable[str]) -> tuple[str, ...]:
    """A card's addresses as every address-book source reports them: cleaned, lower-cased,
    in the card's order, each once, blanks and non-addresses (no ``@``) left out."""
    out = (clean_text(e).strip("<>").lower() for e in emails)
    return tuple(dict.fromkeys(e for e in out if "@" in e))
