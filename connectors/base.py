"""The connector interface: what every mail or meeting source and calendar writer provides.

Modelled on vdirsyncer's storages: one abstract class, capabilities declared as class
attributes and enforced here once, a small set of plain data types in and out.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, ClassVar

from daemon.errors import ReadOnlyError, UsageError
from daemon.model import JSON, AccountConfig, Applied, Batch, Change, FetchContext, RemoteReminder


@dataclass(frozen=True, slots=True)
class Option:
    """One account key a connector accepts: its type, default and meaning (for config checks)."""

    type: type | tuple[type, ...]
    default: Any = None
    required: bool = False
    help: str = ""
    is_path: bool = False  # the core expands ~ and resolves it against the config file's folder
    secret: bool = False  # a file holding a secret: keepwarm warns if others can read it


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
