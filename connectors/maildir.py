"""Maildir source: the header of every message file in a Maildir's cur/ and new/, for the
sent folder (``path``) and each received folder (``received``), each folder with a cursor of
its own (``connectors.mailpaths`` joins them into the account's).

Why inode change time: every file that appears in cur/ or new/ (delivered, or renamed in
from tmp/ or by a sync tool) gets a fresh ctime that no tool can set back, so "files whose
ctime is at or past the cursor" finds new mail without remembering every file name. The
cursor is opaque JSON:

- ``below_ns``: every file with a smaller ctime has been read;
- ``edge``: the names (``cur/x``, ``new/y``) with ctime >= below_ns that have been read too,
  so a file landing in the same clock tick as the last scan is neither missed nor re-read;
- ``dirs`` / ``scan_ns``: cur/ and new/ mtimes before the last complete scan and the scan's
  start, to skip listing the folder when nothing can have changed.

After a complete scan ``below_ns`` is 2 s below the newest ctime seen (capped by our own
clock): a file not yet visible while a folder was listed gets a later ctime than any file
listed, by the file system's clock. Within a scan, a batch's cursor uses the ctime of its
last file (files are read in (ctime, name) order), so intermediate cursors stay small.

A message moved new/ -> cur/ (or whose flags change) is renamed, gets a new ctime and is
read again; the store deduplicates by Message-ID.

With ``promises = true`` the sent folder's files are read past the header block too (at
most 64 KiB of body) for ``connectors.bodytext``; received folders never are.

A file that cannot be read (permissions, an I/O error, a link to nothing) is Skipped once and
its name kept in the cursor (``retry``, at most RETRY_LIMIT names): it is tried again at every
sync, whether or not the folder changed (a ``chmod`` changes no folder), until it is read,
then ingested like any other, or is gone, then forgotten.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import os
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from connectors import mailpaths
from connectors.base import Connector, Option
from connectors.bodytext import BODY_CAP, PROMISES_OPTION, message_text, with_promises
from connectors.mailparse import HEADER_CAP, parse_headers, plausible, read_header_block
from connectors.readahead import ReadAhead
from daemon.errors import ShrinkRefused, SourceError
from daemon.model import JSON, AccountConfig, Batch, FetchContext, Mail, Observation, Skipped

log = logging.getLogger(__name__)

BATCH_SIZE = 5000  # one store transaction each: fewer, larger commits ingest ~30% faster
WINDOW_NS = 2_000_000_000  # timestamps are coarse and listing is not atomic: 2 s of slack
_SUBDIRS = ("cur", "new")
_MAX_DELIVERY_SECONDS = 10**11  # names with bigger leading numbers are not Maildir times
RETRY_LIMIT = 1000  # unreadable files the cursor keeps to try again; more are Skipped only


@dataclass(frozen=True, slots=True)
class _Entry:
    ctime_ns: int
    rel: str  # "cur/<name>" or "new/<name>"
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class _Cursor:
    below_ns: int
    edge: frozenset[str]
    dirs: dict[str, int] | None
    scan_ns: int
    retry: frozenset[str] = frozenset()  # names that could not be read: tried at every sync

    @classmethod
    def load(cls, raw: JSON | None) -> _Cursor:
        """The cursor stored by an earlier fetch; an unusable one means reading from the start."""
        if raw is None:
            return cls(-1, frozenset(), None, 0)
        try:
            dirs = raw.get("dirs")
            return cls(
                int(raw["below_ns"]),
                frozenset(str(n) for n in raw["edge"]),
                {str(k): int(v) for k, v in dirs.items()} if dirs is not None else None,
                int(raw.get("scan_ns", 0)),
                frozenset(str(n) for n in raw.get("retry", ())),
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            log.warning("maildir cursor unreadable; reading the whole folder again")
            return cls(-1, frozenset(), None, 0)

    def dump(self) -> dict[str, Any]:
        return {
            "below_ns": self.below_ns,
            "edge": sorted(self.edge),
            "dirs": self.dirs,
            "scan_ns": self.scan_ns,
            "retry": sorted(self.retry),
        }


def delivery_time(name: str, mtime_ns: int, now: datetime) -> datetime:
    """When the message arrived: the leading ``<seconds>.`` of a Maildir name when that is a
    plausible time, else the file's mtime (which ``parse_headers`` checks in its turn)."""
    head, dot, _ = name.partition(".")
    if dot and head.isdigit() and 0 < int(head) < _MAX_DELIVERY_SECONDS:
        named = plausible(datetime.fromtimestamp(int(head), UTC), now)
        if named is not None:
            return named
    return datetime.fromtimestamp(mtime_ns / 1e9, UTC)


@dataclass(frozen=True, slots=True)
class _Unreadable:
    """A message file that exists but cannot be read now."""

    reason: str


