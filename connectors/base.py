"""The connector interface: what every mail or meeting source and calendar writer provides.

Modelled on vdirsyncer's storages: one abstract class, capabilities declared as class
attributes and enforced here once, a small set of plain data types in and out.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, ClassVar, Literal

from daemon.errors import ReadOnlyError, UsageError

JSON = Any  # a value json.dumps accepts; cursors are opaque JSON to the core


@dataclass(frozen=True, slots=True)
class Address:
    """A mailbox: ``email`` lower-cased and stripped, ``name`` decoded display name ('' if none)."""

    email: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class SentMail:
    """The headers of one message the user sent; nothing of the body."""

    message_id: str  # without angle brackets; synthesised when the message has none
    date: datetime  # aware; delivery/file time when Date is missing or absurd
    sender: Address | None  # From
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    subject: str = ""
    list_id: str = ""
    list_unsubscribe: str = ""
    precedence: str = ""
    auto_submitted: str = ""
    in_reply_to: str = ""
    location: str = ""  # where it came from (file, folder/UID), for logs and `keepwarm show`

    @property
    def recipients(self) -> tuple[Address, ...]:
        return self.to + self.cc + self.bcc


PartStat = Literal["accepted", "declined", "tentative", "needs-action", "delegated"]
MeetingStatus = Literal["confirmed", "tentative", "cancelled"]


@dataclass(frozen=True, slots=True)
class Attendee:
    address: Address
    status: PartStat = "needs-action"


@dataclass(frozen=True, slots=True)
class Meeting:
    """One occurrence of a calendar event (recurring events arrive expanded)."""

    meeting_id: str  # stable: iCalendar UID, plus the occurrence's start for recurrences
    start: datetime  # timezone-aware (all-day events: midnight in the user's timezone)
    end: datetime
    organizer: Address | None = None
    attendees: tuple[Attendee, ...] = ()
    status: MeetingStatus = "confirmed"
    all_day: bool = False
    summary: str = ""
    location: str = ""  # where it came from, for logs and `keepwarm show`


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item a source could not use; counted and logged by the core, never fatal."""

    location: str
    reason: str


@dataclass(frozen=True, slots=True)
class OwnAddress:
    """An address the provider says is the user's (e.g. a mailbox's proxy addresses): never
    counted as a contact."""

    email: str


Observation = SentMail | Meeting | Skipped | OwnAddress


@dataclass(frozen=True, slots=True)
class Batch:
    """Observations plus the cursor that is valid once they are stored.

    The core stores the observations and the cursor in one transaction, so a crash
    between batches resumes exactly after the last stored one. ``snapshot`` means the
    meetings in this batch (with the ones in earlier batches of the same fetch) are
    all of this account's meetings in the window: stored meetings not seen are gone.
    """

    observations: Sequence[Observation]
    cursor: JSON
    snapshot: bool = False
    last: bool = False  # the final batch of a snapshot fetch; removal happens then
    remaining: int | None = None  # an estimate of observations still to come (progress, ETA)


@dataclass(frozen=True, slots=True)
class FetchContext:
    """What a source needs to know about the world besides its own config."""

    now: datetime  # timezone-aware
    tz: tzinfo  # the user's timezone: floating times and all-day dates live in it
    window_start: datetime  # nothing older matters (cadence.forget_after)
    window_end: datetime  # meetings later than this are not read yet


@dataclass(frozen=True, slots=True)
class Reminder:
    """A follow-up event as keepwarm wants it to be in the user's calendar."""

    uid: str
    contact: str  # the contact's key (its primary address)
    title: str
    description: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class RemoteReminder:
    """A keepwarm-created event as it is now in the calendar."""

    uid: str
    contact: str
    start: datetime
    remote_id: str
    etag: str = ""
    title: str = ""
    description: str = ""
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Create:
    reminder: Reminder


@dataclass(frozen=True, slots=True)
class Update:
    remote: RemoteReminder
    reminder: Reminder


@dataclass(frozen=True, slots=True)
class Delete:
    remote: RemoteReminder


