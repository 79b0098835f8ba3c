"""A Google account (Gmail and Google Calendar) as a keepwarm account of type "gmail".

Sent mail comes through the Gmail API (connectors.gmailmail), meetings from Google Calendar
and reminders go into it (connectors.gcal), over one OAuth sign-in (connectors.googleauth)
with the least scopes the config needs. The cursor holds a part per source: "calendar" (sync
tokens) and "mail" (backfill position or history id). The calendar is read first, since it
is quick, then the sent mail, whose first backfill can take hours under Gmail's quota.

Config: client_secrets (the OAuth client JSON of type Desktop app), token_file (default
``<state_dir>/<name>.google-token.json``, 0600), mail, calendar, calendars, reminders_calendar,
endpoint (the API root; the OAuth endpoints come from client_secrets), quota_units_per_minute
and quota_get_units (Gmail's per-user quota of the Google Cloud project), retries, timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from connectors import gcal, gmailmail, icalmap, retry
from connectors.base import Connector, Option
from connectors.googleauth import DEFAULT_ENDPOINT, DEFAULT_REMINDERS_CALENDAR, GoogleSession
from connectors.googleauth import scopes_for as google_scopes
from daemon.errors import ConfigError
from daemon.model import JSON, AccountConfig, Applied, Batch, Change, FetchContext, RemoteReminder

log = logging.getLogger(__name__)


class GmailConnector(Connector):
    """Sent mail and meetings of a Google account, and its calendar for reminders."""

    type: ClassVar[str] = "gmail"
    reads_mail: ClassVar[bool] = True
    reads_meetings: ClassVar[bool] = True
    writes_reminders: ClassVar[bool] = True
    needs_signin: ClassVar[bool] = True
    options: ClassVar[Mapping[str, Option]] = {
        "client_secrets": Option(str, required=True, is_path=True, secret=True,
                                 help="the OAuth client JSON (type Desktop app) downloaded from "
                                      "your Google Cloud project"),
        "token_file": Option(str, default="", is_path=True, secret=True,
                             help="where the sign-in is kept (default: "
                                  "<state_dir>/<name>.google-token.json, mode 0600)"),
        "mail": Option(bool, default=True, help="read sent mail from Gmail"),
        "calendar": Option(bool, default=True, help="read meetings from Google Calendar"),
        "calendars": Option(list, default=["primary"],
                            help="calendars to read meetings from: 'primary', ids or names"),
        "reminders_calendar": Option(str, default=DEFAULT_REMINDERS_CALENDAR,
                                     help="the calendar (id or name) reminders go into; the "
                                          "default is one keepwarm creates; another one needs "
                                          "the broader calendar.events permission"),
        "endpoint": Option(str, default=DEFAULT_ENDPOINT, help="the Google API root"),
        "quota_units_per_minute": Option(int, default=6000,
                                         help="Gmail quota units per user per minute of your "
                                              "Google Cloud project (15000 for older ones)"),
        "quota_get_units": Option(int, default=20,
                                  help="units one messages.get costs (5 for older projects)"),
        **retry.RETRY_OPTIONS,
    }

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        opts = account.options
        problems = []
        for key in ("quota_units_per_minute", "quota_get_units"):
            value = opts.get(key, self.options[key].default)
            if not isinstance(value, int) or value < 1:
                problems.append(f"accounts[{self.name}].{key} = {value!r}: must be a positive "
                                "whole number")
        calendars = opts.get("calendars", ["primary"])
        if not isinstance(calendars, list) or not all(isinstance(c, str) and c
                                                      for c in calendars):
            problems.append(f"accounts[{self.name}].calendars: a list of calendar ids or names")
        if not opts.get("client_secrets"):
            problems.append(f"accounts[{self.name}].client_secrets: the OAuth client JSON is "
                            "required (see the README, 'Gmail and Google Calendar')")
        if problems:
            raise ConfigError(problems)
        self.mail = bool(opts.get("mail", True))
        self.calendar = bool(opts.get("calendar", True))
        self.calendars = [str(c) for c in calendars] or ["primary"]
        self.session = GoogleSession(account, google_scopes(opts, account.holds_reminders))
        self.get_units = int(opts.get("quota_get_units", 20))
        self.budget = gmailmail.QuotaBudget(int(opts.get("quota_units_per_minute", 6000)))
        self.writer = gcal.ReminderWriter(
            self.session, str(opts.get("reminders_calendar") or DEFAULT_REMINDERS_CALENDAR))

    # -- sources -----------------------------------------------------------------------
    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        state: dict[str, Any] = dict(cursor) if isinstance(cursor, dict) else {}
        try:
            if self.calendar:
                observations, calendar_state, snapshot = gcal.MeetingReader(
                    self.session, self.calendars).read(state.get("calendar"), ctx)
                new_state = {**state, "calendar": calendar_state}
                if snapshot:
                    yield from icalmap.snapshot_batches(observations, cursor, new_state)
                else:
                    yield Batch(observations, new_state)
                state = new_state
            if self.mail:
                reader = gmailmail.SentMailReader(self.session, self.budget, self.get_units)
                for observations, mail_state in reader.read(state.get("mail"), ctx):
                    state = {**state, "mail": mail_state}
                    left = (max(int(mail_state["estimate"]) - int(mail_state.get("done", 0)), 0)
                            if mail_state.get("estimate") else None)
                    yield Batch(observations, state, remaining=left)
            if not (self.calendar or self.mail):
                yield Batch([], state)
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
        self.session.sign_in(open_browser, say)
        say(f"Saved the sign-in to {self.session.token_path} (readable only by you).")
