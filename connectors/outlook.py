"""An Outlook.com or Microsoft 365 account through Microsoft Graph: sent mail, meetings, and
the calendar keepwarm writes its reminders into.

The parts: ``msauth`` signs in (device-code flow, MSAL token cache), ``graph`` speaks HTTP
with Graph's throttling rules, ``outlookmail`` reads Sent Items and ``outlookcal`` reads and
writes calendars. This module holds the account's options and the cursor.

The cursor is one JSON object: ``mail`` (the link the Sent Items delta goes on from),
``calendars`` (the calendarView deltaLinks and the window they cover) and ``me`` (the user's
own address, asked from ``/me`` on the first sync and again weekly; with its proxy addresses
it is handed to the core as ``OwnAddress`` so the user never becomes their own contact). An
idle sync costs one mail delta request and one calendar delta request per calendar.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from connectors import icalmap, msauth, outlookcal, outlookmail
from connectors.base import Connector, Option
from connectors.graph import Graph, GraphError
from connectors.retry import RETRY_OPTIONS
from daemon.errors import CalendarError, ConfigError, SourceError
from daemon.model import (
    JSON,
    AccountConfig,
    Applied,
    Batch,
    Change,
    FetchContext,
    Observation,
    OwnAddress,
    RemoteReminder,
)

log = logging.getLogger(__name__)

ME_REFRESH = timedelta(days=7)


class OutlookConnector(Connector):
    """One Microsoft account: Sent Items, chosen calendars, and optionally the reminders."""

    type = "outlook"
    reads_mail = True
    reads_meetings = True
    writes_reminders = True
    user_editable = True
    needs_signin = True
    options: ClassVar[dict[str, Option]] = {
        "client_id": Option(str, required=True,
                            help="Application (client) ID of your app registration in Entra ID"),
        "tenant": Option(str, default="common",
                         help="directory (tenant) ID or domain; 'common' for any account, "
                              "'consumers' for Outlook.com only"),
        "authority_host": Option(str, default=msauth.MICROSOFT_AUTHORITY,
                                 help="the sign-in service (national clouds differ)"),
        "graph_endpoint": Option(str, default="https://graph.microsoft.com/v1.0",
                                 help="Microsoft Graph's root (national clouds differ)"),
        "token_cache": Option(str, is_path=True, secret=True,
                              help="MSAL token cache file (default: <state dir>/NAME.msal-cache"
                                   ".bin, keyring-encrypted where a keyring exists)"),
        "mail": Option(bool, default=True, help="read sent mail (Sent Items)"),
        "calendar": Option(bool, default=True, help="read meetings from the calendars below"),
        "calendars": Option(list, default=["default"],
                            help="calendar names to read meetings from; \"default\" is the "
                                 "mailbox's default calendar"),
        "reminders_calendar": Option(str, default="keepwarm",
                                     help="name of the calendar keepwarm writes reminders "
                                          "into; created if missing"),
        **RETRY_OPTIONS,
    }

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        opts = account.options
        key = f"accounts[{account.name}]"
        self.client_id = str(opts.get("client_id") or "").strip()
        self.tenant = str(opts.get("tenant") or "common").strip().strip("/")
        self.authority_host = str(opts.get("authority_host") or msauth.MICROSOFT_AUTHORITY)
        self.graph_endpoint = str(opts.get("graph_endpoint") or "https://graph.microsoft.com/v1.0")
        self.read_mail = bool(opts.get("mail", True))
        self.read_calendar = bool(opts.get("calendar", True))
        self.calendars = opts.get("calendars", ["default"])
        self.reminders_name = str(opts.get("reminders_calendar") or "keepwarm").strip()
        cache = opts.get("token_cache") or (
            str(Path(account.state_dir) / f"{account.name}.msal-cache.bin")
            if account.state_dir else "")
        problems = []
        if not self.client_id:
            problems.append(f"{key}.client_id: the Application (client) ID of your app "
                            "registration is required (see the README: Outlook and Microsoft 365)")
        for opt in ("authority_host", "graph_endpoint"):
            if not str(getattr(self, opt)).startswith("https://"):
                problems.append(f"{key}.{opt}: must be an https:// URL")
        if not isinstance(self.calendars, list) or not all(
                isinstance(n, str) and n.strip() for n in self.calendars):
            problems.append(f"{key}.calendars: must be a list of calendar names, "
                            'e.g. ["default", "Work"]')
        if not cache:
            problems.append(f"{key}.token_cache: no state folder is known; name a file")
        if problems:
            raise ConfigError(problems)
        self.calendars = [str(n).strip() for n in self.calendars]
        timeout = float(opts.get("timeout") or 60)
        self.auth = msauth.MsAuth(
            account.name, self.client_id, f"{self.authority_host.rstrip('/')}/{self.tenant}",
            Path(str(cache)).expanduser(),
            msauth.scopes(self.read_mail, self.read_calendar, account.holds_reminders),
            account.address, timeout)
        self._graph: Graph | None = None
        self._reminders: outlookcal.ReminderCalendar | None = None

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
            self._graph = None

    def graph(self) -> Graph:
        """The Graph client, built once the signed-in mailbox is known."""
        if self._graph is None:
            self._graph = Graph(self.account, self.graph_endpoint, self.auth.token,
                                self.auth.mailbox())
        return self._graph

    # -- sign-in -------------------------------------------------------------------
    def authenticate(self, open_browser: bool, say: Callable[[str], None]) -> None:
        self.auth.sign_in(open_browser, say)

    # -- sources -------------------------------------------------------------------
    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        state: dict[str, Any] = dict(cursor) if isinstance(cursor, dict) else {}
        try:
            yield from self._read(state, ctx)
        except GraphError as exc:
            raise SourceError(f"{self.name}: {exc}") from None

    def _read(self, state: dict[str, Any], ctx: FetchContext) -> Iterator[Batch]:
        graph = self.graph()
        pending: list[Observation] = []
        me = state.get("me")
        if not isinstance(me, dict) or _stale(me.get("at"), ctx.now):
            me, addresses = self._me(graph, ctx.now)
            pending = [OwnAddress(a) for a in addresses]
            state["me"] = me
        yielded = False
        if self.read_mail:
            stored = state.get("mail")
            for found, link in outlookmail.read(graph, stored if isinstance(stored, str)
                                                else None, ctx):
                state["mail"] = link
                yield Batch(pending + found, dict(state))
                pending, yielded = [], True
        if self.read_calendar:
            before = dict(state)
            found, cal_state, snapshot = outlookcal.read_meetings(
                graph, state.get("calendars"), self.calendars, str(me.get("address", "")), ctx)
            state["calendars"] = cal_state
            if snapshot:
                observations = pending + found
                yield from icalmap.snapshot_batches(observations, before, dict(state))
            else:
                yield Batch(pending + found, dict(state))
            pending, yielded = [], True
        if not yielded or pending:
            yield Batch(pending, dict(state))

    def _me(self, graph: Graph, now: datetime) -> tuple[dict[str, Any], list[str]]:
        """The user's primary address and every address of theirs Graph knows."""
        data = graph.call("GET", "/me", params={"$select": "mail,userPrincipalName,"
                                                           "proxyAddresses"},
                          what="reading the user's addresses").data
        addresses: list[str] = []
        for raw in [data.get("mail"), data.get("userPrincipalName"),
                    *(data.get("proxyAddresses") or [])]:
            text = str(raw or "")
            kind, _, value = text.partition(":")
            if value and kind.lower() != "smtp":
                continue  # x500:, sip:, eum: ... are not mail addresses
            address = outlookmail.graph_address({"address": value or text})
            if address is not None and address.email not in addresses:
                addresses.append(address.email)
        primary = addresses[0] if addresses else ""
        return {"address": primary, "at": now.isoformat()}, addresses

    # -- reminders calendar ----------------------------------------------------------
    def reminders(self) -> outlookcal.ReminderCalendar:
        if self._reminders is None:
            self._reminders = outlookcal.ReminderCalendar(self.graph(), self.reminders_name)
        return self._reminders

    def _list_reminders(self) -> list[RemoteReminder]:
        try:
            return self.reminders().find()
        except GraphError as exc:
            raise CalendarError(f"{self.name}: {exc}") from None

    def _apply(self, changes: Sequence[Change]) -> list[Applied]:
        try:
            return self.reminders().apply(changes)
        except GraphError as exc:
            raise CalendarError(f"{self.name}: {exc}") from None


def _stale(at: Any, now: datetime) -> bool:
    try:
        return now - datetime.fromisoformat(str(at)) > ME_REFRESH
    except (TypeError, ValueError):
        return True
