"""Signing in to Google and talking to its APIs: the token file, the installed-app OAuth
flow, the authorized HTTP client and the translation of Google's failures (which scopes an
account needs is decided by its config, in ``connectors.gmail``).

Why it is its own module: Gmail and Calendar share one sign-in, one token and one notion of
which answer is worth a retry. The token is google-auth's authorized-user JSON, written
atomically with mode 0600. Two library quirks are handled here once: ``Credentials`` loaded
from that JSON forget its ``token_uri`` (we re-apply the one from ``client_secrets``), and the
service's own batch helper ignores the endpoint override (we build batches on ``endpoint``).
Nothing here logs or raises with a token, a code or a client secret in it.
"""

from __future__ import annotations

import http.client
import json
import logging
import sys
import time
import webbrowser
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar

import google.auth.exceptions
import google.auth.transport.requests
import google_auth_httplib2
import httplib2
import requests
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import InstalledAppFlow, WSGITimeoutError
from googleapiclient.discovery import build
from googleapiclient.errors import BatchError, HttpError
from googleapiclient.http import BatchHttpRequest

from connectors import retry
from connectors.atomic import write_atomic
from connectors.base import state_file
from connectors.calendarlist import CalendarList
from connectors.gmail import API_ROOT, SCOPE_PREFIX
from daemon.errors import AuthError, ConfigError, KeepwarmError, SourceError, TransientError
from daemon.model import AccountConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKOFF = 1.0  # seconds before the first retry of a fault without Retry-After
SIGN_IN_TIMEOUT = 600  # seconds the loopback server waits for the browser
PEOPLE_ROOT = "https://people.googleapis.com/"
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RESOURCE_EXHAUSTED"})
_SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})


class HttpStatus(Exception):
    """An HTTP answer the caller asked to handle itself (404, 409, 410, 412 ...)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}")
        self.status = status
        self.reason = reason


def error_reason(exc: HttpError) -> str:
    """Google's machine-readable reason: the older APIs' ``errors[].reason``
    (``rateLimitExceeded``), the newer ones' ``google.rpc.ErrorInfo`` reason in ``details``
    (People: ``EXPIRED_SYNC_TOKEN``), else the status text."""
    try:
        error = json.loads(exc.content.decode("utf-8", "replace")).get("error", {})
        errors = error.get("errors") or [{}]
        info = [d.get("reason") for d in error.get("details") or []
                if str(d.get("@type", "")).endswith("google.rpc.ErrorInfo")]
        return str(errors[0].get("reason") or next(filter(None, info), "")
                   or error.get("status") or "")
    except (ValueError, AttributeError, TypeError):
        return ""


def retry_after(exc: HttpError) -> float | None:
    """The server's Retry-After (seconds or an HTTP date) in seconds, when it sent one."""
    return retry.retry_after(exc.resp.get("retry-after") if exc.resp is not None else None)


def people_root(endpoint: str) -> str:
    """Where the People API is: its own host when ``endpoint`` is Google's API root."""
    return PEOPLE_ROOT if endpoint.rstrip("/") == API_ROOT.rstrip("/") else endpoint


def retryable(status: int, reason: str) -> bool:
    return status == 429 or status >= 500 or (status == 403 and reason in _RATE_REASONS)


