"""Outlook contacts through Graph: the address book of an ``outlook`` account with
``contacts = true`` (delegated permission ``Contacts.Read``, read-only).

Folders: the default Contacts folder (``/me/contacts/delta``) and every folder below it, at
any depth (``/me/contactFolders``, then each folder's ``childFolders``), each read by its own
delta round (``/me/contactFolders/{id}/contacts/delta``) with its own link in the cursor.
Exchange's own hidden folders under Contacts (the recipient cache of every address the user
ever wrote to, the organisation's directory copies, GUID-named ones) are not the user's
address book and are left out. The folder tree is kept in the cursor and listed again
hourly, so an idle sync costs one delta request per folder; a new folder is picked up at
the next listing, a deleted one answers 404 at once.

Each page of a round becomes one ``CardBatch`` whose cursor resumes after it, as for mail.
``@removed`` entries (a contact deleted, or moved to another folder: Graph's ids change with
the folder, so the move is a deletion here and a new contact there) are ``gone``.

A stored link the server no longer takes (410 Gone or ``syncStateNotFound``, 400 for a
garbled one, 404 for a deleted folder) or a folder missing from a new listing means keepwarm
no longer knows which contacts were where: the whole account is listed again as one full
listing (``CardBatch.full``), and the core drops every card the listing did not name. That
costs a read of the address book, which is rare and converges; the alternative - keeping
every card's folder in the cursor to re-list one folder - makes every cursor as big as the
address book. A fresh round refused at once is reported, never retried in a loop.

Fields, from Graph's contact resource (v1.0): ``displayName`` (else given name and
surname), ``emailAddresses``, ``categories`` (the groups), ``birthday``, and the postal
address: ``homeAddress``, else ``businessAddress``, else ``otherAddress`` (a holiday card
goes home), as lines: street (its own lines), "city state postal code", country. A delta
link serves the ``$select`` it was made with, so the cursor keeps that too, and a cursor
made with another (a release that read fewer fields) means one full listing. Graph has no
anniversary (only the beta API's ``weddingAnniversary``) and no favourite flag on contacts
(``isFavorite`` belongs to the People API's ranked ``person``), so an Outlook card has
neither. The birthday is a timestamp meant as midnight UTC: its date is read in UTC, never
in the user's time zone, rounded to the nearest midnight because Outlook clients have
written local midnight instead (``1986-04-11T22:00:00Z`` for 12 April, from UTC+2). Year
1604 is Apple's "no year" (a leap year, so 29 February survives) and means the year is
unknown; Exchange's placeholders (year 1601 or earlier, 4500 and later) mean no birthday.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from connectors.graph import Graph, GraphError, stale_link
from connectors.outlookmail import graph_time
from connectors.text import card_emails, clean_text, laid_out, text_lines
from daemon.errors import SourceError
from daemon.model import JSON, Card, CardBatch, FetchContext, PartialDate, Skipped

log = logging.getLogger(__name__)

DEFAULT = "contacts"  # the default Contacts folder's key in the cursor (folders: their id)
DEFAULT_NAME = "Contacts"
FOLDER_REFRESH = timedelta(hours=1)
PAGE_SIZE = 1000  # asked for; Graph answers at most 200 contacts a page
SELECT = ("displayName,givenName,surname,emailAddresses,categories,birthday,homeAddress,"
          "businessAddress,otherAddress")
# a physicalAddress's fields as the lines of a letter
ADDRESS_LINES = (("street",), ("city", "state", "postalCode"), ("countryOrRegion",))
PREFER = {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
NO_YEAR = 1604
# Folders Exchange keeps under Contacts for itself (compared without case); names in braces
# (GUIDs) are hidden ones too.
HIDDEN_FOLDERS = frozenset({"recipient cache", "organizational contacts", "gal contacts",
                            "peoplecentricconversation buddies", "companies"})


class _ListAgain(Exception):
    """The cursor no longer says where every card is: list the whole address book."""


def read_cards(graph: Graph, cursor: JSON | None, ctx: FetchContext) -> Iterator[CardBatch]:
    """The changes since ``cursor`` (None: every card, a full listing), page by page."""
    if isinstance(cursor, dict) and _usable(cursor):
        try:
            for batch in _changes(graph, cursor, ctx):
                yield batch
                cursor = batch.cursor  # what the core holds now
            return
        except _ListAgain as why:
            log.info("%s: %s; listing every contact again", graph.account.name, why)
    yield from _listing(graph, cursor, ctx)


def _changes(graph: Graph, state: dict[str, Any], ctx: FetchContext) -> Iterator[CardBatch]:
    """One delta round per folder from its stored link (a new folder: a fresh round)."""
    folders: dict[str, dict[str, str]] = dict(state["folders"])
    if _stale(state.get("listed"), ctx.now):
        listed = list_folders(graph)
        missing = set(folders) - {DEFAULT} - set(listed)
        if missing:
            raise _ListAgain(f"{len(missing)} contact folder(s) are gone")
        folders = {DEFAULT: folders[DEFAULT], **{
            fid: {"name": name, "link": folders.get(fid, {}).get("link", "")}
            for fid, name in listed.items()}}
        state = {**state, "folders": folders, "listed": ctx.now.isoformat()}
    yielded = False
    for key, folder in list(folders.items()):
        stored = folder.get("link", "")
        try:
            for items, resume in graph.delta(stored or _path(key), headers=PREFER,
                                             params=None if stored else {"$select": SELECT},
                                             what=_what(folder["name"])):
                folders = {**folders, key: {**folder, "link": resume}}
                state = {**state, "folders": folders}
                cards, gone, skipped = _page(items, folder["name"])
                yield CardBatch(cards, state, gone=gone, skipped=skipped)
                yielded = True
        except GraphError as exc:
            if not stale_link(exc):
                raise
            raise _ListAgain(str(exc)) from None
    if not yielded:
        yield CardBatch([], state)


def _listing(graph: Graph, old: JSON | None, ctx: FetchContext) -> Iterator[CardBatch]:
    """Every card of every folder, a full listing: its batches carry the ``old`` cursor but
    the last, so a crash in the middle lists again."""
    names = {DEFAULT: DEFAULT_NAME, **list_folders(graph)}
    folders: dict[str, dict[str, str]] = {}
    for key, name in names.items():
        try:
            for items, resume in graph.delta(_path(key), params={"$select": SELECT},
                                             headers=PREFER, what=_what(name)):
                folders[key] = {"name": name, "link": resume}
                cards, _, skipped = _page(items, name)
                yield CardBatch(cards, old, skipped=skipped, full=True)
        except GraphError as exc:
            if key != DEFAULT and exc.status == 404:
                log.info("%s: contact folder %r was deleted while listing it", graph.account.name,
                         name)
                continue
            if stale_link(exc):
                raise SourceError(f"Microsoft Graph refused a fresh listing of the contacts in "
                                  f"{name} at once (HTTP {exc.status} {exc.code}".rstrip()
                                  + "); trying again next sync") from None
            raise
    yield CardBatch([], {"folders": folders, "listed": ctx.now.isoformat(), "select": SELECT},
                    full=True, last=True)


def list_folders(graph: Graph) -> dict[str, str]:
    """id -> path (``Work/Old``) of every contact folder below the default one, the hidden
    ones left out: a listing of ``/me/contactFolders`` and one of each folder's children."""
    found: dict[str, str] = {}
    queue = [("/me/contactFolders", "")]
    while queue:
        path, parent = queue.pop(0)
        for page in graph.pages(path, params={"$select": "id,displayName", "$top": "100"},
                                what="listing contact folders"):
            for folder in page.items:
                fid = str(folder.get("id") or "")
                name = clean_text(str(folder.get("displayName") or ""))
                if not fid or fid in found or _hidden(name):
                    continue
                found[fid] = f"{parent}/{name}" if parent else name
                queue.append((f"/me/contactFolders/{quote(fid, safe='')}/childFolders",
                              found[fid]))
    return found


