"""The new text of one of the user's sent messages, for ``promises = true``: the part they
wrote themselves, with the quoted history, signature and forwarded parts cut off, handed to
the promise detector (``daemon.promisetext.find``) and then dropped.

Why here, once, for every source: a Maildir file, an mbox entry, an IMAP ``BODY[TEXT]`` and
Gmail's ``format=full`` parts are all MIME, and Graph's ``uniqueBody`` is text or HTML; the
cutting rules (``>`` lines, "On ... wrote:", "Am ... schrieb ...:", Outlook's "From: ...
Sent: ..." block, "-- ", "Forwarded message") are the same whatever the source. A body never
leaves this module: ``with_promises`` returns the Mail with the sentences found (at most 200
characters each) and nothing else, and nothing here logs text of a message.

A text/plain part is preferred (it is what the user typed, without markup); else text/html
is made text with the standard library's ``html.parser``, leaving out blockquotes, the
quote and signature blocks mail clients mark (Gmail's ``gmail_quote``, Outlook's
``divRplyFwdMsg``, Thunderbird's ``moz-cite-prefix``) and everything after them.
Attachments and forwarded messages (``message/rfc822``) are never read. At most
``BODY_CAP`` bytes of a body are ever looked at.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import tzinfo
from html.parser import HTMLParser
from typing import Any

from connectors.base import Option
from connectors.mailparse import find_header_end
from connectors.mimeparts import Leaf, json_leaves, leaves
from daemon.model import Mail

log = logging.getLogger(__name__)

BODY_CAP = 64 * 1024  # bytes of a body looked at, at most: a promise is near the top
TEXT_CAP = 16 * 1024  # characters of new text handed to the detector

PROMISES_OPTION = Option(
    bool, default=False,
    help="read the new text of your sent messages (never received mail, never stored) to "
         "find promises like 'I'll call you on Tuesday'; off by default, since it reads "
         "bodies")

# A line that ends the new text: what follows is history, a signature or a forward.
_CUT = re.compile(
    r"^(?:-- ?|--|_{10,}|-{5,} ?(?:Original Message|Ursprüngliche Nachricht|Forwarded "
    r"message|Forwarded Message|Weitergeleitete Nachricht|Message d'origine) ?-{5,}"
    r"|Begin forwarded message:|Anfang der weitergeleiteten Nachricht:"
    r"|-{2,} ?Forwarded message ?-{2,})\s*$", re.IGNORECASE)
# "On Mon, 2 Dec 2026 at 10:00, Jane <jane@x> wrote:", possibly wrapped over two lines;
# "Am 02.12.2026 um 10:00 schrieb Jane <jane@x>:"; "Le ... a écrit :".
_ATTRIBUTION = re.compile(
    r"^(?:On\b.{0,300}\bwrote\s*:|Am\b.{0,300}\bschrieb\b.{0,200}:"
    r"|Le\b.{0,300}\ba écrit\s*:)\s*$", re.IGNORECASE | re.DOTALL)
# Outlook's reply header: "From: ..." then, within a few lines, "Sent: ..." (or German).
_HEADER_FROM = re.compile(r"^\*?(?:From|Von|De)\s*:\*?\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\*?(?:Sent|Date|Gesendet|Datum|Envoyé)\s*:\*?\s", re.IGNORECASE)
_NBSP = str.maketrans({"\xa0": " ", "\u202f": " ", "\u2007": " ", "\r": None})


def new_text(plain: str) -> str:
    """The lines the user wrote in ``plain``: quoted lines (``>``) dropped, everything from
    an attribution line, an Outlook reply header, a signature delimiter or a forward marker
    on cut off, surrounding blank lines trimmed."""
    lines = plain.translate(_NBSP).split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        bare = line.strip()
        if bare.startswith(">"):
            continue
        if _CUT.match(line.rstrip("\n")) or _cuts_here(lines, i, bare):
            break
        kept.append(line.rstrip())
    return "\n".join(kept).strip()[:TEXT_CAP]


def _cuts_here(lines: list[str], i: int, bare: str) -> bool:
    """Whether line ``i`` starts an attribution (on it, or wrapped onto the next line) or
    an Outlook reply header block."""
    if not bare:
        return False
    if bare[:3].lower() in ("on ", "am ", "le ") and (
            _ATTRIBUTION.match(bare)
            or (i + 1 < len(lines) and _ATTRIBUTION.match(bare + " " + lines[i + 1].strip()))):
        return True
    if _HEADER_FROM.match(bare):
        return any(_HEADER_NEXT.match(x.strip()) for x in lines[i + 1:i + 4])
    return False


# -- HTML ------------------------------------------------------------------------------------
_BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
                    "table", "ul", "ol", "hr"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})
_HIDDEN = frozenset({"script", "style", "head", "title", "template"})
# Marks of what is not the user's new text: skipped (and what it holds), or the end of it.
_SKIP_CLASSES = ("gmail_signature", "moz-signature", "signature")
_STOP_CLASSES = ("gmail_quote", "moz-cite-prefix", "moz-forward-container", "yahoo_quoted",
                 "protonmail_quote")
_STOP_IDS = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container")


class _HtmlText(HTMLParser):
    """Text of an HTML body up to the first quote or reply mark, blockquotes and
    signatures left out, one line per block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0  # depth inside a skipped element
        self.stopped = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        found = {k: (v or "").lower() for k, v in attrs}
        classes, ident = found.get("class", ""), found.get("id", "")
        if any(c in classes for c in _STOP_CLASSES) or any(i in ident for i in _STOP_IDS):
            self.stopped = True
            return
        if tag in _VOID:
            if tag in _BLOCK and not self.skip:
                self._break()
            return
        if self.skip or tag == "blockquote" or tag in _HIDDEN or any(
                c in classes for c in _SKIP_CLASSES) or "signature" in ident:
            self.skip += 1
        elif tag in _BLOCK:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if self.stopped or tag in _VOID:
            return
        if self.skip:
            self.skip -= 1
        elif tag in _BLOCK:
            self._break()

    def _break(self) -> None:
        """A line break, one between two blocks however they are nested."""
        if self.out and not self.out[-1].endswith("\n"):
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if self.stopped or self.skip:
            return
        if data.strip():
            self.out.append(" ".join(data.split()) if "\n" in data else data)
        elif self.out and not self.out[-1].endswith(("\n", " ")):
            self.out.append(" ")  # the space between two inline elements


