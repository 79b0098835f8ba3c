"""What the IMAP source decides about its folders, without a network: which folder holds the
sent mail, what the per-folder cursor says, what to read after a STATUS, and in which chunks.

Kept apart from the connection code so every rule below is a pure function of data the
server sent, tested without a server.

UIDVALIDITY rule (RFC 3501 2.3.1.1 / RFC 9051 2.3.1.1: UIDs persist across sessions unless
UIDVALIDITY changes, and a new value must be greater than the old one): a greater value means
the stored UIDs no longer name the same messages, so the folder is read again from UID 1 and
the store drops the duplicates by Message-ID. An equal value is no change, and so is a lower
one: the RFC does not allow it, and it comes from a replica or proxy answering with stale
state (switching back and forth must not re-read the folder each time); the stored, greater
value is kept. What guards against a server that really renumbered (restored from a backup,
moved) whatever its UIDVALIDITY says: a UIDNEXT at or below the last UID read means UIDs were
handed out again, and that is a change. A server that changes UIDVALIDITY on every sync would
make every sync a full read: after ``MAX_CHANGES`` changes in a row the folder is reported
instead (``keeps_changing``), and read again once two syncs in a row see the same value.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from daemon.errors import SourceError
from daemon.model import JSON

log = logging.getLogger(__name__)

# Fallback names, in order, when no folder carries the \Sent special-use attribute.
SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "[Gmail]/Sent Mail", "INBOX.Sent")
# Received mail beside INBOX, by SPECIAL-USE attribute (RFC 6154): archived mail, and the
# folder holding every message (Gmail's "All Mail"); read after INBOX, duplicates dropped.
RECEIVED_FLAGS = (b"\\archive", b"\\all")
_UNSELECTABLE = frozenset((b"\\noselect", b"\\nonexistent"))
MAX_CHANGES = 3  # UIDVALIDITY changes in consecutive syncs before the folder is reported
CHUNK = 5000  # UIDs per FETCH and per Batch (one store transaction; see docs/PERFORMANCE.md)
MAX_SET_CHARS = 8000  # a UID set longer than this starts a new chunk (servers cap line length)

Listing = Sequence[tuple[Sequence[bytes], Any, str]]  # imapclient list_folders(): flags, sep, name


@dataclass(frozen=True, slots=True)
class FolderState:
    """What is known about one folder after a sync.

    ``last_uid``: every message with a smaller or equal UID under ``uidvalidity`` is stored.
    ``highestmodseq``: the folder's HIGHESTMODSEQ when it was last read completely (None while
    a read is under way, or without CONDSTORE). ``changes``: UIDVALIDITY changes seen in a row.
    """

    uidvalidity: int
    last_uid: int = 0
    highestmodseq: int | None = None
    changes: int = 0

    def dump(self) -> dict[str, int]:
        out = {"uidvalidity": self.uidvalidity, "last_uid": self.last_uid,
               "changes": self.changes}
        if self.highestmodseq is not None:
            out["highestmodseq"] = self.highestmodseq
        return out


@dataclass(frozen=True, slots=True)
class Status:
    """A folder's STATUS reply (``highestmodseq`` only from CONDSTORE servers)."""

    uidvalidity: int
    uidnext: int | None
    messages: int | None
    highestmodseq: int | None = None

    @classmethod
    def parse(cls, reply: Mapping[bytes, Any], where: str) -> Status:
        def num(key: bytes) -> int | None:
            value = reply.get(key)
            return int(value) if value is not None else None

        uidvalidity = num(b"UIDVALIDITY")
        if uidvalidity is None:  # without it no UID can be trusted from one sync to the next
            raise SourceError(f"IMAP server {where}: the STATUS reply has no UIDVALIDITY")
        return cls(uidvalidity, num(b"UIDNEXT"), num(b"MESSAGES"), num(b"HIGHESTMODSEQ"))


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with one folder: read the UIDs above ``after``, or nothing (``skip``)."""

    state: FolderState  # the folder's state before any message of this sync is stored
    after: int = 0
    skip: bool = False
    changed: bool = False  # UIDVALIDITY (or UID reuse) changed since the last sync
    keeps_changing: bool = False  # changed MAX_CHANGES times in a row: report, do not read


def plan(old: FolderState | None, st: Status) -> Plan:
    """Decide from the stored state and a fresh STATUS what this sync reads of a folder."""
    if old is None:
        if st.messages == 0 and st.uidnext is not None:
            return Plan(FolderState(st.uidvalidity, st.uidnext - 1, st.highestmodseq), skip=True)
        return Plan(FolderState(st.uidvalidity), after=0)
    reused = st.uidnext is not None and st.uidnext <= old.last_uid
    if st.uidvalidity > old.uidvalidity or reused:
        changes = old.changes + 1
        fresh = FolderState(st.uidvalidity, 0, None, changes)
        return Plan(fresh, after=0, changed=True, keeps_changing=changes >= MAX_CHANGES,
                    skip=changes >= MAX_CHANGES)
    same_modseq = old.highestmodseq is not None and old.highestmodseq == st.highestmodseq
    nothing_new = st.uidnext is not None and st.uidnext - 1 <= old.last_uid
    if same_modseq or nothing_new:
        return Plan(FolderState(old.uidvalidity, old.last_uid, st.highestmodseq, 0), skip=True)
    return Plan(FolderState(old.uidvalidity, old.last_uid, None, 0), after=old.last_uid)


def estimate(p: Plan, st: Status) -> int:
    """About how many messages reading the folder as planned fetches (progress, ETA): the
    folder's UIDs above the plan's start, at most its message count."""
    messages = st.messages or 0
    if st.uidnext is None or not p.after:
        return messages
    return max(0, min(messages, st.uidnext - 1 - p.after))


def finished(p: Plan, st: Status, last_read: int) -> FolderState:
    """The state once every UID the plan asked for is stored: UIDs below the STATUS's UIDNEXT
    all existed before the search that found them, so the next sync starts there."""
    last = max(p.state.last_uid, p.after, last_read,
               st.uidnext - 1 if st.uidnext is not None else 0)
    return FolderState(p.state.uidvalidity, last, st.highestmodseq, p.state.changes)


def uid_sets(uids: Sequence[int], size: int = CHUNK,
             max_chars: int = MAX_SET_CHARS) -> list[tuple[list[int], str]]:
    """Split sorted ``uids`` into chunks of at most ``size``, each with its IMAP UID set.

    Runs of consecutive UIDs are written ``a:b``: every UID in the run exists (SEARCH just
    said so) and a new message always gets a higher UID than any of them, so the set names
    exactly the chunk's UIDs, never ``n:*``. A chunk also ends where its set would pass
    ``max_chars``, so a folder full of gaps still sends short command lines.
    """
    out: list[tuple[list[int], str]] = []
    start, n = 0, len(uids)
    while start < n:
        parts: list[str] = []
        length, i = 0, start
        while i < n and i - start < size:
            j = i
            while j + 1 < n and uids[j + 1] == uids[j] + 1 and j + 1 - start < size:
                j += 1
            part = str(uids[i]) if i == j else f"{uids[i]}:{uids[j]}"
            if parts and length + len(part) + 1 > max_chars:
                break
            parts.append(part)
            length += len(part) + 1
            i = j + 1
        out.append((list(uids[start:i]), ",".join(parts)))
        start = i
    return out


def find_sent(listing: Listing) -> str | None:
    """The Sent folder: the one marked ``\\Sent`` (RFC 6154), else the first fallback name
    that exists, in any capitalisation (the exact spelling wins a tie); None if neither."""
    selectable = [(flags, name) for flags, _, name in listing
                  if not any(f.lower() in _UNSELECTABLE for f in flags)]
    for flags, name in selectable:
        if any(f.lower() == b"\\sent" for f in flags):
            return name
    names = [name for _, name in selectable]
    lowered = {name.lower(): name for name in reversed(names)}
    for wanted in SENT_NAMES:
        if wanted in names:
            return wanted
        if wanted.lower() in lowered:
            return lowered[wanted.lower()]
    return None


def find_special(listing: Listing, flags: Sequence[bytes]) -> list[str]:
    """The selectable folders marked with one of ``flags`` (RFC 6154 SPECIAL-USE, lower
    case, e.g. ``\\archive``), in the order of ``flags``, each once."""
    out: list[str] = []
    for wanted in flags:
        for folder_flags, _, name in listing:
            lowered = {f.lower() for f in folder_flags}
            if wanted in lowered and not lowered & _UNSELECTABLE and name not in out:
                out.append(name)
    return out


def load_cursor(raw: JSON | None) -> dict[str, FolderState]:
    """The per-folder states of a stored cursor; an unusable cursor means reading everything."""
    if raw is None:
        return {}
    try:
        folders = raw["folders"]
        return {
            str(name): FolderState(
                int(s["uidvalidity"]), int(s["last_uid"]),
                int(s["highestmodseq"]) if s.get("highestmodseq") is not None else None,
                int(s.get("changes", 0)))
            for name, s in folders.items()
        }
    except (AttributeError, KeyError, TypeError, ValueError):
        log.warning("imap cursor unreadable; reading every folder again")
        return {}


def dump_cursor(states: Mapping[str, FolderState]) -> dict[str, Any]:
    return {"folders": {name: s.dump() for name, s in sorted(states.items())}}


def names(listing: Listing) -> list[str]:
    return [name for _, _, name in listing]


def describe(folders: Iterable[str], limit: int = 12) -> str:
    """A short quoted list of folder names for error messages."""
    shown = [f'"{f}"' for f in sorted(folders)]
    more = len(shown) - limit
    return ", ".join(shown[:limit]) + (f" and {more} more" if more > 0 else "") or "none"
