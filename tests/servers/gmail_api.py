"""The Gmail v1 half of the fake Google server (tests.servers.google): the profile, a
label's messages newest first with page tokens, metadata-format messages and threads, and
history (each added message with its threadId and labelIds, filtered by ``labelId``) with the
404 for an expired start id. ``gmail.metadata`` refuses ``q`` and full bodies; with a
broader scope ``format=full`` gives the MIME tree with each leaf's decoded body and ``raw``
the message, and ``user.bodies_read`` records which messages were read so.
"""

from __future__ import annotations

import base64
import email
import email.message
import json
from email.policy import compat32
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.servers.google import Answer, Message, User

AUTH = "https://www.googleapis.com/auth/"
GMAIL_READ = {AUTH + s for s in ("gmail.metadata", "gmail.readonly", "gmail.modify")}


def error(status: int, message: str, reason: str) -> Answer:
    from tests.servers.google import error as google_error

    return google_error(status, message, reason)


def ok(data: Any) -> Answer:
    return 200, {}, json.dumps(data).encode()


def token_of(d: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).decode()


def untoken(text: str) -> dict[str, Any]:
    try:
        return dict(json.loads(base64.urlsafe_b64decode(text.encode())))
    except ValueError:
        return {}


def route(user: User, scopes: set[str], path: list[str], query: dict[str, list[str]]
          ) -> Answer:
    if not scopes & GMAIL_READ:
        return error(403, "Request had insufficient authentication scopes.",
                     "insufficientPermissions")
    q = {k: v[0] for k, v in query.items()}
    metadata_only = scopes & GMAIL_READ == {AUTH + "gmail.metadata"}
    if path == ["users", "me", "profile"]:
        return ok({"emailAddress": user.email, "messagesTotal": len(user.messages),
                   "threadsTotal": len(user.messages), "historyId": str(user.history_id)})
    if path == ["users", "me", "messages"]:
        if "q" in q and metadata_only:
            return error(403, "Metadata scope does not support 'q' parameter",
                         "forbidden")
        labels = set(query.get("labelIds", []))
        order = sorted((m for m in user.messages.values() if labels <= set(m.labels)),
                       key=lambda m: (m.internal_ms, m.id), reverse=True)
        after = untoken(q.get("pageToken", "")).get("k")
        if q.get("pageToken") and not after:
            return error(400, "Invalid pageToken", "invalidArgument")
        if after:
            order = [m for m in order if [m.internal_ms, m.id] < after]
        size = min(int(q.get("maxResults", 100)), 500)
        page: dict[str, Any] = {"messages": [{"id": m.id, "threadId": m.thread}
                                             for m in order[:size]],
                                "resultSizeEstimate": len(order)}
        if len(order) > size:
            last = order[size - 1]
            page["nextPageToken"] = token_of({"k": [last.internal_ms, last.id]})
        return ok(page)
    if path[:3] == ["users", "me", "messages"] and len(path) == 4:
        m = user.messages.get(path[3])
        if m is None:
            return error(404, "Requested entity was not found.", "notFound")
        fmt = q.get("format", "full")
        if metadata_only and fmt not in ("metadata", "minimal"):
            return error(403, f"Metadata scope doesn't allow format {fmt.upper()}",
                         "forbidden")
        if fmt in ("full", "raw"):
            user.bodies_read.append(m.id)
        return ok(_message(m, fmt, query))
    if path[:3] == ["users", "me", "threads"] and len(path) == 4:
        fmt = q.get("format", "full")
        if metadata_only and fmt not in ("metadata", "minimal"):
            return error(403, f"Metadata scope doesn't allow format {fmt.upper()}",
                         "forbidden")
        inside = sorted((m for m in user.messages.values() if m.thread == path[3]),
                        key=lambda m: (m.internal_ms, m.id))
        if not inside:
            return error(404, "Requested entity was not found.", "notFound")
        if fmt in ("full", "raw"):
            user.bodies_read.extend(m.id for m in inside)
        return ok({"id": path[3], "historyId": str(max(m.history_id for m in inside)),
                   "messages": [_message(m, fmt, query) for m in inside]})
    if path == ["users", "me", "history"]:
        start = int(q.get("startHistoryId", "0") or 0)
        if start < user.history_floor:
            return error(404, "Requested entity was not found.", "notFound")
        after = int(untoken(q.get("pageToken", "")).get("h", start))
        label = q.get("labelId", "")
        known = {mid: (m.thread, list(m.labels)) for mid, m in user.messages.items()}
        records = [(h, mid) for h, mid in user.history if h > after
                   and (not label or label in known.get(mid, ("", ["SENT"]))[1])]
        size = min(int(q.get("maxResults", 100)), 500)
        page = {"historyId": str(user.history_id), "history": [
            {"id": str(h), "messages": [{"id": mid, "threadId": known.get(mid, (mid,))[0]}],
             "messagesAdded": [{"message": {"id": mid, "threadId": known.get(mid, (mid,))[0],
                                            "labelIds": known.get(mid, ("", ["SENT"]))[1]}}]}
            for h, mid in records[:size]]}
        if len(records) > size:
            page["nextPageToken"] = token_of({"h": records[size - 1][0]})
        if not page["history"]:
            del page["history"]
        return ok(page)
    return error(404, "Not Found", "notFound")


def _message(m: Message, fmt: str, query: dict[str, list[str]]) -> dict[str, Any]:
    """A message as messages.get (or inside threads.get) gives it: metadata headers only
    (just those named in ``metadataHeaders`` when any are), none for ``minimal``, the MIME
    tree with each part's decoded body for ``full``, the message itself for ``raw``."""
    wanted = {h.lower() for h in query.get("metadataHeaders", [])}
    out: dict[str, Any] = {"id": m.id, "threadId": m.thread, "labelIds": list(m.labels),
                           "historyId": str(m.history_id),
                           "internalDate": str(m.internal_ms), "sizeEstimate": 1000}
    if fmt == "full":
        out["payload"] = _part(email.message_from_bytes(m.raw, policy=compat32), "")
    elif fmt == "raw":
        out["raw"] = base64.urlsafe_b64encode(m.raw).decode()
    elif fmt != "minimal":
        out["payload"] = {"mimeType": "text/plain", "headers": [
            {"name": k, "value": v} for k, v in m.headers
            if not wanted or k.lower() in wanted]}
    return out


def _part(part: email.message.Message, part_id: str) -> dict[str, Any]:
    """One MIME part as Gmail's ``format=full`` gives it: its headers, its body decoded
    from its transfer encoding and base64url-encoded (a leaf), or its parts."""
    out: dict[str, Any] = {"partId": part_id, "mimeType": part.get_content_type(),
                           "filename": part.get_filename() or "",
                           "headers": [{"name": k, "value": str(v)} for k, v in part.items()]}
    if part.is_multipart():
        out["body"] = {"size": 0}
        out["parts"] = [_part(sub, f"{part_id}.{i}".lstrip("."))
                        for i, sub in enumerate(part.get_payload())]
    else:
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        out["body"] = {"size": len(data),
                       "data": base64.urlsafe_b64encode(data).decode().rstrip("=")}
    return out
