"""The connector interface: what every mail or meeting source and calendar writer provides.

Modelled on vdirsyncer's storages: one abstract class, capabilities declared as class
attributes and enforced here once, a small set of plain data types in and out.

A connector module stays light: it imports the standard library and keepwarm's own light
modules only, and names the third-party packages it needs in ``requires``. The config loads
every connector class to check its options, so a heavy import there would slow every command
down and a missing package would break every account; here a missing package is one
MissingDependency, raised when that account's connector is built. The types whose packages
come in an optional extra (``extra``: gmail, outlook) are checked when the config loads
instead, without importing anything: an account configured without its extra is one line
naming the command that adds it, exit 2, before any work.
"""

from __future__ import annotations

import abc
import builtins
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, ClassVar

from daemon import extras
from daemon.errors import MissingDependency, ReadOnlyError, UsageError
from daemon.model import (
    JSON,
    AccountConfig,
    Applied,
    Batch,
    CardBatch,
    Change,
    FetchContext,
    Observation,
    RemoteReminder,
)

SNAPSHOT_BATCH = 500  # observations per batch of a snapshot


@dataclass(frozen=True, slots=True)
class Option:
    """One account key a connector accepts: its type, default and meaning, and what makes a
    value wrong. The config checks every value against this when it loads (``required``: it
    must be given and, for text, not be empty); the connector reads the value with the
    default filled in (``Connector.with_defaults``), so each default is written here once."""

    type: type | tuple[type, ...]
    default: Any = None
    required: bool = False
    help: str = ""
    is_path: bool = False  # the core expands ~ and resolves it against the config file's folder
    secret: bool = False  # a file holding a secret: keepwarm warns if others can read it
    choices: tuple[Any, ...] = ()  # the only values allowed, when given
    item: builtins.type | None = None  # a list's items must be of this type
    check: Callable[[Any], None] | None = None  # raises ValueError naming the problem


Problem = tuple[str, str]  # (option key, what is wrong with it)