def to_card(contact: dict[str, Any], folder: str = DEFAULT_NAME) -> Card | Skipped:
    """The Card of one Graph contact, or Skipped when it has no id to keep it by."""
    cid = str(contact.get("id") or "")
    location = f"outlook:{folder}#{cid or '?'}"
    if not cid:
        return Skipped(location, "contact has no id")
    name = clean_text(str(contact.get("displayName") or "")) or clean_text(
        " ".join(str(contact.get(k) or "") for k in ("givenName", "surname")))
    emails = card_emails(str(e.get("address") or "") for e in _list(contact, "emailAddresses")
                         if isinstance(e, dict))
    groups = tuple(dict.fromkeys(g for g in (clean_text(str(c)) for c in
                                             _list(contact, "categories")) if g))
    birthday, notes = graph_birthday(contact.get("birthday"))
    return Card(cid, name=name, emails=emails, groups=groups, birthday=birthday, notes=notes,
                location=location, postal=postal(contact))


def postal(contact: dict[str, Any]) -> str:
    """The contact's postal address as lines (see the module's doc); '' for none."""
    for key in ("homeAddress", "businessAddress", "otherAddress"):
        value = contact.get(key)
        if not isinstance(value, dict):
            continue
        text = text_lines(laid_out(value, ADDRESS_LINES).replace("\r", ""))
        if text:
            return text
    return ""