class GoogleSession:
    """One account's sign-in and API clients; built lazily, so an unused part costs nothing."""

    def __init__(self, account: AccountConfig, scopes: Sequence[str],
                 backoff: float = BACKOFF, clock: Callable[[], float] = time.time) -> None:
        """``account``: a connector's, every option present; ``backoff``: seconds before
        the first retry of a fault the server gave no Retry-After for; ``clock``: the time
        (seconds since the epoch) the kept calendar list ages by."""
        self.account = account
        self.name = account.name
        self.scopes = list(scopes)
        self.backoff = backoff
        opts = account.options
        self.endpoint = str(opts["endpoint"]).rstrip("/") + "/"
        self.timeout = float(opts["timeout"])
        self.secrets_path = Path(str(opts["client_secrets"])).expanduser()
        self.token_path = state_file(account, "token_file", ".google-token.json")
        self._creds: Credentials | None = None
        self._saved_token: str | None = None
        self._http: google_auth_httplib2.AuthorizedHttp | None = None
        self._services: dict[str, Any] = {}
        # Gmail and Calendar share the account's calendar list (kept between syncs)
        self.calendar_list = CalendarList(account.state_dir, account.name, clock)

    # -- client secrets and the token file -------------------------------------------
    def client_config(self) -> dict[str, Any]:
        """The OAuth client JSON; ConfigError saying how to get one when it is unusable."""
        where = f"accounts[{self.name}].client_secrets"
        try:
            data = json.loads(self.secrets_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError([f"{where}: {self.secrets_path} does not exist; download the "
                               "OAuth client of type Desktop app (see the README)"]) from None
        except (OSError, ValueError) as exc:
            raise ConfigError([f"{where}: cannot read {self.secrets_path}: {exc}"]) from None
        client = data.get("installed") if isinstance(data, dict) else None
        if not isinstance(client, dict) or not all(
                client.get(k) for k in ("client_id", "client_secret", "auth_uri", "token_uri")):
            raise ConfigError([f"{where}: {self.secrets_path} is not an OAuth client of type "
                               "Desktop app (an 'installed' client with client_id, "
                               "client_secret, auth_uri and token_uri)"])
        return dict(data)

    def credentials(self) -> Credentials:
        if self._creds is not None:
            return self._creds
        run = f"run `keepwarm auth {self.name}`"
        try:
            info = json.loads(self.token_path.read_text(encoding="utf-8"))
            creds = Credentials.from_authorized_user_info(info)
        except FileNotFoundError:
            raise AuthError(f"account {self.name} has not signed in to Google yet; {run}") from None
        except (OSError, ValueError) as exc:
            raise AuthError(f"the saved sign-in of {self.name} ({self.token_path}) is unreadable "
                            f"({type(exc).__name__}); {run}") from None
        missing = set(self.scopes) - set(info.get("scopes") or [])
        if missing:
            names = ", ".join(sorted(s.removeprefix(SCOPE_PREFIX) for s in missing))
            raise AuthError(f"account {self.name} now needs more permissions ({names}) than "
                            f"it was granted; {run}")
        # google-auth resets token_uri to Google's; refresh must go where client_secrets says.
        token_uri = self.client_config()["installed"]["token_uri"]
        self._creds = creds.with_token_uri(token_uri)
        self._saved_token = self._creds.token
        return self._creds

    def save(self) -> None:
        """Keep a refreshed access token, so the next run does not refresh again."""
        creds = self._creds
        if creds is None or creds.token == self._saved_token:
            return
        self._write_token(creds)
        self._saved_token = creds.token

    def _write_token(self, creds: Credentials) -> None:
        self.token_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.token_path, creds.to_json().encode("utf-8"), 0o600)

    # -- API clients ---------------------------------------------------------------------
    def http(self) -> google_auth_httplib2.AuthorizedHttp:
        if self._http is None:
            self._http = google_auth_httplib2.AuthorizedHttp(
                self.credentials(), http=httplib2.Http(timeout=self.timeout))
        return self._http

    def service(self, api: str) -> Any:
        """``gmail`` v1, ``calendar`` v3 or ``people`` v1, pointed at ``endpoint``, from the
        bundled docs. People has a host of its own at Google (``people.googleapis.com``);
        another ``endpoint`` (a proxy, the tests' server) serves it at its root."""
        if api not in self._services:
            version, root = {"gmail": ("v1", self.endpoint),
                             "calendar": ("v3", self.endpoint + "calendar/v3/"),
                             "people": ("v1", people_root(self.endpoint))}[api]
            self._services[api] = build(api, version, http=self.http(), static_discovery=True,
                                        cache_discovery=False,
                                        client_options={"api_endpoint": root})
        return self._services[api]

    def batch(self, path: str) -> BatchHttpRequest:
        """An empty batch posted to ``endpoint`` + ``batch/<path>`` with a fresh token (the
        library refreshes inside a batch only after a 401, on a client without a timeout)."""
        creds = self.credentials()
        if not creds.valid:
            creds.refresh(google_auth_httplib2.Request(self.http().http))
        return BatchHttpRequest(batch_uri=f"{self.endpoint}batch/{path}")

    def post_once(self, path: str, body: dict[str, Any], what: str,
                  error: type[KeepwarmError]) -> dict[str, Any]:
        """One POST to ``endpoint`` + ``path`` that is never sent twice: httplib2 resends a
        request whose connection dropped before the answer, which for a call without an
        idempotency key (calendars.insert) can make a duplicate. Faults are raised, not
        retried; the caller checks what happened before trying again."""
        session = google.auth.transport.requests.AuthorizedSession(self.credentials())
        url = self.endpoint + path
        try:
            answer = session.post(url, json=body, timeout=self.timeout)
        except Exception as exc:
            raise self.translate(exc, what, error) from None
        finally:
            session.close()
        if answer.status_code >= 300:
            headers = {k.lower(): v for k, v in answer.headers.items()}
            raise self.translate(HttpError(httplib2.Response(
                {**headers, "status": str(answer.status_code)}), answer.content, uri=url),
                what, error)
        return dict(answer.json())

    def call(self, what: str, fn: Callable[[], T], passthrough: Collection[int] = (),
             error: type[KeepwarmError] = SourceError,
             failures: Callable[[], int] | None = None) -> T:
        """``fn()`` with Google's faults translated and the transient ones retried (see
        ``retry.call`` for ``failures``).

        Statuses in ``passthrough`` come back as HttpStatus for the caller to handle."""

        def once() -> T:
            try:
                return fn()
            except HttpError as exc:
                status, reason = exc.resp.status, error_reason(exc)
                if status in passthrough:
                    raise HttpStatus(status, reason) from None
                raise self.translate(exc, what, error) from None
            except KeepwarmError:
                raise
            except Exception as exc:
                raise self.translate(exc, what, error) from None

        return retry.call(self.account, what, once, initial=self.backoff, failures=failures)

    def translate(self, exc: Exception, what: str,
                  error: type[KeepwarmError] = SourceError) -> KeepwarmError:
        """The keepwarm error for one of Google's (or the network's) failures."""
        run = f"run `keepwarm auth {self.name}`"
        if isinstance(exc, HttpError):
            status, reason = exc.resp.status, error_reason(exc)
            if retryable(status, reason):
                return TransientError(f"Google is busy ({status} {reason}) while {what}",
                                      retry_after=retry_after(exc))
            if status == 401:
                return AuthError(f"Google refused the saved sign-in of {self.name}; {run}")
            if status == 403 and reason in _SCOPE_REASONS:
                return AuthError(f"Google says {self.name} lacks a permission needed for "
                                 f"{what}; {run}")
            return error(f"Google answered {status} {reason} while {what} ({self.name})")
        if isinstance(exc, google.auth.exceptions.RefreshError):
            if getattr(exc, "retryable", False):
                return TransientError(f"Google's sign-in service is busy while {what}")
            return AuthError(f"Google refused the saved sign-in of {self.name}; {run}")
        if isinstance(exc, google.auth.exceptions.TransportError | OSError | BatchError
                      | httplib2.HttpLib2Error | http.client.HTTPException
                      | requests.RequestException):
            return TransientError(f"cannot reach Google while {what} ({type(exc).__name__})")
        return error(f"unexpected failure while {what} ({self.name}): {type(exc).__name__}")

    # -- signing in ----------------------------------------------------------------------
    def sign_in(self, open_browser: bool, say: Callable[[str], None]) -> None:
        """The installed-app flow on a loopback redirect; stores the token on success."""
        flow = InstalledAppFlow.from_client_config(self.client_config(), scopes=self.scopes)
        name = f"keepwarm-{id(self)}"
        webbrowser.register(name, None, _ShowAndOpen(say, self.name, open_browser))
        try:
            creds = flow.run_local_server(
                host="localhost", port=0, open_browser=True, browser=name,
                authorization_prompt_message="", timeout_seconds=SIGN_IN_TIMEOUT,
                success_message="keepwarm is signed in. You can close this tab.",
                access_type="offline", prompt="consent")
        except Warning:  # oauthlib: the person allowed only some of the permissions
            raise AuthError(f"sign-in of {self.name} did not grant every permission keepwarm "
                            "asks for; run it again and allow all of them") from None
        except WSGITimeoutError:
            raise AuthError(f"sign-in of {self.name} timed out; run `keepwarm auth "
                            f"{self.name}` again") from None
        except KeepwarmError:
            raise
        except (requests.RequestException, OSError) as exc:
            raise TransientError(f"cannot reach Google to finish the sign-in of {self.name} "
                                 f"({type(exc).__name__})") from None
        except Exception as exc:  # oauthlib/requests errors: report the kind, never the URL
            error = getattr(exc, "error", "") or type(exc).__name__
            raise AuthError(f"Google refused the sign-in of {self.name} ({error})") from None
        self._write_token(creds)
        self._creds, self._http, self._services = None, None, {}


class _ShowAndOpen(webbrowser.BaseBrowser):
    """Shows the sign-in address through ``say`` and, unless told not to, opens the user's
    browser with Python's own choice (so $BROWSER is honoured)."""

    def __init__(self, say: Callable[[str], None], account: str, open_browser: bool) -> None:
        super().__init__("keepwarm")
        self.say, self.account, self.open_browser = say, account, open_browser

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self.say(f"Sign in to Google for {self.account} at the address below"
                 f"{' (opening your browser)' if self.open_browser else ''}:")
        # Raw, on a line of its own: ``say`` may fold long lines, and a folded URL breaks.
        sys.stdout.write(url + "\n")
        sys.stdout.flush()
        if self.open_browser:
            try:
                browser = webbrowser.get()
            except webbrowser.Error:
                browser = self  # none at all
            if isinstance(browser, _ShowAndOpen):  # only ourselves are registered
                self.say("No browser found; open the address above yourself.")
            else:
                browser.open(url, new=new, autoraise=autoraise)
        return True
