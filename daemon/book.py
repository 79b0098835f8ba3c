"""The address book over the store: the user's steering of contacts (cadence, tags, snooze,
ignore, merge, unmerge), by any of their addresses as people paste them, saved in the store
and in the steering file. Changes take effect at the next sync.

A typo steers nobody and says nothing, so an address keepwarm has never seen is refused
(with the closest ones it knows) unless ``force`` says the user means it."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Sequence
from datetime import date
from email.utils import getaddresses
from urllib.parse import unquote

from daemon import ingest, steering
from daemon.cardstore import GROUP
from daemon.errors import UsageError
from daemon.store import Store

_MAILTO = re.compile(r"(^|<)\s*mailto:", re.IGNORECASE)


def normalise(address: str) -> str:
    """The one address in what a person pasted: ``Name <addr>``, ``<addr>``,
    ``mailto:addr?subject=x``, quoted, in any case; a one-line UsageError otherwise."""
    raw = address.strip()
    if len(raw) > 1 and raw[0] == raw[-1] and raw[0] in "'\"":  # the shell's quotes, kept
        raw = raw[1:-1].strip()
    raw = _MAILTO.sub(r"\1", raw)
    found = [unquote(a.split("?")[0]).strip().lower() for _, a in getaddresses([raw]) if a]
    if len(found) > 1:
        raise UsageError(f"{address!r} holds {len(found)} addresses: give one")
    email = found[0] if found else ""
    local, _, domain = email.partition("@")
    if not local or not domain or "@" in domain or " " in email:
        raise UsageError(f"{address!r} is not an e-mail address: give one like "
                         "ann@example.com or \"Ann Lee <ann@example.com>\"")
    return email


def suggestions(store: Store, text: str, n: int = 3) -> list[str]:
    """Up to ``n`` known addresses closest to ``text``, by address or by name."""
    words = text.strip().lower()
    by_key: dict[str, str] = {}
    for email, name in store.known_names():
        by_key.setdefault(email, email)
        if name:
            by_key.setdefault(name.lower(), email)
    contain = sorted(k for k in by_key if len(words) >= 3 and words in k)
    picked: list[str] = []
    for key in [*difflib.get_close_matches(words, by_key, n=3 * n, cutoff=0.75), *contain]:
        if by_key[key] not in picked:
            picked.append(by_key[key])
    return picked[:n]


def resolve(store: Store, text: str) -> str:
    """``normalise``, but what is no address (a name, a part of one) is answered with the
    known addresses closest to it."""
    try:
        return normalise(text)
    except UsageError:
        close = suggestions(store, text)
        if not close:
            raise
        raise UsageError(f"{text!r} is not an e-mail address; did you mean "
                         f"{_either(close)}?") from None


def never_seen(store: Store, email: str) -> str:
    """'keepwarm has never seen X.', or with the closest known addresses when there are."""
    return f"keepwarm has never seen {email}{_close(store, email)}"


def _close(store: Store, email: str) -> str:
    close = suggestions(store, email)
    return f"; did you mean {_either(close)}?" if close else "."


def _either(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def contact_of(store: Store, address: str, create: bool = False) -> str:
    """The contact key owning ``address``. An address seen only in dropped messages gets a
    contact of its own; one never seen at all only with ``create`` (steering a person
    before keepwarm has seen them is allowed, but must be meant: ``--force``)."""
    email = resolve(store, address)
    contact = store.contact_of(email)
    if contact is not None:
        return contact
    if not create and not store.knows(email):
        raise UsageError(f"{email} is in no message or meeting keepwarm has seen"
                         f"{_close(store, email)} Check the address, or add --force to steer "
                         "it anyway.")
    return store.add_address(email)


def _steer(store: Store, address: str, change: Callable[[str], None], force: bool) -> str:
    """Apply ``change`` to the contact owning ``address``, then keep the steering file in
    step; the contact's key. Whatever ``change`` refuses leaves the store as it was."""
    with store.transaction():
        contact = contact_of(store, address, create=force)
        change(contact)
    steering.save(store)
    return contact


def _not_own(email: str, own: Collection[str], what: str) -> None:
    if email in own:
        raise UsageError(f"{email} is one of your own addresses (configured, or seen as From "
                         f"in your sent mail): keepwarm never counts it, so there is nothing "
                         f"to {what}")


def set_cadence(store: Store, address: str, days: int | None, force: bool = False) -> str:
    return _steer(store, address, lambda c: store.set_contact(c, "cadence_days", days), force)


