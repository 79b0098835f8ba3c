"""The shared retry policy: transient faults retried with backoff, Retry-After honoured,
authentication failures never retried."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from connectors.retry import InARow, call, retry_after
from daemon.errors import AuthError, TransientError
from daemon.model import AccountConfig


def flaky(failures: list[Exception]) -> tuple[list[int], object]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "ok"

    return calls, fn


def test_transient_faults_are_retried_then_succeed() -> None:
    calls, fn = flaky([TransientError("reset"), TransientError("reset")])
    acc = AccountConfig("a", "imap", options={"retries": 3})
    assert call(acc, "fetch", fn, initial=0.01, maximum=0.02) == "ok"  # type: ignore[arg-type]
    assert len(calls) == 3


def test_retry_after_is_honoured_exactly() -> None:
    calls, fn = flaky([TransientError("429", retry_after=0.3)])
    started = time.monotonic()
    call(AccountConfig("a", "x", options={"retries": 1}), "get", fn, initial=5)  # type: ignore[arg-type]
    assert 0.3 <= time.monotonic() - started < 1.5 and len(calls) == 2


def test_auth_errors_are_never_retried() -> None:
    calls, fn = flaky([AuthError("no")])
    with pytest.raises(AuthError):
        call(AccountConfig("a", "x", options={"retries": 5}), "login", fn)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_the_last_transient_error_is_raised() -> None:
    calls, fn = flaky([TransientError(f"fail {i}") for i in range(5)])
    with pytest.raises(TransientError, match="fail 2"):
        call(AccountConfig("a", "x", options={"retries": 2}), "x", fn, initial=0.001)  # type: ignore[arg-type]
    assert len(calls) == 3


def test_retry_after_reads_seconds_and_http_dates() -> None:
    """RFC 9110 allows both forms; Google and Microsoft Graph are read by this one parser."""
    assert retry_after("120") == 120.0 and retry_after(" 0.5 ") == 0.5
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 88 <= (retry_after(soon) or 0) <= 90
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: at once
    assert retry_after("-5") == 0.0
    for nothing in (None, "", "soon", "inf", "nan"):
        assert retry_after(nothing) is None


def batch(script: list[set[str]], in_a_row: InARow) -> tuple[list[int], object]:
    """An attempt that sends requests "a" and "b" and fails those the script names."""
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        refused = script.pop(0) if script else set()
        in_a_row.answered({"a", "b"} - refused)
        in_a_row.failed(refused)
        if refused:
            raise TransientError(f"refused {sorted(refused)}")
        return "ok"

    return calls, fn


def test_the_budget_is_per_request_not_per_attempt() -> None:
    """Five failed attempts, none of "a" or "b" more than twice in a row: all is well."""
    in_a_row = InARow()
    calls, fn = batch([{"a"}, {"a", "b"}, {"b"}, {"a"}, {"a", "b"}], in_a_row)
    acc = AccountConfig("a", "x", options={"retries": 2})
    assert call(acc, "x", fn, initial=0.001, failures=in_a_row.most) == "ok"  # type: ignore[arg-type]
    assert len(calls) == 6


def test_a_request_failing_more_than_retries_times_in_a_row_is_given_up() -> None:
    in_a_row = InARow()
    calls, fn = batch([{"a"}, {"a", "b"}, {"a"}, {"b"}], in_a_row)
    with pytest.raises(TransientError, match=r"refused \['a'\]"):
        call(AccountConfig("a", "x", options={"retries": 2}), "x", fn, initial=0.001,  # type: ignore[arg-type]
             failures=in_a_row.most)
    assert len(calls) == 3 and in_a_row.worst() == ("a", 3)


def test_an_attempt_that_counts_nothing_still_stops() -> None:
    calls, fn = flaky([TransientError(f"fail {i}") for i in range(100)])
    with pytest.raises(TransientError):
        call(AccountConfig("a", "x", options={"retries": 2}), "x", fn, initial=0.001,  # type: ignore[arg-type]
             failures=lambda: 0)
    assert len(calls) == 9  # (retries + 1) ** 2: as many as a batch may need
