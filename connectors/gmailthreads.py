"""Gmail messages as Mail, and which received ones are worth a read.

Gmail's quota allows about 5 message reads a second on a new project: reading every received
message of a large mailbox would take days, and only replies matter. So a received message is
read only when its thread holds a sent message of the follow-up window (``SentThreads``: the
thread ids, kept in the cursor, learned from the sent mail read). History records carry each
added message's ``threadId`` and ``labelIds``, so telling them apart costs nothing; the
threads of sent mail found by the backfill are read once with ``threads.get`` (10 units,
whatever the thread's length), newest first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.mailparse import parse_headers
from daemon.model import Mail, Observation

SENT = "SENT"
NOT_MAIL = frozenset({"DRAFT", "SPAM", "CHAT"})  # never a reply: unsent, junk, or a chat
WEB_LINK = "https://mail.google.com/mail/#all/"  # + threadId: opens the thread in Gmail


def to_mail(message: Mapping[str, Any], now: datetime) -> tuple[Observation, int]:
    """A ``format=metadata`` message through the shared header parser, with its thread id,
    web link and direction (no SENT label: received), and its internalDate (the date when
    Date is missing or absurd)."""
    mid = str(message.get("id", ""))
    try:
        internal_ms = int(message.get("internalDate") or 0)
    except ValueError:
        internal_ms = 0
    fallback = datetime.fromtimestamp(internal_ms / 1000, UTC) if internal_ms else now
    lines = [f"{h.get('name', '')}: {h.get('value', '')}".replace("\r", " ").replace("\n", " ")
             for h in (message.get("payload") or {}).get("headers") or []
             if isinstance(h, dict)]
    raw = ("\n".join(lines) + "\n\n").encode("utf-8", "replace")
    parsed = parse_headers(raw, f"gmail:{mid}", fallback)
    if isinstance(parsed, Mail):
        thread = str(message.get("threadId") or "")
        parsed = dataclasses.replace(parsed, thread=thread,
                                     link=WEB_LINK + thread if thread else "",
                                     received=SENT not in labels_of(message))
    return parsed, internal_ms


def labels_of(message: Mapping[str, Any]) -> list[str]:
    return [str(label) for label in message.get("labelIds") or []]


def received_in_thread(thread: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The messages of a ``threads.get`` answer that are received mail (the sent ones were
    read by the sent-mail backfill)."""
    return [m for m in thread.get("messages") or [] if isinstance(m, dict)
            and not {SENT, *NOT_MAIL} & set(labels_of(m))]


def newest_sent_ms(thread: Mapping[str, Any]) -> int:
    """The internalDate of a ``threads.get`` answer's newest sent message (0: none), where
    the thread stands in the newest-first list of sent mail."""
    dates = [str(m.get("internalDate") or "0") for m in thread.get("messages") or []
             if isinstance(m, dict) and SENT in labels_of(m)]
    return max((int(d) for d in dates if d.isdigit()), default=0)


class SentThreads:
    """Thread id -> newest sent message (ms) of every thread with sent mail inside the
    follow-up window, and the queue of threads still to read whole (newest first)."""

    def __init__(self, known: Mapping[str, Any] | None, queue: Sequence[str] | None,
                 cutoff_ms: int) -> None:
        self.cutoff_ms = cutoff_ms
        self.known = {str(t): int(ms) for t, ms in (known or {}).items()
                      if isinstance(ms, int) and ms >= cutoff_ms}
        self.queue = [str(t) for t in queue or [] if str(t) in self.known]

    def note_sent(self, observations: Iterable[Observation]) -> None:
        """Learn the threads of sent mail just read; a thread new to us is queued for a
        ``threads.get`` (a reply may already be in it)."""
        for mail in observations:
            if not isinstance(mail, Mail) or mail.received or not mail.thread:
                continue
            ms = int(mail.date.timestamp() * 1000)
            if ms < self.cutoff_ms:
                continue
            if mail.thread not in self.known:
                self.queue.append(mail.thread)
            self.known[mail.thread] = max(ms, self.known.get(mail.thread, 0))

    def requeue_all(self) -> None:
        """Read every known thread again, newest first: history was lost, and with it any
        reply that came meanwhile."""
        self.queue = sorted(self.known, key=lambda t: self.known[t], reverse=True)

    def worth_reading(self, added: Sequence[Mapping[str, Any]], now_ms: int) -> list[str]:
        """The ids among history's added messages to read: every sent one, and a received one
        only in a thread with sent mail (a sent one among ``added`` counts, whatever the
        order). A sent message that answers a thread new to us (Gmail's threadId is the id
        of a thread's first message) queues that thread: what they wrote first matters too."""
        for message in added:
            if SENT in labels_of(message) and message.get("threadId"):
                thread = str(message["threadId"])
                if thread not in self.known and thread != str(message.get("id")):
                    self.queue.append(thread)
                self.known[thread] = max(now_ms, self.known.get(thread, 0))
        return [str(m["id"]) for m in added if m.get("id") and not NOT_MAIL & set(labels_of(m))
                and (SENT in labels_of(m) or str(m.get("threadId") or "") in self.known)]

    def state(self) -> dict[str, Any]:
        """The cursor's part (copies: an earlier batch's cursor must not change later)."""
        return {"threads": dict(self.known), "queue": list(self.queue)}
