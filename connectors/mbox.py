"""mbox source: the headers of every message in an mbox file (a Thunderbird "Sent" folder),
for the sent file (``path``) and each received file (``received``), each with a cursor of its
own (``connectors.mailpaths`` joins them into the account's).

Why a byte offset for a cursor: mail clients only append to an mbox until they compact it,
which rewrites the file. The cursor is the offset up to which everything is read plus the
file's identity (inode, hash of its first bytes); a file that shrank or changed identity is
read again from the start (the store deduplicates by Message-ID). Thunderbird also rewrites
status headers in place, which can change that hash: that costs a re-read, never a miss.

The file is streamed in chunks: only header blocks are parsed, bodies are skipped with a
byte search for the next ``\\nFrom `` line, so a huge mbox costs one sequential read. With
``promises = true`` the sent file's messages also carry the first 64 KiB of their body,
copied while the stream holds it, for ``connectors.bodytext``; received files never do.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from connectors import mailpaths
from connectors.base import Connector, Option
from connectors.bodytext import BODY_CAP, PROMISES_OPTION, message_text, with_promises
from connectors.mailparse import HEADER_CAP, MONTHS, find_header_end, parse_headers, plausible
from daemon.errors import SourceError
from daemon.model import JSON, AccountConfig, Batch, FetchContext, Mail, Observation, Skipped

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
IDENTITY_BYTES = 4096
_CHUNK = 1024 * 1024
_SEP = b"\nFrom "
_MAX_FROM_LINE = 8192
_HEAD_LIMIT = _MAX_FROM_LINE + HEADER_CAP + 3
_ASCTIME = re.compile(rb"([A-Za-z]{3}) +(\d{1,2}) +(\d{1,2}):(\d{2}):(\d{2}) +(\d{4})")


def separator_date(from_line: bytes) -> datetime | None:
    """The asctime date of a ``From `` separator line (taken as UTC), or None."""
    m = _ASCTIME.search(from_line)
    if m is None:
        return None
    month = MONTHS.get(m.group(1).decode("ascii").lower())
    if month is None:
        return None
    day, hour, minute, second, year = (int(g) for g in m.group(2, 3, 4, 5, 6))
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Message:
    offset: int  # of its "From " line
    from_line: bytes
    header: bytes | None  # None: the header block is not complete yet (still being written)
    end: int  # where the next message starts (or EOF)
    body: bytes = b""  # its first BODY_CAP bytes, when bodies are read (promises)


class _Stream:
    """A forward-only window on the file: absolute offsets in, bytes out."""

    def __init__(self, f: BinaryIO, offset: int) -> None:
        self.f = f
        self.base = offset  # file offset of buf[0]
        self.buf = b""
        self.eof = False
        f.seek(offset)

    def more(self, keep_from: int) -> bool:
        """Forget bytes before ``keep_from``, read one more chunk; False at end of file."""
        if self.eof:
            return False
        chunk = self.f.read(_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[keep_from - self.base :] + chunk
        self.base = keep_from
        return True

    def find(self, needle: bytes, start: int) -> int:
        """Absolute offset of ``needle`` at or after ``start``, reading on; -1 at EOF."""
        while True:
            i = self.buf.find(needle, max(0, start - self.base))
            if i >= 0:
                return self.base + i
            if not self.more(max(start, self.base + len(self.buf) - len(needle))):
                return -1

    def available(self, start: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``start`` (fewer only at EOF)."""
        buf, rel = self.window(start, length)
        return buf[rel : rel + length]

    def window(self, start: int, length: int) -> tuple[bytes, int]:
        """The buffer, holding ``length`` bytes from ``start`` (fewer only at EOF), and the
        index of ``start`` in it: searching it in place saves copying each header window."""
        while self.base + len(self.buf) < start + length and self.more(start):
            pass
        return self.buf, start - self.base


def _messages(s: _Stream, offset: int, bodies: bool = False) -> Iterator[_Message]:
    """Every message starting at or after ``offset``; a resume offset inside a body
    (a message whose body was still being written) skips to the next separator.
    ``bodies``: each message carries the start of its body too."""
    if offset == 0 and s.available(0, 5) == b"From ":
        start = 0
    else:
        at = s.find(_SEP, max(0, offset - 1))
        if at < 0:
            return
        start = at + 1
    while True:
        buf, r = s.window(start, _HEAD_LIMIT)
        lim = min(len(buf), r + _HEAD_LIMIT)
        complete = lim == r + _HEAD_LIMIT  # False: the file ends inside the window
        nl = buf.find(b"\n", r, min(lim, r + _MAX_FROM_LINE))
        if nl < 0:
            if not complete and buf.find(b"\n", r, lim) < 0:  # EOF inside the From line
                yield _Message(start, buf[r:lim], None, start)
                return
            nl = r + _MAX_FROM_LINE - 1  # an absurd separator line: cut it
        hs = nl + 1  # where the header block starts
        end, body = find_header_end(buf, hs, min(lim, hs + HEADER_CAP + 3))
        sep = buf.find(_SEP, nl, end if end >= 0 else lim)
        if sep >= 0:  # the next message starts before any blank line: a header, no body
            header, body = buf[hs : sep + 1], sep + 1
        elif end >= 0:
            header = buf[hs:body]
        elif not complete:  # EOF before the blank line: still being written
            yield _Message(start, buf[r:hs], None, start)
            return
        else:
            header, body = buf[hs : hs + HEADER_CAP + 1], hs + HEADER_CAP
        from_line = buf[r:hs]
        body_at = s.base + body
        text = _body_start(s, body_at) if bodies else b""
        nxt = s.find(_SEP, body_at - 1)
        end_at = nxt + 1 if nxt >= 0 else s.base + len(s.buf)
        yield _Message(start, from_line, header, end_at, text)
        if nxt < 0:
            return
        start = nxt + 1


