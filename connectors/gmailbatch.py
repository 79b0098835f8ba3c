"""Gmail messages, or threads, read by the batch: up to 50 ``messages.get`` (or
``threads.get``) in one multipart request, within the quota, the parts Gmail refused sent
again (``connectors.gmailmail`` decides what to read, this module how).

Why its own module: the batch library does not retry the parts of a batch (only a 401 of
the whole), so each refused part is re-queued here with its own count of failures in a
row; and with ``promises = true`` the sent messages among the ids are asked for whole
(``format=full``, same quota cost) and their new text searched (``connectors.bodytext``),
while every other read stays ``format=metadata``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from googleapiclient.errors import HttpError

from connectors import retry
from connectors.bodytext import payload_text, with_promises
from connectors.gmailquota import QuotaBudget
from connectors.gmailthreads import newest_sent_ms, received_in_thread, to_mail
from connectors.googleauth import GoogleSession, error_reason, retryable
from connectors.googleauth import retry_after as retry_after_of
from daemon.errors import AuthError, KeepwarmError, TransientError
from daemon.model import FetchContext, Mail, Observation, Skipped

HEADERS = ["From", "To", "Cc", "Bcc", "Date", "Message-ID", "Subject", "List-Id",
           "List-Unsubscribe", "Precedence", "Auto-Submitted", "In-Reply-To", "References",
           "X-Autoreply", "X-Autorespond", "X-Autoresponder", "Content-Type"]
THREAD_UNITS = 10  # a threads.get, whatever the thread's length
_POST = object()  # the batch request itself, among its parts in a retry.InARow


class BatchReads:
    """Reads of one account's messages or threads by the batch; ``get_units``: what one
    ``messages.get`` costs; ``promises``: sent messages named as such are read whole."""

    def __init__(self, session: GoogleSession, budget: QuotaBudget, get_units: int,
                 promises: bool = False) -> None:
        self.session = session
        self.budget = budget
        self.get_units = get_units
        self.promises = promises

    def read(self, ids: Sequence[str], ctx: FetchContext, whole_threads: bool = False,
             bodies: Collection[str] = ()) -> tuple[list[Observation], int]:
        """Mail (or Skipped) for each id, in order, and the newest internalDate seen; with
        ``whole_threads`` the ids are threads, and each gives its received messages. The ids
        in ``bodies`` are sent mail, read whole when the account reads promises.

        Parts Gmail refused are sent again in the next batch; each part and the batch POST
        keep their own count of failures in a row (``retry.InARow``), so the budget runs
        out only for one that keeps failing, not for a batch whose parts fail now and then."""
        order = list(dict.fromkeys(ids))
        results: dict[str, list[Observation]] = {}
        dates: dict[str, int] = {}
        pending = list(order)
        in_a_row = retry.InARow()

        def attempt() -> None:
            nonlocal pending
            try:
                refused = self._send(pending, results, dates, ctx, whole_threads, bodies)
            except TransientError:
                in_a_row.failed([_POST])
                raise
            in_a_row.answered([_POST, *(i for i in pending if i not in refused)])
            in_a_row.failed(refused)
            pending = list(refused)
            if refused:
                worst, times = in_a_row.worst()
                told = [w for w in refused.values() if w is not None]
                raise TransientError(
                    f"Gmail refused {len(refused)} of the header reads in a batch; message "
                    f"{worst} {times} time{'s' if times > 1 else ''} in a row",
                    retry_after=max(told) if told else None)

        self.session.call("reading message headers", attempt, failures=in_a_row.most)
        return ([o for i in order for o in results[i]],
                max((dates.get(i, 0) for i in order), default=0))

    def _send(self, ids: Sequence[str], results: dict[str, list[Observation]],
              dates: dict[str, int], ctx: FetchContext, whole_threads: bool,
              bodies: Collection[str]) -> dict[str, float | None]:
        """One batch of header reads into ``results`` and ``dates``; the ids Gmail refused
        for now, with the Retry-After of each (None where it gave none)."""
        refused: dict[str, float | None] = {}
        problems: list[HttpError] = []
        now = ctx.now
        whole = frozenset(bodies) if self.promises and not whole_threads else frozenset()

        def answer(request_id: str, response: Any, exc: HttpError | None) -> None:
            if exc is None and whole_threads:
                results[request_id] = [to_mail(m, now)[0] for m in received_in_thread(response)]
                dates[request_id] = newest_sent_ms(response)
            elif exc is None:
                found, dates[request_id] = to_mail(response, now)
                if request_id in whole and isinstance(found, Mail) and not found.received:
                    found = with_promises(found, payload_text(response.get("payload") or {}),
                                          ctx.tz)
                results[request_id] = [found]
            if exc is None:
                return
            status, reason = exc.resp.status, error_reason(exc)
            if retryable(status, reason):
                refused[request_id] = retry_after_of(exc)
            elif status == 404:
                results[request_id] = [Skipped(f"gmail:{request_id}",
                                               "deleted before its headers were read")]
            elif status in (401, 403):
                problems.append(exc)
            else:
                results[request_id] = [Skipped(f"gmail:{request_id}",
                                               f"Gmail answered {status} {reason}")]

        try:
            batch = self.session.batch("gmail/v1")
            users = self.session.service("gmail").users()
            source = users.threads() if whole_threads else users.messages()
            for mid in ids:
                how = {"format": "full"} if mid in whole else {
                    "format": "metadata", "metadataHeaders": HEADERS}
                batch.add(source.get(userId="me", id=mid, **how), callback=answer,
                          request_id=mid)
            units = THREAD_UNITS if whole_threads else self.get_units
            with self.budget.spend(len(ids) * units):
                batch.execute()
        except KeepwarmError:
            raise
        except Exception as exc:  # the batch request itself: a TransientError, mostly
            raise self.session.translate(exc, "reading message headers") from None
        if problems:
            raise self.session.translate(problems[0], "reading message headers", AuthError)
        return refused

