"""Typed errors: each carries a message that tells the user what to do, and an exit code."""

from __future__ import annotations


class KeepwarmError(Exception):
    """Base of every error keepwarm reports to a person instead of a traceback."""

    exit_code = 1


class ConfigError(KeepwarmError):
    """The configuration is unusable; ``problems`` holds one line per problem."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class MissingDependency(KeepwarmError):
    """A Python package an account's connector needs is not installed: that account cannot
    run, the others go on. Raised when the connector is built, not when the config loads,
    so a missing keyring never stops a Maildir account. ``command`` installs the packages
    where keepwarm runs (daemon/extras.py)."""

    exit_code = 2

    def __init__(self, account: str, type_name: str, packages: list[str], command: str) -> None:
        self.packages = list(packages)
        which = "package" if len(packages) == 1 else "packages"
        super().__init__(f"account {account!r} ({type_name}) needs the Python {which} "
                         f"{', '.join(packages)}: {command}")


class UsageError(KeepwarmError):
    """A command was called with arguments that cannot work."""

    exit_code = 2


class AuthError(KeepwarmError):
    """Credentials were refused; retrying will not help until the user signs in again."""


class TransientError(KeepwarmError):
    """A fault that may pass (network, server busy); retried with backoff, then next sync.

    ``retry_after`` is the server's own wait in seconds (HTTP Retry-After), honoured exactly."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceError(KeepwarmError):
    """A source cannot be read (missing folder, unreadable file)."""


class ShrinkRefused(SourceError):
    """A calendar lost most of its meetings at once; kept until the user accepts it."""


class StoreError(KeepwarmError):
    """The store cannot be used right now (permissions, a full disk, another writer)."""


class StoreDamaged(StoreError):
    """The store's file is damaged (not a database, malformed pages): `keepwarm sync` sets
    it aside and rebuilds it from the sources and the steering file. ``detail``: SQLite's
    own words."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class CalendarError(KeepwarmError):
    """The reminders calendar cannot be read or written."""


class ReadOnlyError(CalendarError):
    """A write was attempted through a connector that does not write reminders."""