class Connector(abc.ABC):
    """One account of one type. Subclasses declare what they can do as class attributes.

    The core calls only the public methods below; they check the capability flags once,
    here, so no connector can be written to unless it says it writes reminders.
    """

    type: ClassVar[str]
    reads_mail: ClassVar[bool] = False
    reads_meetings: ClassVar[bool] = False
    # can read an address book (``fetch_cards``); whether an account does is ``reads_cards``
    reads_contacts: ClassVar[bool] = False
    writes_reminders: ClassVar[bool] = False  # True only on a CalendarConnector
    # True when the user edits events in this calendar directly (a server calendar):
    # then a reminder the user deleted counts as dismissed, and a moved one keeps its time.
    user_editable: ClassVar[bool] = True
    # True for OAuth accounts: `keepwarm auth NAME` signs in, and an AuthError from them means
    # "needs sign-in" rather than a wrong password.
    needs_signin: ClassVar[bool] = False
    options: ClassVar[Mapping[str, Option]] = {}
    # third-party packages the connector imports: import name -> pip distribution name
    requires: ClassVar[Mapping[str, str]] = {}
    # the optional extra of pyproject.toml that brings ``requires``; None: the base install
    extra: ClassVar[str | None] = None

    def __init__(self, account: AccountConfig) -> None:
        missing = [dist for module, dist in self.requires.items() if not _importable(module)]
        if missing:
            raise MissingDependency(account.name, self.type, missing,
                                    extras.install_command(missing))
        self.account = replace(account, options=self.with_defaults(account.options))
        self.name = account.name

    @classmethod
    def missing_extra(cls) -> str | None:
        """None when this type's optional extra is installed (or it needs none), else what
        to run: the config says it when it loads, since such an account can never work."""
        if cls.extra is None or not extras.missing(list(cls.requires)):
            return None
        packages = extras.requirements(cls.extra, list(cls.requires.values()))
        return (f"type {cls.type!r} needs keepwarm's {cls.extra} extra; add it with: "
                f"{extras.install_command(packages)}")

    @classmethod
    def reads_received(cls, options: Mapping[str, Any]) -> bool:
        """Whether an account of this type with these options (defaults filled in) reads
        received mail: follow-ups need one that does to see replies."""
        return bool(options.get("received")) and options.get("mail") is not False

    @classmethod
    def reads_cards(cls, options: Mapping[str, Any]) -> bool:
        """Whether an account of this type with these options (defaults filled in) reads its
        address book: a mail service reads it only when told to (``contacts = true``, which
        asks for one more scope); an address-book type always does."""
        return cls.reads_contacts and options.get("contacts", True) is not False

    @classmethod
    def with_defaults(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` with the declared default of every key not given."""
        return {**{key: opt.default for key, opt in cls.options.items()}, **options}

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[Problem]:
        """Rules that span options, run by the config after each option's own check.
        ``options`` holds the valid values, defaults filled in; a key whose value was wrong
        is left out (its problem is said already), and a rule about it then says nothing."""
        return []

    # -- sources ---------------------------------------------------------------
    def fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        """Yield observations added since ``cursor`` (None: from the start), in batches."""
        if not (self.reads_mail or self.reads_meetings):
            return iter(())
        return self._fetch(cursor, ctx)

    @abc.abstractmethod
    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        """The source itself; called only when a capability flag says it reads something."""

    def fetch_cards(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[CardBatch]:
        """Yield address-book changes since ``cursor`` (None: every card), in batches; the
        cursor is the account's own for cards, apart from the one of ``fetch``."""
        if not self.reads_cards(self.account.options):
            return iter(())
        return self._fetch_cards(cursor, ctx)

    def _fetch_cards(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[CardBatch]:
        """The address book itself; called only for an account that ``reads_cards``."""
        raise NotImplementedError(f"{self.type} declares reads_contacts without _fetch_cards")

    # -- calendar writers ------------------------------------------------------
    def list_reminders(self) -> list[RemoteReminder]:
        """Every event in the reminders calendar that keepwarm created (and only those)."""
        return self._writer()._list_reminders()

    def apply(self, changes: Sequence[Change]) -> list[Applied]:
        """Apply reminder changes; never touches an event keepwarm did not create.

        Returns the changes that took effect. A change refused because the event changed
        meanwhile (ETag mismatch: the user edited it) is left out, and the next sync plans
        again from what the user did. A fault that stops the whole batch raises."""
        writer = self._writer()
        if not changes:
            return []
        return writer._apply(changes)

    def _writer(self) -> CalendarConnector:
        if not (self.writes_reminders and isinstance(self, CalendarConnector)):
            raise ReadOnlyError(f"account {self.name!r} ({self.type}) cannot hold reminders")
        return self

    # -- sign-in -----------------------------------------------------------------
    def authenticate(self, open_browser: bool, say: Callable[[str], None]) -> None:
        """Run the provider's sign-in flow and store the token (OAuth accounts only).

        ``say`` shows a line to the person (a URL, a device code); with ``open_browser`` False
        the URL is only shown, for machines without a browser."""
        raise UsageError(f"account {self.name!r} ({self.type}) has no sign-in; its password "
                         "comes from password_command or the keyring")

    def close(self) -> None:  # noqa: B027 - optional hook, most connectors hold nothing
        """Release connections; the default has none."""


class CalendarConnector(Connector):
    """A connector that also holds keepwarm's reminders: the two methods a writer must have."""

    writes_reminders: ClassVar[bool] = True

    @abc.abstractmethod
    def _list_reminders(self) -> list[RemoteReminder]:
        """keepwarm's events as they are in the calendar now."""

    @abc.abstractmethod
    def _apply(self, changes: Sequence[Change]) -> list[Applied]:
        """Apply a non-empty list of changes; see ``Connector.apply``."""


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def state_file(account: AccountConfig, option: str, suffix: str) -> Path:
    """The file named by ``option``, else ``<state_dir>/<name><suffix>`` (token files)."""
    given = account.options.get(option)
    if given:
        return Path(str(given)).expanduser()
    if not account.state_dir:  # the config always sets it; an AccountConfig built by hand may not
        raise ValueError(f"account {account.name!r}: set {option} or AccountConfig.state_dir")
    return Path(account.state_dir) / f"{account.name}{suffix}"


def snapshot_batches(observations: Sequence[Observation], old_cursor: JSON | None,
                     new_cursor: JSON) -> Iterator[Batch]:
    """A full snapshot of an account's meetings in batches. Earlier batches carry the old
    cursor: a crash mid-snapshot must redo the snapshot."""
    starts = range(0, max(len(observations), 1), SNAPSHOT_BATCH)
    for start in starts:
        last = start == starts[-1]
        yield Batch(observations[start:start + SNAPSHOT_BATCH],
                    new_cursor if last else old_cursor, snapshot=True, last=last)


# Marks keepwarm's own events in any calendar: the value is the reminder's id (ReminderId.marker).
KEEPWARM_PROPERTY = "X-KEEPWARM-CONTACT"


def day_start(d: date, tz: tzinfo) -> datetime:
    """Midnight of ``d`` in ``tz`` (all-day events and date-only values)."""
    return datetime(d.year, d.month, d.day, tzinfo=tz)


def alarm_minutes(alarm: timedelta) -> int:
    """A reminder's alarm in whole minutes before its start, as Google and Graph count it."""
    return int(alarm.total_seconds() // 60)
