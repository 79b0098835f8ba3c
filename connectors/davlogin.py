"""What a CalDAV and a CardDAV account share: the login keys, the session (``connectors.dav``,
imported on first use, never when the config loads), each request retried on its own budget,
and the local copies of the collections (``connectors.davcache``)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from connectors import checks, passwords, retry
from connectors.base import Option, Problem
from connectors.davtypes import Collection, DavKind
from connectors.passwords import PASSWORD_OPTIONS
from daemon.model import AccountConfig

if TYPE_CHECKING:
    from connectors.dav import DavSession
    from connectors.davcache import CollectionCopies

T = TypeVar("T")


def login_options(service: str) -> dict[str, Option]:
    """The keys of a ``service`` ("CalDAV", "CardDAV") login."""
    return {
        "url": Option(str, required=True, check=checks.safe_url,
                      help=f"the server's {service} root or principal URL, https://..."),
        "username": Option(str, required=True, help=f"the {service} login name"),
        **PASSWORD_OPTIONS,
    }


class DavLogin:
    """A mixin of the caldav and carddav connectors (before the Connector base class)."""

    account: AccountConfig
    name: str
    dav_kind: ClassVar[DavKind]  # davtypes.CALENDARS or davtypes.ADDRESS_BOOKS

    def _login(self) -> None:
        """Read the login keys (after Connector.__init__ filled in the defaults)."""
        url = str(self.account.options["url"])
        self.url = url if url.endswith("/") else url + "/"
        self.username = str(self.account.options["username"])
        self._dav: DavSession | None = None
        self._copies: CollectionCopies | None = None

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[Problem]:
        return passwords.problems(options)

    def close(self) -> None:
        if self._dav is not None:
            self._dav.close()
            self._dav = None
            self._copies = None

    def dav(self) -> DavSession:
        """The logged-in session (the password is read on first use)."""
        if self._dav is None:
            from connectors.dav import DavSession

            self._dav = DavSession(self.url, self.username, passwords.password(self.account),
                                   int(self.account.options["timeout"]), self.name,
                                   self.dav_kind)
        return self._dav

    def copies(self) -> CollectionCopies:
        """The local copies of this account's collections (one set per session)."""
        if self._copies is None:
            from connectors.davcache import CollectionCopies

            self._copies = CollectionCopies(self.dav(), self.call, self.account.state_dir)
        return self._copies

    def call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, one request, with transient faults retried (``retries``,
        ``timeout`` options): each request has its own budget (``DavSession.failures``)."""
        dav = self.dav()
        dav.failures = 0
        return retry.call(self.account, what, functools.partial(fn, *args),
                          failures=lambda: dav.failures)

    def collections(self) -> list[Collection]:
        """Every calendar (address book) of the account; the home set is found first, once
        per session, unless one was given (``DavSession.known_home``)."""
        dav = self.dav()
        what = f"{dav.kind.what}s"
        if not dav.home_known:
            self.call(f"finding the {what}", dav.root)
            self.call(f"finding the {what}", dav.home)
        return self.call(f"listing {what}", dav.collections)
