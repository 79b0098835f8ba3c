"""The Calendar v3 half of the fake Google server (tests.servers.google): calendars, the
calendar list, events with etags, sync tokens and private extended properties.

Deleting an event keeps a tombstone, as Google does: incremental sync returns it with only
``id`` and ``status: cancelled``, and a client-chosen id that was used once stays taken (409).
An event the user cancelled (not deleted) keeps its data and its ``status: cancelled``.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.servers.google import Answer, User

AUTH = "https://www.googleapis.com/auth/"
READ = {AUTH + s for s in ("calendar", "calendar.readonly", "calendar.events",
                           "calendar.events.readonly")}
WRITE = {AUTH + "calendar", AUTH + "calendar.events"}
LIST = {AUTH + s for s in ("calendar", "calendar.readonly", "calendar.calendarlist",
                           "calendar.calendarlist.readonly")}
APP = AUTH + "calendar.app.created"
_ID = re.compile(r"[a-v0-9]{5,1024}")
_etags = itertools.count(3181161784712000)
NO_SYNC = ("timeMin", "timeMax", "updatedMin", "q", "orderBy", "iCalUID",
           "privateExtendedProperty")


def _error(status: int, message: str, reason: str) -> Answer:
    from tests.servers.google import error

    return error(status, message, reason)


def _ok(data: Any, status: int = 200) -> Answer:
    return status, {}, json.dumps(data).encode() if status != 204 else b""


@dataclass
class Calendar:
    id: str
    summary: str
    primary: bool = False
    created_by: str = ""  # the OAuth client that created it ('' for the user's own)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    seq: int = 0
    token_floor: int = 0

    def put(self, event: dict[str, Any]) -> dict[str, Any]:
        """Add or replace an event as the user's calendar app would; returns the stored one."""
        event = copy.deepcopy(event)
        event.setdefault("id", secrets.token_hex(10))
        event.setdefault("iCalUID", f"{event['id']}@google.com")
        event.setdefault("status", "confirmed")
        event["kind"] = "calendar#event"
        self._stamp(event)
        self.events[event["id"]] = event
        return event

    def remove(self, event_id: str) -> None:
        """The user deletes an event: a tombstone stays, for incremental sync."""
        event = self.events[event_id]
        event["_deleted"] = True
        event["status"] = "cancelled"
        self._stamp(event)

    def expire_tokens(self) -> None:
        """Every sync token given out so far is too old now; the next full list gives a
        good one."""
        self.seq += 1
        self.token_floor = self.seq

    def visible(self) -> dict[str, dict[str, Any]]:
        """The live events, without internal fields (what the user sees)."""
        return {eid: shown(e) for eid, e in self.events.items() if not e.get("_deleted")}

    def _stamp(self, event: dict[str, Any]) -> None:
        self.seq += 1
        event["_seq"] = self.seq
        event["etag"] = f'"{next(_etags)}"'
        event["updated"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def shown(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("_deleted"):
        return {"kind": "calendar#event", "etag": event["etag"], "id": event["id"],
                "status": "cancelled"}
    return {k: v for k, v in event.items() if not k.startswith("_")}


def kind(method: str, path: list[str]) -> str:
    if path[:3] == ["users", "me", "calendarList"]:
        return "calendarList.list"
    if path == ["calendars"]:
        return "calendars.insert"
    if len(path) == 3:
        return "events.list" if method == "GET" else "events.insert"
    return {"GET": "events.get", "PATCH": "events.patch", "PUT": "events.update",
            "DELETE": "events.delete"}.get(method, "events")


def _when(value: dict[str, Any]) -> datetime:
    if "dateTime" in value:
        return datetime.fromisoformat(value["dateTime"]).astimezone(UTC)
    d = date.fromisoformat(value["date"])
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def route(user: User, scopes: set[str], method: str, path: list[str],
          query: dict[str, list[str]], headers: dict[str, str], body: dict[str, Any]) -> Answer:
    q = {k: v[0] for k, v in query.items()}
    if path[:3] == ["users", "me", "calendarList"]:
        if not scopes & LIST:
            return _error(403, "Request had insufficient authentication scopes.",
                          "insufficientPermissions")
        items = [{"kind": "calendar#calendarListEntry", "id": c.id, "summary": c.summary,
                  "accessRole": "owner", **({"primary": True} if c.primary else {})}
                 for c in user.calendars.values()]
        start = int(q.get("pageToken") or 0)
        size = int(q.get("maxResults") or 100)
        page: dict[str, Any] = {"kind": "calendar#calendarList", "items": items[start:start + size]}
        if start + size < len(items):
            page["nextPageToken"] = str(start + size)
        return _ok(page)
    if path == ["calendars"] and method == "POST":
        if not scopes & {APP, AUTH + "calendar"}:
            return _error(403, "Request had insufficient authentication scopes.",
                          "insufficientPermissions")
        made = user.add_calendar(str(body.get("summary", "")), by_app=True)
        return _ok({"kind": "calendar#calendar", "id": made.id, "summary": made.summary})
    if len(path) < 3 or path[0] != "calendars" or path[2] != "events":
        return _error(404, "Not Found", "notFound")
    cal_id = user.email if path[1] == "primary" else path[1]
    cal = user.calendars.get(cal_id)
    if cal is None:
        return _error(404, "Not Found", "notFound")
    mine = APP in scopes and cal.created_by == user.client_id
    can_read, can_write = bool(scopes & READ) or mine, bool(scopes & WRITE) or mine
    if not (can_read if method == "GET" else can_write):
        return _error(403, "Request had insufficient authentication scopes.",
                      "insufficientPermissions")
    if len(path) == 3:
        return _list(cal, q, query) if method == "GET" else _insert(user, cal, q, body)
    event = cal.events.get(path[3])
    if event is None:
        return _error(404, "Not Found", "notFound")
    if method == "GET":
        return _ok(shown(event))
    if event.get("_deleted"):
        return _error(410, "Resource has been deleted", "deleted")
    if "if-match" in headers and headers["if-match"] != event["etag"]:
        return _error(412, "Precondition Failed", "conditionNotMet")
    user.sent_updates.append(q.get("sendUpdates", ""))
    if method == "DELETE":
        cal.remove(event["id"])
        return _ok(None, 204)
    if method == "PATCH":
        _merge(event, body)
        cal._stamp(event)
        return _ok(shown(event))
    return _error(405, "Method not allowed", "methodNotAllowed")


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Patch semantics: objects merge field by field, everything else is replaced."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _insert(user: User, cal: Calendar, q: dict[str, str], body: dict[str, Any]) -> Answer:
    event_id = str(body.get("id") or secrets.token_hex(13))
    if not _ID.fullmatch(event_id):
        return _error(400, "Invalid resource id value.", "invalid")
    if event_id in cal.events:
        return _error(409, "The requested identifier already exists.", "duplicate")
    user.sent_updates.append(q.get("sendUpdates", ""))
    event = cal.put({**body, "id": event_id,
                     "organizer": {"email": cal.id, "self": True},
                     "creator": {"email": user.email, "self": True}})
    return _ok(shown(event))


def _list(cal: Calendar, q: dict[str, str], query: dict[str, list[str]]) -> Answer:
    sync = q.get("syncToken")
    if sync is not None:
        if any(k in q for k in NO_SYNC):
            return _error(400, "Sync token cannot be combined with these parameters",
                          "invalid")
        try:
            seq = int(sync.removeprefix(f"{cal.id}:"))
        except ValueError:
            return _error(400, "Invalid sync token value.", "invalid")
        if seq < cal.token_floor:
            return _error(410, "Sync token is no longer valid, a full sync is required.",
                          "fullSyncRequired")
        events = [e for e in cal.events.values() if e["_seq"] > seq]
    else:
        events = [e for e in cal.events.values() if not e.get("_deleted") and (
            q.get("showDeleted") == "true" or e.get("status") != "cancelled")]
        low = datetime.fromisoformat(q["timeMin"]) if "timeMin" in q else None
        high = datetime.fromisoformat(q["timeMax"]) if "timeMax" in q else None
        events = [e for e in events if (low is None or _when(e["end"]) > low)
                  and (high is None or _when(e["start"]) < high)]
        for condition in query.get("privateExtendedProperty", []):
            name, _, value = condition.partition("=")
            events = [e for e in events if
                      e.get("extendedProperties", {}).get("private", {}).get(name) == value]
    events.sort(key=lambda e: (e["_seq"], e["id"]))
    start = int(q.get("pageToken") or 0)
    size = min(int(q.get("maxResults") or 250), 2500)
    page: dict[str, Any] = {"kind": "calendar#events", "summary": cal.summary,
                            "items": [shown(e) for e in events[start:start + size]]}
    if start + size < len(events):
        page["nextPageToken"] = str(start + size)
    else:
        page["nextSyncToken"] = f"{cal.id}:{cal.seq}"
    return _ok(page)