def graph_birthday(value: Any) -> tuple[PartialDate | None, tuple[str, ...]]:
    """The birthday in Graph's timestamp (see the module's docstring), and a note for `show`
    when it is not one."""
    if value is None or value == "":
        return None, ()
    note = (f"birthday {str(value)[:40]!r} is not a date; ignored",)
    when = graph_time(value)
    if when is None:
        return None, note
    try:
        utc = when.astimezone(UTC)
        if not 1601 < utc.year < 4500:
            return None, ()  # Exchange's "no date"
        day = (utc + timedelta(hours=12)).date()
    except (OverflowError, ValueError):
        return None, note
    return PartialDate(day.month, day.day, None if day.year == NO_YEAR else day.year), ()


def _page(items: list[dict[str, Any]], folder: str
          ) -> tuple[list[Card], list[str], list[Skipped]]:
    """A delta page as (cards, ids gone, contacts that could not be read)."""
    cards: list[Card] = []
    gone: list[str] = []
    skipped: list[Skipped] = []
    for item in items:
        if "@removed" in item:
            gone.append(str(item.get("id") or ""))
            continue
        card = to_card(item, folder)
        if isinstance(card, Card):
            cards.append(card)
        else:
            skipped.append(card)
    return cards, [g for g in gone if g], skipped


def _usable(cursor: JSON | None) -> bool:
    """True for a cursor this module wrote, with these fields: every folder with a name and
    a link."""
    if not isinstance(cursor, dict) or not isinstance(cursor.get("folders"), dict):
        return False
    if cursor.get("select") != SELECT:
        return False
    folders = cursor["folders"]
    return DEFAULT in folders and all(
        isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("link"), str)
        for f in folders.values())


def _stale(at: Any, now: datetime) -> bool:
    try:
        return not timedelta(0) <= now - datetime.fromisoformat(str(at)) < FOLDER_REFRESH
    except (TypeError, ValueError):
        return True


def _path(key: str) -> str:
    if key == DEFAULT:
        return "/me/contacts/delta"
    return f"/me/contactFolders/{quote(key, safe='')}/contacts/delta"


def _what(folder: str) -> str:
    return f"reading the contacts in {folder}"


def _hidden(name: str) -> bool:
    return name.casefold() in HIDDEN_FOLDERS or name.startswith("{")


def _list(contact: dict[str, Any], key: str) -> list[Any]:
    value = contact.get(key)
    return value if isinstance(value, list) else []