class _Listing:
    """One listing of the folder, in (ctime, name) order, and the cursors it allows."""

    def __init__(self, entries: list[_Entry], old: _Cursor, dirs: dict[str, int],
                 scan_ns: int) -> None:
        self.entries, self.old, self.dirs, self.scan_ns = entries, old, dirs, scan_ns
        self.ctimes = [e.ctime_ns for e in entries]
        self.kept_edge = [i for i, e in enumerate(entries) if e.rel in old.edge]

    def cursor(self, i: int, below_ns: int, final: bool, retry: set[str]) -> dict[str, Any]:
        """Valid once entries[..i] and every file the old cursor covers are stored."""
        first = bisect.bisect_left(self.ctimes, below_ns)
        edge = {self.entries[j].rel for j in range(first, i + 1)}
        edge.update(self.entries[j].rel for j in self.kept_edge
                    if j > i and self.ctimes[j] >= below_ns)
        return _Cursor(below_ns, frozenset(edge), self.dirs if final else None,
                       self.scan_ns if final else 0, frozenset(retry)).dump()

    def final(self, retry: set[str]) -> dict[str, Any]:
        """The cursor once every entry is stored."""
        # The high-water mark comes from the files' own ctimes (the file server's clock), so
        # a server clock behind ours cannot hide mail that arrives after this scan.
        mark_ns = (min(self.ctimes[-1], self.scan_ns) - WINDOW_NS if self.entries
                   else self.old.below_ns)
        return self.cursor(len(self.entries) - 1, max(self.old.below_ns, mark_ns), True, retry)

    def todo(self) -> list[int]:
        """Indexes of the entries to read: new since the old cursor, and not in its retry
        list (those are read first, changed or not)."""
        done = self.old.edge | self.old.retry
        return [i for i in range(bisect.bisect_left(self.ctimes, self.old.below_ns),
                                 len(self.entries)) if self.entries[i].rel not in done]


class MaildirConnector(Connector):
    """Reads the headers of mail stored as Maildirs (Thunderbird, mbsync, offlineimap): the
    sent folder, and the received folders when configured."""

    type: ClassVar[str] = "maildir"
    reads_mail: ClassVar[bool] = True
    options: ClassVar[Mapping[str, Option]] = {
        "path": Option(str, required=True, is_path=True,
                       help="the Maildir folder of sent mail, holding cur/ new/ tmp/"),
        "received": mailpaths.received_option("Maildir folders (INBOX, an archive)"),
        "promises": PROMISES_OPTION,
    }

    def __init__(self, account: AccountConfig, batch_size: int = BATCH_SIZE) -> None:
        super().__init__(account)
        opts = self.account.options
        self.sent = MaildirFolder(Path(opts["path"]).expanduser(), self.name, "path", batch_size,
                                  promises=bool(opts["promises"]))
        self.received = {str(p): MaildirFolder(Path(p).expanduser(), self.name, "received",
                                               batch_size, received=True)
                         for p in opts["received"]}

    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        return mailpaths.fetch(cursor, ctx, self.sent, self.received)


