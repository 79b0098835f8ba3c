"""Retrying transient faults of network accounts with exponential backoff and jitter.

Only TransientError is retried; an AuthError (wrong password, revoked token) never is, since
repeating it only locks the account.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import tenacity

from connectors.base import Option
from daemon.errors import TransientError
from daemon.model import AccountConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_OPTIONS: dict[str, Option] = {
    "retries": Option(int, default=3, help="retries of a transient fault within one sync"),
    "timeout": Option(int, default=60, help="seconds before a silent server counts as down"),
}


def call(account: AccountConfig, what: str, fn: Callable[[], T], initial: float = 1.0,
         maximum: float = 30.0) -> T:
    """``fn()``, retried on TransientError ``retries`` times; the last error is raised."""
    retries = int(account.options.get("retries", 3))

    def note(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s: %s failed (%s); retry %d of %d", account.name, what, exc,
                    state.attempt_number, retries)

    backoff = tenacity.wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        told = getattr(exc, "retry_after", None)
        return float(told) if told is not None else backoff(state)

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientError),
        wait=wait,
        stop=tenacity.stop_after_attempt(retries + 1),
        before_sleep=note,
        reraise=True,
    )
    return retrying(fn)
