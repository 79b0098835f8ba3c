"""The local copy of each CalDAV calendar keepwarm reads meetings from, and of each CardDAV
address book it reads cards from, so that a change on the server downloads only the objects
that changed, never the whole collection again. Calendars and address books are kept alike;
the session's ``DavKind`` makes the requests of each.

A copy is href -> (ETag, iCalendar or vCard text), plus where it stands: the RFC 6578
sync-token it is at, or, on a server without one, the getctag and time range of the last
ETag listing (an address book has no time range). It lives in
``<state_dir>/<account>.caldav/`` (``.carddav/``), one JSON file per collection (named by a
hash of login and URL), replaced atomically and 0600 (connectors.atomic): a crash leaves
the old copy or the new one, never a mix. Without a state folder (tests, harnesses) copies
live in memory for the connector's lifetime. A copy is only a cache: an unreadable file is
dropped and the collection read again from the server.

Bringing a copy up to date (``CollectionCopies.update``):

- with a sync-token: nothing to do when the calendar's token in the PROPFIND that listed it
  is the copy's. Else a sync-collection REPORT from the copy's token (following truncated
  answers), then calendar-multiget of the changed hrefs whose ETag the copy does not hold,
  ``CHUNK`` per request; removed members and multiget 404s leave the copy. A token the
  server no longer knows drops the copy and lists the calendar once from scratch; a second
  refusal is an error, never a loop. A calendar whose server shows a token but refuses the
  REPORT is read as one without, from then on (until its copy is deleted).
- without: nothing to do when the getctag and the time range equal the last listing's. Else
  the ETags are listed (``DavSession.etags``: a time-range calendar-query, a PROPFIND of the
  address book); new and changed hrefs are fetched by multiget, hrefs no longer listed
  leave the copy.

Why the meetings in the store converge to the server's is explained at
``CaldavConnector._fetch``, which saves every copy before it yields anything; the cards,
at ``CarddavConnector._fetch_cards``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.atomic import write_atomic
from connectors.dav import DavSession, quoted
from connectors.davtypes import Collection, InvalidSyncToken, SyncUnsupported

log = logging.getLogger(__name__)

CHUNK = 100  # hrefs per calendar-multiget
MAX_PAGES = 1000  # truncated sync-collection answers followed before giving up
_FORMAT = 1
Call = Callable[..., Any]  # the connector's retrying call: call(what, fn, *args)


@dataclass
class CollectionCopy:
    """One calendar's or address book's objects as last read, and the marker they were
    read at."""

    url: str
    token: str = ""  # the RFC 6578 sync-token the objects are at; '' if none
    ctag: str = ""  # ETag path: the getctag at the last listing
    span: tuple[str, str] = ("", "")  # ETag path: the time range of the last listing
    no_sync: bool = False  # the server refused sync-collection: never ask again
    objects: dict[str, tuple[str, str]] = field(default_factory=dict)  # href -> (ETag, text)
    dirty: bool = False  # differs from the saved file

    def digest(self) -> str:
        """A hash of the objects (hrefs and texts): equal digests, equal meetings."""
        h = hashlib.sha256()
        for href in sorted(self.objects):
            h.update(f"{href}\0{self.objects[href][1]}\0".encode())
        return h.hexdigest()


class CollectionCopies:
    """The copies of one account's calendars (or address books), kept up to date through
    one DavSession."""

    def __init__(self, dav: DavSession, call: Call, state_dir: str) -> None:
        self.dav = dav
        self.call = call
        self.account = dav.account
        self.username = dav.username
        self.error = dav.kind.error
        suffix = dav.kind.service.lower()  # caldav, carddav
        self.folder = Path(state_dir) / f"{self.account}.{suffix}" if state_dir else None
        self._loaded: dict[str, CollectionCopy] = {}

    def update(self, cal: Collection, span: tuple[str, str] = ("", "")) -> CollectionCopy:
        """``cal``'s copy brought up to date with the server and saved (``span``: the time
        range of a calendar's ETag listing)."""
        copy = self._load(cal.url)
        try:
            if cal.sync_token and not copy.no_sync:
                try:
                    self._by_sync_token(copy, cal)
                except SyncUnsupported as exc:  # it lists a token but refuses the REPORT
                    log.info("%s: the server refuses sync-collection for %r (%s); comparing "
                             "ETags instead", self.account, cal.name, exc)
                    copy.no_sync = copy.dirty = True
                    self._by_etags(copy, cal, span)
            else:
                self._by_etags(copy, cal, span)
        except BaseException:
            self._loaded.pop(cal.url, None)  # half updated: read the saved one next time
            raise
        if copy.dirty and self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(self._path(cal.url), _encode(copy, self.username), 0o600)
        copy.dirty = False
        return copy

    def prune(self, keep: Iterable[str]) -> None:
        """Delete the saved copies of calendars no longer read (by URL), and temporary files
        a killed write left behind (only one sync runs at a time: the cycle lock)."""
        if self.folder is None or not self.folder.is_dir():
            return
        wanted = {self._path(url).name for url in keep}
        for path in [*self.folder.glob("*.json"), *self.folder.glob(".*.tmp")]:
            if path.name not in wanted:
                path.unlink(missing_ok=True)

    # -- with RFC 6578 sync-collection ---------------------------------------------------
    def _by_sync_token(self, copy: CollectionCopy, cal: Collection) -> None:
        if copy.token and copy.token == cal.sync_token:
            return
        try:
            changed, deleted, token = self._changes(cal, copy.token)
        except InvalidSyncToken:
            if not copy.token:
                raise self._refused(cal) from None
            log.info("%s: the server no longer knows the sync-token of %r; reading the "
                     "%s again from scratch", self.account, cal.name, self.dav.kind.what)
            copy.objects.clear()
            copy.token = ""
            try:
                changed, deleted, token = self._changes(cal, "")
            except InvalidSyncToken:
                raise self._refused(cal) from None
        if not copy.token:  # a listing from scratch names every member: the rest are gone
            deleted = set(copy.objects) - set(changed)
        self._apply(copy, cal, changed, deleted)
        copy.token, copy.ctag, copy.span = token, "", ("", "")
        copy.dirty = True

    def _refused(self, cal: Collection) -> Exception:
        return self.error(f"{self.dav.server} refused to "
                          f"list {cal.url} from scratch (DAV:valid-sync-token)")

    def _changes(self, cal: Collection, token: str) -> tuple[dict[str, str], set[str], str]:
        """Every change since ``token``, through truncated answers: (href -> ETag of the
        changed members, hrefs of the removed ones, the new token)."""
        changed: dict[str, str] = {}
        deleted: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self.call(f"listing the changes of {cal.name}", self.dav.sync_collection,
                             cal.url, token)
            for href in page.deleted:
                changed.pop(href, None)
                deleted.add(href)
            for href, etag in page.changed.items():
                deleted.discard(href)
                changed[href] = etag
            if not page.truncated:
                return changed, deleted, page.token
            if not page.token or page.token == token:
                raise self.error(f"{self.dav.server} truncated the changes "
                                    f"of {cal.url} without a new sync-token")
            token = page.token
        raise self.error(f"{self.dav.server} truncated the changes of "
                            f"{cal.url} {MAX_PAGES} times in a row")

    # -- by time range and ETags ----------------------------------------------------------
    def _by_etags(self, copy: CollectionCopy, cal: Collection, span: tuple[str, str]) -> None:
        if cal.ctag and (copy.token, copy.ctag, copy.span) == ("", cal.ctag, span):
            return
        listed = self.call(f"listing {cal.name}", self.dav.etags, cal.url, span)
        self._apply(copy, cal, listed, set(copy.objects) - set(listed))
        if (copy.token, copy.ctag, copy.span) != ("", cal.ctag, span):
            copy.token, copy.ctag, copy.span = "", cal.ctag, span
            copy.dirty = True

    # -- both -------------------------------------------------------------------------------
    def _apply(self, copy: CollectionCopy, cal: Collection, changed: dict[str, str],
               deleted: set[str]) -> None:
        """Drop ``deleted``; download the ``changed`` hrefs whose ETag the copy lacks (all
        of those without an ETag), CHUNK per multiget."""
        for href in deleted:
            copy.dirty |= copy.objects.pop(href, None) is not None
        wanted = sorted(h for h, etag in changed.items()
                        if not etag or h not in copy.objects or copy.objects[h][0] != etag)
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            found, gone = self.call(f"reading {cal.name}", self.dav.multiget, cal.url, chunk)
            asked = set(chunk)
            answered = {r.href: (r.etag, r.data) for r in found if r.href in asked}
            for href in asked.intersection(gone):
                copy.objects.pop(href, None)
            for href in sorted(asked - answered.keys() - set(gone)):  # left out: ask alone
                reply = self.call(f"reading {href}", self.dav.get, self.dav.absolute(quoted(href)))
                if reply.status == 404:
                    copy.objects.pop(href, None)
                else:
                    answered[href] = (reply.etag, reply.text)
            copy.objects.update(answered)
            copy.dirty = True
        log.debug("%s: %r: %d changed, %d removed, %d downloaded", self.account, cal.name,
                  len(changed), len(deleted), len(wanted))

    # -- files --------------------------------------------------------------------------------
    def _path(self, url: str) -> Path:
        assert self.folder is not None
        key = hashlib.sha256(f"{self.username}\n{url}".encode()).hexdigest()[:24]
        return self.folder / f"{key}.json"

    def _load(self, url: str) -> CollectionCopy:
        if url in self._loaded:
            return self._loaded[url]
        copy = CollectionCopy(url)
        if self.folder is not None:
            path = self._path(url)
            try:
                copy = _decode(json.loads(path.read_bytes()), url, self.username)
            except FileNotFoundError:
                pass
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
                log.warning("%s: ignoring the unreadable copy %s (%s); reading the %s "
                            "again", self.account, path, exc, self.dav.kind.what)
        self._loaded[url] = copy
        return copy


def _encode(copy: CollectionCopy, username: str) -> bytes:
    data = {"format": _FORMAT, "username": username, "calendar": copy.url,
            "token": copy.token, "ctag": copy.ctag, "span": list(copy.span),
            "no_sync": copy.no_sync,
            "objects": {href: list(pair) for href, pair in sorted(copy.objects.items())}}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _decode(data: Any, url: str, username: str) -> CollectionCopy:
    """The copy saved in ``data``; ValueError when it is not one for this login and URL."""
    if data.get("format") != _FORMAT or (data["username"], data["calendar"]) != (username, url):
        raise ValueError("saved for another format, login or calendar")
    start, end = data["span"]
    objects = {str(href): (str(etag), str(text)) for href, (etag, text)
               in data["objects"].items()}
    return CollectionCopy(url, token=str(data["token"]), ctag=str(data["ctag"]),
                        span=(str(start), str(end)), no_sync=data["no_sync"] is True,
                        objects=objects)
