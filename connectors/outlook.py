"""An Outlook.com or Microsoft 365 account through Microsoft Graph: sent mail, meetings, and
the calendar keepwarm writes its reminders into.

The parts: ``msauth`` signs in (device-code flow, MSAL token cache), ``graph`` speaks HTTP
with Graph's throttling rules, ``outlookmail`` reads Sent Items, ``outlookcal`` reads
calendars, ``outlookreminders`` writes the reminders and ``outlookcontacts`` reads the
address book (``contacts = true``; its cursor is the one of ``fetch_cards``). This module
holds the account's options and the cursor, and imports those parts (they need msal and
requests) only when a connector is built or used: the config loads this module to check
options.

The cursor is one JSON object: ``mail`` (the link the Sent Items delta goes on from),
``received`` (folder -> the link of the Inbox and Archive deltas, with ``received`` on),
``calendars`` (the calendarView deltaLinks and the window they cover) and ``me`` (the user's
own address, asked from ``/me`` on the first sync and again weekly; with its proxy addresses
it is handed to the core as ``OwnAddress`` so the user never becomes their own contact). An
idle sync costs one mail delta request per folder and one calendar delta request per
calendar, and
listing the reminders: the calendar list is kept between syncs (``connectors.calendarlist``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from connectors import checks
from connectors.base import CalendarConnector, Option, snapshot_batches, state_file
from connectors.bodytext import PROMISES_OPTION
from connectors.calendarlist import CalendarList
from connectors.retry import RETRY_OPTIONS
from daemon.errors import CalendarError, KeepwarmError, SourceError
from daemon.model import (
    JSON,
    AccountConfig,
    Applied,
    Batch,
    CardBatch,
    Change,
    FetchContext,
    Observation,
    OwnAddress,
    RemoteReminder,
)

if TYPE_CHECKING:
    from connectors.graph import Graph
    from connectors.msauth import MsAuth
    from connectors.outlookreminders import ReminderCalendar

log = logging.getLogger(__name__)

ME_REFRESH = timedelta(days=7)
BODIES_NOTE = ("promises = true asks for Mail.Read, which lets keepwarm read your mail's "
               "bodies; it reads only the new text of your Sent Items (uniqueBody) and keeps "
               "only the promise sentences")
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"


class OutlookConnector(CalendarConnector):
    """One Microsoft account: Sent Items, chosen calendars, and optionally the reminders."""

    type = "outlook"
    extra: ClassVar[str | None] = "microsoft"
    reads_mail = True
    reads_meetings = True
    reads_contacts = True
    user_editable = True
    needs_signin = True
    options: ClassVar[dict[str, Option]] = {
        "client_id": Option(str, required=True,
                            help="Application (client) ID of your app registration in Entra ID"),
        "tenant": Option(str, default="common", check=checks.name,
                         help="directory (tenant) ID or domain; 'common' for any account, "
                              "'consumers' for Outlook.com only"),
        "authority_host": Option(str, default=MICROSOFT_AUTHORITY, check=checks.https_url,
                                 help="the sign-in service (national clouds differ)"),
        "graph_endpoint": Option(str, default="https://graph.microsoft.com/v1.0",
                                 check=checks.https_url,
                                 help="Microsoft Graph's root (national clouds differ)"),
        "token_cache": Option(str, is_path=True, secret=True,
                              help="MSAL token cache file (default: <state dir>/NAME.msal-cache"
                                   ".bin, keyring-encrypted where a keyring exists)"),
        "mail": Option(bool, default=True, help="read sent mail (Sent Items)"),
        "received": Option(bool, default=True,
                           help="with mail on, read received mail too (Inbox and Archive "
                                "folders, headers only): replies and two-way contacts"),
        "calendar": Option(bool, default=True, help="read meetings from the calendars below"),
        "contacts": Option(bool, default=False,
                           help="read the address book (Outlook contacts: names, addresses, "
                                "categories, birthdays); asks for the Contacts.Read "
                                "permission"),
        "promises": PROMISES_OPTION,
        "calendars": Option(list, default=["default"], item=str, check=checks.some_names,
                            help="calendar names to read meetings from; \"default\" is the "
                                 "mailbox's default calendar"),
        "reminders_calendar": Option(str, default="keepwarm", check=checks.name,
                                     help="name of the calendar keepwarm writes reminders "
                                          "into; created if missing"),
        **RETRY_OPTIONS,
    }
    requires: ClassVar[Mapping[str, str]] = {
        "msal": "msal", "msal_extensions": "msal-extensions", "requests": "requests"}

    def __init__(self, account: AccountConfig, *,
                 clock: Callable[[], float] = time.time) -> None:
        """``clock``: the time (seconds since the epoch) the kept calendar list ages by."""
        super().__init__(account)
        from connectors import msauth

        opts = self.account.options
        self.client_id = str(opts["client_id"]).strip()
        self.graph_endpoint = str(opts["graph_endpoint"])
        self.read_mail, self.read_calendar = bool(opts["mail"]), bool(opts["calendar"])
        self.read_received = self.read_mail and bool(opts["received"])
        self.promises = self.read_mail and bool(opts["promises"])
        self.calendars = [str(n).strip() for n in opts["calendars"]]
        self.reminders_name = str(opts["reminders_calendar"]).strip()
        authority = f"{str(opts['authority_host']).rstrip('/')}/{str(opts['tenant']).strip('/ ')}"
        self.auth: MsAuth = msauth.MsAuth(
            account.name, self.client_id, authority,
            state_file(self.account, "token_cache", ".msal-cache.bin"),
            msauth.scopes(self.read_mail, self.read_calendar, account.holds_reminders,
                          self.reads_cards(opts), self.promises),
            account.address, float(opts["timeout"]))
        self._graph: Graph | None = None
        self._reminders: ReminderCalendar | None = None
        self.calendar_list = CalendarList(self.account.state_dir, account.name, clock)

    @classmethod
    def reads_cards(cls, options: Mapping[str, Any]) -> bool:
        """Only with ``contacts = true``: it asks for one more permission at sign-in."""
        return bool(options.get("contacts"))

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
            self._graph = None

    def graph(self) -> Graph:
        """The Graph client, built once the signed-in mailbox is known."""
        if self._graph is None:
            from connectors.graph import Graph

            self._graph = Graph(self.account, self.graph_endpoint, self.auth.token,
                                self.auth.mailbox())
        return self._graph

    @contextmanager
    def _refusals(self, error: Callable[[str], KeepwarmError]) -> Iterator[None]:
        """Graph's refusals as ``error`` (SourceError, CalendarError) naming this account."""
        from connectors.graph import GraphError

        try:
            yield
        except GraphError as exc:
            raise error(f"{self.name}: {exc}") from None

    # -- sign-in -------------------------------------------------------------------
    def authenticate(self, open_browser: bool, say: Callable[[str], None]) -> None:
        if self.promises:
            say(BODIES_NOTE)
        self.auth.sign_in(open_browser, say)

    # -- sources -------------------------------------------------------------------
    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        state: dict[str, Any] = dict(cursor) if isinstance(cursor, dict) else {}
        with self._refusals(SourceError):
            yield from self._read(state, ctx)

    def _read(self, state: dict[str, Any], ctx: FetchContext) -> Iterator[Batch]:
        from connectors import outlookcal, outlookmail

        graph = self.graph()
        pending: list[Observation] = []
        me = state.get("me")
        if not isinstance(me, dict) or _stale(me.get("at"), ctx.now):
            addresses = outlookmail.own_addresses(graph)
            me = {"address": addresses[0] if addresses else "", "at": ctx.now.isoformat()}
            pending = [OwnAddress(a) for a in addresses]
            state["me"] = me
        yielded = False
        for found, new_state in self._mail(graph, state, ctx):
            state = new_state
            yield Batch(pending + found, dict(state))
            pending, yielded = [], True
        if self.read_calendar:
            before = dict(state)
            found, cal_state, snapshot = outlookcal.read_meetings(
                graph, state.get("calendars"), self.calendars, str(me.get("address", "")), ctx,
                self.calendar_list)
            state["calendars"] = cal_state
            if snapshot:
                observations = pending + found
                yield from snapshot_batches(observations, before, dict(state))
            else:
                yield Batch(pending + found, dict(state))
            pending, yielded = [], True
        if not yielded or pending:
            yield Batch(pending, dict(state))

    def _mail(self, graph: Graph, state: dict[str, Any], ctx: FetchContext
              ) -> Iterator[tuple[list[Observation], dict[str, Any]]]:
        """Each page of Sent Items, then of Inbox and Archive, with the cursor after it."""
        from connectors import outlookmail

        if not self.read_mail:
            return
        stored = state.get("mail")
        if bool(state.get("bodies")) != self.promises:  # a link keeps the $select it began with
            stored = None
        for found, link in outlookmail.read(graph, stored if isinstance(stored, str) else None,
                                            ctx, bodies=self.promises):
            state = {**state, "mail": link, "bodies": self.promises}
            yield found, state
        for folder in outlookmail.RECEIVED_FOLDERS if self.read_received else ():
            links = state.get("received")
            stored = links.get(folder) if isinstance(links, dict) else None
            for found, link in outlookmail.read(graph, stored if isinstance(stored, str)
                                                else None, ctx, folder):
                links = state.get("received")
                state = {**state, "received": {**(links if isinstance(links, dict) else {}),
                                               folder: link}}
                yield found, state

    def _fetch_cards(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[CardBatch]:
        from connectors import outlookcontacts

        with self._refusals(SourceError):
            yield from outlookcontacts.read_cards(self.graph(), cursor, ctx)

    # -- reminders calendar ----------------------------------------------------------
    def reminders(self) -> ReminderCalendar:
        if self._reminders is None:
            from connectors.outlookreminders import ReminderCalendar

            self._reminders = ReminderCalendar(self.graph(), self.reminders_name,
                                               self.calendar_list)
        return self._reminders

    def _list_reminders(self) -> list[RemoteReminder]:
        with self._refusals(CalendarError):
            return self.reminders().find()

    def _apply(self, changes: Sequence[Change]) -> list[Applied]:
        with self._refusals(CalendarError):
            return self.reminders().apply(changes)


def _stale(at: Any, now: datetime) -> bool:
    try:
        return now - datetime.fromisoformat(str(at)) > ME_REFRESH
    except (TypeError, ValueError):
        return True
