"""The People API half of the fake Google server (tests.servers.google): a user's contacts
and contact groups, as ``people.connections.list`` and ``contactGroups.list`` give them.

What it models, as Google documents it: ``personFields`` (required; only those fields come
back), ``pageSize`` 1-1000 (default 100), page tokens that hold the first call's parameters
(any other parameter changed: 400 INVALID_ARGUMENT), ``requestSyncToken`` and a
``nextSyncToken`` on the last page only, ``syncToken`` returning only people changed since,
deleted ones as ``{resourceName, metadata: {deleted: true}}``; sync tokens expire 7 days
after the full listing they descend from (``clock``) or when the test says
(``expire_tokens``), answered with 400 FAILED_PRECONDITION and the ErrorInfo reason
EXPIRED_SYNC_TOKEN; system and user contact groups; the scopes ``contacts`` and
``contacts.readonly`` (else 403 ACCESS_TOKEN_SCOPE_INSUFFICIENT). Errors come in the newer
APIs' shape (``status`` and ``details``, no ``errors`` list), 429s included (``fault``).
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.servers.google import Answer

AUTH = "https://www.googleapis.com/auth/"
READ = {AUTH + "contacts", AUTH + "contacts.readonly"}
TOKEN_LIFE = 7 * 86400.0  # seconds a sync token lives after its full listing
KINDS = ("connections.list", "contactGroups.list")
SYSTEM = {"myContacts": "My Contacts", "starred": "Starred", "friends": "Friends",
          "family": "Family", "coworkers": "Coworkers", "chatBuddies": "Chat contacts",
          "all": "All contacts", "blocked": "Blocked"}
_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def error(status: int, message: str, reason: str = "", rpc_status: str = "",
          headers: dict[str, str] | None = None) -> Answer:
    """An error as the People API sends one: google.rpc.Status with an ErrorInfo."""
    body: dict[str, Any] = {"code": status, "message": message,
                            "status": rpc_status or _STATUS.get(status, "UNKNOWN")}
    if reason:
        body["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": reason, "domain": "people.googleapis.com"}]
    return status, dict(headers or {}), json.dumps({"error": body}).encode()


def fault(status: int, reason: str, retry_after: float | None) -> Answer:
    """An injected fault in People's shape (a 429 is RESOURCE_EXHAUSTED, RATE_LIMIT_EXCEEDED)."""
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    if status == 429:
        return error(429, "Quota exceeded for quota metric 'Read requests' and limit 'Read "
                     "requests per minute per user'", reason or "RATE_LIMIT_EXCEEDED",
                     headers=headers)
    return error(status, f"injected {reason or 'fault'}", reason, headers=headers)


def _token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _untoken(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(text.encode()))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@dataclass
class AddressBook:
    """One user's Google Contacts: people by resource name, each with the sequence number of
    its last change (deletions leave a tombstone), and contact groups."""

    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)  # resource name -> change number
    groups: dict[str, str] = field(default_factory=dict)  # user groups: resource name -> name
    seq: int = 0
    token_floor: int = 0  # sync tokens from full listings before this change number expired
    clock: Callable[[], float] = time.time

    def put(self, person: dict[str, Any]) -> str:
        """Add or replace a person (its ``resourceName``, or a new one); returns that name."""
        person = copy.deepcopy(person)
        name = person.setdefault("resourceName", f"people/c{secrets.randbits(60)}")
        self.seq += 1
        person["etag"] = f"%Ei{self.seq}"
        self.people[name] = person
        self.changed[name] = self.seq
        return str(name)

    def delete(self, name: str) -> None:
        self.seq += 1
        self.people[name] = {"resourceName": name, "etag": f"%Ed{self.seq}",
                             "metadata": {"deleted": True}}
        self.changed[name] = self.seq

    def group(self, name: str) -> str:
        """The resource name of the user group called ``name``, made when there is none."""
        for resource, existing in self.groups.items():
            if existing == name:
                return resource
        resource = f"contactGroups/{secrets.token_hex(6)}"
        self.groups[resource] = name
        return resource

    def rename_group(self, resource: str, name: str) -> None:
        self.groups[resource] = name  # members do not change: no person comes in a sync

    def expire_tokens(self) -> None:
        """Every sync token given out so far is now expired."""
        self.seq += 1
        self.token_floor = self.seq

    def sync_token(self, since: int, full_at: float, full_seq: int) -> str:
        return _token({"since": since, "full_at": full_at, "full_seq": full_seq})


