"""Google Contacts through the People API, as ``Card``s: the address book of a ``gmail``
account with ``contacts = true`` (scope ``contacts.readonly``).

Reading: ``people.connections.list(resourceName="people/me", personFields=names,
emailAddresses,birthdays,events,memberships,addresses, pageSize=1000,
requestSyncToken=true)``, its
pages by ``pageToken``; the last page's ``nextSyncToken`` is the cursor, and the next sync
sends it as ``syncToken`` to get only the people changed since, a deleted one as a person
with ``metadata.deleted`` (a ``gone`` card). Google lets a sync token live 7 days after the
full listing it came from: then it answers 400 FAILED_PRECONDITION with the ErrorInfo
reason EXPIRED_SYNC_TOKEN, and keepwarm lists everything again (``CardBatch.full``), once:
a listing that is refused that way too is an error, never a loop. Each page is one
``CardBatch``; only the last carries the new cursor, so an interrupted read is redone. The
cursor keeps the ``personFields`` it was read with: a sync token serves only the fields of
the listing it came from, so a cursor from other fields (a release that read fewer) means
a full listing, once.

The postal address (``addresses``, in the same request and scope: no cost but bytes) is the
primary one, else the first of type home, else the first; its ``formattedValue`` as Google
writes it for the person's country, else its parts (street, extended address, PO box,
"city region postal code", country) as lines.

Groups: a person names its groups by resource name (``memberships[].
contactGroupMembership.contactGroupResourceName``). ``contactGroups/starred`` makes the card
``starred``; the legacy system groups friends, family and coworkers are groups named
Friends, Family and Coworkers; ``myContacts`` (every contact), ``all``, ``chatBuddies`` and
``blocked`` are no group. User groups are named by ``contactGroups.list``, kept in the
cursor and listed again at most once a sync: when a person names one not kept, or once the
names are a day old. A renamed group means a full listing, so its members carry the new name.

A person whose data cannot be read is ``Skipped`` with its resource name; a birthday or
anniversary that is no date (month 13) is left out with a note on the card; a birthday
given only as words (``text``) is kept as ``birthday_text``, never guessed.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from connectors.googleauth import GoogleSession, HttpStatus
from connectors.text import card_emails, clean_text, laid_out, text_lines
from daemon.errors import SourceError
from daemon.model import JSON, Card, CardBatch, FetchContext, PartialDate, Skipped

log = logging.getLogger(__name__)

PAGE = 1000  # connections.list's largest page
FIELDS = "names,emailAddresses,birthdays,events,memberships,addresses"
EXPIRED = "EXPIRED_SYNC_TOKEN"
GROUPS_MAX_AGE = timedelta(days=1)  # group names kept this long before they are listed again
STARRED = "contactGroups/starred"
# system groups that stand for a group of people the user chose; the others are no group
SYSTEM_GROUPS = {"contactGroups/friends": "Friends", "contactGroups/family": "Family",
                 "contactGroups/coworkers": "Coworkers"}
NOT_GROUPS = frozenset({"contactGroups/myContacts", "contactGroups/all",
                        "contactGroups/chatBuddies", "contactGroups/blocked"})
# the parts of an address without formattedValue, line by line
ADDRESS_LINES = (("streetAddress",), ("extendedAddress",), ("poBox",),
                 ("city", "region", "postalCode"), ("country",))
NO_YEAR = (0, 1604)  # Google's "no year", and Apple's, in contacts imported from a vCard


class _Expired(Exception):
    """People refused the sync token: it is older than Google keeps them."""


class GroupNames:
    """The names of the user's contact groups by resource name, kept in the cursor and
    listed again (one request) at most once a sync."""

    def __init__(self, session: GoogleSession, state: Mapping[str, Any], now: datetime) -> None:
        self.session, self.now = session, now
        self.names: dict[str, str] = {str(k): str(v) for k, v in
                                      dict(state.get("groups") or {}).items()}
        self.checked = str(state.get("checked") or "")
        self.listed = False  # listed during this sync
        self.renamed = False  # a kept group now has another name, or is gone

    def stale(self) -> bool:
        try:
            return self.now - datetime.fromisoformat(self.checked) > GROUPS_MAX_AGE
        except ValueError:
            return True

    def refresh(self) -> None:
        """List the groups (once a sync); note whether a kept one changed its name."""
        if self.listed:
            return
        self.listed = True
        answer = self.session.call("listing contact groups", lambda: self.session.service(
            "people").contactGroups().list(pageSize=PAGE, groupFields="name,groupType")
            .execute())
        names = {str(g["resourceName"]): clean_text(str(g.get("name") or ""))
                 for g in answer.get("contactGroups") or []
                 if g.get("resourceName") and g.get("groupType") != "SYSTEM_CONTACT_GROUP"}
        self.renamed = self.renamed or any(names.get(k) != v for k, v in self.names.items())
        self.names, self.checked = names, self.now.isoformat()

    def name(self, resource: str) -> str:
        """The group's name, '' for none (a system group that is no group, or unknown)."""
        if resource in SYSTEM_GROUPS or resource in NOT_GROUPS or resource == STARRED:
            return SYSTEM_GROUPS.get(resource, "")
        if resource not in self.names:
            self.refresh()
        return self.names.get(resource, "")

    def take_renamed(self) -> bool:
        """Whether a kept group was renamed since this was last asked."""
        renamed, self.renamed = self.renamed, False
        return renamed

    def state(self) -> dict[str, Any]:
        return {"groups": self.names, "checked": self.checked}


