"""Microsoft Graph v1.0 over plain HTTPS (requests), with Graph's own throttling rules.

Why not the Graph SDK: keepwarm needs a dozen calls, and the SDK's weight and async runtime
buy nothing here. What this module adds over requests:

- At most ``MAX_IN_FLIGHT`` (4) requests in flight per mailbox, across every connector and
  thread of the process: Outlook allows 4 concurrent requests per app and mailbox and answers
  the fifth with a 429 (``MailboxConcurrency``).
- 429 and 503 with ``Retry-After`` wait exactly that long (``connectors.retry``); other 5xx,
  timeouts and dropped connections back off exponentially with jitter.
- A 401 refreshes the access token once before it counts as a refused sign-in.
- Paging through ``@odata.nextLink`` to the ``@odata.deltaLink`` (``delta``: a round page by
  page, each page with the link that resumes after it).
- Errors mapped to keepwarm's: AuthError, TransientError, DeltaExpired (a stale delta or skip
  token: 410 Gone or ``syncStateNotFound``), GraphError for the rest.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from connectors import retry
from daemon.errors import AuthError, KeepwarmError, TransientError
from daemon.model import AccountConfig

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 4
BACKOFF_INITIAL = 0.5  # seconds before the first retry of a fault without Retry-After
LONGEST_WAIT = 300.0  # a longer Retry-After ends this sync instead of blocking it
_SYNC_STATE_CODES = frozenset({"syncstatenotfound", "syncstateinvalid", "resyncrequired",
                               "invaliddeltatoken"})

TokenSource = Callable[[bool], str]  # force_refresh -> a bearer access token


class GraphError(KeepwarmError):
    """Graph refused a request for a reason retrying will not fix."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class DeltaExpired(GraphError):
    """The server no longer knows a delta or skip token: the round must start over."""


def stale_link(exc: GraphError) -> bool:
    """True when a stored nextLink or deltaLink failed in a way a fresh round cures: expired
    (410, syncStateNotFound), refused as malformed (400), or its folder is gone (404)."""
    return isinstance(exc, DeltaExpired) or exc.status in (400, 404)


@dataclass(frozen=True)
class Reply:
    status: int
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return str(self.data.get("@odata.etag") or "")


@dataclass(frozen=True)
class Page:
    """One page of a collection: its items and where the round goes on (or ends)."""

    items: list[dict[str, Any]]
    next_link: str = ""
    delta_link: str = ""


