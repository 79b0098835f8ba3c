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
- A file the user made read-only (``chmod 444``) is refused with a CalendarError, as vim
  refuses it: the atomic rename would replace it all the same, since the folder allows it.

The reader and the writer cut the file the same way (``icsfile.split``): a byte-order mark,
several VCALENDARs and a missing ``END:VCALENDAR`` are read and written; a component whose
END line is missing is skipped by the reader and makes the writer refuse the file.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from connectors import icsfile
from connectors.atomic import read_only, write_atomic
from connectors.base import CalendarConnector, Option, snapshot_batches
from connectors.text import clean_text
from daemon.errors import CalendarError, SourceError
from daemon.model import (
    JSON,
    AccountConfig,
    Applied,
    Batch,
    Change,
    Delete,
    FetchContext,
    RemoteReminder,
    Update,
)

log = logging.getLogger(__name__)


class IcsConnector(CalendarConnector):
    """One .ics file: read for meetings, and written as the reminders calendar.

    The iCalendar library is imported where it is used (``connectors.icalmap``), not with
    this module, which the config loads to check options."""

    type = "ics"
    reads_meetings = True
    user_editable = False
    options: ClassVar[dict[str, Option]] = {
        "path": Option(str, required=True, is_path=True, help="the .ics file ('~' is expanded)"),
    }
    requires: ClassVar[dict[str, str]] = {"icalendar": "icalendar",
                                          "recurring_ical_events": "recurring-ical-events"}

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        self.path = Path(self.account.options["path"]).expanduser()

    # -- source ----------------------------------------------------------------
    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        from connectors import icalmap

        data = self._read_source()
        new_cursor = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "day": ctx.now.astimezone(ctx.tz).date().isoformat(),
        }
        if cursor == new_cursor:
            yield Batch([], cursor)
            return
        observations = list(icalmap.file_meetings(data, self.path.name, ctx))
        yield from snapshot_batches(observations, cursor, new_cursor)

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
        from connectors import icalmap

        ics = self._read_calendar()
        if ics is None:
            return []
        out = []
        for block in ics.blocks():
            if block.ours:
                remote = icalmap.block_reminder(block)
                if remote is not None:
                    out.append(remote)
        return out

    def _apply(self, changes: Sequence[Change]) -> list[Applied]:
        from connectors import icalmap

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
            raw = icalmap.render_event(change.reminder, now)
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
            ics = icsfile.split(data)
        except ValueError as exc:
            raise self._unsafe(str(exc)) from None
        if not ics.calendar:
            raise self._unsafe("no BEGIN:VCALENDAR line")
        cut = ics.first_cut()
        if cut is not None:  # keepwarm's events would land inside it for other readers
            number, block = cut
            raise self._unsafe(f"the {block.name[:40]!r} at line {number} has no END line")
        return ics

    def _unsafe(self, why: str) -> CalendarError:
        return CalendarError(
            f"{self.path} is not an iCalendar file keepwarm can safely edit ({why}); "
            f"fix the file or point accounts[{self.name}].path elsewhere"
        )

    def _write(self, data: bytes, exists: bool) -> None:
        if exists and read_only(self.path):
            raise CalendarError(
                f"{self.path} is read-only, so keepwarm does not write reminders into it; "
                f"make it writable (chmod u+w {self.path}) or point accounts[{self.name}].path "
                "elsewhere"
            )
        try:
            mode = self.path.stat().st_mode & 0o777 if exists else 0o600
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(self.path, data, mode)
        except OSError as exc:
            raise CalendarError(f"cannot write calendar file {self.path}: {exc}") from None
