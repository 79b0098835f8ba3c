"""A Google account (Gmail and Google Calendar) as a keepwarm account of type "gmail".

Sent mail, and the received mail in its threads (replies), comes through the Gmail API
(connectors.gmailmail, connectors.gmailthreads), meetings from Google Calendar
(connectors.gcal) and reminders go into it (connectors.gcalreminders), over one OAuth
sign-in (connectors.googleauth) with the least scopes the config needs (``scopes_for``,
here, since the config decides).
The cursor holds a part per source: "calendar" (sync tokens) and "mail" (backfill position
or history id). The calendar is read first, since it is quick, then the sent mail, whose
first backfill can take hours under Gmail's quota. With ``contacts = true`` the account also
reads Google Contacts through the People API (connectors.gpeople), with a cursor of its own
(``fetch_cards``).

Those modules need Google's client libraries; they are imported when a connector is
built, never when the config loads this module to check options.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from connectors import checks
from connectors.base import CalendarConnector, Option, snapshot_batches
from connectors.bodytext import PROMISES_OPTION
from connectors.retry import RETRY_OPTIONS
from daemon.model import (
    JSON,
    AccountConfig,
    Applied,
    Batch,
    CardBatch,
    Change,
    FetchContext,
    RemoteReminder,
)

if TYPE_CHECKING:
    from connectors.gcal import MeetingReader
    from connectors.gcalreminders import ReminderWriter
    from connectors.gmailmail import MailReader
    from connectors.googleauth import GoogleSession
    from connectors.gpeople import CardReader

log = logging.getLogger(__name__)

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
GMAIL_METADATA = SCOPE_PREFIX + "gmail.metadata"  # headers only; refuses q= and message bodies
GMAIL_READONLY = SCOPE_PREFIX + "gmail.readonly"  # bodies too (promises = true); restricted
EVENTS_READONLY = SCOPE_PREFIX + "calendar.events.readonly"  # read meetings
CALENDARLIST_READONLY = SCOPE_PREFIX + "calendar.calendarlist.readonly"  # find calendars by name
CONTACTS_READONLY = SCOPE_PREFIX + "contacts.readonly"  # the address book, nothing else
APP_CREATED = SCOPE_PREFIX + "calendar.app.created"  # only calendars keepwarm created itself
EVENTS = SCOPE_PREFIX + "calendar.events"  # reminders in a calendar the user made
DEFAULT_REMINDERS_CALENDAR = "keepwarm"  # the calendar keepwarm creates (calendar.app.created)
API_ROOT = "https://www.googleapis.com/"  # Google's API root, the ``endpoint`` default


RESTRICTED_NOTE = (
    "promises = true asks for gmail.readonly, a restricted scope that lets keepwarm read "
    "your mail's bodies; it reads only the new text of your sent mail and keeps only the "
    "promise sentences (set promises = false to go back to headers only)")


def is_name(calendar: str) -> bool:
    """A calendar given by its name (needs the calendar list) rather than by its id."""
    return calendar != "primary" and "@" not in calendar


def scopes_for(options: Mapping[str, Any], holds_reminders: bool) -> list[str]:
    """The least the account's config needs (see the README's list and why); ``options``
    with every default filled in (``GmailConnector.with_defaults``)."""
    wanted: set[str] = set()
    if options["mail"]:  # never both: gmail.metadata's limits hold whatever else is granted
        wanted.add(GMAIL_READONLY if options["promises"] else GMAIL_METADATA)
    if options["calendar"]:
        wanted.add(EVENTS_READONLY)
        if any(is_name(str(c)) for c in options["calendars"]):
            wanted.add(CALENDARLIST_READONLY)
    if options["contacts"]:
        wanted.add(CONTACTS_READONLY)
    if holds_reminders:
        target = str(options["reminders_calendar"])
        if target == DEFAULT_REMINDERS_CALENDAR:
            wanted |= {APP_CREATED, CALENDARLIST_READONLY}
        else:
            wanted.add(EVENTS)
            wanted.discard(EVENTS_READONLY)  # calendar.events reads too
            if is_name(target):
                wanted.add(CALENDARLIST_READONLY)
    return sorted(wanted)


class GmailConnector(CalendarConnector):
    """Sent mail and meetings of a Google account, and its calendar for reminders."""

    type: ClassVar[str] = "gmail"
    extra: ClassVar[str | None] = "google"
    reads_mail: ClassVar[bool] = True
    reads_meetings: ClassVar[bool] = True
    reads_contacts: ClassVar[bool] = True
    needs_signin: ClassVar[bool] = True
    options: ClassVar[Mapping[str, Option]] = {
        "client_secrets": Option(str, required=True, is_path=True, secret=True,
                                 help="the OAuth client JSON (type Desktop app) downloaded from "
                                      "your Google Cloud project"),
        "token_file": Option(str, default="", is_path=True, secret=True,
                             help="where the sign-in is kept (default: "
                                  "<state_dir>/<name>.google-token.json, mode 0600)"),
        "mail": Option(bool, default=True, help="read sent mail from Gmail"),
        "received": Option(bool, default=True,
                           help="read received mail too, but only the messages in threads "
                                "that hold mail you sent within [followup] window (replies), "
                                "to spare Gmail's quota"),
        "calendar": Option(bool, default=True, help="read meetings from Google Calendar"),
        "contacts": Option(bool, default=False,
                           help="read Google Contacts too (names, addresses, groups, "
                                "birthdays); asks for read-only access to your contacts"),
        "promises": PROMISES_OPTION,
        "calendars": Option(list, default=["primary"], item=str, check=checks.some_names,
                            help="calendars to read meetings from: 'primary', ids or names"),
        "reminders_calendar": Option(str, default=DEFAULT_REMINDERS_CALENDAR, check=checks.name,
                                     help="the calendar (id or name) reminders go into; the "
                                          "default is one keepwarm creates; another one needs "
                                          "the broader calendar.events permission"),
        "endpoint": Option(str, default=API_ROOT, check=checks.safe_url,
                           help="the Google API root"),
        "quota_units_per_minute": Option(int, default=6000, check=checks.positive,
                                         help="Gmail quota units per user per minute of your "
                                              "Google Cloud project (15000 for older ones)"),
        "quota_get_units": Option(int, default=20, check=checks.positive,
                                  help="units one messages.get costs (5 for older projects)"),
        **RETRY_OPTIONS,
    }
    requires: ClassVar[Mapping[str, str]] = {
        "googleapiclient": "google-api-python-client",
        "google.auth": "google-auth",
        "google_auth_httplib2": "google-auth-httplib2",
        "google_auth_oauthlib": "google-auth-oauthlib",
        "httplib2": "httplib2",
        "requests": "requests",
    }

    def __init__(self, account: AccountConfig, *, backoff: float | None = None,
                 page: int | None = None, batch: int | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        """``backoff`` and ``clock`` (GoogleSession), ``page`` and ``batch``
        (MailReader) replace those parts' own defaults when given: tests make them
        small, or move time on."""
        super().__init__(account)
        from connectors import gcal, gcalreminders, gmailmail, gmailquota, googleauth, gpeople

        opts = self.account.options
        self.mail, self.calendar = bool(opts["mail"]), bool(opts["calendar"])
        self.session: GoogleSession = googleauth.GoogleSession(
            self.account, scopes_for(opts, account.holds_reminders),
            **_given(backoff=backoff, clock=clock))
        self.mail_reader: MailReader = gmailmail.MailReader(
            self.session, gmailquota.QuotaBudget(int(opts["quota_units_per_minute"])),
            int(opts["quota_get_units"]), bool(opts["received"]),
            promises=bool(opts["mail"] and opts["promises"]), **_given(page=page, batch=batch))
        self.meeting_reader: MeetingReader = gcal.MeetingReader(self.session, opts["calendars"])
        self.writer: ReminderWriter = gcalreminders.ReminderWriter(
            self.session, str(opts["reminders_calendar"]))
        self.card_reader: CardReader = gpeople.CardReader(self.session)

    @classmethod
    def reads_cards(cls, options: Mapping[str, Any]) -> bool:
        """Only when told to: the address book needs a scope of its own."""
        return options.get("contacts") is True

    # -- sources -----------------------------------------------------------------------
    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        state: dict[str, Any] = dict(cursor) if isinstance(cursor, dict) else {}
        try:
            if self.calendar:
                observations, calendar_state, snapshot = self.meeting_reader.read(
                    state.get("calendar"), ctx)
                new_state = {**state, "calendar": calendar_state}
                if snapshot:
                    yield from snapshot_batches(observations, cursor, new_state)
                else:
                    yield Batch(observations, new_state)
                state = new_state
            if self.mail:
                for observations, mail_state in self.mail_reader.read(state.get("mail"), ctx):
                    state = {**state, "mail": mail_state}
                    left = (max(int(mail_state["estimate"]) - int(mail_state.get("done", 0)), 0)
                            if mail_state.get("estimate") else None)
                    yield Batch(observations, state, remaining=left)
            if not (self.calendar or self.mail):
                yield Batch([], state)
        finally:
            self.session.save()

    def _fetch_cards(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[CardBatch]:
        try:
            yield from self.card_reader.read(cursor, ctx)
        finally:
            self.session.save()

    # -- the reminders calendar --------------------------------------------------------
    def _list_reminders(self) -> list[RemoteReminder]:
        try:
            return self.writer.reminders()
        finally:
            self.session.save()

    def _apply(self, changes: Sequence[Change]) -> list[Applied]:
        try:
            return self.writer.apply(changes)
        finally:
            self.session.save()

    # -- sign-in -----------------------------------------------------------------------
    def authenticate(self, open_browser: bool, say: Callable[[str], None]) -> None:
        """The installed-app flow: a browser consent, a loopback redirect, a saved token."""
        say(f"Signing in {self.name} to Google with these permissions: "
            + ", ".join(s.rsplit("/", 1)[-1] for s in self.session.scopes))
        if GMAIL_READONLY in self.session.scopes:
            say(RESTRICTED_NOTE)
        self.session.sign_in(open_browser, say)
        say(f"Saved the sign-in to {self.session.token_path} (readable only by you).")


def _given(**values: Any) -> dict[str, Any]:
    """The keyword arguments given (not None); the others keep the callee's default."""
    return {key: value for key, value in values.items() if value is not None}
