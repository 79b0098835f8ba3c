"""A CalDAV account (Fastmail, iCloud, Nextcloud, Radicale ...): meetings from the user's
calendars, and the calendar keepwarm writes its reminders into.

Reading: one PROPFIND lists every calendar with its change markers (the RFC 6578 sync-token,
the CalendarServer getctag). Each chosen calendar has a local copy of its objects
(``connectors.davcache``) that is brought up to date incrementally: by sync-collection where
the server has sync-tokens, else by a time-range listing of ETags, and in both cases only
new or changed objects are downloaded (calendar-multiget). An idle sync costs the PROPFIND
(plus, on a server with neither marker, one ETag listing per calendar) and yields nothing.
When a copy changed, or the day changed (the window and the recurrences move with time),
all meetings of the window are computed from the copies and yielded as a snapshot, so
deletions are seen. Recurrences are expanded here, the same way as for an .ics file
(``connectors.icalmap``); the server-side expand is not used because servers disagree on it.

Writing: keepwarm's events live at ``{uid}.ics`` in the reminders calendar (created with
MKCALENDAR when missing) and carry ``KEEPWARM_PROPERTY``. Every write is conditional:
create with ``If-None-Match: *``, update and delete with ``If-Match`` on the ETag keepwarm
listed, and each existing object is fetched first to check it is still keepwarm's. A 412
means the user changed the event meanwhile: that change is left out and the next sync
plans again from what the user did.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import secrets as random_tokens
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote, urlsplit

import icalendar

from connectors import davcache, icalmap, retry, secrets
from connectors.base import KEEPWARM_PROPERTY, Connector, Option
from connectors.dav import CalendarInfo, DavSession, Reply
from connectors.retry import RETRY_OPTIONS
from connectors.secrets import PASSWORD_OPTIONS
from daemon.errors import CalendarError, ConfigError, SourceError
from daemon.model import (
    JSON,
    AccountConfig,
    Applied,
    Batch,
    Change,
    Create,
    Delete,
    FetchContext,
    Observation,
    Reminder,
    RemoteReminder,
    Skipped,
    Update,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

_DAY = "%Y%m%dT000000Z"
_PRODID = "-//keepwarm//keepwarm//EN"


class CaldavConnector(Connector):
    """One CalDAV login: a meetings source and, when named in [reminders], their calendar."""

    type = "caldav"
    reads_meetings = True
    writes_reminders = True
    user_editable = True
    options: ClassVar[dict[str, Option]] = {
        "url": Option(str, required=True,
                      help="the server's CalDAV root or principal URL, https://..."),
        "username": Option(str, required=True, help="the CalDAV login name"),
        **PASSWORD_OPTIONS,
        "calendars": Option(list, default=[],
                            help="display names of the calendars to read meetings from "
                                 "(default: every event calendar but the reminders one)"),
        "reminders_calendar": Option(str, default="keepwarm",
                                     help="display name of the calendar keepwarm writes its "
                                          "reminders into; created if missing"),
        **RETRY_OPTIONS,
    }

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        opts = account.options
        self.url = str(opts.get("url") or "")
        self.username = str(opts.get("username") or "")
        self.wanted = opts.get("calendars") or []
        self.reminders_name = str(opts.get("reminders_calendar") or "keepwarm").strip()
        problems = _url_problems(self.url, account.name)
        if not self.username:
            problems.append(f"accounts[{account.name}].username: the CalDAV login is required")
        if not isinstance(self.wanted, list) or not all(
                isinstance(n, str) and n.strip() for n in self.wanted):
            problems.append(f"accounts[{account.name}].calendars: must be a list of calendar "
                            "names, e.g. [\"Work\", \"Family\"]")
        if problems:
            raise ConfigError(problems)
        secrets.check(account)
        self.url = self.url if self.url.endswith("/") else self.url + "/"
        self._dav: DavSession | None = None
        self._copies: davcache.CalendarCopies | None = None
        self._reminders: CalendarInfo | None = None

    def close(self) -> None:
        if self._dav is not None:
            self._dav.close()
            self._dav = None
            self._copies = None

    def _session(self) -> DavSession:
        if self._dav is None:
            self._dav = DavSession(self.url, self.username, secrets.password(self.account),
                                   int(self.account.options.get("timeout") or 60), self.name)
        return self._dav

    def _call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` with transient faults retried (``retries``, ``timeout`` options)."""
        return retry.call(self.account, what, functools.partial(fn, *args))

    # -- source ----------------------------------------------------------------
    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        """The window's meetings of the chosen calendars, as a snapshot when anything changed.

        Why the store converges: every calendar's copy is updated and saved (atomically)
        before anything is yielded, the cursor is the day plus a digest of each copy, and the
        snapshot is computed from the copies alone. So a stored cursor only names copies
        already on disk. A crash after a copy is saved but before the store commits the
        snapshot (or between its batches, which carry the old cursor until the last) leaves
        the old cursor: the next sync finds nothing new on the server, but the digests differ
        from the cursor, so the snapshot comes again from the saved copies. A copy lost or
        older than the store is rebuilt or caught up from the server: an equal digest means
        the store already holds its meetings, else a snapshot replaces them all. A crash
        while a copy is updated leaves the old file and token, and the changes are asked for
        again. Either way one complete sync puts the store right.
        """
        dav = self._session()
        chosen = self._chosen(self._call("listing calendars", dav.calendars))
        span = _window(ctx)
        if self._copies is None:
            self._copies = davcache.CalendarCopies(dav, self._call, self.account.state_dir)
        copies = [(cal, self._copies.update(cal, span)) for cal in chosen]
        self._copies.prune(cal.url for cal in chosen)
        new_cursor = {"day": ctx.now.astimezone(ctx.tz).date().isoformat(),
                      "calendars": {cal.url: copy.digest() for cal, copy in copies}}
        if cursor == new_cursor:
            yield Batch([], cursor)
            return
        observations: list[Observation] = []
        for cal, copy in copies:
            for href, (_, text) in sorted(copy.objects.items()):
                observations.extend(self._meetings(cal, href, text, ctx))
        yield from icalmap.snapshot_batches(observations, cursor, new_cursor)

    def _chosen(self, calendars: list[CalendarInfo]) -> list[CalendarInfo]:
        """The calendars to read meetings from, by display name (case does not matter)."""
        if not self.wanted:
            out = [c for c in calendars if c.events and not _same(c.name, self.reminders_name)]
            return sorted(out, key=lambda c: c.url)
        missing = [n for n in self.wanted if not any(_same(c.name, n) for c in calendars)]
        if missing:
            there = ", ".join(sorted(repr(c.name) for c in calendars)) or "none"
            raise SourceError(
                f"no calendar named {', '.join(map(repr, missing))} for {self.username} at "
                f"{self.url}; fix accounts[{self.name}].calendars (calendars there: {there})")
        return sorted((c for c in calendars if any(_same(c.name, n) for n in self.wanted)),
                      key=lambda c: c.url)

    def _meetings(self, cal: CalendarInfo, href: str, text: str,
                  ctx: FetchContext) -> Iterator[Observation]:
        where = f"caldav:{self.name}/{cal.name}"
        try:
            calendar = icalendar.Calendar.from_ical(text)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            name = href.rstrip("/").rsplit("/", 1)[-1]
            yield Skipped(f"{where}/{name}", f"unreadable iCalendar object: {exc}")
            return
        yield from icalmap.meetings(calendar, where, ctx)

    # -- reminders calendar ----------------------------------------------------
    def _list_reminders(self) -> list[RemoteReminder]:
        cal = self._reminders_calendar(create=False)
        if cal is None:
            return []
        resources = self._call("listing reminders", self._session().query, cal.url)
        out = []
        for resource in resources:
            calendar = _parse(resource.data)
            if calendar is not None and _ours(calendar):
                remote = _remote(calendar, resource.href, resource.etag)
                if remote is not None:
                    out.append(remote)
        return out

    def _apply(self, changes: Sequence[Change]) -> list[Applied]:
        cal = self._reminders_calendar(create=True)
        assert cal is not None
        now = datetime.now(UTC).replace(microsecond=0)
        applied = []
        for change in changes:
            uid = change.reminder.uid if isinstance(change, Create | Update) else change.remote.uid
            done = self._call(f"writing reminder {uid}", self._apply_one, cal, change, now)
            if done is not None:
                applied.append(done)
        return applied

    def _apply_one(self, cal: CalendarInfo, change: Change, now: datetime) -> Applied | None:
        dav = self._session()
        if isinstance(change, Create):
            url = f"{cal.url}{quote(change.reminder.uid, safe='')}.ics"
            reply = dav.put(url, _render(change.reminder, now), {"If-None-Match": "*"})
            if reply.status == 412:  # it exists: a retry after a lost answer, or a race
                return self._adopt(change, url, now)
            return self._written(change, url, reply)
        url = dav.absolute(change.remote.remote_id)
        current = dav.get(url)
        if current.status == 404:
            if isinstance(change, Delete):
                return Applied(change)
            log.info("%s: reminder %s was deleted in the calendar meanwhile; "
                     "leaving it deleted", self.name, change.remote.uid)
            return None
        calendar = _parse(current.text)
        if calendar is None or not _ours(calendar):
            log.warning("%s: %s is not keepwarm's event (no %s); not touching it",
                        self.name, change.remote.remote_id, KEEPWARM_PROPERTY)
            return None
        if isinstance(change, Update) and _same_reminder(calendar, change.reminder, now):
            return Applied(change, change.remote.remote_id, current.etag)
        if change.remote.etag and current.etag and _tag(current.etag) != _tag(change.remote.etag):
            return self._user_won(change)
        condition = {"If-Match": change.remote.etag or current.etag}
        if isinstance(change, Delete):
            reply = dav.delete(url, condition)
            return self._user_won(change) if reply.status == 412 else Applied(change)
        return self._written(change, url, dav.put(url, _render(change.reminder, now), condition))

    def _adopt(self, change: Create, url: str, now: datetime) -> Applied | None:
        """A create found the object already there: keepwarm's own is taken as done
        (repaired when unreadable); anything else is left alone."""
        dav = self._session()
        current = dav.get(url)
        if current.status == 404:  # gone again already: the next sync plans it afresh
            return None
        calendar = _parse(current.text)
        if calendar is None or not _ours(calendar):
            log.warning("%s: %s exists and is not keepwarm's event; not touching it",
                        self.name, url)
            return None
        if _remote(calendar, url, current.etag) is not None:
            return Applied(change, urlsplit(url).path, current.etag)
        reply = dav.put(url, _render(change.reminder, now), {"If-Match": current.etag})
        return self._written(change, url, reply)

    def _written(self, change: Create | Update, url: str, reply: Reply) -> Applied | None:
        if reply.status == 412:
            return self._user_won(change)
        if reply.status in (404, 409):
            log.warning("%s: the server refused reminder %s (HTTP %d)", self.name,
                        change.reminder.uid, reply.status)
            return None
        return Applied(change, urlsplit(url).path, reply.etag)

    def _user_won(self, change: Change) -> Applied | None:
        """Log and drop a change refused on ETag mismatch: the user's edit wins."""
        uid = change.reminder.uid if isinstance(change, Create | Update) else change.remote.uid
        log.info("%s: reminder %s changed in the calendar meanwhile; keeping the user's "
                 "version", self.name, uid)
        return None

    def _reminders_calendar(self, create: bool) -> CalendarInfo | None:
        """The calendar named ``reminders_calendar``; created (once) when ``create``."""
        if self._reminders is not None:
            return self._reminders
        dav = self._session()
        self._reminders = self._find_reminders(self._call("listing calendars", dav.calendars))
        if self._reminders is None and create:
            slug = re.sub(r"[^a-z0-9]+", "-", self.reminders_name.lower()).strip("-")
            slug = slug or "keepwarm"
            made = self._call("creating the reminders calendar", dav.make_calendar,
                              self.reminders_name, slug)
            if made is None:  # the URL is taken: our own create whose answer got lost?
                again = self._call("listing calendars", dav.calendars)
                made = self._find_reminders(again) or self._call(
                    "creating the reminders calendar", dav.make_calendar,
                    self.reminders_name, f"{slug}-{random_tokens.token_hex(4)}")
            if made is None:
                raise CalendarError(f"cannot create the calendar {self.reminders_name!r} "
                                    f"for {self.username} at {self.url}")
            self._reminders = made
        return self._reminders

    def _find_reminders(self, calendars: list[CalendarInfo]) -> CalendarInfo | None:
        found = sorted((c for c in calendars if _same(c.name, self.reminders_name)),
                       key=lambda c: c.url)
        if len(found) > 1:
            log.warning("%s: %d calendars are named %r; using %s", self.name, len(found),
                        self.reminders_name, found[0].url)
        return found[0] if found else None