class MaildirFolder:
    """One Maildir folder read from its own cursor; ``received``: its mail is received mail;
    ``promises``: the bodies are read for promises (the sent folder, with ``promises =
    true``). ``account`` and ``key`` name the account and the option naming the folder, for
    errors."""

    def __init__(self, root: Path, account: str, key: str, batch_size: int,
                 received: bool = False, promises: bool = False) -> None:
        self.root, self.name, self.key = root, account, key
        self.batch_size, self.received = batch_size, received
        self.promises = promises and not received
        # received folders name themselves in locations: an account may have several
        self.where = f"maildir:{root.name}/" if received else "maildir:"

    def fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        dirs = self._dir_mtimes()  # raises SourceError now, not at the first next()
        return self._scan(_Cursor.load(cursor), dirs, time.time_ns(), ctx)

    def _dir_mtimes(self) -> dict[str, int]:
        """cur/ and new/ mtimes, taken before listing so a change during the scan shows later."""
        dirs: dict[str, int] = {}
        for sub in _SUBDIRS:
            try:
                st = os.stat(self.root / sub)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                dirs[sub] = st.st_mtime_ns
        if not dirs:
            raise SourceError(
                f"maildir folder {self.root} not found (no cur/ or new/ in it); "
                f"fix accounts[{self.name}].{self.key} in the config"
            )
        return dirs

    def _list(self, dirs: Mapping[str, int]) -> list[_Entry]:
        entries: list[_Entry] = []
        for sub in dirs:
            try:
                it = os.scandir(self.root / sub)
            except FileNotFoundError:
                continue
            except OSError as e:
                raise SourceError(f"cannot list {self.root / sub}: {e.strerror}") from e
            with it:
                for entry in it:
                    if entry.name.startswith("."):
                        continue
                    try:
                        st = entry.stat()
                    except OSError:
                        if not entry.is_symlink():
                            log.debug("maildir:%s/%s vanished while listing", sub, entry.name)
                            continue
                        st = entry.stat(follow_symlinks=False)  # a link to nothing: unreadable
                    if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                        entries.append(
                            _Entry(st.st_ctime_ns, f"{sub}/{entry.name}", st.st_mtime_ns)
                        )
        entries.sort(key=lambda e: (e.ctime_ns, e.rel))
        return entries

    def _scan(self, old: _Cursor, dirs: dict[str, int], scan_ns: int, ctx: FetchContext
              ) -> Iterator[Batch]:
        retried, retry = self._retry(old.retry, ctx)
        if old.dirs == dirs and all(m < old.scan_ns - WINDOW_NS for m in dirs.values()):
            log.debug("maildir %s unchanged since the last scan", self.root)
            yield Batch(tuple(retried), dataclasses.replace(old, retry=frozenset(retry)).dump())
            return
        listing = _Listing(self._list(dirs), old, dirs, scan_ns)
        entries, todo = listing.entries, listing.todo()
        if not entries and old.below_ns >= 0:  # it held mail at an earlier sync
            if not ctx.accept_shrink:
                raise ShrinkRefused(
                    f"{self.name}: the maildir folder {self.root} is empty, but it held mail "
                    "at an earlier sync (an unmounted disk? a sync tool gone wrong?); keepwarm "
                    "keeps what it read. If you emptied it: keepwarm sync --accept-shrink "
                    f"{self.name}")
            yield Batch((), _Cursor(-1, frozenset(), dirs, scan_ns).dump())
            return
        if not todo:
            yield Batch(tuple(retried), listing.final(retry))
            return
        warm = ReadAhead([os.path.join(self.root, entries[i].rel) for i in todo])
        try:
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start : start + self.batch_size]
                observations = retried if start == 0 else []
                for n, i in enumerate(chunk):
                    if n % 64 == 0:
                        warm.advance(start + n)
                    if (obs := self._observe(entries[i], ctx, retry)) is not None:
                        observations.append(obs)
                if start + self.batch_size >= len(todo):
                    yield Batch(observations, listing.final(retry))
                else:
                    below = max(old.below_ns, min(entries[chunk[-1]].ctime_ns,
                                                  scan_ns - WINDOW_NS))
                    yield Batch(observations, listing.cursor(chunk[-1], below, False, retry),
                                remaining=len(todo) - start - len(chunk))
        finally:
            warm.close()

    def _retry(self, names: frozenset[str], ctx: FetchContext
               ) -> tuple[list[Observation], set[str]]:
        """Read again the files an earlier sync could not read: what they hold now, and the
        names still unreadable (a name that is gone is forgotten)."""
        observations: list[Observation] = []
        still: set[str] = set()
        for rel in sorted(names):
            path = os.path.join(self.root, rel)
            try:
                st = os.stat(path)
            except OSError as e:
                if not isinstance(e, FileNotFoundError) or os.path.lexists(path):
                    still.add(rel)
                continue
            if not stat.S_ISREG(st.st_mode):
                continue  # no longer a message file
            got = self._read(_Entry(st.st_ctime_ns, rel, st.st_mtime_ns), ctx)
            if isinstance(got, _Unreadable):
                log.debug("maildir:%s still unreadable: %s", rel, got.reason)
                still.add(rel)
            elif got is not None:
                observations.append(got)
        return observations, still

    def _observe(self, entry: _Entry, ctx: FetchContext, retry: set[str]
                 ) -> Observation | None:
        """The message in ``entry``; Skipped when it cannot be read, and then kept in
        ``retry`` (up to RETRY_LIMIT names) to be tried again at every sync."""
        got = self._read(entry, ctx)
        if not isinstance(got, _Unreadable):
            return got
        if len(retry) < RETRY_LIMIT:
            retry.add(entry.rel)
            then = "tried again at every sync until it can be read or is gone"
        else:
            then = f"not tried again: more than {RETRY_LIMIT} files here cannot be read"
        return Skipped(f"{self.where}{entry.rel}", f"cannot read: {got.reason}; {then}")

    def _read(self, entry: _Entry, ctx: FetchContext) -> Observation | _Unreadable | None:
        """The message in ``entry``, _Unreadable, or None when the file is gone. Only the
        header block is read, unless the folder reads promises: then its body too, up to
        BODY_CAP, handed to the detector and dropped with ``raw``."""
        path = os.path.join(self.root, entry.rel)
        try:
            with open(path, "rb", buffering=0) as f:
                raw = f.read(HEADER_CAP + BODY_CAP) if self.promises else read_header_block(f)
        except FileNotFoundError:
            if os.path.lexists(path):
                return _Unreadable("it is a link to a file that does not exist")
            log.debug("maildir:%s vanished before it was read", entry.rel)
            return None
        except OSError as e:
            return _Unreadable(e.strerror or str(e))
        now = ctx.now
        fallback = delivery_time(entry.rel.partition("/")[2], entry.mtime_ns, now)
        got = parse_headers(raw, f"{self.where}{entry.rel}", fallback, now, self.received)
        if self.promises and isinstance(got, Mail):
            return with_promises(got, message_text(raw), ctx.tz)
        return got
