"""Mail from Outlook: Graph's delta query on Sent Items, and on Inbox and Archive for the
received mail (one delta round per folder, each with its own link in the cursor).

One round of the delta query walks the folder page by page (``@odata.nextLink``) and ends
with an ``@odata.deltaLink``; the next round starts from that link and returns only what
changed. Every link is a resume point, so each page becomes one batch whose cursor is the
link to the page after it: a crash resumes exactly there. A stored link the server no longer
takes (410 Gone or ``syncStateNotFound``; 400 or 404 for a garbled one) restarts the round
from the beginning; the core's Message-ID dedup makes the second reading of a message a
no-op. A fresh round refused at once is reported rather than restarted again, so a broken
server cannot make keepwarm loop. A received folder the mailbox lacks (404 on a fresh
round: no Archive) is skipped for this sync.

Graph hands out a message's fields as JSON. They are rendered back into the header block
they stand for and read by ``connectors.mailparse`` - the one header parser of every mail
source - so addresses are cleaned, ids normalised and the list/bulk/auto-submitted headers
(from ``internetMessageHeaders``, which Graph returns only when selected) feed the same
filters as for any other source. A message without those headers still goes through the
address and recipient-count filters. ``conversationId`` becomes Mail.thread and ``webLink``
Mail.link (both are in what ``Mail.ReadBasic`` allows; bodies and extended properties are
not).

With ``promises = true`` (and ``Mail.Read``) the Sent Items delta also selects
``uniqueBody``, the part of a message that is new in it (Graph cuts the quoted history), as
plain text; ``connectors.bodytext`` cuts the signature and hands it to the promise detector.
Received folders never select it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from connectors import mailparse
from connectors.bodytext import item_body_text, with_promises
from connectors.graph import Graph, GraphError, stale_link
from connectors.text import clean_text
from daemon.errors import SourceError
from daemon.model import Address, FetchContext, Mail, Observation, Skipped

log = logging.getLogger(__name__)

SENT_ITEMS = "sentitems"
RECEIVED_FOLDERS = ("inbox", "archive")  # Graph's well-known folder names
FOLDER_NAMES = {SENT_ITEMS: "Sent Items", "inbox": "Inbox", "archive": "Archive"}
PAGE_SIZE = 1000  # the most Graph returns per page of messages
SELECT = ("toRecipients,ccRecipients,bccRecipients,from,sentDateTime,receivedDateTime,"
          "internetMessageId,subject,conversationId,webLink,internetMessageHeaders")
PREFER = {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
# uniqueBody as text, not HTML (Graph's default): nothing to strip but the signature
PREFER_TEXT = {"Prefer": f'odata.maxpagesize={PAGE_SIZE}, outlook.body-content-type="text"'}
UNIQUE_BODY = "uniqueBody"
# The raw headers that matter once the structured fields are known.
_FILTER_HEADERS = frozenset({"list-id", "list-unsubscribe", "precedence", "auto-submitted",
                             "in-reply-to", "references", "x-autoreply", "x-autorespond",
                             "x-autoresponder", "content-type"})
_RECIPIENTS = (("toRecipients", "To"), ("ccRecipients", "Cc"), ("bccRecipients", "Bcc"))


def first_params(ctx: FetchContext, bodies: bool = False) -> dict[str, str]:
    """The query of a round's first request: the fields keepwarm reads (with ``bodies``,
    the new text too), and nothing older than the window (the only filter Graph's message
    delta supports). Graph keeps both in the round's links."""
    since = ctx.window_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    select = f"{SELECT},{UNIQUE_BODY}" if bodies else SELECT
    return {"$select": select, "$filter": f"receivedDateTime ge {since}"}


def read(graph: Graph, link: str | None, ctx: FetchContext, folder: str = SENT_ITEMS,
         bodies: bool = False) -> Iterator[tuple[list[Observation], str]]:
    """(observations, resume link) for each page of ``folder`` from ``link`` (None: a new
    round). The last link is the round's deltaLink. ``bodies``: the promises in the new
    text of each message are found (Sent Items only; ``link`` must have been made so)."""
    bodies = bodies and folder == SENT_ITEMS
    restarted = link is None
    shown = FOLDER_NAMES.get(folder, folder)
    while True:
        try:
            yield from _pages(graph, link, ctx, folder, bodies)
            return
        except GraphError as exc:
            if not stale_link(exc):
                raise
            if restarted and exc.status == 404 and folder != SENT_ITEMS:
                log.info("%s: the mailbox has no %s folder (%s)", graph.account.name, shown, exc)
                return
            if restarted:
                raise SourceError(f"Microsoft Graph refused a fresh sync of {shown} at once "
                                  f"({exc}); trying again next sync") from None
            log.info("%s: %s; reading %s again from the start", graph.account.name, exc, shown)
            link, restarted = None, True