def html_text(html: str) -> str:
    """The visible text of an HTML body up to the quoted history (see ``_HtmlText``)."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception as exc:  # html.parser is lenient; anything else is a malformed body
        log.debug("HTML body not readable (%s); reading what came before", type(exc).__name__)
    lines = (" ".join(line.split()) for line in "".join(parser.out).split("\n"))
    return "\n".join(lines)


# -- MIME ------------------------------------------------------------------------------------
def _pick(found: Iterator[Leaf]) -> str:
    """The text of the first text/plain leaf, else of the first text/html one; '' if none."""
    html: Leaf | None = None
    for leaf in found:
        if leaf[0] == "text/plain":
            return _decode(leaf[2](), leaf[1])
        if leaf[0] == "text/html" and html is None:
            html = leaf
    return html_text(_decode(html[2](), html[1])) if html is not None else ""


def _decode(data: bytes, charset: str) -> str:
    """Bytes in the part's charset; an unknown or wrong one reads as UTF-8, else Latin-1."""
    data = data[:BODY_CAP]
    for name in (charset, "utf-8"):
        if not name:
            continue
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def message_text(raw: bytes) -> str:
    """The new text of a whole message (its header block, then at most ``BODY_CAP`` bytes
    of body): ``raw`` may be longer, the rest is not looked at."""
    try:
        _, body = find_header_end(raw)
        if body >= 0:
            raw = raw[:body + BODY_CAP]
        return new_text(_pick(leaves(raw)))
    except Exception as exc:  # a body this cannot read costs only its promises
        log.debug("message body not readable (%s)", type(exc).__name__)
        return ""


def payload_text(payload: Mapping[str, Any]) -> str:
    """The new text of a Gmail ``format=full`` message's ``payload``."""
    try:
        return new_text(_pick(json_leaves(payload, BODY_CAP)))
    except Exception as exc:
        log.debug("Gmail message body not readable (%s)", type(exc).__name__)
        return ""


# -- Graph's uniqueBody ----------------------------------------------------------------------
def item_body_text(body: Any) -> str:
    """The new text of Graph's ``uniqueBody`` (an itemBody: ``contentType`` text or html,
    ``content``); Graph has cut the quoted history already, the signature is cut here."""
    if not isinstance(body, dict):
        return ""
    content = str(body.get("content") or "")[:BODY_CAP]
    is_html = str(body.get("contentType") or "").lower() == "html"
    return new_text(html_text(content) if is_html else content)


# -- the detector ----------------------------------------------------------------------------
def with_promises(mail: Mail, text: str, tz: tzinfo) -> Mail:
    """``mail`` with the promises found in ``text``, its new text (sentences and days only:
    the text itself goes no further)."""
    # imported here: the config loads every connector module, and the detector's patterns
    # cost every command ~12 ms to compile while only an account with promises uses them
    from daemon.promisetext import find

    found = tuple(find(text, mail.date, tz)) if text else ()
    log.debug("%s: %d promise%s in %d characters of new text", mail.location, len(found),
              "" if len(found) == 1 else "s", len(text))  # how much, never what
    return dataclasses.replace(mail, promises=found) if found else mail
