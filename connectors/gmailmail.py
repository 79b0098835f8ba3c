"""Gmail's sent mail, and the replies in its threads, as Mail: a newest-first backfill,
then history, within the quota.

Backfill: ``users.getProfile`` gives the historyId to continue from later, then
``messages.list(labelIds=SENT)`` pages of up to 500 ids, newest first, and the headers of
each 50 (49 where that fits the quota better, see ``batch_size``) through one batch of
``messages.get(format=metadata)``. Each batch is one Batch whose cursor (page token, last id
read, that historyId) resumes exactly after it, so hours of backfill survive restarts (a
page token Gmail no longer takes costs a few list calls, not a re-read); it stops once a
whole batch is older than ``window_start``. Then
``history.list(startHistoryId, historyTypes=messageAdded)`` (``labelId=SENT`` when received
mail is off); a 404 (too old an id) re-lists newest first down to the newest message read
before, so nothing is lost and little is read twice (the store drops re-read Message-IDs);
once per fetch, never in a loop.

Received mail (``received``): the threads of sent mail within the follow-up window are read
once each with ``threads.get(format=metadata)`` in batches, newest first, the queue kept in
the cursor; afterwards history's received messages are read only in those threads
(connectors.gmailthreads). The inbox is never listed. A cursor from before received mail
re-reads the window's sent mail once to learn its threads. The window is [followup] window,
the context's ``thread_window_start``: the reader has no copy of the setting.

Reach-back (``reach_back_start``, set when [cadence] two_way is on): after all of that, the
sent mail is listed again newest first (each item names its thread) and every thread older
than the window, back to that bound, is read once, so that an old reply makes a contact
two-way; the cursor's ``reach`` part keeps the page and the threads read, then ``done``.

Promises (``promises = true``, with ``gmail.readonly``): sent messages are read with
``format=full`` instead of ``format=metadata``, at the same quota cost, and the new text of
each is searched (``connectors.bodytext``); received ones never. The backfill lists only
SENT; history records carry labels, and the sent ids of a pending list are kept in the
cursor (``pending_sent``), so a resumed fetch still reads those whole.

Quota: every call spends its units in a QuotaBudget (connectors.gmailquota) first. Items a
batch (connectors.gmailbatch) answers with 429, a rate-limit 403 or 5xx are sent again (the
library does not), each
with its own count of failures in a row; a message that keeps failing (more than ``retries``
times in a row) fails the sync at that point, so it is read next time rather than skipped.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import datetime
from typing import Any

from connectors.gmailbatch import THREAD_UNITS, BatchReads
from connectors.gmailquota import BATCH, Progress, QuotaBudget, batch_size, span
from connectors.gmailthreads import SentThreads
from connectors.googleauth import GoogleSession, HttpStatus
from daemon.errors import SourceError
from daemon.model import JSON, FetchContext, Observation, OwnAddress

log = logging.getLogger(__name__)

PAGE = 500  # messages.list's largest page (used in whole batches: 490 for batches of 49)
LIST_UNITS, HISTORY_UNITS, PROFILE_UNITS = 5, 2, 1
RELIST_SLACK_MS = 2 * 86_400_000  # a re-list after a 404 reads this much before the newest


class MailReader:
    """Sent mail, and (``received``) the received mail in threads that hold sent mail since
    ``FetchContext.thread_window_start`` (connectors.gmailthreads says why no more), then
    those of older sent mail back to ``reach_back_start`` when there is one."""

    def __init__(self, session: GoogleSession, budget: QuotaBudget, get_units: int,
                 received: bool = True, page: int = PAGE, batch: int = BATCH,
                 promises: bool = False) -> None:
        """``page``: ids per list or history page; ``batch``: the most header reads per batch
        request (fewer when the quota says so, see ``batch_size``); ``promises``: sent
        messages are read whole (``format=full``, same quota) for the promises in their new
        text, received ones never."""
        self.session = session
        self.promises = promises
        self.batches = BatchReads(session, budget, get_units, promises)
        self.name = session.name
        self.budget = budget
        self.get_units = get_units
        self.received = received
        self.msg_per_s = budget.limit / budget.window / max(1, get_units)
        self.batch = batch_size(budget.limit, get_units, batch)
        self.history_page = page
        # pages in whole batches, so no part-batch goes out at each page's end
        self.page = page // self.batch * self.batch if self.batch <= page else page

    def read(self, state: JSON | None, ctx: FetchContext) -> Iterator[tuple[list[Observation],
                                                                               dict[str, Any]]]:
        """(observations, cursor) pairs; each cursor is valid once its observations are in."""
        st: dict[str, Any] = dict(state) if isinstance(state, dict) else {}
        if st.get("phase") == "incremental" and self.received and "threads" not in st:
            log.info("%s: reading the sent mail since %s again to learn its threads (for "
                     "replies)", self.name, f"{_thread_start(ctx):%Y-%m-%d}")
            st = self._relist(st, ctx, _ms(_thread_start(ctx)), requeue=False)
        elif st.get("phase") == "incremental":
            try:
                yield from self._incremental(st, ctx)
                return
            except _HistoryGone:
                log.warning("%s: Gmail no longer has history since %s; reading sent mail "
                            "again, newest first, down to the newest message read before",
                            self.name, st.get("history_id"))
                st = self._relist(st, ctx, int(st.get("newest") or 0) - RELIST_SLACK_MS,
                                  requeue=True)
        final = yield from self._backfill(st, ctx)
        try:
            yield from self._incremental(final, ctx)
        except _HistoryGone:
            raise SourceError(f"Gmail refused the history id it had just given "
                              f"{self.name}; try again later") from None

    def _relist(self, st: dict[str, Any], ctx: FetchContext, stop_ms: int, requeue: bool
                ) -> dict[str, Any]:
        """A backfill state that re-lists sent mail newest first down to ``stop_ms``;
        ``requeue``: read every known thread again too (history, and its replies, was lost)."""
        threads = self._threads(st, ctx)
        if threads is not None and requeue:
            threads.requeue_all()
        return {"phase": "backfill", "newest": int(st.get("newest") or 0),
                "stop_ms": max(_ms(ctx.window_start), stop_ms), **_threads_state(threads),
                **({"reach": st["reach"]} if st.get("reach") else {})}

    def _threads(self, st: dict[str, Any], ctx: FetchContext) -> SentThreads | None:
        if not self.received:
            return None
        return SentThreads(st.get("threads"), st.get("queue"), _ms(_thread_start(ctx)))

    # -- backfill ------------------------------------------------------------------------
    def _backfill(self, st: dict[str, Any], ctx: FetchContext
                  ) -> Generator[tuple[list[Observation], dict[str, Any]], None, dict[str, Any]]:
        st = {"phase": "backfill", "done": 0, "newest": 0, **st}
        st.setdefault("stop_ms", _ms(ctx.window_start))
        threads = self._threads(st, ctx)
        if "history_id" not in st:
            profile = self._call("reading the Gmail profile", PROFILE_UNITS,
                                 lambda: self._gmail().getProfile(userId="me").execute())
            st["history_id"] = str(profile["historyId"])
            own = str(profile.get("emailAddress") or "").strip().lower()
            yield ([OwnAddress(own)] if own else []), dict(st)
        progress = Progress(self.name, self.msg_per_s)
        while True:
            token = st.get("page_token")
            try:
                page = self._call("listing sent mail", LIST_UNITS,
                                  functools.partial(self._list_page, token),
                                  (400,) if token else ())
            except HttpStatus:  # a page token Gmail no longer takes: from the top again,
                log.warning("%s: Gmail refused the stored page token; listing sent mail from "
                            "the newest again to find where the backfill was", self.name)
                st.update(page_token=None, seek=st.get("after"), after=None)  # skip what was read
                continue
            if token is None:
                st["estimate"] = int(page.get("resultSizeEstimate") or 0)
            ids = _unread(st, [m["id"] for m in page.get("messages") or []])
            finished = False
            for start in range(0, len(ids), self.batch):
                chunk = ids[start:start + self.batch]
                observations, newest_ms = self.batches.read(chunk, ctx, bodies=chunk)
                if threads is not None:
                    threads.note_sent(observations)
                st.update(after=chunk[-1], done=st["done"] + len(chunk),
                          newest=max(st["newest"], newest_ms), **_threads_state(threads))
                progress.note(st["done"], st.get("estimate", 0))
                yield observations, dict(st)
                if newest_ms and newest_ms < st["stop_ms"]:
                    finished = True
                    break
            next_token = page.get("nextPageToken")
            if not next_token and st.get("seek"):  # the last id read is gone: read them all
                st.update(page_token=None, seek=None)
                continue
            if finished or not next_token:
                break
            st.update(page_token=next_token, after=None)
        log.info("%s: sent-mail backfill done (%d messages)", self.name, st["done"])
        return _incremental_state(st["history_id"], st["newest"], [], threads, st.get("reach"))

    # -- incremental ---------------------------------------------------------------------
    def _incremental(self, st: dict[str, Any], ctx: FetchContext
                     ) -> Iterator[tuple[list[Observation], dict[str, Any]]]:
        """New mail from history, then the queued threads of sent mail, newest first, then
        (``reach_back_start``) those of older sent mail."""
        history_id = str(st["history_id"])
        newest = int(st.get("newest") or 0)
        threads = self._threads(st, ctx)
        reach: dict[str, Any] | None = st.get("reach")
        pending = [str(i) for i in st.get("pending") or []]
        mine = {str(i) for i in st.get("pending_sent") or []}  # the sent ones among them
        if not pending:
            pending, mine, history_id = self._history(history_id, threads, ctx.now)

        def state(left: list[str]) -> dict[str, Any]:
            return _incremental_state(history_id, newest, left, threads, reach,
                                      [i for i in left if i in mine] if self.promises else [])

        yielded = False
        while pending:
            chunk, pending = pending[:self.batch], pending[self.batch:]
            observations, newest_ms = self.batches.read(chunk, ctx, bodies=mine)
            if threads is not None:
                threads.note_sent(observations)
            newest = max(newest, newest_ms)
            yield observations, state(pending)
            yielded = True
        if threads is not None and len(threads.queue) > self.batch:
            seconds = len(threads.queue) * THREAD_UNITS * self.budget.window / self.budget.limit
            log.info("%s: reading %d threads of sent mail for replies, newest first; about %s "
                     "under the quota", self.name, len(threads.queue), span(seconds))
        while threads is not None and threads.queue:
            chunk = threads.queue[:self.batch]
            observations, _ = self.batches.read(chunk, ctx, whole_threads=True)
            del threads.queue[:len(chunk)]
            yield observations, state([])
            yielded = True
        until = ctx.reach_back_start
        if threads is not None and until and not (reach or {}).get("done"):
            for observations, reached in self._reach_back(reach or {}, threads, until, ctx):
                reach = reached
                yield observations, state([])
                yielded = True
        if not yielded:
            yield [], state([])

    def _reach_back(self, reach: dict[str, Any], threads: SentThreads, until: datetime,
                    ctx: FetchContext) -> Iterator[tuple[list[Observation], dict[str, Any]]]:
        """With [cadence] two_way, the threads of sent mail older than the follow-up window,
        back to ``until``, newest first, so that an old reply makes a contact two-way: the
        sent-mail list again (it names each message's thread; 5 units a page), and a
        ``threads.get`` for each thread neither in the window nor read before. Yields
        (observations, reach state); the state resumes at its page, and its ``read`` ids keep
        a thread from costing a second read, even from the top after a refused page token."""
        if not reach:
            log.info("%s: reading the threads of sent mail back to %s for old replies "
                     "([cadence] two_way), after everything else", self.name, f"{until:%Y-%m-%d}")
        read = [str(t) for t in reach.get("read") or []]
        seen, token = set(read), reach.get("token")
        while True:
            try:
                page = self._call("listing sent mail", LIST_UNITS,
                                  functools.partial(self._list_page, token),
                                  (400,) if token else ())
            except HttpStatus:  # a page token Gmail no longer takes: ``read`` skips the rest
                token = None
                continue
            todo = [t for t in dict.fromkeys(str(m.get("threadId") or "")
                                             for m in page.get("messages") or [])
                    if t and t not in seen and t not in threads.known]
            for start in range(0, len(todo), self.batch):
                chunk = todo[start:start + self.batch]
                observations, newest_ms = self.batches.read(chunk, ctx, whole_threads=True)
                read += chunk
                seen.update(chunk)
                if newest_ms and newest_ms < _ms(until):  # a whole batch older: done
                    yield observations, {"done": True}
                    return
                yield observations, {"token": token, "read": list(read)}
            token = page.get("nextPageToken")
            if not token:
                yield [], {"done": True}
                return

    def _history(self, start: str, threads: SentThreads | None, now: datetime
                 ) -> tuple[list[str], set[str], str]:
        """Ids of the messages added since ``start`` worth reading (sent ones; received ones
        in threads with sent mail), the sent ones among them, and the history id to go on
        from."""
        added: list[dict[str, Any]] = []
        token: str | None = None
        latest = start
        only_sent = {} if threads is not None else {"labelId": "SENT"}
        while True:
            def page_of(token: str | None = token) -> Any:
                return self._gmail().history().list(
                    userId="me", startHistoryId=start, historyTypes=["messageAdded"],
                    maxResults=self.history_page, pageToken=token, **only_sent).execute()
            try:
                page = self._call("reading Gmail history", HISTORY_UNITS, page_of, (404,))
            except HttpStatus:
                raise _HistoryGone() from None
            added += [a.get("message") or {} for record in page.get("history") or []
                      for a in record.get("messagesAdded") or []]
            latest = str(page.get("historyId") or latest)
            token = page.get("nextPageToken")
            if not token:
                break
        if threads is not None:
            ids = threads.worth_reading(added, _ms(now))
        else:
            ids = [str(m["id"]) for m in added
                   if "SENT" in (m.get("labelIds") or ["SENT"]) and m.get("id")]
        mine = {str(m.get("id")) for m in added if "SENT" in (m.get("labelIds") or ["SENT"])}
        return list(dict.fromkeys(ids)), mine, latest

    def _call(self, what: str, units: int, fn: Callable[[], Any],
              passthrough: Sequence[int] = ()) -> Any:
        def spent() -> Any:
            with self.budget.spend(units):
                return fn()
        return self.session.call(what, spent, passthrough)

    def _list_page(self, token: str | None) -> Any:
        return self._gmail().messages().list(userId="me", labelIds=["SENT"],
                                             maxResults=self.page, pageToken=token).execute()

    def _gmail(self) -> Any:
        return self.session.service("gmail").users()


def _incremental_state(history_id: str, newest: int, pending: list[str],
                       threads: SentThreads | None, reach: dict[str, Any] | None,
                       pending_sent: list[str] | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"phase": "incremental", "history_id": history_id, "newest": newest}
    if pending:
        st["pending"] = pending
    if pending_sent:  # which of them are sent mail, read whole for promises
        st["pending_sent"] = pending_sent
    if reach:
        st["reach"] = reach
    return {**st, **(threads.state() if threads else {})}


def _threads_state(threads: SentThreads | None) -> dict[str, Any]:
    return threads.state() if threads is not None else {}


def _unread(st: dict[str, Any], listed: list[str]) -> list[str]:
    """The ids of a list page the backfill has yet to read: after the last one read, or none
    while it seeks that one again (after a page token Gmail no longer takes)."""
    ids = list(dict.fromkeys(listed))
    mark = st.get("seek") or st.get("after")
    if mark in ids:
        st["seek"] = None
        return ids[ids.index(mark) + 1:]
    return [] if st.get("seek") else ids


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _thread_start(ctx: FetchContext) -> datetime:
    """Since when sent mail has its threads read for replies ([followup] window)."""
    return ctx.thread_window_start or ctx.window_start


class _HistoryGone(Exception):
    """history.list answered 404: the stored history id is too old."""
