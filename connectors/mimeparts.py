"""The text parts of a MIME message, for ``connectors.bodytext``: from raw bytes (Maildir,
mbox, IMAP) or from Gmail's ``format=full`` JSON, each leaf with its type and charset.

Why not ``email.parser``: it builds every part line by line and compiles a regular
expression for each new boundary (every message has its own), about 400 us a message: a
fifth of the 2,000 messages a second the body scan must reach. What promises need is the
first text/plain (or text/html) leaf that is no attachment, so this walker splits the body
on its boundaries with byte searches, reads three header fields of each part, and decodes
only the leaf that is used (quoted-printable and base64 through ``binascii``). Forwarded
messages (``message/rfc822``) and attachments are never descended into; nesting stops at
``MAX_DEPTH`` and a message at ``MAX_PARTS`` parts.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

MAX_DEPTH = 8
MAX_PARTS = 64

# content type, charset, the decoded bytes (called only for the leaf that is used)
Leaf = tuple[str, str, Callable[[], bytes]]

_FIELD = re.compile(rb"^(content-type|content-transfer-encoding|content-disposition)[ \t]*:"
                    rb"[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)", re.IGNORECASE | re.MULTILINE)
_PARAM = re.compile(r"""[;\s]%s\s*=\s*(?:"([^"]*)"|([^;\s]+))""")
_BOUNDARY = re.compile(_PARAM.pattern % "boundary", re.IGNORECASE)
_CHARSET = re.compile(_PARAM.pattern % "charset", re.IGNORECASE)


def _fields(head: bytes) -> dict[bytes, str]:
    """The part's Content-Type, -Transfer-Encoding and -Disposition, unfolded (the first
    of each)."""
    out: dict[bytes, str] = {}
    for m in _FIELD.finditer(head):
        out.setdefault(m.group(1).lower(), " ".join(
            m.group(2).decode("latin-1").split()))
    return out


def _param(pattern: re.Pattern[str], value: str) -> str:
    m = pattern.search(value)
    return (m.group(1) if m.group(1) is not None else m.group(2)) if m else ""


def _split(data: bytes) -> tuple[bytes, bytes]:
    """(header block, body) of one part, line ends already LF."""
    if data.startswith(b"\n"):
        return b"", data[1:]
    head, sep, body = data.partition(b"\n\n")
    return (head, body) if sep else (data, b"")


def _transfer_decoded(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding == "quoted-printable":
            return binascii.a2b_qp(body)
        if encoding == "base64":  # some senders leave the padding off
            data = b"".join(body.split())
            return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return b""
    return body


def _parts(body: bytes, boundary: str) -> list[bytes]:
    """The parts between ``--boundary`` lines, up to the closing ``--boundary--``."""
    delimiter = b"\n--" + boundary.encode("latin-1", "replace")
    text = b"\n" + body
    out: list[bytes] = []
    at = text.find(delimiter)
    while at >= 0 and len(out) < MAX_PARTS:
        start = at + len(delimiter)
        if text.startswith(b"--", start):
            break
        line_end = text.find(b"\n", start)
        if line_end < 0:
            break
        at = text.find(delimiter, line_end)
        out.append(text[line_end + 1:at if at >= 0 else len(text)])
    return out


def leaves(raw: bytes, depth: int = 0) -> Iterator[Leaf]:
    """The readable leaves of the message (or part) ``raw``, in order."""
    head, body = _split(raw.replace(b"\r\n", b"\n") if depth == 0 else raw)
    fields = _fields(b"\n" + head)
    value = fields.get(b"content-type", "text/plain")
    ctype = value.partition(";")[0].strip().lower() or "text/plain"
    if ctype.startswith("multipart/"):
        boundary = _param(_BOUNDARY, value)
        if boundary and depth < MAX_DEPTH:
            for part in _parts(body, boundary):
                yield from leaves(part, depth + 1)
    elif ctype.startswith("text/") and not attachment(fields.get(b"content-disposition", "")):
        encoding = fields.get(b"content-transfer-encoding", "")
        yield ctype, _param(_CHARSET, value).lower(), lambda: _transfer_decoded(body, encoding)


def attachment(disposition: str) -> bool:
    return disposition.strip().lower().startswith("attachment")


def json_leaves(part: Mapping[str, Any], cap: int) -> Iterator[Leaf]:
    """``leaves`` of Gmail's ``payload`` (parts with ``mimeType``, ``headers``,
    ``filename`` and ``body.data``, base64url of the part decoded from its transfer
    encoding); at most ``cap`` bytes of a leaf are decoded."""
    ctype = str(part.get("mimeType") or "").lower()
    headers = {str(h.get("name", "")).lower(): str(h.get("value", ""))
               for h in part.get("headers") or [] if isinstance(h, dict)}
    if ctype.startswith("multipart/"):
        for sub in (part.get("parts") or [])[:MAX_PARTS]:
            if isinstance(sub, dict):
                yield from json_leaves(sub, cap)
    elif ctype.startswith("text/") and not part.get("filename") and not attachment(
            headers.get("content-disposition", "")):
        data = str((part.get("body") or {}).get("data") or "")[:cap * 4 // 3 + 4]
        charset = _param(_CHARSET, " " + headers.get("content-type", "")).lower()
        yield ctype, charset, lambda: _unbase64url(data)


def _unbase64url(data: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return b""
