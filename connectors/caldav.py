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

The login, the session and the copies are shared with CardDAV (``connectors.davlogin``).
Writing: ``connectors.davreminders``. The modules that need the caldav, lxml and icalendar
packages (``dav``, ``davcache``, ``davreminders``, ``icalmap``) are imported when they are
first used, never when the config loads this module to check options.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, ClassVar

from connectors import checks
from connectors.base import CalendarConnector, Option, snapshot_batches
from connectors.davlogin import DavLogin, login_options
from connectors.davtypes import CALENDARS
from connectors.retry import RETRY_OPTIONS
from daemon.errors import SourceError
from daemon.model import (
    JSON,
    AccountConfig,
    Applied,
    Batch,
    Change,
    FetchContext,
    Observation,
    RemoteReminder,
)

if TYPE_CHECKING:
    from connectors.davreminders import DavReminders
    from connectors.davtypes import Collection

log = logging.getLogger(__name__)

_DAY = "%Y%m%dT000000Z"


class CaldavConnector(DavLogin, CalendarConnector):
    """One CalDAV login: a meetings source and, when named in [reminders], their calendar."""

    type = "caldav"
    reads_meetings = True
    user_editable = True
    dav_kind = CALENDARS
    options: ClassVar[dict[str, Option]] = {
        **login_options("CalDAV"),
        "calendars": Option(list, default=[], item=str, check=checks.names,
                            help="display names of the calendars to read meetings from "
                                 "(default: every event calendar but the reminders one)"),
        "reminders_calendar": Option(str, default="keepwarm", check=checks.name,
                                     help="display name of the calendar keepwarm writes its "
                                          "reminders into; created if missing"),
        **RETRY_OPTIONS,
    }
    requires: ClassVar[dict[str, str]] = {
        "caldav": "caldav", "lxml": "lxml", "icalendar": "icalendar",
        "recurring_ical_events": "recurring-ical-events"}

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        self._login()
        self.wanted = [str(n) for n in self.account.options["calendars"]]
        self.reminders_name = str(self.account.options["reminders_calendar"]).strip()
        self._reminders: DavReminders | None = None

    def calendars(self) -> list[Collection]:
        """Every calendar of the account (the home set found first, once per session)."""
        return self.collections()

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
        from connectors import icalmap

        chosen = self._chosen(self.calendars())
        span = _window(ctx)
        copies = [(cal, self.copies().update(cal, span)) for cal in chosen]
        self.copies().prune(cal.url for cal in chosen)
        new_cursor = {"day": ctx.now.astimezone(ctx.tz).date().isoformat(),
                      "calendars": {cal.url: copy.digest() for cal, copy in copies}}
        if cursor == new_cursor:
            yield Batch([], cursor)
            return
        observations: list[Observation] = []
        for cal, copy in copies:
            where = f"caldav:{self.name}/{cal.name}"
            for href, (_, text) in sorted(copy.objects.items()):
                observations.extend(icalmap.object_meetings(text, where, href, ctx))
        yield from snapshot_batches(observations, cursor, new_cursor)

    def _chosen(self, calendars: list[Collection]) -> list[Collection]:
        """The calendars to read meetings from, by display name (case does not matter)."""
        if not self.wanted:
            out = [c for c in calendars if c.events and not same_name(c.name, self.reminders_name)]
            return sorted(out, key=lambda c: c.url)
        missing = [n for n in self.wanted if not any(same_name(c.name, n) for c in calendars)]
        if missing:
            there = ", ".join(sorted(repr(c.name) for c in calendars)) or "none"
            raise SourceError(
                f"no calendar named {', '.join(map(repr, missing))} for {self.username} at "
                f"{self.url}; fix accounts[{self.name}].calendars (calendars there: {there})")
        return sorted((c for c in calendars if any(same_name(c.name, n) for n in self.wanted)),
                      key=lambda c: c.url)

    # -- reminders calendar ----------------------------------------------------
    def reminders(self) -> DavReminders:
        if self._reminders is None:
            from connectors.davreminders import DavReminders

            self._reminders = DavReminders(self)
        return self._reminders

    def _list_reminders(self) -> list[RemoteReminder]:
        return self.reminders().find()

    def _apply(self, changes: Sequence[Change]) -> list[Applied]:
        return self.reminders().apply(changes)


def same_name(a: str, b: str) -> bool:
    """Calendar display names compare without case and surrounding blanks."""
    return a.strip().casefold() == b.strip().casefold()


def _window(ctx: FetchContext) -> tuple[str, str]:
    """The ETag listing's time range: the fetch window widened by a day on both sides, so
    floating times the server reads in another zone still come back (expansion trims
    exactly), then to whole UTC days, so it stays put all day and an unchanged getctag
    spares the listing."""
    start = (ctx.window_start - timedelta(days=1)).astimezone(UTC)
    end = (ctx.window_end + timedelta(days=2)).astimezone(UTC)
    return start.strftime(_DAY), end.strftime(_DAY)
