"""The address book over the store: the user's steering of contacts (cadence, tags, snooze,
ignore, merge), by any of their addresses, saved in the store and in the steering file.
Changes take effect at the next sync."""

from __future__ import annotations

from collections.abc import Sequence
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


def set_cadence(store: Store, address: str, days: int | None) -> str:
    with store.transaction():
        contact = contact_of(store, address, create=True)
        store.set_contact(contact, "cadence_days", days)
    steering.save(store)
    return contact


def set_tags(store: Store, address: str, tags: Sequence[str], add: bool) -> str:
    with store.transaction():
        contact = contact_of(store, address, create=True)
        store.tag(contact, [t.strip().lower() for t in tags if t.strip()], add)
    steering.save(store)
    return contact


def snooze(store: Store, address: str, until: date | None) -> str:
    with store.transaction():
        contact = contact_of(store, address, create=True)
        store.set_contact(contact, "snooze_until", until.isoformat() if until else None)
    steering.save(store)
    return contact


def set_ignored(store: Store, address: str, ignored: bool) -> str:
    with store.transaction():
        contact = contact_of(store, address, create=True)
        store.set_contact(contact, "ignored", int(ignored))
    steering.save(store)
    return contact


def merge(store: Store, address: str, other: str) -> str:
    """Make ``other``'s contact part of ``address``'s; its own settings fill only gaps."""
    with store.transaction():
        keep = contact_of(store, address, create=True)
        gone = contact_of(store, other, create=True)
        if keep != gone:
            store.merge_contacts(keep, gone)
    steering.save(store)
    return keep