Change = Create | Update | Delete


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of one change: remote_id/etag after it ('' for a delete)."""

    change: Change
    remote_id: str = ""
    etag: str = ""


@dataclass(frozen=True, slots=True)
class Option:
    """One account key a connector accepts: its type, default and meaning (for config checks)."""

    type: type | tuple[type, ...]
    default: Any = None
    required: bool = False
    help: str = ""
    is_path: bool = False  # the core expands ~ and resolves it against the config file's folder
    secret: bool = False  # a file holding a secret: keepwarm warns if others can read it


@dataclass(frozen=True)
class AccountConfig:
    """An ``[[accounts]]`` table after validation; ``options`` holds the connector's own keys."""

    name: str
    type: str
    address: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    holds_reminders: bool = False  # [reminders] calendar names this account
    state_dir: str = ""  # keepwarm's private state folder (0700): default home of token files
    poll_interval: float | None = None  # seconds between polls by `keepwarm run` (None: default)


class Connector(abc.ABC):
    """One account of one type. Subclasses declare what they can do as class attributes.

    The core calls only the public methods below; they check the capability flags once,
    here, so no connector can be written to unless it says it writes reminders.
    """

    type: ClassVar[str]
    reads_mail: ClassVar[bool] = False
    reads_meetings: ClassVar[bool] = False
    writes_reminders: ClassVar[bool] = False
    # True when the user edits events in this calendar directly (a server calendar):
    # then a reminder the user deleted counts as dismissed, and a moved one keeps its time.
    user_editable: ClassVar[bool] = True
    # True for OAuth accounts: `keepwarm auth NAME` signs in, and an AuthError from them means
    # "needs sign-in" rather than a wrong password.
    needs_signin: ClassVar[bool] = False
    options: ClassVar[Mapping[str, Option]] = {}

    def __init__(self, account: AccountConfig) -> None:
        self.account = account
        self.name = account.name

    # -- sources ---------------------------------------------------------------
    def fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        """Yield observations added since ``cursor`` (None: from the start), in batches."""
        if not (self.reads_mail or self.reads_meetings):
            return iter(())
        return self._fetch(cursor, ctx)

    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        raise NotImplementedError

    # -- calendar writers ------------------------------------------------------
    def list_reminders(self) -> list[RemoteReminder]:
        """Every event in the reminders calendar that keepwarm created (and only those)."""
        if not self.writes_reminders:
            raise ReadOnlyError(f"account {self.name!r} ({self.type}) cannot hold reminders")
        return self._list_reminders()

    def apply(self, changes: Sequence[Change]) -> list[Applied]:
        """Apply reminder changes; never touches an event keepwarm did not create.

        Returns the changes that took effect. A change refused because the event changed
        meanwhile (ETag mismatch: the user edited it) is left out, and the next sync plans
        again from what the user did. A fault that stops the whole batch raises."""
        if not self.writes_reminders:
            raise ReadOnlyError(f"account {self.name!r} ({self.type}) cannot hold reminders")
        if not changes:
            return []
        return self._apply(changes)

    def _list_reminders(self) -> list[RemoteReminder]:
        raise NotImplementedError

    def _apply(self, changes: Sequence[Change]) -> list[Applied]:
        raise NotImplementedError

    # -- sign-in -----------------------------------------------------------------
    def authenticate(self, open_browser: bool, say: Callable[[str], None]) -> None:
        """Run the provider's sign-in flow and store the token (OAuth accounts only).

        ``say`` shows a line to the person (a URL, a device code); with ``open_browser`` False
        the URL is only shown, for machines without a browser."""
        raise UsageError(f"account {self.name!r} ({self.type}) has no sign-in; its password "
                         "comes from password_command or the keyring")

    def close(self) -> None:  # noqa: B027 - optional hook, most connectors hold nothing
        """Release connections; the default has none."""


# Marks keepwarm's own events in any calendar: the value is the contact's key.
KEEPWARM_PROPERTY = "X-KEEPWARM-CONTACT"


def day_start(d: date, tz: tzinfo) -> datetime:
    """Midnight of ``d`` in ``tz`` (all-day events and date-only values)."""
    return datetime(d.year, d.month, d.day, tzinfo=tz)
