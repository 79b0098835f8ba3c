"""The calendars of a Google or Outlook account (ids and names), kept between syncs, so an
idle cycle costs one request per source instead of listing the calendars every time.

keepwarm finds calendars by name (the reminders calendar, meeting calendars given by name),
which needs the account's calendar list (``calendarList.list``, ``/me/calendars``). The list
is kept for an hour (``REFRESH``) in ``<state_dir>/<account>.calendars.json`` (0600, replaced
atomically), where the next connector finds it, in this process (``keepwarm run``) or in
another (``keepwarm sync``). It is dropped when a calendar keepwarm reads or writes answers
404 or 410 (``forget``: deleted, or the name now belongs to another calendar), and a name a
kept list lacks is looked for in a fresh one before keepwarm decides it does not exist.

Why a file in the state dir rather than the account's cursor: the reminders side (listing
and writing reminders) gets no cursor, and it is the side that looked the list up at every
cycle; and the list is only a cache: losing it costs one request, a stale one is caught by
the 404 or 410 it causes. Without a state dir (a hand-built account) the list lives as long
as the connector.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from connectors.atomic import write_atomic

log = logging.getLogger(__name__)

REFRESH = 3600.0  # seconds a kept list is used before it is read again
_FORMAT = 1

Entry = tuple[str, tuple[str, ...]]  # a calendar's id and the names it goes by
Read = Callable[[], list[Entry]]  # lists the calendars from the server
Match = Callable[[list[Entry]], Mapping[str, str]]  # what was wanted -> calendar id


class CalendarList:
    """One account's calendar list, read from the server hourly, or sooner when a lookup
    misses or a calendar is gone."""

    def __init__(self, state_dir: str, account: str,
                 clock: Callable[[], float] = time.time) -> None:
        """``clock``: seconds since the epoch (the kept list's age outlives the process)."""
        self.path = Path(state_dir) / f"{account}.calendars.json" if state_dir else None
        self.account = account
        self.clock = clock
        self._kept: tuple[float, list[Entry]] | None = None

    def entries(self, read: Read) -> list[Entry]:
        """The kept list, or a fresh one when it is an hour old."""
        kept = self._load()
        return kept if kept is not None else self.refresh(read)

    def find(self, wanted: Collection[str], match: Match, read: Read) -> dict[str, str]:
        """``match`` over the list: the kept one, or a fresh one when the kept one is too old
        or lacks something ``wanted`` (it may be new since)."""
        kept = self._load()
        if kept is not None:
            found = dict(match(kept))
            if set(wanted) <= set(found):
                return found
        return dict(match(self.refresh(read)))

    def refresh(self, read: Read) -> list[Entry]:
        """The list as the server has it now, kept from now on."""
        entries = read()
        self._save(self.clock(), entries)
        return entries

    def add(self, entry: Entry) -> None:
        """A calendar keepwarm has just created (the kept list keeps its age)."""
        kept = self._load()
        if kept is not None and self._kept is not None and entry not in kept:
            self._save(self._kept[0], [*kept, entry])

    def forget(self) -> None:
        """A calendar answered 404 or 410: the next lookup lists the calendars again."""
        if self._kept is not None or (self.path is not None and self.path.exists()):
            log.info("%s: a calendar is gone or moved; listing the calendars again",
                     self.account)
        self._kept = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    # -- the kept list ---------------------------------------------------------------------
    def _load(self) -> list[Entry] | None:
        """The kept list if it is younger than an hour (and not from the future)."""
        if self._kept is None and self.path is not None:
            try:
                data = json.loads(self.path.read_bytes())
                if data.get("format") != _FORMAT:
                    raise ValueError("another format")
                self._kept = (float(data["at"]), [
                    (str(cal_id), tuple(str(n) for n in names))
                    for cal_id, names in data["calendars"]])
            except FileNotFoundError:
                pass
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
                log.warning("%s: ignoring the unreadable calendar list %s (%s)", self.account,
                            self.path, exc)
        if self._kept is None or not 0 <= self.clock() - self._kept[0] < REFRESH:
            return None
        return self._kept[1]

    def _save(self, at: float, entries: list[Entry]) -> None:
        self._kept = (at, entries)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {"format": _FORMAT, "at": at,
                "calendars": [[cal_id, list(names)] for cal_id, names in entries]}
        write_atomic(self.path, json.dumps(data, ensure_ascii=False).encode("utf-8"), 0o600)
