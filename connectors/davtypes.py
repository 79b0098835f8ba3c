"""What keepwarm's WebDAV requests (``connectors.dav``) speak in: the two kinds of
collection, calendars and address books, and the values the requests answer with.

Standard library only, so a connector module can name a kind without importing the DAV
libraries (``connectors.davlogin``).
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.errors import CalendarError, KeepwarmError, SourceError

CALDAV_NS = "urn:ietf:params:xml:ns:caldav"
CARDDAV_NS = "urn:ietf:params:xml:ns:carddav"
XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'
XML_NS = f'xmlns:d="DAV:" xmlns:c="{CALDAV_NS}" xmlns:cs="http://calendarserver.org/ns/"'


@dataclass(frozen=True, slots=True)
class DavKind:
    """What tells calendars and address books apart, in requests and in messages."""

    service: str  # "CalDAV", "CardDAV": for messages
    what: str  # "calendar", "address book"
    ns: str  # the XML namespace of the protocol
    collection: str  # the resource type of a collection of this kind
    multiget: str  # the REPORT that fetches objects by href
    data: str  # the property holding an object's text
    accept: str  # the media type of an object
    error: type[KeepwarmError]  # what a failure is to keepwarm
    time_range: bool  # ETags are listed by a time-range query (else by PROPFIND)

    @property
    def home_set(self) -> str:
        return f"{self.collection}-home-set"

    def tag(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def body(self, element: str, inner: str) -> str:
        """A request body whose root ``element`` is in this kind's namespace (prefix x)."""
        return f'{XML_HEAD}<x:{element} {XML_NS} xmlns:x="{self.ns}">{inner}</x:{element}>'


CALENDARS = DavKind("CalDAV", "calendar", CALDAV_NS, "calendar", "calendar-multiget",
                    "calendar-data", "text/calendar", CalendarError, time_range=True)
ADDRESS_BOOKS = DavKind("CardDAV", "address book", CARDDAV_NS, "addressbook",
                        "addressbook-multiget", "address-data", "text/vcard", SourceError,
                        time_range=False)


@dataclass(frozen=True, slots=True)
class Collection:
    """One calendar or address book of the user."""

    url: str  # absolute, with a trailing slash
    name: str  # display name; the last path segment when the server has none
    events: bool = True  # may hold VEVENTs (an address book: True, it lists no components)
    sync_token: str = ""  # RFC 6578 DAV:sync-token; '' when the server has none
    ctag: str = ""  # CalendarServer getctag; '' when the server has none


CalendarInfo = Collection  # the name the reminders writer knows it by


@dataclass(frozen=True, slots=True)
class Resource:
    """One calendar object or vCard from a REPORT."""

    href: str  # the path as the server gave it
    etag: str
    data: str  # iCalendar or vCard text; '' when only ETags were asked for


@dataclass(frozen=True, slots=True)
class SyncPage:
    """One answer to a sync-collection REPORT: what changed since the token sent."""

    token: str  # the token to send next time
    changed: dict[str, str]  # href -> ETag ('' when the server sent none)
    deleted: list[str]  # hrefs of removed members
    truncated: bool  # RFC 6578 section 3.6: ask again from ``token`` for the rest


class InvalidSyncToken(Exception):
    """The server no longer knows the sync-token (RFC 6578 DAV:valid-sync-token)."""


class SyncUnsupported(Exception):
    """The server lists a sync-token but refuses the sync-collection REPORT."""


@dataclass(frozen=True, slots=True)
class Reply:
    """The outcome of a GET, PUT or DELETE of one resource."""

    status: int
    etag: str = ""
    text: str = ""
