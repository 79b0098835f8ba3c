"""Retrying transient faults of network accounts: exponential backoff with jitter, or
exactly the wait the server asked for (HTTP Retry-After), with tenacity.

The budget (the ``retries`` option) is per request: keepwarm gives up on a request that has
failed more than ``retries`` times in a row, never on one that fails now and then. Where one
attempt sends several requests (a Gmail batch: the POST and each part in it), ``InARow``
counts each of them apart, so a batch that keeps making progress is never cut short by
faults spread over its parts.

Only TransientError is retried; an AuthError (wrong password, revoked token) never is, since
repeating it only locks the account.
"""

from __future__ import annotations

import copy
import email.utils
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC
from typing import TypeVar

import tenacity

from connectors import checks
from connectors.base import Option
from daemon.errors import TransientError
from daemon.model import AccountConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_OPTIONS: dict[str, Option] = {
    "retries": Option(int, default=3, check=checks.not_negative,
                      help="retries of a transient fault within one sync"),
    "timeout": Option(int, default=60, check=checks.positive,
                      help="seconds before a silent server counts as down"),
}


def call(account: AccountConfig, what: str, fn: Callable[[], T], initial: float = 1.0,
         maximum: float = 30.0, failures: Callable[[], int] | None = None) -> T:
    """``fn()``, retried on TransientError until a request has failed more than ``retries``
    times in a row; the last error is raised.

    ``fn`` is one request unless ``failures`` says, after a failed attempt, how many times in
    a row the most refused of its requests has failed (``InARow.most``). The wait is the
    server's Retry-After when the error carries one, else backoff by that count. Whatever
    ``failures`` says, there are never more than (``retries`` + 1)² attempts, as many as a
    batch may need (each round one part fails again, each of its POSTs fails ``retries``
    times): a net against a loop. ``account.options`` must hold ``retries`` (a connector's
    account has every default)."""
    retries = int(account.options["retries"])
    backoff = tenacity.wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)

    def failed(state: tenacity.RetryCallState) -> int:
        return failures() if failures is not None else state.attempt_number

    def wait(state: tenacity.RetryCallState) -> float:
        told = getattr(state.outcome.exception() if state.outcome else None, "retry_after",
                       None)
        if told is not None:
            return float(told)
        by_count = copy.copy(state)  # tenacity's backoff counts attempts: count failures
        by_count.attempt_number = failed(state)
        return backoff(by_count)

    def note(state: tenacity.RetryCallState) -> None:
        log.warning("%s: %s failed (%s); retry %d of %d", account.name, what,
                    state.outcome.exception() if state.outcome else None,
                    failed(state), retries)

    def stop(state: tenacity.RetryCallState) -> bool:
        return failed(state) > retries or state.attempt_number >= (retries + 1) ** 2

    return tenacity.Retrying(retry=tenacity.retry_if_exception_type(TransientError),
                             wait=wait, stop=stop, before_sleep=note, reraise=True)(fn)


class InARow:
    """How many times in a row each of several requests has failed: the retry budget of an
    attempt that sends more than one (``call``'s ``failures`` is ``most``)."""

    def __init__(self) -> None:
        self.counts: Counter[Hashable] = Counter()

    def failed(self, requests: Iterable[Hashable]) -> None:
        for request in requests:
            self.counts[request] += 1

    def answered(self, requests: Iterable[Hashable]) -> None:
        for request in requests:
            self.counts.pop(request, None)

    def most(self) -> int:
        return max(self.counts.values(), default=0)

    def worst(self) -> tuple[Hashable, int]:
        """The request that failed most often in a row, and how often; (None, 0) if none."""
        return max(self.counts.items(), key=lambda item: item[1], default=(None, 0))


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110: delay-seconds or an HTTP date);
    None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": an HTTP date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())
