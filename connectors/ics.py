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
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, ClassVar, Literal

import icalendar
import recurring_ical_events

from connectors import icsfile
from connectors.atomic import write_atomic
from connectors.base import (
    JSON,
    KEEPWARM_PROPERTY,
    AccountConfig,
    Address,
    Applied,
    Attendee,
    Batch,
    Change,
    Connector,
    Delete,
    FetchContext,
    Meeting,
    Observation,
    Option,
    PartStat,
    Reminder,
    RemoteReminder,
    Skipped,
    Update,
    day_start,
)
from connectors.text import clean_text
from daemon.errors import CalendarError, ConfigError, SourceError

log = logging.getLogger(__name__)

BATCH_SIZE = 500
_STATUS: dict[str, Literal["confirmed", "tentative", "cancelled"]] = {
    "CANCELLED": "cancelled",
    "TENTATIVE": "tentative",
}
_PARTSTAT: dict[str, PartStat] = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentative",
    "DELEGATED": "delegated",
}


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
        # Earlier batches carry the old cursor: a crash mid-snapshot must redo the snapshot.
        starts = range(0, max(len(observations), 1), BATCH_SIZE)
        for start in starts:
            last = start == starts[-1]
            yield Batch(
                observations[start : start + BATCH_SIZE],
                new_cursor if last else cursor,
                snapshot=True,
                last=last,
            )

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
    timezones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    groups: dict[str, list[icalendar.Component]] = {}
    for index, event in enumerate(c for c in calendar.subcomponents if c.name == "VEVENT"):
        if KEEPWARM_PROPERTY in event:
            continue
        uid = clean_text(str(event.get("UID", ""))).strip()
        problem = _problem(event)
        if problem or not uid:
            location = f"ics:{file_name}#{uid or f'event-{index}'}"
            yield Skipped(location, problem or "event has no UID")
            continue
        groups.setdefault(uid, []).append(event)
    for uid, events in groups.items():
        yield from _expand(uid, events, timezones, file_name, ctx)


def _problem(event: icalendar.Component) -> str:
    """Why this VEVENT cannot be used, or ''."""
    if event.errors:
        prop, message = event.errors[0]
        return f"unparseable {prop}: {message}"
    if "DTSTART" not in event:
        return "event has no DTSTART"
    start = event.decoded("DTSTART")
    if not isinstance(start, date):
        return "DTSTART is not a date or date-time"
    if "DTEND" in event:
        end = event.decoded("DTEND")
        if not isinstance(end, date) or isinstance(end, datetime) != isinstance(start, datetime):
            return "DTEND is not of the same kind as DTSTART"
    return ""


def _expand(
    uid: str,
    events: list[icalendar.Component],
    timezones: list[icalendar.Component],
    file_name: str,
    ctx: FetchContext,
) -> Iterator[Observation]:
    location = f"ics:{file_name}#{uid}"
    recurring = len(events) > 1 or any(
        key in event for event in events for key in ("RRULE", "RDATE", "RECURRENCE-ID")
    )
    calendar = icalendar.Calendar()
    for component in (*timezones, *events):
        calendar.add_component(component)
    try:
        # Floating times are compared in the user's zone, so pass the window in it.
        occurrences = list(
            recurring_ical_events.of(calendar).between(
                ctx.window_start.astimezone(ctx.tz), ctx.window_end.astimezone(ctx.tz)
            )
        )
    except Exception as exc:  # third-party recurrence code on user data: any failure is one item
        yield Skipped(location, f"cannot expand recurrence: {exc}")
        return
    for occurrence in occurrences:
        try:
            yield _meeting(occurrence, uid, recurring, location, ctx.tz)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            yield Skipped(location, f"unusable occurrence: {exc}")