def _pages(graph: Graph, link: str | None, ctx: FetchContext, folder: str, bodies: bool
           ) -> Iterator[tuple[list[Observation], str]]:
    params = None if link else first_params(ctx, bodies)
    shown = FOLDER_NAMES.get(folder, folder)
    for items, resume in graph.delta(link or f"/me/mailFolders/{folder}/messages/delta",
                                     params=params, headers=PREFER_TEXT if bodies else PREFER,
                                     what=f"reading {shown}"):
        found = [(to_mail(m, folder != SENT_ITEMS), m) for m in items if "@removed" not in m]
        yield [with_promises(mail, item_body_text(m.get(UNIQUE_BODY)), ctx.tz)
               if bodies and isinstance(mail, Mail) else mail for mail, m in found], resume


def own_addresses(graph: Graph) -> list[str]:
    """Every address of the signed-in user that Graph knows, the primary one first."""
    data = graph.call("GET", "/me", params={"$select": "mail,userPrincipalName,proxyAddresses"},
                      what="reading the user's addresses").data
    addresses: list[str] = []
    for raw in [data.get("mail"), data.get("userPrincipalName"),
                *(data.get("proxyAddresses") or [])]:
        text = str(raw or "")
        kind, _, value = text.partition(":")
        if value and kind.lower() != "smtp":
            continue  # x500:, sip:, eum: ... are not mail addresses
        address = graph_address({"address": value or text})
        if address is not None and address.email not in addresses:
            addresses.append(address.email)
    return addresses


def to_mail(message: dict[str, Any], received: bool = False) -> Mail | Skipped:
    """The Mail in one Graph message (``received``: read from a received folder), or Skipped
    when nothing in it is usable."""
    location = f"outlook:{message.get('id', '?')}"
    sent = graph_time(message.get("sentDateTime")) or graph_time(message.get("receivedDateTime"))
    if sent is None:
        return Skipped(location, "message has no readable sentDateTime")
    parsed = mailparse.parse_headers(header_block(message, sent), location, sent)
    if not isinstance(parsed, Mail):
        return parsed
    return dataclasses.replace(parsed, thread=str(message.get("conversationId") or ""),
                               link=str(message.get("webLink") or ""), received=received)


def header_block(message: dict[str, Any], sent: datetime) -> bytes:
    """The RFC 5322 header block a Graph message stands for (UTF-8, one line per field)."""
    fields: list[tuple[str, str]] = []
    sender = _mailbox((message.get("from") or {}).get("emailAddress"))
    if sender:
        fields.append(("From", sender))
    for key, name in _RECIPIENTS:
        rendered = ", ".join(filter(None, (_mailbox(r.get("emailAddress"))
                                           for r in message.get(key) or [] if isinstance(r, dict))))
        if rendered:
            fields.append((name, rendered))
    message_id = str(message.get("internetMessageId") or "")
    if message_id:
        fields.append(("Message-ID", message_id))
    else:  # mailparse synthesises an id from From, To, Cc, Date and Subject
        fields.append(("Date", format_datetime(sent)))
    fields.append(("Subject", str(message.get("subject") or "")))
    raw = [(str(h["name"]), str(h.get("value") or "")) for h in
           message.get("internetMessageHeaders") or []
           if isinstance(h, dict) and str(h.get("name", "")).lower() in _FILTER_HEADERS]
    # a raw header counts even when empty (an empty X-Autoresponder still marks an auto-reply)
    return "".join(f"{name}: {_one_line(value)}\n" for name, value in
                   [*((n, v) for n, v in fields if v), *raw]).encode("utf-8", "replace")


def graph_address(value: Any) -> Address | None:
    """An Address from Graph's ``emailAddress`` object, cleaned like every mail address
    (``mailparse.parse_addresses``); None when it holds no valid address."""
    if not isinstance(value, dict):
        return None
    found = mailparse.parse_addresses([str(value.get("address") or "")])
    if not found:
        return None
    return Address(found[0].email, clean_text(mailparse.decode_words(str(value.get("name")
                                                                         or ""))))


def graph_time(value: Any) -> datetime | None:
    """An aware datetime from Graph's ISO 8601 instants (``2026-03-02T08:30:00Z``)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _mailbox(value: Any) -> str:
    """``"Name" <address>`` (or the bare address) as it would stand in a header."""
    if not isinstance(value, dict):
        return ""
    address = _one_line(str(value.get("address") or "")).strip()
    if not address:
        return ""
    name = _one_line(str(value.get("name") or "")).strip()
    if not name or name.lower() == address.lower():
        return address
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>'


def _one_line(value: str) -> str:
    """A header value without line breaks (a break would end the field early)."""
    return value.replace("\r", " ").replace("\n", " ") if "\n" in value or "\r" in value else value
