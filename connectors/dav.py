"""The CalDAV requests keepwarm makes, over the ``caldav`` library's DAVClient, with every
failure turned into one of keepwarm's errors.

Only DAVClient's transport (session, authentication, timeouts) and its multistatus parsers
are used; the requests themselves are written out here. The library's high-level objects
add compatibility guesses and extra round trips, while keepwarm needs a few exact requests:
conditional PUT/DELETE (If-Match, If-None-Match) whose 412 it sees, one PROPFIND that lists
every calendar with its change marker, and a time-range REPORT.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from caldav.davclient import DAVClient
from caldav.lib import error as dav_error
from caldav.lib.http_sync import requests as http
from caldav.response import DAVResponse
from lxml import etree

from daemon.errors import AuthError, CalendarError, TransientError

log = logging.getLogger(__name__)

_CALDAV = "urn:ietf:params:xml:ns:caldav"
_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'
_NS = f'xmlns:d="DAV:" xmlns:c="{_CALDAV}" xmlns:cs="http://calendarserver.org/ns/"'
_DISCOVER = (f"{_HEAD}<d:propfind {_NS}><d:prop><d:current-user-principal/>"
             "<c:calendar-home-set/><d:resourcetype/></d:prop></d:propfind>")
_LIST = (f"{_HEAD}<d:propfind {_NS}><d:prop><d:resourcetype/><d:displayname/>"
         "<c:supported-calendar-component-set/><d:sync-token/><cs:getctag/>"
         "</d:prop></d:propfind>")
_ICS = "text/calendar; charset=utf-8"


@dataclass(frozen=True, slots=True)
class CalendarInfo:
    """One calendar collection of the user."""

    url: str  # absolute, with a trailing slash
    name: str  # display name; the last path segment when the server has none
    events: bool  # may hold VEVENTs
    version: str  # RFC 6578 sync-token, else the getctag; '' when the server has neither


@dataclass(frozen=True, slots=True)
class Resource:
    """One calendar object resource from a REPORT."""

    href: str  # the path as the server gave it
    etag: str
    data: str  # iCalendar text; '' when only ETags were asked for


@dataclass(frozen=True, slots=True)
class Reply:
    """The outcome of a GET, PUT or DELETE of one resource."""

    status: int
    etag: str = ""
    text: str = ""


class DavSession:
    """One authenticated connection to a CalDAV server for one account."""

    def __init__(self, url: str, username: str, password: str, timeout: int,
                 account: str) -> None:
        self.url = url
        self.username = username
        self.account = account
        self.timeout = timeout
        self.shown_url = shown_url(url)
        self.client = DAVClient(url=url, username=username, password=password,
                                timeout=timeout, enable_rfc6764=False)
        self._home: str | None = None

    def close(self) -> None:
        self.client.close()

    def absolute(self, href: str) -> str:
        return urljoin(self.url, href)

    # -- collections ---------------------------------------------------------------
    def home(self) -> str:
        """The calendar home set: from the URL itself, or its current-user-principal."""
        if self._home is None:
            props = self._props(self.url)
            home = props.get(f"{{{_CALDAV}}}calendar-home-set")
            principal = props.get("{DAV:}current-user-principal")
            if not home and isinstance(principal, str):
                home = self._props(self.absolute(principal)).get(f"{{{_CALDAV}}}calendar-home-set")
            if isinstance(home, list):
                home = home[0] if home else None
            self._home = self.absolute(home) if isinstance(home, str) and home else self.url
        return self._home

    def calendars(self) -> list[CalendarInfo]:
        """Every calendar in the home set, with its change marker, in one PROPFIND."""
        home = self.home()
        response = self._request("PROPFIND", home, _LIST, {"Depth": "1"})
        self._expect(response, (207,), f"listing the calendars at {home}")
        out = []
        for result in _parse(response.parse_propfind):
            props = result.properties
            kinds = props.get("{DAV:}resourcetype") or []
            if f"{{{_CALDAV}}}calendar" not in kinds or result.status == 404:
                continue
            url = self.absolute(result.href)
            url = url if url.endswith("/") else url + "/"
            components = props.get(f"{{{_CALDAV}}}supported-calendar-component-set")
            if isinstance(components, str):
                components = [components]
            name = props.get("{DAV:}displayname")
            version = (props.get("{DAV:}sync-token")
                       or props.get("{http://calendarserver.org/ns/}getctag") or "")
            out.append(CalendarInfo(
                url=url,
                name=name.strip() if isinstance(name, str) and name.strip()
                else unquote(url.rstrip("/").rsplit("/", 1)[-1]),
                events=not components or "VEVENT" in components,
                version=version if isinstance(version, str) else ""))
        return out

    def make_calendar(self, name: str, slug: str) -> CalendarInfo | None:
        """MKCALENDAR ``slug`` in the home set; None when that URL is taken."""
        url = f"{self.home()}{quote(slug, safe='')}/"
        body = (f"{_HEAD}<c:mkcalendar {_NS}><d:set><d:prop>"
                f"<d:displayname>{escape(name)}</d:displayname>"
                '<c:supported-calendar-component-set><c:comp name="VEVENT"/>'
                "</c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>")
        response = self._request("MKCALENDAR", url, body, {})
        if response.status in (405, 409):
            return None
        self._expect(response, (200, 201), f"creating the calendar {name!r} at {url}")
        log.info("%s: created calendar %r at %s", self.account, name, url)
        return CalendarInfo(url=url, name=name, events=True, version="")

    # -- objects -----------------------------------------------------------------------
    def query(self, calendar: str, start: str = "", end: str = "",
              data: bool = True) -> list[Resource]:
        """The VEVENT objects of ``calendar`` (overlapping [start, end) when given, as UTC
        basic-format stamps): hrefs, ETags and, with ``data``, their iCalendar text."""
        time_range = f'<c:time-range start="{start}" end="{end}"/>' if start else ""
        body = (f"{_HEAD}<c:calendar-query {_NS}><d:prop><d:getetag/>"
                f"{'<c:calendar-data/>' if data else ''}</d:prop><c:filter>"
                f'<c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">{time_range}'
                "</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>")
        response = self._request("REPORT", calendar, body, {"Depth": "1"})
        self._expect(response, (207,), f"reading events of {calendar}")
        return [Resource(r.href, r.etag or "", r.calendar_data or "")
                for r in _parse(response.parse_calendar_query)
                if r.status != 404 and not r.href.endswith("/")]

    def get(self, url: str) -> Reply:
        response = self._request("GET", url, "", {"Accept": "text/calendar"})
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
        response = self._request("PROPFIND", url, _DISCOVER, {"Depth": "0"})
        if response.status == 404:
            raise CalendarError(f"no CalDAV service at {shown_url(url)}; "
                                f"fix accounts[{self.account}].url")
        self._expect(response, (207,), f"discovering calendars at {url}")
        results = _parse(response.parse_propfind)
        return dict(results[0].properties) if results else {}

    def _request(self, method: str, url: str, body: str,
                 headers: Mapping[str, str]) -> DAVResponse:
        """One HTTP request; network faults and 5xx are transient, 401/403 an AuthError."""
        try:
            response = self.client.request(url, method, body, headers)
        except dav_error.AuthorizationError as exc:
            if exc.preconditions and exc.status == 403:  # a refused condition, not a login
                raise _Precondition(exc.preconditions) from None
            raise AuthError(
                f"CalDAV server refused {self.username} at {self.shown_url} "
                f"(HTTP {exc.status or 401}); check the password (password_command or "
                f"keyring of accounts[{self.account}]) and that this user may use it") from None
        except dav_error.RateLimitError:
            raise TransientError(f"CalDAV server {self.shown_url} is busy "
                                 f"(HTTP 429/503 on {method})") from None
        except http.exceptions.SSLError as exc:
            raise CalendarError(f"TLS with {self.shown_url} failed: {exc}") from None
        except http.exceptions.Timeout:
            raise TransientError(f"CalDAV server {self.shown_url} did not answer {method} "
                                 f"within {self.timeout} s") from None
        except (http.exceptions.RequestException, OSError) as exc:
            raise TransientError(f"cannot reach CalDAV server {self.shown_url} "
                                 f"({type(exc).__name__}: refused, reset or no route)") from None
        except (dav_error.DAVError, etree.LxmlError, ValueError) as exc:  # unparseable XML
            raise CalendarError(f"CalDAV server {self.shown_url} sent a broken answer "
                                f"to {method}: {exc}") from None
        if response.status >= 500:
            raise TransientError(f"CalDAV server {self.shown_url} failed {method} "
                                 f"(HTTP {response.status})")
        return response

    def _expect(self, response: DAVResponse, ok: tuple[int, ...], doing: str) -> None:
        if response.status not in ok:
            raise CalendarError(f"CalDAV server {self.shown_url} answered HTTP "
                                f"{response.status} {getattr(response, 'reason', '')} "
                                f"when {doing}")


class _Precondition(Exception):
    """A 403 that names a precondition (RFC 4918 section 16): the request was refused, the
    login was fine."""


def _parse(parser: Any) -> list[Any]:
    """A multistatus parser's results; a malformed body is the server's fault."""
    try:
        return list(parser())
    except (dav_error.DAVError, etree.LxmlError, ValueError, AttributeError) as exc:
        raise CalendarError(f"CalDAV server sent an unreadable multistatus: {exc}") from None


def _etag(response: DAVResponse) -> str:
    return str(response.headers.get("ETag") or "")


def shown_url(text: str) -> str:
    """``text`` with any user:password@ taken out of URLs in it, for messages and logs."""
    parts = urlsplit(text)
    if parts.scheme and parts.hostname and (parts.username or parts.password):
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return text