def _body_start(s: _Stream, at: int) -> bytes:
    """The first BODY_CAP bytes of the body starting at ``at``, up to the next message."""
    text = s.available(at, BODY_CAP)
    cut = (b"\n" + text).find(_SEP)  # the body may be empty: the next "From " line at once
    return text[:cut] if cut >= 0 else text


class MboxConnector(Connector):
    """Reads the headers of mail stored in mbox files: the sent mail's, and the received
    mail's when configured."""

    type: ClassVar[str] = "mbox"
    reads_mail: ClassVar[bool] = True
    options: ClassVar[Mapping[str, Option]] = {
        "path": Option(str, required=True, is_path=True,
                       help='the mbox file, e.g. Thunderbird\'s "Sent"'),
        "received": mailpaths.received_option('mbox files (e.g. Thunderbird\'s "Inbox")'),
        "promises": PROMISES_OPTION,
    }

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        opts = self.account.options
        self.sent = MboxFile(Path(opts["path"]).expanduser(), self.name, "path",
                             promises=bool(opts["promises"]))
        self.received = {str(p): MboxFile(Path(p).expanduser(), self.name, "received", True)
                         for p in opts["received"]}

    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        return mailpaths.fetch(cursor, ctx, self.sent, self.received)


class MboxFile:
    """One mbox file read from its own cursor; ``received``: its mail is received mail;
    ``promises``: the bodies are read for promises (the sent file, with ``promises = true``).
    ``account`` and ``key`` name the account and the option naming the file, for errors."""

    def __init__(self, path: Path, account: str, key: str, received: bool = False,
                 promises: bool = False) -> None:
        self.path, self.name, self.key, self.received = path, account, key, received
        self.promises = promises and not received

    def fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed by the generator
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as e:
            raise SourceError(
                f"mbox file {self.path} not found; fix accounts[{self.name}].{self.key} in "
                "the config") from e
        except OSError as e:
            raise SourceError(f"cannot open mbox file {self.path}: {e.strerror}") from e
        return self._read_or_fail(f, cursor, ctx)

    def _read_or_fail(self, f: BinaryIO, cursor: JSON | None, ctx: FetchContext
                      ) -> Iterator[Batch]:
        """``_read``, with a read error one line: the batches before it are stored with
        their cursors, so the next sync tries again from there."""
        try:
            yield from self._read(f, cursor, ctx)
        except OSError as e:
            raise SourceError(f"cannot read mbox file {self.path}: {e.strerror or e}; "
                              "tried again at the next sync") from None

    def _read(self, f: BinaryIO, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        with f:
            st = os.fstat(f.fileno())
            offset = self._resume_offset(f, st, cursor)
            mtime = datetime.fromtimestamp(st.st_mtime, UTC)
            observations: list[Observation] = []
            f.seek(0)
            if offset == 0 and st.st_size and f.read(5) != b"From ":
                observations.append(
                    Skipped(f"mbox:{self.path.name}#0", "does not start with a 'From ' line")
                )
            stream = _Stream(f, max(0, offset - 1))
            consumed = offset
            for msg in _messages(stream, offset, self.promises):
                if msg.header is None:
                    break  # still being written: the next sync reads it from its start
                observations.append(self._observation(msg, mtime, ctx))
                consumed = msg.end
                if len(observations) >= BATCH_SIZE:
                    yield Batch(observations, self._cursor(f, st, consumed))
                    observations = []
            else:
                if stream.eof:
                    consumed = max(consumed, stream.base + len(stream.buf))
            yield Batch(observations, self._cursor(f, st, consumed))

    def _observation(self, msg: _Message, mtime: datetime, ctx: FetchContext) -> Observation:
        location = f"mbox:{self.path.name}#{msg.offset}"
        now = ctx.now
        assert msg.header is not None
        if not msg.header.strip():
            return Skipped(location, "no header block")
        # the separator's date when plausible, else the file's mtime (checked by parse_headers)
        fallback = plausible(separator_date(msg.from_line), now) or mtime
        got = parse_headers(msg.header, location, fallback, now, self.received)
        if self.promises and isinstance(got, Mail):
            return with_promises(got, message_text(msg.header + msg.body), ctx.tz)
        return got

    def _resume_offset(self, f: BinaryIO, st: os.stat_result, cursor: JSON | None) -> int:
        if cursor is None:
            return 0
        try:
            offset, ino = int(cursor["offset"]), int(cursor["ino"])
            head_len, head_sha1 = int(cursor["head_len"]), str(cursor["head_sha1"])
        except (KeyError, TypeError, ValueError):
            log.warning("mbox cursor unreadable; reading %s again from the start", self.path)
            return 0
        if ino != st.st_ino or st.st_size < offset or _head_hash(f, head_len) != head_sha1:
            log.info("mbox %s was rewritten (compacted?); reading it again", self.path)
            return 0
        return offset

    @staticmethod
    def _cursor(f: BinaryIO, st: os.stat_result, consumed: int) -> dict[str, Any]:
        head_len = min(IDENTITY_BYTES, consumed)
        pos = f.tell()
        digest = _head_hash(f, head_len)
        f.seek(pos)
        return {
            "offset": consumed,
            "ino": st.st_ino,
            "head_len": head_len,
            "head_sha1": digest,
        }


def _head_hash(f: BinaryIO, length: int) -> str:
    f.seek(0)
    return hashlib.sha1(f.read(length)).hexdigest()