# -- helpers ------------------------------------------------------------------------
def _url_problems(url: str, name: str) -> list[str]:
    """Why ``url`` cannot be used: not http(s), a password in it, or plain http to a host
    other than this machine (the password would cross the network in clear)."""
    key = f"accounts[{name}].url"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"{key}: must be the CalDAV server's https:// URL"]
    if parts.username or parts.password:
        return [f"{key}: must not hold the login; use username and password_command "
                "(or keyring = true)"]
    if parts.scheme == "http" and not _loopback(parts.hostname):
        return [f"{key}: plain http sends the password in clear; use https:// "
                "(http is allowed only to this machine)"]
    return []


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tag(etag: str) -> str:
    """An ETag without weak prefix and quotes, to compare REPORT's and GET's spellings."""
    return etag.removeprefix("W/").strip('"')


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _window(ctx: FetchContext) -> tuple[str, str]:
    """The ETag listing's time range: the fetch window widened by a day on both sides, so
    floating times the server reads in another zone still come back (expansion trims
    exactly), then to whole UTC days, so it stays put all day and an unchanged getctag
    spares the listing."""
    start = (ctx.window_start - timedelta(days=1)).astimezone(UTC)
    end = (ctx.window_end + timedelta(days=2)).astimezone(UTC)
    return start.strftime(_DAY), end.strftime(_DAY)


