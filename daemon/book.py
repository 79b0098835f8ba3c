"""The address book over the store: the user's steering of contacts (cadence, tags, snooze,
ignore, merge), by any of their addresses, saved in the store and in the steering file.
Changes take effect at the next sync."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from daemon import steering
from daemon.errors import UsageError
from daemon.store import Store


def normalise(address: str) -> str:
    email = address.strip().strip("<>").lower()
    if email.count("@") != 1 or not all(email.split("@")):
        raise UsageError(f"{address!r} is not an e-mail address")
    return email


def contact_of(store: Store, address: str, create: bool = False) -> str:
    """The contact key owning ``address``; with create, a new one-address contact if unknown
    (steering a person before keepwarm has seen them is allowed)."""
    email = normalise(address)
    contact = store.contact_of(email)
    if contact is not None:
        return contact
    if not create:
        raise UsageError(f"keepwarm has never seen {email}; check `keepwarm contacts`")
    return store.add_address(email)


def _steer(store: Store, address: str, change: Callable[[str], None]) -> str:
    """Apply ``change`` to the contact owning ``address`` (made if new), then keep the
    steering file in step; the contact's key."""
    with store.transaction():
        contact = contact_of(store, address, create=True)
        change(contact)
    steering.save(store)
    return contact


def set_cadence(store: Store, address: str, days: int | None) -> str:
    return _steer(store, address, lambda c: store.set_contact(c, "cadence_days", days))


def set_tags(store: Store, address: str, tags: Sequence[str], add: bool) -> str:
    clean = [t.strip().lower() for t in tags if t.strip()]
    return _steer(store, address, lambda c: store.tag(c, clean, add))


def snooze(store: Store, address: str, until: date | None) -> str:
    day = until.isoformat() if until else None
    return _steer(store, address, lambda c: store.set_contact(c, "snooze_until", day))


def set_ignored(store: Store, address: str, ignored: bool) -> str:
    return _steer(store, address, lambda c: store.set_contact(c, "ignored", int(ignored)))


def merge(store: Store, address: str, other: str) -> str:
    """Make ``other``'s contact part of ``address``'s; its own settings fill only gaps."""
    with store.transaction():
        keep = contact_of(store, address, create=True)
        gone = contact_of(store, other, create=True)
        if keep != gone:
            store.merge_contacts(keep, gone)
    steering.save(store)
    return keep
