"""Which requests a test server fails, and how: the fault shape of issue 11 ("nothing lost,
nothing silent"), shared by the Google and Microsoft servers and the HTTP proxy in front of
Radicale.

A share of the requests (``rate``) is answered with a fault instead of being served: 429
with and without Retry-After, 500, 503, a 403 ``rateLimitExceeded`` (Google's) or a reset
connection. Which one, and whether at all, comes from a hash of the seed, the request and
how often it was sent before, so a run is the same whatever order threads send in; no
request fails more than ``most_in_a_row`` times in a row, so a client that retries each
request enough always gets through. A request is what the server names it (method, target
and a digest of the body): a retry is the same request, another page or part is not.

Every attempt is logged with its time, so a test can check that a Retry-After was waited
exactly (``waits``).
"""

from __future__ import annotations

import hashlib
import io
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

RETRY_AFTER = 0.3  # seconds a fault with Retry-After asks for


@dataclass(frozen=True)
class Fault:
    """One way a request fails: an HTTP status (0: the connection is reset instead)."""

    name: str
    status: int = 0
    retry_after: float | None = None
    reason: str = ""  # Google's error reason


GOOGLE = (Fault("429 Retry-After", 429, RETRY_AFTER, "rateLimitExceeded"),
          Fault("429", 429, None, "rateLimitExceeded"),
          Fault("500", 500, None, "backendError"),
          Fault("503", 503, None, "backendError"),
          Fault("403 rateLimitExceeded", 403, None, "rateLimitExceeded"),
          Fault("reset"))
# Graph and CalDAV: no rate-limit 403 there (a 403 is a refusal), 503 with Retry-After too
HTTP = (Fault("429 Retry-After", 429, RETRY_AFTER), Fault("429", 429),
        Fault("500", 500), Fault("503 Retry-After", 503, RETRY_AFTER), Fault("503", 503),
        Fault("reset"))


@dataclass
class FaultPlan:
    faults: tuple[Fault, ...]
    rate: float = 0.2
    seed: int = 1
    most_in_a_row: int = 2
    sent: dict[str, list[tuple[float, Fault | None]]] = field(default_factory=dict)
    given: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self, request: str, can_reset: bool = True) -> Fault | None:
        """The fault this attempt at ``request`` meets, None when it is served; logged.
        ``can_reset`` False (a part of a batch): never a reset."""
        choices = [f for f in self.faults if f.status or can_reset]
        with self.lock:
            before = self.sent.setdefault(request, [])
            failed_in_a_row = 0
            for _, earlier in reversed(before):
                if earlier is None:
                    break
                failed_in_a_row += 1
            pick = _fraction(f"{self.seed}\0{request}\0{len(before)}")
            chosen = None
            if pick < self.rate and failed_in_a_row < self.most_in_a_row:
                chosen = choices[int(pick / self.rate * len(choices))]
                self.given[chosen.name] += 1
            before.append((time.monotonic(), chosen))
            return chosen

    def waits(self) -> list[tuple[float, float, bool]]:
        """(Retry-After asked, seconds until the request came again, whether no other fault
        was given meanwhile) for each fault with a Retry-After whose request came again.
        Another fault in between (the batch carrying a refused part was refused itself) may
        rightly add its own wait."""
        with self.lock:
            faults = sorted(at for attempts in self.sent.values()
                            for at, fault in attempts if fault is not None)
            return [(fault.retry_after, attempts[i + 1][0] - at,
                     not any(at < other < attempts[i + 1][0] for other in faults))
                    for attempts in self.sent.values()
                    for i, (at, fault) in enumerate(attempts[:-1])
                    if fault is not None and fault.retry_after is not None]

    def most_failures_in_a_row(self) -> int:
        with self.lock:
            most = 0
            for attempts in self.sent.values():
                run = 0
                for _, fault in attempts:
                    run = run + 1 if fault is not None else 0
                    most = max(most, run)
            return most


def _fraction(text: str) -> float:
    """A number in [0, 1) that only ``text`` decides."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def digest(body: bytes) -> str:
    """A short name for a request body, so requests with different bodies differ."""
    return hashlib.sha256(body).hexdigest()[:12]


def reset(handler: BaseHTTPRequestHandler) -> None:
    """Reset the handler's connection (RST, not a polite close), leaving the request
    unanswered; the handler's own cleanup then finds nothing to flush."""
    handler.close_connection = True
    connection = handler.connection
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()
    handler.wfile = io.BytesIO()
