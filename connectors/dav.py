"""The WebDAV requests keepwarm makes of CalDAV calendars and CardDAV address books, over
the ``caldav`` library's DAVClient, with every failure turned into one of keepwarm's errors.

Calendars (RFC 4791) and address books (RFC 6352) are read the same way: find the home set
through the principal, list its collections with their change markers in one PROPFIND,
follow RFC 6578 sync-collection, fetch changed objects by multiget. They differ only in
the namespace, the home-set property, the collection's resource type, the multiget and the
data element, and how ETags are listed without sync-collection (a time-range
calendar-query for a calendar, a Depth 1 PROPFIND for an address book): the session's
``DavKind`` (``connectors.davtypes``) says which, ``CALENDARS`` or ``ADDRESS_BOOKS``.

Only DAVClient's transport (session, authentication, timeouts) and its multistatus parsers
(``DAVResponse.parse_propfind``, ``parse_calendar_query``, ``parse_sync_collection``) are
used; the request bodies are written out here. The library's high-level objects add
compatibility guesses and extra round trips, while keepwarm needs a few exact requests:
conditional PUT/DELETE (If-Match, If-None-Match) whose 412 it sees, one PROPFIND that lists
every calendar with its change markers, a time-range REPORT, and the incremental pair below.

Incremental reads (checked against caldav 3.6's source): ``Calendar.get_objects_by_sync_token``
sends the sync-collection REPORT with ``Depth: 1``, while RFC 6578 section 3.2 defines it
only for Depth 0 ("other values result in a 400"); with ``load_objects`` it GETs each changed object
one by one instead of one multiget; and on an invalid token it silently re-downloads the
whole calendar through ``search()`` unless ``disable_fallback``, which then raises a 403 as
an AuthorizationError but a 409 as a ReportError. ``Calendar.multiget`` sends every href
in one request and, with ``raise_notfound``, raises on the first 404. So keepwarm writes
``sync_collection`` (Depth 0, sync-level 1, only getetag; a 403 naming DAV:valid-sync-token,
or a 409 or 412, is ``InvalidSyncToken``, another refusal ``SyncUnsupported``; the RFC 6578
section 3.6 truncation marker is reported) and ``multiget`` (the caller chunks; 404s come
back as a list), and reads both answers with the library's parsers, as for the others.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from caldav.davclient import DAVClient
from caldav.lib import error as dav_error
from caldav.lib.http_sync import requests as http
from caldav.response import DAVResponse
from lxml import etree

from connectors import retry
from connectors.davtypes import (
    CALENDARS,
    XML_HEAD,
    XML_NS,
    Collection,
    DavKind,
    InvalidSyncToken,
    Reply,
    Resource,
    SyncPage,
    SyncUnsupported,
)
from connectors.davtypes import CalendarInfo as CalendarInfo  # what davreminders imports here
from daemon.errors import AuthError, TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")

_SYNC = (f"{XML_HEAD}<d:sync-collection {XML_NS}><d:sync-token>{{token}}</d:sync-token>"
         "<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>")
_ETAGS = f"{XML_HEAD}<d:propfind {XML_NS}><d:prop><d:getetag/></d:prop></d:propfind>"
_VALID_SYNC_TOKEN = "{DAV:}valid-sync-token"
_ICS = "text/calendar; charset=utf-8"
# Characters an href keeps unescaped when sent back (RFC 3986 pchar): servers disagree on
# whether "@" is escaped, and every one of them decodes the path before the lookup.
_PATH_SAFE = "/@:!$&'()*+,;="


class DavSession:
    """One authenticated connection to a CalDAV or CardDAV server for one account."""

    def __init__(self, url: str, username: str, password: str, timeout: int,
                 account: str, kind: DavKind = CALENDARS) -> None:
        self.url = url
        self.username = username
        self.account = account
        self.timeout = timeout
        self.kind = kind
        self.shown_url = shown_url(url)
        self.server = f"{kind.service} server {self.shown_url}"  # for messages
        self.client = DAVClient(url=url, username=username, password=password,
                                timeout=timeout, enable_rfc6764=False)
        self._home: str | None = None
        self._root: dict[str, Any] | None = None  # the properties of ``url``
        # REPORTs by kind and objects downloaded: logged, and what tests count
        self.counts: Counter[str] = Counter()
        self.requests = 0  # every HTTP request sent (the benchmarks count them)
        self.failures = 0  # transient faults in a row of the request being sent

    def close(self) -> None:
        self.client.close()

    def absolute(self, href: str) -> str:
        return urljoin(self.url, href)

    # -- collections ---------------------------------------------------------------
    def root(self) -> dict[str, Any]:
        """The properties of the URL itself (asked once per session)."""
        if self._root is None:
            self._root = self._props(self.url)
        return self._root

    def home(self) -> str:
        """The home set of calendars or address books: from the URL itself (``root``, which
        a retrying caller asks first, so each retried call sends one request), or its
        current-user-principal."""
        if self._home is None:
            props = self.root()
            home = props.get(self.kind.tag(self.kind.home_set))
            principal = props.get("{DAV:}current-user-principal")
            if not home and isinstance(principal, str):
                home = self._props(self.absolute(principal)).get(
                    self.kind.tag(self.kind.home_set))
            if isinstance(home, list):
                home = home[0] if home else None
            self._home = self.absolute(home) if isinstance(home, str) and home else self.url
        return self._home

    def known_home(self, url: str) -> None:
        """Use ``url`` as the home set, found by an earlier session: no discovery."""
        self._home = url

    @property
    def home_known(self) -> bool:
        return self._home is not None

    def collections(self) -> list[Collection]:
        """Every calendar (or address book) in the home set, with its change markers, in
        one PROPFIND (after ``home``, which a retrying caller calls first: one request per
        retried call)."""
        home = self.home()
        body = (f"{XML_HEAD}<d:propfind {XML_NS}><d:prop><d:resourcetype/><d:displayname/>"
                "<c:supported-calendar-component-set/><d:sync-token/><cs:getctag/>"
                "</d:prop></d:propfind>")
        response = self._request("PROPFIND", home, body, {"Depth": "1"})
        self._expect(response, (207,), f"listing the {self.kind.what}s at {home}")
        out = []
        for result in self._parse(response.parse_propfind):
            props = result.properties
            kinds = props.get("{DAV:}resourcetype") or []
            if self.kind.tag(self.kind.collection) not in kinds or result.status == 404:
                continue
            url = self.absolute(result.href)
            url = url if url.endswith("/") else url + "/"
            components = props.get(CALENDARS.tag("supported-calendar-component-set"))
            if isinstance(components, str):
                components = [components]
            name = props.get("{DAV:}displayname")
            token = props.get("{DAV:}sync-token")
            ctag = props.get("{http://calendarserver.org/ns/}getctag")
            out.append(Collection(
                url=url,
                name=name.strip() if isinstance(name, str) and name.strip()
                else unquote(url.rstrip("/").rsplit("/", 1)[-1]),
                events=not components or "VEVENT" in components,
                sync_token=token.strip() if isinstance(token, str) else "",
                ctag=ctag.strip() if isinstance(ctag, str) else ""))
        return out

    def make_calendar(self, name: str, slug: str) -> Collection | None:
        """MKCALENDAR ``slug`` in the home set; None when that URL is taken."""
        url = f"{self.home()}{quote(slug, safe='')}/"
        body = (f"{XML_HEAD}<c:mkcalendar {XML_NS}><d:set><d:prop>"
                f"<d:displayname>{escape(name)}</d:displayname>"
                '<c:supported-calendar-component-set><c:comp name="VEVENT"/>'
                "</c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>")
        response = self._request("MKCALENDAR", url, body, {})
        if response.status in (405, 409):
            return None
        self._expect(response, (200, 201), f"creating the calendar {name!r} at {url}")
        log.info("%s: created calendar %r at %s", self.account, name, url)
        return Collection(url=url, name=name, events=True)

    # -- objects -----------------------------------------------------------------------
    def query(self, calendar: str, start: str = "", end: str = "",
              data: bool = True) -> list[Resource]:
        """The VEVENT objects of ``calendar`` (overlapping [start, end) when given, as UTC
        basic-format stamps): hrefs, ETags and, with ``data``, their iCalendar text."""
        time_range = f'<c:time-range start="{start}" end="{end}"/>' if start else ""
        body = (f"{XML_HEAD}<c:calendar-query {XML_NS}><d:prop><d:getetag/>"
                f"{'<c:calendar-data/>' if data else ''}</d:prop><c:filter>"
                f'<c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">{time_range}'
                "</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>")
        self.counts["query"] += 1
        response = self._request("REPORT", calendar, body, {"Depth": "1"})
        self._expect(response, (207,), f"reading events of {calendar}")
        found = [Resource(r.href, r.etag or "", r.calendar_data or "")
                 for r in self._parse(response.parse_calendar_query)
                 if r.status != 404 and not r.href.endswith("/")]
        self.counts["objects"] += len(found) if data else 0
        return found

    def etags(self, collection: str, span: tuple[str, str]) -> dict[str, str]:
        """href -> ETag of every member, for a collection without sync-collection: a
        calendar's events overlapping ``span`` (UTC stamps), an address book's cards."""
        if self.kind.time_range:
            return {r.href: r.etag for r in self.query(collection, *span, data=False)}
        self.counts["list"] += 1
        response = self._request("PROPFIND", collection, _ETAGS, {"Depth": "1"})
        self._expect(response, (207,), f"listing the {self.kind.what} {collection}")
        return {r.href: str(r.properties.get("{DAV:}getetag") or "")
                for r in self._parse(response.parse_propfind)
                if r.status != 404 and not r.href.endswith("/")}

    def sync_collection(self, calendar: str, token: str) -> SyncPage:
        """RFC 6578 sync-collection of ``calendar`` since ``token`` ('' for everything):
        the members' hrefs and ETags only. InvalidSyncToken when the server forgot it."""
        body = _SYNC.format(token=escape(token))
        self.counts["sync-collection"] += 1
        try:
            response = self._request("REPORT", calendar, body, {"Depth": "0"})
        except _Precondition as exc:  # e.g. DAV:supported-report: not for this collection
            if _VALID_SYNC_TOKEN in exc.args[0]:
                raise InvalidSyncToken(calendar) from None
            raise SyncUnsupported(f"{calendar}: {', '.join(exc.args[0])}") from None
        if response.status in (409, 412):  # the other answers servers give to a stale token
            raise InvalidSyncToken(calendar)
        if response.status in (400, 405, 415):
            raise SyncUnsupported(f"{calendar}: HTTP {response.status}")
        self._expect(response, (207,), f"listing the changes of {calendar}")
        result = self._parse(response.parse_sync_collection)
        path = unquote(urlsplit(calendar).path).rstrip("/")
        if result.truncated and (response.sync_truncated_href or "").rstrip("/") != path:
            raise self.kind.error(f"{self.server} answered 507 "
                                  f"for {response.sync_truncated_href} when listing {calendar}")
        # hrefs come decoded from the parser; some servers list the collection itself
        members = [r for r in result.changed
                   if r.href.rstrip("/") != path and not r.href.endswith("/")]
        return SyncPage(token=result.sync_token or "",
                        changed={r.href: r.etag or "" for r in members},
                        deleted=[h for h in result.deleted if not h.endswith("/")],
                        truncated=result.truncated)

    def multiget(self, collection: str,
                 hrefs: Sequence[str]) -> tuple[list[Resource], list[str]]:
        """calendar-multiget or addressbook-multiget of ``hrefs`` (decoded paths, as every
        answer here gives them) in one REPORT: the objects found, and the hrefs answered
        404. The caller chunks."""
        links = "".join(f"<d:href>{escape(quoted(h))}</d:href>" for h in hrefs)
        kind = self.kind
        body = kind.body(kind.multiget, f"<d:prop><d:getetag/><x:{kind.data}/></d:prop>{links}")
        self.counts["multiget"] += 1
        # RFC 4791 section 7.9, RFC 6352 section 8.7: no Depth header for a multiget
        response = self._request("REPORT", collection, body, {})
        self._expect(response, (207,), f"reading the objects of {collection}")
        results = self._parse(response.parse_propfind)
        data = kind.tag(kind.data)
        found = [Resource(r.href, str(r.properties.get("{DAV:}getetag") or ""),
                          r.properties[data])
                 for r in results if r.status != 404 and isinstance(r.properties.get(data), str)]
        self.counts["objects"] += len(found)
        return found, [r.href for r in results if r.status == 404]

    def get(self, url: str) -> Reply:
        self.counts["get"] += 1
        response = self._request("GET", url, "", {"Accept": self.kind.accept})
        if response.status == 404:
            return Reply(404)
        self._expect(response, (200,), f"reading {url}")
        return Reply(200, _etag(response), response.raw)

    def put(self, url: str, body: str, condition: Mapping[str, str]) -> Reply:
        """PUT under ``condition`` (If-Match / If-None-Match); 412 and 409 are returned."""
        try:
            response = self._request("PUT", url, body, {"Content-Type": _ICS, **condition})
        except _Precondition:  # e.g. no-uid-conflict: another object has this UID
            return Reply(409)
        if response.status in (404, 409, 412):
            return Reply(response.status)
        self._expect(response, (200, 201, 204), f"writing {url}")
        return Reply(response.status, _etag(response))

    def delete(self, url: str, condition: Mapping[str, str]) -> Reply:
        response = self._request("DELETE", url, "", dict(condition))
        if response.status in (404, 412):
            return Reply(response.status)
        self._expect(response, (200, 204), f"deleting {url}")
        return Reply(response.status)

    # -- plumbing ------------------------------------------------------------------------
    def _props(self, url: str) -> dict[str, Any]:
        body = (f'{XML_HEAD}<d:propfind {XML_NS} xmlns:x="{self.kind.ns}"><d:prop>'
                f"<d:current-user-principal/><x:{self.kind.home_set}/><d:resourcetype/>"
                "</d:prop></d:propfind>")
        response = self._request("PROPFIND", url, body, {"Depth": "0"})
        if response.status == 404:
            raise self.kind.error(f"no {self.kind.service} service at {shown_url(url)}; "
                                  f"fix accounts[{self.account}].url")
        self._expect(response, (207,), f"discovering {self.kind.what}s at {url}")
        results = self._parse(response.parse_propfind)
        return dict(results[0].properties) if results else {}

    def _request(self, method: str, url: str, body: str,
                 headers: Mapping[str, str]) -> DAVResponse:
        """One request, counted in ``failures``. The session's first one may be two: the
        library sends it without credentials, and again with them after the 401; when the
        second fails, the first got its answer, and only the second's failures count."""
        unsigned = self.client.auth is None
        self.requests += 1
        try:
            response = self._send(method, url, body, headers)
        except TransientError:
            signed_meanwhile = unsigned and self.client.auth is not None
            self.failures = 1 if signed_meanwhile else self.failures + 1
            raise
        self.failures = 0
        return response

    def _send(self, method: str, url: str, body: str,
              headers: Mapping[str, str]) -> DAVResponse:
        """One HTTP request; network faults, 429 and 5xx are transient (with the server's
        Retry-After, read by ``retry.retry_after``), 401/403 an AuthError."""
        try:
            response = self.client.request(url, method, body, headers)
        except dav_error.AuthorizationError as exc:
            if exc.preconditions and exc.status == 403:  # a refused condition, not a login
                raise _Precondition(list(exc.preconditions)) from None
            raise AuthError(
                f"{self.kind.service} server refused {self.username} at {self.shown_url} "
                f"(HTTP {exc.status or 401}); check the password (password_command or "
                f"keyring of accounts[{self.account}]) and that this user may use it") from None
        except dav_error.RateLimitError as exc:  # its own parser drops "0.5" and the like
            raise TransientError(f"{self.server} is busy "
                                 f"(HTTP {exc.status or '429/503'} on {method})",
                                 retry_after=retry.retry_after(exc.retry_after)) from None
        except http.exceptions.SSLError as exc:
            raise self.kind.error(f"TLS with {self.shown_url} failed: {exc}") from None
        except http.exceptions.Timeout:
            raise TransientError(f"{self.server} did not answer {method} "
                                 f"within {self.timeout} s") from None
        except (http.exceptions.RequestException, OSError) as exc:
            raise TransientError(f"cannot reach {self.server} "
                                 f"({type(exc).__name__}: refused, reset or no route)") from None
        except (dav_error.DAVError, etree.LxmlError, ValueError) as exc:  # unparseable XML
            raise self.kind.error(f"{self.server} sent a broken answer "
                                f"to {method}: {exc}") from None
        if response.status >= 500:
            raise TransientError(f"{self.server} failed {method} "
                                 f"(HTTP {response.status})")
        return response

    def _parse(self, parser: Callable[[], T]) -> T:
        """A multistatus parser's result; a malformed body is the server's fault."""
        try:
            return parser()
        except (dav_error.DAVError, etree.LxmlError, ValueError, AttributeError) as exc:
            raise self.kind.error(f"{self.server} sent an "
                                  f"unreadable multistatus: {exc}") from None

    def _expect(self, response: DAVResponse, ok: tuple[int, ...], doing: str) -> None:
        if response.status not in ok:
            raise self.kind.error(f"{self.server} answered HTTP "
                                f"{response.status} {getattr(response, 'reason', '')} "
                                f"when {doing}")


class _Precondition(Exception):
    """A 403 that names a precondition (RFC 4918 section 16): the request was refused, the
    login was fine."""




def quoted(href: str) -> str:
    """A decoded href as it goes back into a request (a URL path or a DAV:href)."""
    return quote(href, safe=_PATH_SAFE)


def _etag(response: DAVResponse) -> str:
    return str(response.headers.get("ETag") or "")


def shown_url(text: str) -> str:
    """``text`` with any user:password@ taken out of URLs in it, for messages and logs."""
    parts = urlsplit(text)
    if parts.scheme and parts.hostname and (parts.username or parts.password):
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return text
