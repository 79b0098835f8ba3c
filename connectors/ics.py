"""A local .ics file as a meetings source and as the reminders calendar.

Reading: every VEVENT that is not keepwarm's own is expanded (RRULE, RDATE, EXDATE,
RECURRENCE-ID overrides) inside the fetch window and becomes a ``Meeting``; a broken event
becomes ``Skipped`` and the rest is read. The cursor is the file's hash plus today's date
(recurrences move with time), so an unchanged file costs one hash per sync.

Writing: keepwarm owns only the VEVENTs carrying ``KEEPWARM_PROPERTY``; the file is spliced
at the byte level (``connectors.icsfile``) so everything else keeps its exact bytes.
Because the file is local and keepwarm's events in it are not meant to be edited
(``user_editable = False``), conflicts are resolved in keepwarm's favour:

- Delete of an event that is not there is a successful no-op.
- Update applies even when the stored etag is stale, and recreates a missing event.
- Create of a UID that already exists replaces that event.
- An event whose content is unchanged keeps its old bytes (and DTSTAMP), so applying the
  same state twice leaves the file byte-identical.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import icalendar

from connectors import icalmap, icsfile
from connectors.atomic import write_atomic
from connectors.base import Connector, Option
from connectors.icalmap import render_event
from connectors.text import clean_text
from daemon.errors import CalendarError, ConfigError, SourceError
from daemon.model import (
    JSON,
    AccountConfig,
    Applied,
    Batch,
    Change,
    Delete,
    FetchContext,
    Observation,
    RemoteReminder,
    Update,
)

log = logging.getLogger(__name__)


class IcsConnector(Connector):
    """One .ics file: read for meetings, and written as the reminders calendar."""

    type = "ics"
    reads_meetings = True
    writes_reminders = True
    user_editable = False
    options: ClassVar[dict[str, Option]] = {
        "path": Option(str, required=True, is_path=True, help="the .ics file ('~' is expanded)"),
    }

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        raw_path = account.options.get("path")
        if not isinstance(raw_path, str) or not raw_path:
            raise ConfigError([f"accounts[{account.name}].path: the .ics file is required"])
        self.path = Path(raw_path).expanduser()

    # -- source ----------------------------------------------------------------
    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        data = self._read_source()
        new_cursor = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "day": ctx.now.astimezone(ctx.tz).date().isoformat(),
        }
        if cursor == new_cursor:
            yield Batch([], cursor)
            return
        observations = list(read_meetings(data, self.path.name, ctx))
        yield from icalmap.snapshot_batches(observations, cursor, new_cursor)

    def _read_source(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            if self.account.holds_reminders:
                return b""  # keepwarm creates it with the first reminder
            raise SourceError(
                f"calendar file {self.path} does not exist; "
                f"fix accounts[{self.name}].path or create the file"
            ) from None
        except OSError as exc:
            raise SourceError(
                f"cannot read calendar file {self.path} (accounts[{self.name}].path): "
                f"{exc.strerror or exc}"
            ) from None

    # -- reminders calendar ----------------------------------------------------
    def _list_reminders(self) -> list[RemoteReminder]:
        ics = self._read_calendar()
        if ics is None:
            return []
        out = []
        for block in ics.blocks():
            if block.ours:
                remote = _remote(block)
                if remote is not None:
                    out.append(remote)
        return out

    def _apply(self, changes: Sequence[Change]) -> list[Applied]:
        ics = self._read_calendar()
        exists = ics is not None
        if ics is None:
            ics = icsfile.new_file()
        before = ics.to_bytes()
        stored = ics.ours()
        ours = dict(stored)
        now = datetime.now(UTC).replace(microsecond=0)
        applied = []
        for change in changes:
            if isinstance(change, Delete):
                ours.pop(change.remote.remote_id or change.remote.uid, None)
                applied.append(Applied(change))
                continue
            if isinstance(change, Update):
                ours.pop(change.remote.remote_id or change.remote.uid, None)
            uid = clean_text(change.reminder.uid)
            raw = render_event(change.reminder, now)
            old = stored.get(uid)
            if old is not None and icsfile.same_except_stamp(old, raw):
                raw = old
            ours[uid] = raw
            applied.append(Applied(change, remote_id=uid, etag=icsfile.etag(raw)))
        after = icsfile.splice(ics, ours)
        if after != before or not exists:
            self._write(after, exists)
        return applied

    def _read_calendar(self) -> icsfile.IcsFile | None:
        """The file split for splicing; None when it does not exist yet."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CalendarError(
                f"cannot read calendar file {self.path} (accounts[{self.name}].path): "
                f"{exc.strerror or exc}"
            ) from None
        if not data.strip():
            return icsfile.new_file()
        try:
            return icsfile.split(data)
        except ValueError as exc:
            raise CalendarError(
                f"{self.path} is not an iCalendar file keepwarm can safely edit ({exc}); "
                f"fix the file or point accounts[{self.name}].path elsewhere"
            ) from None

    def _write(self, data: bytes, exists: bool) -> None:
        try:
            mode = self.path.stat().st_mode & 0o777 if exists else 0o600
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(self.path, data, mode)
        except OSError as exc:
            raise CalendarError(f"cannot write calendar file {self.path}: {exc}") from None


# -- reading meetings ------------------------------------------------------------
def read_meetings(data: bytes, file_name: str, ctx: FetchContext) -> Iterator[Observation]:
    """Every occurrence in the window of every foreign VEVENT, or Skipped for broken ones."""
    if not data.strip():
        return
    try:
        text = icsfile.unfold(data).decode("utf-8", errors="replace")
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise SourceError(f"{file_name} is not a readable iCalendar file: {exc}") from None
    yield from icalmap.meetings(calendar, f"ics:{file_name}", ctx)


# -- writing reminders -----------------------------------------------------------
def _remote(block: icsfile.Block) -> RemoteReminder | None:
    """One of keepwarm's events as stored; None (logged) when it cannot be parsed, so the
    core recreates it."""
    try:
        event = icalendar.Event.from_ical(icsfile.unfold(block.raw).decode("utf-8", "replace"))
        return icalmap.remote_reminder(event, block.uid, block.uid, icsfile.etag(block.raw))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable keepwarm event %s: %s", block.uid, exc)
        return None