def _parse(text: str) -> icalendar.Component | None:
    if not text.strip():
        return None
    try:
        return icalendar.Calendar.from_ical(text)
    except (ValueError, TypeError, KeyError, IndexError):
        return None


def _ours(calendar: icalendar.Component) -> bool:
    """keepwarm's object: exactly one VEVENT, carrying KEEPWARM_PROPERTY, and nothing else
    but time zones. Anything else is the user's and is never written."""
    parts = [c for c in calendar.subcomponents if c.name != "VTIMEZONE"]
    return len(parts) == 1 and parts[0].name == "VEVENT" and KEEPWARM_PROPERTY in parts[0]


def _remote(calendar: icalendar.Component, href: str, etag: str) -> RemoteReminder | None:
    event = next(c for c in calendar.subcomponents if c.name == "VEVENT")
    uid = str(event.get("UID", "")).strip()
    try:
        return icalmap.remote_reminder(event, uid, urlsplit(href).path, etag)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable keepwarm event %s: %s", uid, exc)
        return None


def _render(reminder: Reminder, now: datetime) -> str:
    """A whole calendar object holding keepwarm's event for ``reminder``."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", _PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add_component(icalmap.reminder_event(reminder, now))
    return bytes(calendar.to_ical()).decode("utf-8")


def _same_reminder(calendar: icalendar.Component, reminder: Reminder, now: datetime) -> bool:
    """True when the stored event already says what ``reminder`` wants (DTSTAMP aside)."""
    def fields(c: icalendar.Component) -> tuple[Any, ...] | None:
        r = _remote(c, "", "")
        return None if r is None else (r.uid, r.rid, r.start, r.end, r.title, r.description)

    want = icalendar.Calendar.from_ical(_render(reminder, now))
    return fields(calendar) == fields(want)