_slots: dict[str, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def mailbox_slots(mailbox: str) -> threading.BoundedSemaphore:
    """The process-wide gate of one mailbox: every request to it holds one of its slots."""
    with _slots_lock:
        gate = _slots.get(mailbox)
        if gate is None:
            gate = _slots[mailbox] = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        return gate


class Graph:
    """One signed-in mailbox's Graph client; safe to share between threads."""

    def __init__(self, account: AccountConfig, endpoint: str, token: TokenSource,
                 mailbox: str) -> None:
        self.account = account
        self.endpoint = endpoint.rstrip("/")
        self._token = token
        self._gate = mailbox_slots(mailbox)
        self.timeout = float(account.options["timeout"])
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=MAX_IN_FLIGHT, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        """``path`` under the endpoint; absolute links (nextLink, deltaLink) stay as they are."""
        return path if path.startswith(("https://", "http://")) else self.endpoint + path

    def call(self, method: str, path: str, *, what: str, params: Mapping[str, str] | None = None,
             body: Any = None, headers: Mapping[str, str] | None = None,
             allow: Collection[int] = ()) -> Reply:
        """One request, retried on transient faults. Statuses in ``allow`` come back as a
        Reply instead of raising (404 of a missing event, 412 of a stale etag...)."""
        return retry.call(self.account, what,
                          lambda: self._once(method, path, what, params, body, headers, allow),
                          initial=BACKOFF_INITIAL)

    def pages(self, path: str, *, what: str, params: Mapping[str, str] | None = None,
              headers: Mapping[str, str] | None = None) -> Iterator[Page]:
        """Every page from ``path`` on, following nextLinks; the last one has the deltaLink
        (delta queries) or neither link (plain collections)."""
        link: str | None = path
        while link:
            data = self.call("GET", link, what=what, params=params, headers=headers).data
            page = Page(list(data.get("value") or []), str(data.get("@odata.nextLink") or ""),
                        str(data.get("@odata.deltaLink") or ""))
            yield page
            link, params = page.next_link or None, None  # links carry their own query

    def delta(self, link: str, *, what: str, params: Mapping[str, str] | None = None,
              headers: Mapping[str, str] | None = None
              ) -> Iterator[tuple[list[dict[str, Any]], str]]:
        """A delta round from ``link`` (a delta path, or a stored nextLink or deltaLink): each
        page's items with the link to resume after it - the page's nextLink, or the round's
        deltaLink on the last page. Every yielded link is a point a crash can resume from."""
        for page in self.pages(link, what=what, params=params, headers=headers):
            resume = page.next_link or page.delta_link
            if not resume:
                raise GraphError(f"Microsoft Graph answered {what} with a delta page that "
                                 "has neither a next nor a delta link")
            yield page.items, resume

    # -- one attempt -----------------------------------------------------------------
    def _once(self, method: str, path: str, what: str, params: Mapping[str, str] | None,
              body: Any, headers: Mapping[str, str] | None, allow: Collection[int]) -> Reply:
        refreshed = False
        while True:
            token = self._token(refreshed)
            sent = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                    **(headers or {})}
            with self._gate:
                try:
                    response = self.session.request(method, self.url(path), params=params,
                                                    json=body, headers=sent,
                                                    timeout=self.timeout)
                    status, text = response.status_code, response.text
                except requests.Timeout:
                    raise TransientError(f"Microsoft Graph did not answer {what} within "
                                         f"{self.timeout:g} s") from None
                except requests.RequestException as exc:
                    raise TransientError(f"cannot reach Microsoft Graph for {what}: "
                                         f"{type(exc).__name__}") from None
            if status == 401 and not refreshed:
                log.info("%s: Graph refused the access token; refreshing it", self.account.name)
                refreshed = True
                continue
            return self._reply(status, text, response.headers, what, allow)

    def _reply(self, status: int, text: str, headers: Mapping[str, str], what: str,
               allow: Collection[int]) -> Reply:
        data = _json(text)
        if 200 <= status < 300 or status in allow:
            return Reply(status, data)
        raw_error = data.get("error")
        error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        code = str(error.get("code") or "")
        detail = f"HTTP {status}" + (f" {code}" if code else "")
        name = self.account.name
        if status == 410 or code.lower() in _SYNC_STATE_CODES:
            raise DeltaExpired(f"the sync state of {what} expired ({detail})", status, code)
        if status == 401:
            raise AuthError(f"Microsoft refused the saved sign-in of {name} ({detail}); "
                            f"run `keepwarm auth {name}`")
        if status == 403:
            raise AuthError(f"Microsoft Graph denied {what} for {name} ({detail}); run "
                            f"`keepwarm auth {name}` and grant the permissions it asks for")
        if status in (429, 503) or status >= 500 or status == 408:
            wait = retry.retry_after(headers.get("Retry-After")) if status in (429, 503) else None
            if wait is not None and wait > LONGEST_WAIT:
                raise GraphError(f"Microsoft Graph asks {name} to wait {wait:.0f} s before "
                                 f"{what} ({detail}); trying again next sync", status, code)
            raise TransientError(f"Microsoft Graph could not serve {what} ({detail})", wait)
        message = str(error.get("message") or "")[:200]
        raise GraphError(f"Microsoft Graph refused {what} ({detail}{': ' if message else ''}"
                         f"{message})", status, code)


def _json(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
