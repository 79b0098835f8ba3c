"""Signing in to Microsoft with MSAL: the device-code flow once, silent refreshes after.

The device-code flow needs no browser on the machine that runs keepwarm and no redirect URI
in the user's app registration: keepwarm prints a URL and a code, the user signs in anywhere.
Tokens live in MSAL's token cache, persisted with msal-extensions: encrypted by the desktop
keyring where there is one (Keychain, DPAPI, libsecret), else a plain file with mode 0600 -
an explicit choice, said in the log when that file is made (at sign-in), because headless
Linux has no keyring at all.

MSAL's constructor fetches the authority's OpenID configuration over the network, so an app
is built on first use and kept for the life of the process (one per client, authority and
cache file): a daemon's idle sync then costs no sign-in request at all. For an authority host
that is not Microsoft's, instance discovery is turned off, or MSAL would still ask
login.microsoftonline.com about it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msal
import msal_extensions
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

from daemon.errors import AuthError, ConfigError, TransientError

log = logging.getLogger(__name__)

# offline_access (the refresh token), openid and profile are added by MSAL itself, which
# refuses them in the list.
MAIL_SCOPE = "Mail.ReadBasic"
MAIL_BODY_SCOPE = "Mail.Read"  # bodies too: only with promises = true (uniqueBody)
CALENDAR_READ_SCOPE = "Calendars.Read"
CALENDAR_WRITE_SCOPE = "Calendars.ReadWrite"
CONTACTS_SCOPE = "Contacts.Read"
USER_SCOPE = "User.Read"
# Errors that mean only the person can fix it: the refresh token is revoked or expired,
# a password changed, MFA or consent is needed.
_REFUSED = frozenset({"invalid_grant", "interaction_required", "consent_required",
                      "login_required", "invalid_client", "unauthorized_client"})

_apps: dict[tuple[str, str, str], msal.PublicClientApplication] = {}
_apps_lock = threading.Lock()
_plain_file_said = False


def scopes(mail: bool, meetings: bool, writes: bool, contacts: bool = False,
           bodies: bool = False) -> list[str]:
    """The least the account needs: headers of mail (bodies only when asked, ``promises =
    true``), calendars read or, only when it holds the reminders, written, contacts read only
    when asked (``contacts = true``), and the user's own addresses."""
    out = [MAIL_BODY_SCOPE if bodies else MAIL_SCOPE] if mail else []
    if writes:
        out.append(CALENDAR_WRITE_SCOPE)
    elif meetings:
        out.append(CALENDAR_READ_SCOPE)
    if contacts:
        out.append(CONTACTS_SCOPE)
    return [*out, USER_SCOPE]


def token_cache(path: Path) -> msal_extensions.PersistedTokenCache:
    """MSAL's cache persisted at ``path``: keyring-encrypted where possible, else a 0600 file."""
    global _plain_file_said
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        persistence = msal_extensions.build_encrypted_persistence(str(path))
    except Exception as exc:  # keyring backends fail in platform ways: no gi, no D-Bus, locked
        if not path.exists() and not _plain_file_said:  # said when the file is first made
            _plain_file_said = True
            log.warning("no desktop keyring to encrypt Microsoft sign-ins (%s); they are kept "
                        "in plain files readable only by you (mode 0600), such as %s",
                        type(exc).__name__, path)
        else:
            log.debug("plain token cache %s (no keyring: %s)", path, type(exc).__name__)
        persistence = msal_extensions.FilePersistence(str(path))
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, 0o600)  # the library sets the mode only when it creates the file
    return msal_extensions.PersistedTokenCache(persistence)


