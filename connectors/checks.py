"""Value checks that option declarations name (``Option(check=...)``), and the one rule for
"this host is this machine".

A check raises ValueError whose text says what is wrong and what would be right; the config
prints it after ``FILE: accounts[N].KEY:`` when it loads, so a bad value never reaches a
sync. The loopback rule lives here because it decides where a password may travel in plain
text (IMAP with tls = 'none', CalDAV over http), and both connectors must agree on it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

_IPV6_LOOPBACK = ipaddress.IPv6Address("::1")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the name localhost, exactly: plain text to such a host
    never leaves the machine. Nothing else counts (not ``localhost.example.com``, not the
    short form ``127.1``, not an IPv4-mapped ``::ffff:127.0.0.1``)."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address == _IPV6_LOOPBACK if address.version == 6 else address.is_loopback


def at_least(low: int) -> Callable[[int], None]:
    """A check that a whole number is ``low`` or more."""

    def check(value: int) -> None:
        if value < low:
            raise ValueError(f"must be at least {low}, not {value}")

    return check


positive = at_least(1)
not_negative = at_least(0)


def port(value: int) -> None:
    if not 0 < value < 65536:
        raise ValueError(f"must be a TCP port (1 to 65535), not {value}")


def https_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"must be an https:// URL, not {value!r}")


def safe_url(value: str) -> None:
    """A server's URL that keeps credentials private: no login in it, and https, or plain
    http only to this machine (a local server, a test). The URL itself is never repeated,
    since it may hold a password."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be the server's https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not hold a login (user:password@); the user name and password "
                         "have keys of their own")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError("plain http sends credentials in clear; use https:// (http is "
                         "allowed only to this machine)")


def name(value: str) -> None:
    """A name (a calendar's): not empty."""
    if not value.strip():
        raise ValueError("must not be empty")


def names(values: Sequence[str]) -> None:
    """A list of names (calendars): none of them empty."""
    if any(not v.strip() for v in values):
        raise ValueError(f"must be an array of names, none empty, e.g. [\"Work\"], not {values!r}")


def some_names(values: Sequence[str]) -> None:
    """A list of names with at least one in it (an empty list would read nothing)."""
    if not values:
        raise ValueError("must name at least one calendar; to read none, set calendar = false")
    names(values)
