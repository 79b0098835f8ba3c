"""The Outlook address book of the local Microsoft Graph (tests.servers.microsoft): contacts
and contact folders, as Graph v1.0 documents them and as Exchange behaves.

- ``GET /me/contacts/delta`` (the default Contacts folder) and
  ``/me/contactFolders/{id}/contacts/delta``: delta rounds on the server's one change log
  (``$select``, ``Prefer: odata.maxpagesize`` capped at 200 as Graph caps contacts,
  ``@removed`` for contacts deleted or moved out since the token, 410 ``SyncStateNotFound``
  for an expired token, 400 for a garbled one, 404 for a folder that is gone).
- ``GET /me/contactFolders`` (the folders below the default one) and
  ``/me/contactFolders/{id}/childFolders``: plain collections, 10 a page unless ``$top``.
- Every route needs ``Contacts.Read`` or ``Contacts.ReadWrite`` in the access token, else 403
  ``ErrorAccessDenied``.

A contact moved to another folder gets a new id, as Exchange's (mutable) ids do.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.servers.microsoft import Item, MicrosoftServer

DEFAULT_FOLDER = "AAMkCFcontacts"  # the default Contacts folder's id
CONTACT_PAGE_CAP = 200  # Graph's most contacts a page, whatever maxpagesize asks
CONTACT_SCOPES = frozenset({"Contacts.Read", "Contacts.ReadWrite"})
Answer = tuple[int, Any, dict[str, str]]
_NOT_FOUND: Answer = (404, {"error": {"code": "ErrorItemNotFound",
                                      "message": "The specified object was not found in the "
                                                 "store."}}, {})


class ContactBook:
    """One mailbox's contacts and contact folders (id -> (name, parent id))."""

    def __init__(self, server: MicrosoftServer) -> None:
        self.server = server
        self.contacts: dict[str, Item] = {}
        self.folders: dict[str, tuple[str, str]] = {DEFAULT_FOLDER: ("Contacts", "")}

    # -- playing the user ----------------------------------------------------------------
    def add_folder(self, name: str, parent: str = DEFAULT_FOLDER) -> str:
        with self.server._lock:
            fid = "AAMkCF" + secrets.token_hex(6)
            self.folders[fid] = (name, parent)
            return fid

    def delete_folder(self, fid: str) -> None:
        """The folder, its sub-folders and their contacts are gone (Deleted Items)."""
        with self.server._lock:
            doomed = {fid}
            while grown := {f for f, (_, p) in self.folders.items() if p in doomed} - doomed:
                doomed |= grown
            for f in doomed:
                self.folders.pop(f, None)
            for it in self.contacts.values():
                if it.calendar in doomed and not it.deleted:
                    self.server._bump(it).deleted = True

    def add(self, folder: str = DEFAULT_FOLDER, **data: Any) -> str:
        """A contact, Graph-shaped (``displayName``, ``emailAddresses``, ``birthday`` ...)."""
        from tests.servers.microsoft import Item

        with self.server._lock:
            cid = data.setdefault("id", "AAMkCt" + secrets.token_hex(8))
            data["parentFolderId"] = folder
            self.contacts[cid] = self.server._bump(Item(data, 0, folder))
            return str(cid)

    def edit(self, cid: str, **fields: Any) -> None:
        with self.server._lock:
            item = self.contacts[cid]
            item.data.update(fields)
            self.server._bump(item)

    def delete(self, cid: str) -> None:
        with self.server._lock:
            self.server._bump(self.contacts[cid]).deleted = True

    def move(self, cid: str, folder: str) -> str:
        """Move a contact to ``folder``: Exchange gives it a new id there."""
        with self.server._lock:
            data = {k: v for k, v in self.contacts[cid].data.items() if k != "id"}
            self.delete(cid)
            return self.add(folder, **data)

    # -- serving -----------------------------------------------------------------------------
    def route(self, method: str, path: str, query: dict[str, str], token: str,
              prefer: str) -> Answer | None:
        """The answer to a contacts request; None for a path that is not about contacts."""
        lower = path.lower()
        if not lower.startswith(("/me/contacts", "/me/contactfolders")):
            return None
        if not CONTACT_SCOPES & self.server.state.granted.get(token, set()):
            return 403, {"error": {"code": "ErrorAccessDenied",
                                   "message": "Access is denied. Check credentials and try "
                                              "again."}}, {}
        if method != "GET":
            return 405, {"error": {"code": "ErrorInvalidRequest",
                                   "message": "The contacts are read-only here."}}, {}
        if lower == "/me/contacts/delta":
            return self._delta(DEFAULT_FOLDER, path, query, prefer)
        if lower == "/me/contactfolders":
            return self._children(DEFAULT_FOLDER, path, query)
        m = re.fullmatch(r"/me/contactfolders/([^/]+)/(childfolders|contacts/delta)", lower)
        if m is None:
            return None
        fid = path.split("/")[3]
        if fid not in self.folders:
            return _NOT_FOUND
        if m.group(2) == "childfolders":
            return self._children(fid, path, query)
        return self._delta(fid, path, query, prefer)

    def _delta(self, fid: str, path: str, query: dict[str, str], prefer: str) -> Answer:
        capped = re.sub(r"odata\.maxpagesize=(\d+)",
                        lambda m: f"odata.maxpagesize={min(int(m.group(1)), CONTACT_PAGE_CAP)}",
                        prefer)
        return self.server._delta(f"contacts:{fid}", self.contacts, path, query, capped)

    def _children(self, parent: str, path: str, query: dict[str, str]) -> Answer:
        out = [{"id": f, "displayName": name, "parentFolderId": p}
               for f, (name, p) in self.folders.items() if p == parent]
        skip, top = int(query.get("$skip", 0)), int(query.get("$top", 10))
        page: dict[str, Any] = {"value": out[skip:skip + top]}
        if skip + top < len(out):
            page["@odata.nextLink"] = (f"{self.server.url}/v1.0{path}?$skip={skip + top}"
                                       f"&$top={top}")
        return 200, page, {}