def route(book: AddressBook, scopes: set[str], path: list[str],
          query: dict[str, list[str]]) -> Answer:
    if not scopes & READ:
        return error(403, "Request had insufficient authentication scopes.",
                     "ACCESS_TOKEN_SCOPE_INSUFFICIENT")
    q = {k: v[0] for k, v in query.items()}
    if path == ["people", "me", "connections"]:
        return _connections(book, q)
    if path == ["contactGroups"]:
        return _groups(book, q)
    if path[:1] == ["people"] and path[-1:] == ["connections"]:
        return error(400, "Only people/me is valid.", rpc_status="INVALID_ARGUMENT")
    return error(404, "Not Found", rpc_status="NOT_FOUND")


def kind(path: list[str]) -> str:
    """The endpoint name faults and counts use, for a path under ``v1/``."""
    return "contactGroups.list" if path[:1] == ["contactGroups"] else "connections.list"


def _connections(book: AddressBook, q: dict[str, str]) -> Answer:
    fields = {f for f in q.get("personFields", "").split(",") if f}
    if not fields:
        return error(400, "personFields mask is required. Please specify one or more valid "
                     "paths. Valid paths are documented at https://developers.google.com/"
                     "people/api/rest/v1/people.connections/list.")
    size = int(q.get("pageSize") or 100)
    if not 0 <= size <= 1000:
        return error(400, "Page size must be between 1 and 1000.")
    size = size or 100
    params = {k: v for k, v in q.items() if k not in ("pageToken", "access_token", "alt")}
    page = _untoken(q["pageToken"]) if q.get("pageToken") else {}
    if page is None or (page and page.get("params") != params):
        return error(400, "Parameters provided to the list call must match the call that "
                     "provided the page token.")
    upto = int(page.get("upto", book.seq))
    since, full_at, full_seq = 0, book.clock(), upto
    if q.get("syncToken"):
        sync = _untoken(q["syncToken"])
        if sync is None:
            return error(400, "Sync token is invalid.")
        if sync["full_seq"] < book.token_floor or book.clock() - sync["full_at"] > TOKEN_LIFE:
            return error(400, "Sync token is expired. Clear local cache and retry call "
                         "without the sync token.", "EXPIRED_SYNC_TOKEN", "FAILED_PRECONDITION")
        since, full_at, full_seq = sync["since"], sync["full_at"], sync["full_seq"]
    order = sorted((seq, name) for name, seq in book.changed.items() if since < seq <= upto
                   and (since or not _deleted(book.people[name])))
    start = int(page.get("offset", 0))
    answer: dict[str, Any] = {"totalItems": len(order), "totalPeople": len(order)}
    shown = [_person(book.people[name], fields) for _, name in order[start:start + size]]
    if shown:
        answer["connections"] = shown
    if start + size < len(order):
        answer["nextPageToken"] = _token({"params": params, "offset": start + size,
                                          "upto": upto})
    elif q.get("requestSyncToken") == "true" or q.get("syncToken"):
        answer["nextSyncToken"] = book.sync_token(upto, full_at, full_seq)
    return 200, {}, json.dumps(answer).encode()


def _person(person: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """A person with only the asked fields (a deleted one is its tombstone)."""
    if _deleted(person):
        return copy.deepcopy(person)
    return {k: copy.deepcopy(v) for k, v in person.items()
            if k in fields or k in ("resourceName", "etag")}


def _deleted(person: dict[str, Any]) -> bool:
    """A tombstone (a test may store a person whose metadata is not even an object)."""
    metadata = person.get("metadata")
    return isinstance(metadata, dict) and bool(metadata.get("deleted"))


def _groups(book: AddressBook, q: dict[str, str]) -> Answer:
    size = int(q.get("pageSize") or 30)
    if not 0 <= size <= 1000:
        return error(400, "Page size must be between 1 and 1000.")
    every = [{"resourceName": f"contactGroups/{k}", "groupType": "SYSTEM_CONTACT_GROUP",
              "name": k, "formattedName": v} for k, v in SYSTEM.items()]
    every += [{"resourceName": k, "groupType": "USER_CONTACT_GROUP", "name": v,
               "formattedName": v} for k, v in book.groups.items()]
    start = int((_untoken(q.get("pageToken", "")) or {}).get("offset", 0))
    answer: dict[str, Any] = {"contactGroups": every[start:start + (size or 30)],
                              "totalItems": len(every)}
    if start + (size or 30) < len(every):
        answer["nextPageToken"] = _token({"offset": start + (size or 30)})
    else:
        answer["nextSyncToken"] = _token({"groups": book.seq})
    return 200, {}, json.dumps(answer).encode()
