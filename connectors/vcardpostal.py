"""A card's postal address (vCard ``ADR``, 2.1, 3.0 and 4.0) as the lines of a letter, for
`keepwarm export` (holiday cards).

Which one, of several: the preferred (vCard 4's ``PREF=1``, the lowest number winning;
2.1's and 3.0's ``TYPE=pref``), else the first marked home (a holiday card goes home), else
the first. Its text: vCard 4's ``LABEL`` parameter as written (RFC 6868's ``^n``, and the
``\\n`` some writers put there, are line breaks), else the structured parts in the order of
RFC 6350 section 6.3.1 made lines: post office box, extended address, each street line,
then "locality region postal-code" on one line (the English order: a LABEL is what to give
for another), then the country. The separate ``LABEL`` property of vCard 2.1 and 3.0 is not
read: every writer we know puts an ``ADR`` beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connectors.text import clean_text

MAX_LINES = 8  # a postal address has at most a handful; the rest is a paste gone wrong
MAX_LINE = 200
NOT_PREFERRED = 101  # above vCard 4's PREF range (1-100)


@dataclass(frozen=True, slots=True)
class Adr:
    """One ADR property: its parameters (keys upper-cased) and its seven components, each a
    list of values already unescaped (a value may hold line breaks)."""

    params: Mapping[str, Sequence[str]]
    parts: Sequence[Sequence[str]]


def postal(adrs: Sequence[Adr]) -> str:
    """The chosen address's lines joined by newlines; '' for none (or one with no text)."""
    if not adrs:
        return ""
    chosen = min(adrs, key=lambda a: (_pref(a), not _has_type(a, "home")))  # first of equals
    label = "".join(chosen.params.get("LABEL", ()))
    text = _rfc6868(label) if label.strip() else "\n".join(_lines(chosen.parts))
    lines = [line for line in (clean_text(x)[:MAX_LINE] for x in text.split("\n")) if line]
    return "\n".join(lines[:MAX_LINES])


def _pref(adr: Adr) -> int:
    """PREF's number (4.0), 1 for TYPE=pref (2.1, 3.0), else above any number."""
    for value in adr.params.get("PREF", ()):
        if value.strip().isdigit():
            return int(value.strip())
    return 1 if _has_type(adr, "pref") else NOT_PREFERRED


def _has_type(adr: Adr, kind: str) -> bool:
    return any(t.strip().lower() == kind for t in adr.params.get("TYPE", ()))


def _rfc6868(value: str) -> str:
    """A parameter value's RFC 6868 escapes undone (``^n``, ``^'``, ``^^``), and the
    backslash ``\\n`` some writers use for a line break."""
    out, i = [], 0
    while i < len(value):
        pair = value[i:i + 2]
        if pair in ("^n", "^N", "\\n", "\\N"):
            out.append("\n")
        elif pair == "^'":
            out.append('"')
        elif pair == "^^":
            out.append("^")
        else:
            out.append(value[i])
            i += 1
            continue
        i += 2
    return "".join(out)


def _lines(parts: Sequence[Sequence[str]]) -> list[str]:
    """The structured components as the lines of a letter (see the module's doc)."""
    padded = [*parts, *([()] * 7)][:7]
    box, extended, street, locality, region, code, country = (
        [v for v in values if v.strip()] for values in padded)
    town = " ".join(v.strip() for v in (*locality, *region, *code))
    return [*box, *extended, *street, town, *country]