class CardReader:
    """One account's Google Contacts, as changes since a cursor (see the module's doc)."""

    def __init__(self, session: GoogleSession) -> None:
        self.session = session

    def read(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[CardBatch]:
        state: dict[str, Any] = dict(cursor) if isinstance(cursor, dict) else {}
        groups = GroupNames(self.session, state, ctx.now)
        token = str(state.get("sync") or "") or None
        if token and state.get("fields") != FIELDS:
            log.info("%s: keepwarm now reads more of each contact; listing every contact "
                     "again", self.session.name)
            token = None
        if groups.stale():
            groups.refresh()
        if groups.take_renamed() and token:
            log.info("%s: a contact group was renamed; listing every contact again",
                     self.session.name)
            token = None
        if token:
            try:
                yield from self._pages(cursor, token, groups)
                return
            except _Expired:
                groups.take_renamed()  # the listing below carries every new name
                log.warning("%s: Google no longer takes the contacts sync token (it keeps "
                            "them 7 days); listing every contact again", self.session.name)
        try:
            yield from self._pages(cursor, None, groups)
        except _Expired:
            raise SourceError(f"Google refused a full listing of the contacts of "
                              f"{self.session.name} as an expired sync; try again later") from None

    def _pages(self, cursor: JSON | None, token: str | None, groups: GroupNames
               ) -> Iterator[CardBatch]:
        """Every page since ``token`` (None: a full listing), one CardBatch each."""
        page_token: str | None = None
        while True:
            answer = self._list(token, page_token)
            cards, gone, skipped = people_cards(answer.get("connections") or [], groups)
            page_token = answer.get("nextPageToken") or None
            if page_token:
                yield CardBatch(cards, cursor, gone, skipped, full=token is None)
                continue
            new_token = answer.get("nextSyncToken") or None
            if new_token is None:
                log.warning("%s: Google gave no contacts sync token; the next sync lists "
                            "every contact again", self.session.name)
            # a rename learnt during this read: earlier pages carried the old name
            keep = None if groups.take_renamed() else new_token
            yield CardBatch(cards, {"sync": keep, "fields": FIELDS, **groups.state()}, gone,
                            skipped,
                            full=token is None, last=True)
            return

    def _list(self, token: str | None, page_token: str | None) -> dict[str, Any]:
        """One page; the same parameters on every page, as the API requires."""
        query: dict[str, Any] = {"resourceName": "people/me", "personFields": FIELDS,
                                 "pageSize": PAGE, "requestSyncToken": True}
        if token:
            query["syncToken"] = token
        if page_token:
            query["pageToken"] = page_token
        connections = self.session.service("people").people().connections()
        try:
            return dict(self.session.call("reading contacts",
                                          lambda: connections.list(**query).execute(),
                                          passthrough=(400,)))
        except HttpStatus as refused:
            if refused.reason == EXPIRED:
                raise _Expired() from None
            raise SourceError(f"Google answered 400 {refused.reason} while reading the "
                              f"contacts of {self.session.name}") from None


# -- a person as a card ------------------------------------------------------------------------
def people_cards(people: Sequence[Any], groups: GroupNames
                 ) -> tuple[list[Card], list[str], list[Skipped]]:
    """The cards of one page, the resource names deleted, and the people not readable."""
    cards: list[Card] = []
    gone: list[str] = []
    skipped: list[Skipped] = []
    for person in people:
        name = str(person.get("resourceName") or "") if isinstance(person, dict) else ""
        where = f"contacts:{name}"
        try:
            if not name:
                skipped.append(Skipped(where, "a contact without a resourceName"))
            elif (person.get("metadata") or {}).get("deleted"):
                gone.append(name)
            else:
                cards.append(card_of(person, groups, where))
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            skipped.append(Skipped(where, f"unreadable contact ({type(exc).__name__})"))
    return cards, gone, skipped


def card_of(person: dict[str, Any], groups: GroupNames, where: str) -> Card:
    notes: list[str] = []
    names = _by_primary(person.get("names"))
    birthday, text = _birthday(_by_primary(person.get("birthdays")), notes)
    anniversaries = [e for e in _by_primary(person.get("events"))
                     if str(e.get("type", "")).lower() == "anniversary"]
    anniversary = _first_date(anniversaries, "anniversary", notes)
    resources = [r for m in person.get("memberships") or [] if (r := _group_of(m))]
    return Card(card_id=str(person["resourceName"]),
                name=clean_text(str(names[0].get("displayName") or "")) if names else "",
                emails=card_emails(str(e.get("value") or "")
                                   for e in person.get("emailAddresses") or []),
                groups=tuple(dict.fromkeys(g for r in resources if (g := groups.name(r)))),
                starred=STARRED in resources, birthday=birthday, anniversary=anniversary,
                birthday_text=text, notes=tuple(notes), location=where,
                postal=postal(person.get("addresses")))


def postal(addresses: Any) -> str:
    """The person's postal address as lines (see the module's doc); '' for none."""
    ranked = _by_primary(addresses)
    primary = ranked[:1] if ranked and (ranked[0].get("metadata") or {}).get("primary") else []
    home = [a for a in ranked if str(a.get("type") or "").lower() == "home"]
    chosen = (primary or home or ranked or [{}])[0]
    text = str(chosen.get("formattedValue") or "").strip() or laid_out(chosen, ADDRESS_LINES)
    return text_lines(text)


def _group_of(membership: dict[str, Any]) -> str:
    """The group a membership names ('' for none, e.g. a Workspace domain membership);
    ``contactGroupId`` is the older, deprecated way of saying it."""
    group = membership.get("contactGroupMembership") or {}
    old = str(group.get("contactGroupId") or "")
    return str(group.get("contactGroupResourceName") or (old and "contactGroups/" + old))


def _by_primary(items: Any) -> list[dict[str, Any]]:
    """A person's values of one field, the primary one first (Google marks it in metadata)."""
    values = [i for i in items or [] if isinstance(i, dict)]
    return sorted(values, key=lambda i: not (i.get("metadata") or {}).get("primary"))


def _birthday(birthdays: list[dict[str, Any]], notes: list[str]
              ) -> tuple[PartialDate | None, str]:
    """The first birthday that is a date; else the words of the first given as text."""
    found = _first_date(birthdays, "birthday", notes)
    if found is not None:
        return found, ""
    texts = [clean_text(str(b.get("text") or "")) for b in birthdays]
    return None, next((t for t in texts if t), "")


def _first_date(items: list[dict[str, Any]], what: str, notes: list[str]) -> PartialDate | None:
    for item in items:
        value = item.get("date")
        if not isinstance(value, dict):
            continue
        found = partial_date(value)
        if found is not None:
            return found
        notes.append(f"{what} {value.get('year', '')}-{value.get('month', '')}-"
                     f"{value.get('day', '')} is not a date; ignored")
    return None


def partial_date(value: Mapping[str, Any]) -> PartialDate | None:
    """A ``google.type.Date`` as a PartialDate (year 0 or missing: unknown); None when it
    is no day of the year (month or day 0 or out of range, 29 February of a common year)."""
    try:
        year, month, day = (int(value.get(k) or 0) for k in ("year", "month", "day"))
    except (TypeError, ValueError):
        return None
    known = None if year in NO_YEAR else year
    if not (1 <= month <= 12 and (known is None or 1 <= known <= 9999)):
        return None
    if not 1 <= day <= calendar.monthrange(known or 2000, month)[1]:
        return None
    return PartialDate(month, day, known)
