"""Retrying transient faults of network accounts: exponential backoff with jitter, or
exactly the wait the server asked for (HTTP Retry-After), with tenacity.

Only TransientError is retried; an AuthError (wrong password, revoked token) never is, since
repeating it only locks the account.
"""

from __future__ import annotations

import email.utils
import logging
import math
import time
from collections.abc import Callable
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
         maximum: float = 30.0) -> T:
    """``fn()``, retried on TransientError ``retries`` times; the last error is raised.

    ``account.options`` must hold ``retries`` (a connector's account has every default)."""
    retries = int(account.options["retries"])
    backoff = tenacity.wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)

    def wait(state: tenacity.RetryCallState) -> float:
        told = getattr(state.outcome.exception() if state.outcome else None, "retry_after",
                       None)
        return float(told) if told is not None else backoff(state)

    def note(state: tenacity.RetryCallState) -> None:
        log.warning("%s: %s failed (%s); retry %d of %d", account.name, what,
                    state.outcome.exception() if state.outcome else None,
                    state.attempt_number, retries)

    return tenacity.Retrying(retry=tenacity.retry_if_exception_type(TransientError),
                             wait=wait, stop=tenacity.stop_after_attempt(retries + 1),
                             before_sleep=note, reraise=True)(fn)


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