def set_tags(store: Store, address: str, tags: Sequence[str], add: bool,
             force: bool = False) -> str:
    """Add or remove tags; removing a tag the contact does not have is refused (a typo
    would otherwise be reported as done), and so is one its address-book card gives it
    (it comes back with the card at the next sync) or a ``group:`` tag of the user's own
    (those name address-book groups)."""
    clean = [t.strip().lower() for t in tags if t.strip()]
    if add and (grouped := [t for t in clean if t.startswith(GROUP)]):
        raise UsageError(f"{grouped[0]}: tags starting with {GROUP} are your address book's "
                         "groups; put the contact in that group there, or pick another tag")

    def change(contact: str) -> None:
        have = store.tags_of(contact)
        missing = sorted(set(clean) - have)
        carded = {t.lower(): t for t in store.card_tags_of(contact)}
        if not add and (from_card := [carded[t] for t in missing if t in carded]):
            raise UsageError(f"{contact}: the tag {from_card[0]} comes from its address-book "
                             "card; change the card's groups there, and the next sync "
                             "follows")
        if not add and missing:
            now = f"its tags are {' '.join(sorted(have))}" if have else "it has no tags"
            raise UsageError(f"{contact} is not tagged {' '.join(missing)} ({now}); "
                             "nothing was untagged")
        store.tag(contact, clean, add)

    return _steer(store, address, change, force)


def snooze(store: Store, address: str, until: date | None, force: bool = False) -> str:
    day = until.isoformat() if until else None
    return _steer(store, address, lambda c: store.set_contact(c, "snooze_until", day), force)


def set_ignored(store: Store, address: str, ignored: bool, own: Collection[str] = (),
                force: bool = False) -> str:
    if ignored:
        _not_own(resolve(store, address), own, "ignore")
    return _steer(store, address, lambda c: store.set_contact(c, "ignored", int(ignored)),
                  force)


def merge(store: Store, address: str, other: str, own: Collection[str] = (),
          force: bool = False) -> tuple[str, bool]:
    """Make ``other``'s contact part of ``address``'s; its own settings fill only gaps.
    The kept contact's key, and False when the two already were one contact."""
    first, second = resolve(store, address), resolve(store, other)
    if first == second:
        raise UsageError(f"merge needs two different addresses, not {first} twice")
    for one in (first, second):
        _not_own(one, own, "merge")
    with store.transaction():
        keep = contact_of(store, address, create=force)
        gone = contact_of(store, other, create=force)
        if keep != gone:
            store.merge_contacts(keep, gone)
            if store.share_a_card(first, second):  # joined again after an unmerge
                for one in (first, second):
                    store.set_apart(one, False)
            ingest.regroup(store)
    steering.save(store)
    return keep, keep != gone


def unmerge(store: Store, address: str, force: bool = False) -> str:
    """Undo a merge, the user's or an address-book card's: ``address`` becomes a contact of
    its own again, with its touchpoints and no settings; the contact it left keeps its key
    and settings. A card that lists it no longer joins it (until the user merges it
    again). The key of a contact the user merged others into cannot leave it (its settings
    are theirs too); the key of one only a card joins can: it keeps its settings and
    reminder, and the rest of the card gets a key of its own. The key of what it left."""
    email = normalise(address)
    with store.transaction():
        contact = contact_of(store, email, create=force)
        others = [e for e in store.addresses_of(contact) if e != email]
        if not others:
            raise UsageError(f"{email} is not merged with another address: nothing to undo")
        if contact == email and store.merged_into(email):
            raise UsageError(f"{email} is the address its contact is kept under (with "
                             f"{', '.join(others)}): unmerge {_either(others)} instead")
        store.unmerge(email)
        ingest.regroup(store)
        left = store.contact_of(others[0]) or others[0]
    steering.save(store)
    return left


def addresses(store: Store, email: str) -> set[str]:
    """``email`` and every other address of the contact holding it: whatever was noted
    under any of them is that person's."""
    contact = store.contact_of(email)
    return {email, *(store.addresses_of(contact) if contact else ())}


def who(store: Store) -> Callable[[str], tuple[str, str]]:
    """An address -> (the key of the contact holding it, that contact's name), the address
    standing in for either where there is none (notes and referrals name people by it)."""
    names = store.names()

    def of(email: str) -> tuple[str, str]:
        key = store.contact_of(email) or email
        return key, names.get(key) or key

    return of
