"""The sent path and the received paths of one local mail account (``maildir``, ``mbox``):
each read on its own, with its own cursor, one after the other, sent mail first.

Why one cursor for all of them: the core keeps one cursor per account and stores it with
each batch, so the account's cursor is the sent path's cursor (exactly as before received
paths existed, so an upgrade reads nothing again) plus, when received paths are configured,
``received``: the configured path -> that path's cursor. A path taken out of the config
loses its cursor; a path put back is read again from its start, and the store drops what it
has by Message-ID. Sent mail is read first, so a message found in both (a copy filed in an
archive) is stored as the user's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any, Protocol

from connectors.base import Option
from daemon.errors import SourceError
from daemon.model import JSON, Batch, FetchContext

RECEIVED = "received"  # the option and the cursor key



class MailPath(Protocol):
    """One folder or file of the account, read from its own cursor."""

    def fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]: ...


def received_option(what: str) -> Option:
    """The ``received`` option of a local mail source: ``what`` names one path's kind."""
    return Option(list, default=[], item=str, is_path=True,
                  help=f"{what} of received mail, read like path (default: none); "
                       "received mail finds replies to your messages")


def fetch(cursor: JSON | None, ctx: FetchContext, sent: MailPath,
          received: Mapping[str, MailPath]) -> Iterator[Batch]:
    """Every path's batches, each carrying the whole account's cursor. The sent path's fetch
    starts now (its errors raise here, not at the first ``next``); a received path that
    fails is reported once every other path is read."""
    own = dict(cursor) if isinstance(cursor, dict) else None
    old = own.pop(RECEIVED, None) if own is not None else None
    parts = {key: old.get(key) if isinstance(old, dict) else None for key in received}
    return _chain(sent.fetch(own, ctx), parts, received, ctx)


def _chain(first: Iterator[Batch], parts: dict[str, JSON | None],
           received: Mapping[str, MailPath], ctx: FetchContext) -> Iterator[Batch]:
    sent_cursor: JSON = {}

    def whole() -> dict[str, Any]:
        out = dict(sent_cursor)
        if parts:
            out[RECEIVED] = dict(parts)
        return out

    for batch in first:
        sent_cursor = batch.cursor
        yield replace(batch, cursor=whole())
    faults: list[SourceError] = []
    for key, path in received.items():
        try:
            for batch in path.fetch(parts[key], ctx):
                parts[key] = batch.cursor
                yield replace(batch, cursor=whole())
        except SourceError as e:  # one path's fault stops no other path
            faults.append(e)
    if faults:
        raise faults[0] if len(faults) == 1 else SourceError("; ".join(map(str, faults)))
