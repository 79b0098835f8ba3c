"""Maildir source: the header of every message file in a Maildir's cur/ and new/.

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
"""

from __future__ import annotations

import bisect
import logging
import os
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import Connector, Option
from connectors.mailparse import parse_headers, read_header_block
from connectors.readahead import ReadAhead
from daemon.errors import SourceError
from daemon.model import JSON, AccountConfig, Batch, FetchContext, Observation, Skipped

log = logging.getLogger(__name__)

BATCH_SIZE = 5000  # one store transaction each: fewer, larger commits ingest ~30% faster
WINDOW_NS = 2_000_000_000  # timestamps are coarse and listing is not atomic: 2 s of slack
_SUBDIRS = ("cur", "new")
_MAX_DELIVERY_SECONDS = 10**11  # names with bigger leading numbers are not Maildir times


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
        }


def delivery_time(name: str, mtime_ns: int) -> datetime:
    """When the message arrived: the leading ``<seconds>.`` of a Maildir name, else mtime."""
    head, dot, _ = name.partition(".")
    if dot and head.isdigit() and 0 < int(head) < _MAX_DELIVERY_SECONDS:
        return datetime.fromtimestamp(int(head), UTC)
    return datetime.fromtimestamp(mtime_ns / 1e9, UTC)


class MaildirConnector(Connector):
    """Reads the headers of sent mail stored as a Maildir (Thunderbird, mbsync, offlineimap)."""

    type: ClassVar[str] = "maildir"
    reads_mail: ClassVar[bool] = True
    options: ClassVar[Mapping[str, Option]] = {
        "path": Option(str, required=True, is_path=True,
                       help="the Maildir folder holding cur/ new/ tmp/"),
    }

    def __init__(self, account: AccountConfig, batch_size: int = BATCH_SIZE) -> None:
        super().__init__(account)
        self.root = Path(self.account.options["path"]).expanduser()
        self.batch_size = batch_size

    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        dirs = self._dir_mtimes()  # raises SourceError now, not at the first next()
        return self._scan(_Cursor.load(cursor), dirs, time.time_ns())

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
                f"fix accounts[{self.name}].path in the config"
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
                        log.debug("maildir:%s/%s vanished while listing", sub, entry.name)
                        continue
                    if stat.S_ISREG(st.st_mode):
                        entries.append(
                            _Entry(st.st_ctime_ns, f"{sub}/{entry.name}", st.st_mtime_ns)
                        )
        entries.sort(key=lambda e: (e.ctime_ns, e.rel))
        return entries

    def _scan(self, old: _Cursor, dirs: dict[str, int], scan_ns: int) -> Iterator[Batch]:
        if old.dirs == dirs and all(m < old.scan_ns - WINDOW_NS for m in dirs.values()):
            log.debug("maildir %s unchanged since the last scan", self.root)
            yield Batch((), old.dump())
            return
        entries = self._list(dirs)
        ctimes = [e.ctime_ns for e in entries]
        todo = [
            i
            for i in range(bisect.bisect_left(ctimes, old.below_ns), len(entries))
            if entries[i].rel not in old.edge
        ]
        kept_edge = [i for i, e in enumerate(entries) if e.rel in old.edge]

        def cursor_after(i: int, below_ns: int, final: bool) -> dict[str, Any]:
            """Valid once entries[..i] and every file the old cursor covers are stored."""
            first = bisect.bisect_left(ctimes, below_ns)
            edge = {entries[j].rel for j in range(first, i + 1)}
            edge.update(entries[j].rel for j in kept_edge if j > i and ctimes[j] >= below_ns)
            return _Cursor(
                below_ns, frozenset(edge), dirs if final else None, scan_ns if final else 0
            ).dump()

        floor_ns = scan_ns - WINDOW_NS
        # The high-water mark comes from the files' own ctimes (the file server's clock), so
        # a server clock behind ours cannot hide mail that arrives after this scan.
        mark_ns = min(ctimes[-1], scan_ns) - WINDOW_NS if entries else old.below_ns
        final_cursor = cursor_after(len(entries) - 1, max(old.below_ns, mark_ns), True)
        if not todo:
            yield Batch((), final_cursor)
            return
        warm = ReadAhead([os.path.join(self.root, entries[i].rel) for i in todo])
        try:
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start : start + self.batch_size]
                observations: list[Observation] = []
                for n, i in enumerate(chunk):
                    if n % 64 == 0:
                        warm.advance(start + n)
                    if (obs := self._read(entries[i])) is not None:
                        observations.append(obs)
                if start + self.batch_size >= len(todo):
                    yield Batch(observations, final_cursor)
                else:
                    last = chunk[-1]
                    below = max(old.below_ns, min(ctimes[last], floor_ns))
                    yield Batch(observations, cursor_after(last, below, False),
                                remaining=len(todo) - start - len(chunk))
        finally:
            warm.close()

    def _read(self, entry: _Entry) -> Observation | None:
        location = f"maildir:{entry.rel}"
        try:
            with open(os.path.join(self.root, entry.rel), "rb", buffering=0) as f:
                raw = read_header_block(f)
        except FileNotFoundError:
            log.debug("%s vanished before it was read", location)
            return None
        except OSError as e:
            return Skipped(location, f"cannot read: {e.strerror or e}")
        fallback = delivery_time(entry.rel.partition("/")[2], entry.mtime_ns)
        return parse_headers(raw, location, fallback)