class MsAuth:
    """The sign-in of one keepwarm account: its MSAL app, token cache and scopes."""

    def __init__(self, name: str, client_id: str, authority: str, cache_path: Path,
                 scope_list: list[str], address: str = "", timeout: float = 60) -> None:
        self.name = name
        self.client_id = client_id
        self.authority = authority.rstrip("/")
        self.cache_path = cache_path
        self.scopes = scope_list
        self.address = address.lower()
        self.timeout = timeout
        self._lock = threading.Lock()

    def app(self) -> msal.PublicClientApplication:
        """The process's MSAL app for this client, authority and cache (built on first use)."""
        key = (self.client_id, self.authority, str(self.cache_path))
        with _apps_lock:
            app = _apps.get(key)
            if app is None:
                app = _apps[key] = self._network("reaching the Microsoft sign-in service",
                                                 self._build)
            return app

    def _build(self) -> msal.PublicClientApplication:
        microsoft = urlsplit(self.authority).hostname in WELL_KNOWN_AUTHORITY_HOSTS
        try:
            return msal.PublicClientApplication(
                self.client_id, authority=self.authority,
                token_cache=token_cache(self.cache_path), timeout=self.timeout,
                instance_discovery=None if microsoft else False)
        except ValueError as exc:
            raise ConfigError([f"accounts[{self.name}]: Microsoft sign-in at {self.authority} "
                               f"is not usable ({exc}); check tenant and authority_host"]) from None

    def sign_in(self, open_browser: bool, say: Callable[[str], None]) -> str:
        """Run the device-code flow; returns the signed-in user name. Other users in this
        account's cache are signed out, so the account always means one mailbox."""
        app = self.app()
        flow = self._network("starting the sign-in",
                             lambda: app.initiate_device_flow(scopes=self.scopes))
        if "user_code" not in flow:
            raise AuthError(f"Microsoft would not start the sign-in of {self.name}: "
                            f"{_why(flow)}. Check accounts[{self.name}].client_id and that "
                            "the app registration allows public client flows")
        say(str(flow.get("message") or f"Open {flow.get('verification_uri')} and enter the "
                                          f"code {flow['user_code']}"))
        if open_browser and flow.get("verification_uri"):
            with contextlib.suppress(webbrowser.Error):
                webbrowser.open(str(flow["verification_uri"]))
        result = self._network("waiting for the sign-in",
                               lambda: app.acquire_token_by_device_flow(flow))
        if "access_token" not in result:
            raise AuthError(f"the sign-in of {self.name} did not complete: {_why(result)}")
        user = str((result.get("id_token_claims") or {}).get("preferred_username") or "")
        for other in app.get_accounts():
            if user and str(other.get("username", "")).lower() != user.lower():
                app.remove_account(other)
        log.info("%s: signed in to Microsoft as %s", self.name, user or "(unnamed user)")
        return user

    def account(self) -> dict[str, Any]:
        """The signed-in user in the cache; AuthError when there is none."""
        accounts = self.app().get_accounts()
        if not accounts:
            raise AuthError(f"{self.name} is not signed in to Microsoft yet; "
                            f"run `keepwarm auth {self.name}`")
        same = [a for a in accounts if str(a.get("username", "")).lower() == self.address]
        return dict((same or accounts)[0])

    def mailbox(self) -> str:
        """A stable name of the signed-in mailbox (MSAL's home account id)."""
        account = self.account()
        return f"{self.authority}|{account.get('home_account_id') or account.get('username')}"

    def token(self, force_refresh: bool = False) -> str:
        """A valid access token, refreshed silently when needed. AuthError when Microsoft
        refuses the saved sign-in; TransientError when it cannot be reached."""
        with self._lock:
            app, account = self.app(), self.account()
            result = self._network("refreshing the sign-in", lambda: (
                app.acquire_token_silent_with_error(self.scopes, account=account,
                                                    force_refresh=force_refresh)))
        if result and "access_token" in result:
            return str(result["access_token"])
        if not result or str(result.get("error")) in _REFUSED or result.get("suberror"):
            log.warning("%s: Microsoft refused the saved sign-in: %s", self.name,
                        _why(result or {}))
            raise AuthError(f"Microsoft refused the saved sign-in of {self.name}; "
                            f"run `keepwarm auth {self.name}`")
        raise TransientError(f"Microsoft sign-in of {self.name} failed for now: "
                             f"{_why(result)}")

    def _network(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except requests.RequestException as exc:
            raise TransientError(f"{self.name}: {what} failed: cannot reach "
                                 f"{self.authority} ({type(exc).__name__})") from None


def _why(result: dict[str, Any]) -> str:
    """The error of an MSAL result, first line only (descriptions carry trace ids)."""
    text = str(result.get("error_description") or result.get("error") or "no answer")
    return text.splitlines()[0][:200] if text else "unknown error"
