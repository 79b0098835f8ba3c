"""IMAP source: the headers of the mail in an account's Sent folder(s) and its received
folders (INBOX, \\Archive, \\All), over imapclient.

Why header fields by UID and nothing else: inference needs a dozen header fields, so the only
data that crosses the wire is ``BODY.PEEK[HEADER.FIELDS (...)]`` plus INTERNALDATE (the date
when the Date header is missing or absurd), for explicit UIDs in chunks of a few thousand
(``imapfolders.uid_sets``: imapclient 4.1 refuses ``1:*`` for FETCH, and Dovecot refuses
command lines of tens of thousands of UIDs). Each chunk is one Batch whose cursor says "every
UID up to here is stored", so a sync cut anywhere resumes after the last stored chunk and
loses nothing; the store drops re-read messages by Message-ID. What the cursor holds per
folder, and when a folder is read again, is decided in ``connectors.imapfolders``. An idle
sync costs LOGIN, one LIST (only when a folder is discovered: the Sent folder, or the
default received folders) and one STATUS per folder, and downloads nothing. Sent folders are
read first, then INBOX, \\Archive and \\All; a Message-ID delivered by an earlier folder of
the same fetch is dropped (\\All holds every INBOX message again), and the store drops the
copies a later sync reads.

With ``promises = true`` a sent folder's chunks are fetched with ``BODY.PEEK[HEADER]`` and
the first 64 KiB of ``BODY.PEEK[TEXT]`` instead, in the same one command, and the new text
of each message is searched for promises (``connectors.bodytext``); received folders stay
header fields only.

The connection, its faults and the FETCH parsing are ``connectors.imapsession``, imported
when a connector is built: the config loads this module to check options, and that must not
cost an imapclient import.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, ClassVar

from connectors import checks, imapfolders, passwords
from connectors.base import Connector, Option, Problem
from connectors.bodytext import PROMISES_OPTION, message_text, with_promises
from connectors.imapfolders import FolderState, Status, uid_sets
from connectors.mailparse import parse_headers
from connectors.passwords import PASSWORD_OPTIONS
from connectors.retry import RETRY_OPTIONS
from daemon.errors import SourceError, TransientError
from daemon.model import JSON, AccountConfig, Batch, FetchContext, Mail, Observation, Skipped

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from connectors.imapsession import Fetched

log = logging.getLogger(__name__)

FIELDS = ("FROM TO CC BCC DATE MESSAGE-ID SUBJECT LIST-ID LIST-UNSUBSCRIBE PRECEDENCE "
          "AUTO-SUBMITTED IN-REPLY-TO REFERENCES X-AUTOREPLY X-AUTORESPOND X-AUTORESPONDER "
          "CONTENT-TYPE")
FETCH_ITEMS = ("INTERNALDATE", f"BODY.PEEK[HEADER.FIELDS ({FIELDS})]")
BODY_KEY = f"BODY[HEADER.FIELDS ({FIELDS})]".encode()
TLS_MODES = ("ssl", "starttls", "none")


class ImapConnector(Connector):
    """Reads the headers of sent mail from an IMAP server (Fastmail, iCloud, Dovecot, ...)."""

    type: ClassVar[str] = "imap"
    reads_mail: ClassVar[bool] = True
    options: ClassVar[Mapping[str, Option]] = {
        "host": Option(str, required=True, help="the IMAP server, e.g. imap.fastmail.com"),
        "port": Option(int, default=993, check=checks.port,
                       help="993 for tls = 'ssl', usually 143 otherwise"),
        "tls": Option(str, default="ssl", choices=TLS_MODES,
                      help="'ssl' (TLS from the start), 'starttls', or 'none' (loopback only)"),
        "username": Option(str, required=True, help="the IMAP login name"),
        **PASSWORD_OPTIONS,
        "folders": Option(list, default=[], item=str, check=checks.names,
                          help="folders to read; empty: the Sent folder (SPECIAL-USE \\Sent)"),
        "received_folders": Option(
            list, default=None, item=str, check=checks.names,
            help="folders of received mail; default: INBOX plus the folders marked "
                 "\\Archive and \\All (SPECIAL-USE); [] reads none"),
        "promises": PROMISES_OPTION,
        **RETRY_OPTIONS,
    }
    requires: ClassVar[Mapping[str, str]] = {"imapclient": "imapclient"}

    @classmethod
    def reads_received(cls, options: Mapping[str, Any]) -> bool:
        return options.get("received_folders") != []  # unset: INBOX and the archives

    def __init__(self, account: AccountConfig, chunk: int = imapfolders.CHUNK) -> None:
        """``chunk``: UIDs per FETCH and per Batch."""
        super().__init__(account)
        from connectors.imapsession import Session

        opts = self.account.options
        self.host = str(opts["host"])
        self.port = int(opts["port"])
        self.tls = str(opts["tls"])
        self.username = str(opts["username"])
        self.folders = [str(f) for f in opts["folders"]]
        given = opts["received_folders"]
        self.received_folders = None if given is None else [str(f) for f in given]
        self.timeout = float(opts["timeout"])
        self.promises = bool(opts["promises"])
        self.chunk = chunk
        self.session = Session(self)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[Problem]:
        out = passwords.problems(options)
        host = options.get("host")
        if options.get("tls") == "none" and host is not None and not checks.is_loopback(host):
            out.append(("tls", f"'none' would send the password in plain text to {host!r}; "
                               "it is allowed only for a loopback host (127.0.0.1, ::1, "
                               "localhost). Use tls = 'ssl' (port 993) or 'starttls' (port "
                               "143)"))
        return out

    def close(self) -> None:
        self.session.close()

    # -- fetch -----------------------------------------------------------------
    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        states = imapfolders.load_cursor(cursor)
        folders = self._folders()  # connects now: a refused login raises here, not at next()
        return self._read(folders, states, ctx)

    def _folders(self) -> list[Folder]:
        """The folders to read, sent ones first (a message in both is the user's own), each
        once: one also named as a received folder is read as sent mail, as before."""
        listing: imapfolders.Listing | None = None
        if not (self.folders and self.received_folders is not None):
            listing = self.session.call("LIST", lambda c: c.list_folders())
        else:
            self.session.call("LOGIN", lambda c: None)
        sent = [Folder(f, False, "folders") for f in self.folders] or [
            Folder(self._find_sent(listing or []), False, None)]
        if self.received_folders is None:
            found = imapfolders.find_special(listing or [], imapfolders.RECEIVED_FLAGS)
            received = [Folder(f, True, None) for f in ["INBOX", *found]]
        else:
            received = [Folder(f, True, "received_folders") for f in self.received_folders]
        out: dict[str, Folder] = {}
        for folder in [*sent, *received]:
            out.setdefault(folder.name, folder)
        return list(out.values())

    def _find_sent(self, listing: imapfolders.Listing) -> str:
        sent = imapfolders.find_sent(listing)
        if sent is None:
            raise SourceError(
                f"no Sent folder found on {self.host}: no folder is marked \\Sent and none is "
                f"named {', '.join(repr(n) for n in imapfolders.SENT_NAMES)}; set "
                f"accounts[{self.name}].folders to the folder(s) holding your sent mail "
                f"(folders there: {imapfolders.describe(imapfolders.names(listing))})")
        log.debug("%s: sent mail is in %r", self.name, sent)
        return sent

    def _read(self, folders: list[Folder], old: dict[str, FolderState], ctx: FetchContext
              ) -> Iterator[Batch]:
        """Every folder's new messages, after one STATUS each: the folders not read yet
        count in each batch's ``remaining``, so a first sync's estimate covers them all."""
        states = {f.name: old[f.name] for f in folders if f.name in old}  # others are dropped
        problems: list[str] = []
        todo: list[tuple[Folder, Status, imapfolders.Plan]] = []
        for folder in folders:
            try:
                st = self._status(folder)
            except SourceError as e:  # a received folder's fault stops no other folder
                if not folder.received:
                    raise
                problems.append(str(e))
                continue
            p = imapfolders.plan(states.get(folder.name), st)
            states[folder.name] = p.state
            if p.changed:
                log.warning("%s: UIDVALIDITY of %r changed (%d in a row); reading it again",
                            self.name, folder.name, p.state.changes)
            if p.keeps_changing:
                problems.append(f"server keeps changing UIDVALIDITY of {folder.name!r} "
                                f"({p.state.changes} syncs in a row); not reading it again "
                                "until it stays the same")
            elif not p.skip:
                todo.append((folder, st, p))
        later = sum(imapfolders.estimate(p, st) for _, st, p in todo)
        seen: set[str] = set()  # Message-IDs of this fetch: \All holds INBOX's mail again
        for folder, st, p in todo:
            later -= imapfolders.estimate(p, st)
            last = p.after
            for chunk_last, observations, left in self._messages(folder, st.uidvalidity,
                                                                  p.after, ctx):
                last = chunk_last
                states[folder.name] = FolderState(p.state.uidvalidity, last, None,
                                                  p.state.changes)
                yield Batch(_first_seen(observations, seen), imapfolders.dump_cursor(states),
                            remaining=left + later)
            states[folder.name] = imapfolders.finished(p, st, last)
        yield Batch((), imapfolders.dump_cursor(states))
        if problems:
            raise SourceError(f"account {self.name!r}: " + "; ".join(problems))

    def _status(self, folder: Folder) -> Status:
        def status(c: IMAPClient) -> Status:
            what = ["UIDVALIDITY", "UIDNEXT", "MESSAGES"]
            if c.has_capability("CONDSTORE"):
                what.append("HIGHESTMODSEQ")
            return Status.parse(c.folder_status(folder.name, what),
                                f"{self.host}: {folder.name!r}")

        try:
            return self.session.call(f"STATUS {folder.name}", status, quiet=True)
        except SourceError:
            listing = self.session.call("LIST", lambda c: c.list_folders())
            if folder.name in imapfolders.names(listing):
                raise
        if folder.key is None:  # a folder found by LIST vanished between LIST and STATUS
            raise TransientError(f"folder {folder.name!r} disappeared during the sync")
        raise SourceError(
            f"folder {folder.name!r} not found on {self.host}; fix accounts[{self.name}]."
            f"{folder.key} (folders there: {imapfolders.describe(imapfolders.names(listing))})")

    def _messages(self, folder: Folder, uidvalidity: int, after: int, ctx: FetchContext
                  ) -> Iterator[tuple[int, list[Observation], int]]:
        """(last UID of the chunk, its observations, messages left in the folder after it)
        for every message above ``after``. A sent folder's bodies are read too with
        ``promises = true``; a received folder's never."""

        def search(c: IMAPClient) -> list[int]:
            self.session.select(c, folder.name, uidvalidity)
            return sorted(u for u in c.search(["UID", f"{after + 1}:*"]) if u > after)

        uids = self.session.call(f"SEARCH {folder.name}", search)
        log.debug("%s: %d new messages in %r", self.name, len(uids), folder.name)
        done = 0
        bodies = self.promises and not folder.received
        for chunk, uid_set in uid_sets(uids, self.chunk, imapfolders.MAX_SET_CHARS):
            fetched = self.session.headers(folder.name, uidvalidity, uid_set, bodies)
            tz = ctx.tz if bodies else None
            observations = [obs for uid in chunk if (obs := self._parse(
                folder, uid, fetched.get(uid), tz)) is not None]
            done += len(chunk)
            yield chunk[-1], observations, len(uids) - done

    def _parse(self, folder: Folder, uid: int, item: Fetched | None, tz: tzinfo | None = None
               ) -> Observation | None:
        """The message of ``item``; with ``tz`` (a sent folder reading promises) ``item``
        holds its body's start too, read for promises and dropped here."""
        location = f"imap:{folder.name}/{uid}"
        if item is None:
            log.debug("%s vanished before it was fetched", location)
            return None
        raw, when = item
        if raw is None:
            return Skipped(location, "the server sent no header fields")
        got = parse_headers(raw, location, when or datetime.now(UTC), received=folder.received)
        if tz is not None and isinstance(got, Mail):
            return with_promises(got, message_text(raw), tz)
        return got


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder to read: ``received`` mail or sent; ``key``: the option that names it (None:
    found by LIST or by default), for the error when it is missing."""

    name: str
    received: bool
    key: str | None


def _first_seen(observations: list[Observation], seen: set[str]) -> list[Observation]:
    """``observations`` without the messages an earlier folder of this fetch delivered."""
    out: list[Observation] = []
    for obs in observations:
        if isinstance(obs, Mail):
            if obs.message_id in seen:
                continue
            seen.add(obs.message_id)
        out.append(obs)
    return out
