"""Google's OAuth endpoints for the fake server (tests.servers.google): the installed-app
consent (auto-approved, PKCE S256 required, a redirect back to the loopback port) and the
token endpoint (authorization code with code_verifier, refresh, revoked refresh tokens as
``invalid_grant``). Client credentials may come in the form or as HTTP Basic.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.parse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.servers.google import Answer, GoogleServer


def ok(data: object) -> Answer:
    return 200, {}, json.dumps(data).encode()


# -- OAuth --------------------------------------------------------------------------
def consent(self: GoogleServer, query: dict[str, list[str]]) -> Answer:
    q = {k: v[0] for k, v in query.items()}
    user = self.users.get(q.get("client_id", ""))
    redirect = q.get("redirect_uri", "")
    if user is None or not redirect.startswith(("http://localhost:", "http://127.0.0.1:")):
        return 400, {}, b"invalid_request"
    if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
        return 400, {}, b"invalid_request"
    code = "4/" + secrets.token_urlsafe(16)
    scopes = q.get("scope", "").split()
    with self.lock:
        user.calls.append("consent")
        self.codes[code] = (user, scopes, redirect, q.get("code_challenge", ""))
    target = redirect + "?" + urllib.parse.urlencode(
        {"state": q.get("state", ""), "code": code, "scope": " ".join(scopes)})
    return 302, {"Location": target}, b""

def token(self: GoogleServer, form: dict[str, str]) -> Answer:
    user = self.users.get(form.get("client_id", ""))
    if user is None or form.get("client_secret") != user.client_secret:
        return 401, {}, json.dumps({"error": "invalid_client"}).encode()
    user.calls.append("token")
    if form.get("grant_type") == "authorization_code":
        got = self.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if got is None or got[0] is not user or got[2] != form.get("redirect_uri") or \
                challenge.decode() != got[3]:
            return 400, {}, json.dumps({"error": "invalid_grant"}).encode()
        refresh = "1//" + secrets.token_urlsafe(24)
        user.granted[refresh] = got[1]
        return ok({"access_token": self.new_access(user, got[1], user.token_lifetime),
                   "expires_in": int(user.token_lifetime), "refresh_token": refresh,
                   "scope": " ".join(got[1]), "token_type": "Bearer"})
    refresh = form.get("refresh_token", "")
    if form.get("grant_type") != "refresh_token" or refresh not in user.granted or \
            refresh in user.revoked:
        return 400, {}, json.dumps({"error": "invalid_grant",
                                    "error_description": "Token has been expired or "
                                                         "revoked."}).encode()
    scopes = form.get("scope", "").split() or user.granted[refresh]
    if not set(scopes) <= set(user.granted[refresh]):
        return 400, {}, json.dumps({"error": "invalid_scope"}).encode()
    user.refreshes += 1
    return ok({"access_token": self.new_access(user, scopes, user.token_lifetime),
               "expires_in": int(user.token_lifetime), "scope": " ".join(scopes),
               "token_type": "Bearer"})


def with_basic_auth(headers: dict[str, str], form: bytes) -> bytes:
    """Client credentials sent as HTTP Basic (requests-oauthlib's way) moved into the form."""
    auth = headers.get("authorization", "")
    if not auth.startswith("Basic "):
        return form
    client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
    fields = dict(urllib.parse.parse_qsl(form.decode()))
    fields.update(client_id=urllib.parse.unquote(client_id),
                  client_secret=urllib.parse.unquote(secret))
    return urllib.parse.urlencode(fields).encode()