def _meeting(
    event: icalendar.Component, uid: str, recurring: bool, location: str, tz: tzinfo
) -> Meeting | Skipped:
    raw_start = event.decoded("DTSTART")
    all_day = not isinstance(raw_start, datetime)
    start = _aware(raw_start, tz)
    if "DTEND" in event:
        end = _aware(event.decoded("DTEND"), tz)
    elif "DURATION" in event:
        end = _aware(raw_start + event.decoded("DURATION"), tz)
    else:
        end = _aware(raw_start + timedelta(days=1), tz) if all_day else start
    if end < start:
        return Skipped(location, "event ends before it starts")
    meeting_id = uid
    if recurring:
        original = event.decoded("RECURRENCE-ID") if "RECURRENCE-ID" in event else raw_start
        meeting_id = f"{uid}/{_stamp(original, tz)}"
    status = str(event.get("STATUS", "")).strip().upper()
    return Meeting(
        meeting_id=meeting_id,
        start=start,
        end=end,
        organizer=_address(event.get("ORGANIZER")),
        attendees=tuple(_attendees(event.get("ATTENDEE"))),
        status=_STATUS.get(status, "confirmed"),
        all_day=all_day,
        summary=clean_text(str(event.get("SUMMARY", ""))).strip(),
        location=location,
    )


def _aware(value: date, tz: tzinfo) -> datetime:
    """DATE -> midnight in ``tz``; floating date-time -> in ``tz``; zoned stays as it is."""
    if not isinstance(value, datetime):
        return day_start(value, tz)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _stamp(value: date, tz: tzinfo) -> str:
    """The occurrence part of a meeting id: UTC basic format, or the bare date for all-day."""
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    return _aware(value, tz).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _address(value: Any) -> Address | None:
    if value is None:
        return None
    email = clean_text(str(value)).strip()
    if email.lower().startswith("mailto:"):
        email = email[len("mailto:") :]
    email = email.strip().lower()
    if not email:
        return None
    params = getattr(value, "params", {})
    return Address(email, clean_text(str(params.get("CN", ""))).strip())


def _attendees(value: Any) -> Iterator[Attendee]:
    for item in value if isinstance(value, list) else [value] if value is not None else []:
        address = _address(item)
        if address is not None:
            partstat = str(getattr(item, "params", {}).get("PARTSTAT", "")).upper()
            yield Attendee(address, _PARTSTAT.get(partstat, "needs-action"))




# -- writing reminders -----------------------------------------------------------
def render_event(reminder: Reminder, now: datetime) -> bytes:
    """keepwarm's VEVENT for ``reminder``: UTC times, shown as free, never an attendee,
    organizer or alarm, so no calendar ever sends an invitation or rings for it."""
    event = icalendar.Event()
    event.add("UID", clean_text(reminder.uid))
    event.add("DTSTAMP", now.astimezone(UTC))
    event.add("DTSTART", reminder.start.astimezone(UTC))
    event.add("DTEND", reminder.end.astimezone(UTC))
    event.add("SUMMARY", clean_text(reminder.title))
    event.add("DESCRIPTION", clean_text(reminder.description, keep_newlines=True))
    event.add("TRANSP", "TRANSPARENT")
    event.add(KEEPWARM_PROPERTY, clean_text(reminder.contact))
    return bytes(event.to_ical())


def _remote(block: icsfile.Block) -> RemoteReminder | None:
    """One of keepwarm's events as stored; None (logged) when it cannot be parsed, so the
    core recreates it."""
    try:
        event = icalendar.Event.from_ical(icsfile.unfold(block.raw).decode("utf-8", "replace"))
        start = _aware(event.decoded("DTSTART"), UTC)
        end = _aware(event.decoded("DTEND"), UTC) if "DTEND" in event else None
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable keepwarm event %s: %s", block.uid, exc)
        return None
    return RemoteReminder(
        uid=block.uid,
        contact=str(event.get(KEEPWARM_PROPERTY, "")),
        start=start,
        remote_id=block.uid,
        etag=icsfile.etag(block.raw),
        title=str(event.get("SUMMARY", "")),
        description=str(event.get("DESCRIPTION", "")),
        end=end,
    )
