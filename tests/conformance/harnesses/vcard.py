"""A ``Card`` written as vCard 4.0 text, for the harnesses of vCard sources (vcf, carddav).

Written with plain string formatting, never with keepwarm's reader, so a test does not
trust what it checks. Each card gets the CATEGORIES, BDAY and ANNIVERSARY its fields say;
vCard has no "starred", which the harnesses list as unsupported.
"""

from __future__ import annotations

from daemon.model import Card, PartialDate


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace(
        "\n", "\\n")


def _date(d: PartialDate) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}" if d.year else f"--{d.month:02d}{d.day:02d}"


def to_vcard(card: Card, uid: str) -> bytes:
    """``card`` as one vCard 4.0 with the UID ``uid`` (CRLF lines, as servers keep them)."""
    lines = ["BEGIN:VCARD", "VERSION:4.0", f"UID:{uid}", f"FN:{_escape(card.name)}",
             f"N:{_escape(card.name)};;;;"]
    lines += [f"EMAIL;TYPE=home:{e}" for e in card.emails]
    if card.groups:
        lines.append("CATEGORIES:" + ",".join(_escape(g) for g in card.groups))
    if card.birthday:
        lines.append(f"BDAY:{_date(card.birthday)}")
    elif card.birthday_text:
        lines.append(f"BDAY;VALUE=text:{_escape(card.birthday_text)}")
    if card.anniversary:
        lines.append(f"ANNIVERSARY:{_date(card.anniversary)}")
    lines.append("END:VCARD")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
