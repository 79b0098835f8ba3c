"""The cadence store: observations, touchpoints, contacts, cursors and reminders in SQLite.

Every batch from a source is stored together with the source's cursor in one transaction,
so a crash never loses or doubles a touchpoint: either both land or neither does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

from connectors.base import (
    JSON,
    Address,
    Attendee,
    Batch,
    Meeting,
    MeetingStatus,
    OwnAddress,
    PartStat,
    SentMail,
    Skipped,
)
from daemon.config import Settings
from daemon.inference import compiled, infer_mail, infer_meeting, learned_aliases
from daemon.schema import migrate


@dataclass(frozen=True, slots=True)
class IngestResult:
    messages: int = 0  # new messages stored
    duplicates: int = 0  # already stored (same Message-ID from another folder or account)
    meetings: int = 0
    touchpoints: int = 0  # new (message, person) touchpoints
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class ReminderRecord:
    contact: str
    uid: str
    start: datetime
    due: date
    pinned: bool = False
    confirmed: bool = False
    prev_start: datetime | None = None
    remote_id: str = ""
    etag: str = ""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    channel: str
    email: str
    role: str
    title: str  # subject or meeting summary
    rule: str | None
    location: str


BULK_CACHE_KIB = 32 * 1024

# channel, source_id, email, name, role, status, at, rule
Row = tuple[str, str, str, str, str, str, int, str | None]


def _ts(dt: datetime) -> int:
    return int(dt.timestamp())


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Store:
    """One SQLite database (WAL). Opening it creates the folder (0700) and migrates."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        new = not path.exists()
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        if new:
            os.chmod(path, 0o600)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        migrate(self.db)
        self._aliases: set[str] = {r[0] for r in self.db.execute("SELECT email FROM aliases")}

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing; BEGIN IMMEDIATE so two writers queue instead of failing late."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextlib.contextmanager
    def bulk(self) -> Iterator[None]:
        """A larger page cache while a backfill writes (its random-keyed inserts touch pages
        all over the tables: a fifth less CPU on a 100,000-message import), given back after
        so an idle daemon stays small."""
        before = self.db.execute("PRAGMA cache_size").fetchone()[0]
        self.db.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        try:
            yield
        finally:
            self.db.execute(f"PRAGMA cache_size={int(before)}")
            self.db.execute("PRAGMA shrink_memory")

    # -- cursors and account state ---------------------------------------------
    def cursor(self, account: str) -> JSON | None:
        row = self.db.execute("SELECT cursor FROM cursors WHERE account=?", (account,)).fetchone()
        return json.loads(row[0]) if row else None

    def reset_cursor(self, account: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM cursors WHERE account=?", (account,))

    def record_attempt(self, account: str, now: datetime, error: str | None) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO account_state(account) VALUES (?)", (account,))
            if error is None:
                db.execute("UPDATE account_state SET last_attempt=?, last_success=?, "
                           "last_error=NULL WHERE account=?", (now.isoformat(),) * 2 + (account,))
            else:
                db.execute("UPDATE account_state SET last_attempt=?, last_error=?, "
                           "last_error_at=? WHERE account=?",
                           (now.isoformat(), error, now.isoformat(), account))

    def account_states(self) -> dict[str, dict[str, str | int | None]]:
        cols = ["account", "last_attempt", "last_success", "last_error", "last_error_at",
                "skipped_total"]
        rows = self.db.execute(f"SELECT {', '.join(cols)} FROM account_state")
        return {r[0]: dict(zip(cols, r, strict=True)) for r in rows}

    def counts(self) -> dict[str, int]:
        q = {"messages": "SELECT count(*) FROM messages",
             "meetings": "SELECT count(*) FROM meetings",
             "touchpoints": "SELECT count(*) FROM participants WHERE rule IS NULL",
             "contacts": "SELECT count(DISTINCT contact) FROM addresses",
             "reminders": "SELECT count(*) FROM reminders"}
        return {k: self.db.execute(v).fetchone()[0] for k, v in q.items()}

    # -- ingest ----------------------------------------------------------------
    def aliases(self) -> frozenset[str]:
        return frozenset(self._aliases)

    def ingest(self, account: str, batch: Batch, settings: Settings, now: datetime,
               snapshot_seen: set[str] | None = None) -> IngestResult:
        """Store one batch and its cursor atomically; infer touchpoints on the way in."""
        mails = [o for o in batch.observations if isinstance(o, SentMail)]
        meetings = [o for o in batch.observations if isinstance(o, Meeting)]
        skipped = [o for o in batch.observations if isinstance(o, Skipped)]
        with self.transaction() as db:
            told = {o.email for o in batch.observations if isinstance(o, OwnAddress)}
            new_aliases = (learned_aliases(mails) | told) - self._aliases - settings.own_addresses
            if new_aliases:
                db.executemany("INSERT OR IGNORE INTO aliases VALUES (?, ?)",
                               [(a, now.isoformat()) for a in sorted(new_aliases)])
                # an own address is the first rule of all: it only turns touchpoints off
                db.executemany("UPDATE participants SET rule='own address' WHERE email=?",
                               [(a,) for a in new_aliases])
            own = settings.own_addresses | self._aliases | new_aliases
            stored, dups, tps = self._ingest_mail(db, account, mails, own, settings)
            tps += self._ingest_meetings(db, account, meetings, own, settings, now)
            if snapshot_seen is not None and batch.snapshot:
                snapshot_seen.update(m.meeting_id for m in meetings)
                if batch.last:
                    self._drop_unseen_meetings(db, account, snapshot_seen)
            if skipped:
                db.executemany("INSERT OR REPLACE INTO skipped VALUES (?, ?, ?, ?)",
                               [(account, s.location, s.reason, now.isoformat()) for s in skipped])
                db.execute("INSERT OR IGNORE INTO account_state(account) VALUES (?)", (account,))
                db.execute("UPDATE account_state SET skipped_total = skipped_total + ? "
                           "WHERE account=?", (len(skipped), account))
            db.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)",
                       (account, json.dumps(batch.cursor, sort_keys=True)))
            # what was just inferred used these rules: the first refresh need not redo it
            db.execute("INSERT OR IGNORE INTO meta VALUES ('rules', ?)",
                       (self.rules_fingerprint(settings),))
        self._aliases |= new_aliases
        return IngestResult(stored, dups, len(meetings), tps, len(skipped))

    def _ingest_mail(self, db: sqlite3.Connection, account: str, mails: Sequence[SentMail],
                     own: frozenset[str] | set[str], settings: Settings) -> tuple[int, int, int]:
        unique: dict[str, SentMail] = {}
        for m in mails:
            unique.setdefault(m.message_id, m)
        ids = list(unique)
        known: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            known.update(r[0] for r in db.execute(
                f"SELECT message_id FROM messages WHERE message_id IN ({marks})", chunk))
        fresh = [m for mid, m in unique.items() if mid not in known]
        ignore = compiled(settings.ignore)
        db.executemany(
            "INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(m.message_id, account, _ts(m.date), m.sender.email if m.sender else "", m.subject,
              m.list_id, m.list_unsubscribe, m.precedence, m.auto_submitted, m.in_reply_to,
              m.location) for m in fresh])
        rows: list[Row] = []
        for m in fresh:
            at = _ts(m.date)
            for v in infer_mail(m, own, ignore, settings.max_recipients):
                rows.append(("email", m.message_id, v.email, v.name, v.role, "", at, v.rule))
        self._insert_participants(db, rows)
        return len(fresh), len(mails) - len(fresh), sum(1 for r in rows if r[7] is None)

    def _ingest_meetings(self, db: sqlite3.Connection, account: str, meetings: Sequence[Meeting],
                         own: frozenset[str] | set[str], settings: Settings,
                         now: datetime) -> int:
        if not meetings:
            return 0
        ignore = compiled(settings.ignore)
        db.executemany(
            "INSERT OR REPLACE INTO meetings VALUES (?,?,?,?,?,?,?,?)",
            [(m.meeting_id, account, _ts(m.start), _ts(m.end), int(m.all_day), m.status,
              m.summary, m.location) for m in meetings])
        db.executemany("DELETE FROM participants WHERE channel='meeting' AND source_id=?",
                       [(m.meeting_id,) for m in meetings])
        rows: list[Row] = []
        for m in meetings:
            at = _ts(m.start)
            for v in infer_meeting(m, own, ignore, settings.max_meeting_attendees, now):
                rows.append(("meeting", m.meeting_id, v.email, v.name, v.role, v.status, at,
                             v.rule))
        self._insert_participants(db, rows)
        return sum(1 for r in rows if r[7] is None)

    @staticmethod
    def _insert_participants(db: sqlite3.Connection, rows: list[Row]) -> None:
        """Store the rows, and keep each touched address's display name the one seen at
        the latest time (ties: the later row).

        Applying the rows' names one by one keeps a running "latest named row", so only
        each address's first row (it creates the address) and its latest named row can
        matter: two statements per address instead of one per row, with the same result.
        """
        db.executemany("INSERT OR IGNORE INTO participants VALUES (?,?,?,?,?,?,?,?)", rows)
        first: dict[str, tuple[str, str, str, int]] = {}
        latest: dict[str, tuple[str, str, str, int]] = {}
        for r in rows:
            if r[7] is not None:
                continue
            email, name, at = r[2], r[3], r[6]
            first.setdefault(email, (email, email, name, at))
            if name and (email not in latest or at >= latest[email][3]):
                latest[email] = (email, email, name, at)
        db.executemany("INSERT OR IGNORE INTO addresses(email, contact, name, name_at) "
                       "VALUES (?, ?, ?, ?)", first.values())
        db.executemany(
            "INSERT INTO addresses(email, contact, name, name_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(email) DO UPDATE SET name=excluded.name, name_at=excluded.name_at "
            "WHERE excluded.name_at >= addresses.name_at", latest.values())

    def _drop_unseen_meetings(self, db: sqlite3.Connection, account: str, seen: set[str]) -> None:
        stored = [r[0] for r in db.execute("SELECT meeting_id FROM meetings WHERE account=?",
                                           (account,))]
        gone = [(mid,) for mid in stored if mid not in seen]
        db.executemany("DELETE FROM participants WHERE channel='meeting' AND source_id=?", gone)
        db.executemany("DELETE FROM meetings WHERE meeting_id=?", gone)

    # -- re-inference ----------------------------------------------------------
    @staticmethod
    def rules_fingerprint(settings: Settings) -> str:
        data = [sorted(settings.own_addresses), list(settings.ignore), settings.max_recipients,
                settings.max_meeting_attendees]
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()

    def refresh(self, settings: Settings, now: datetime) -> None:
        """Re-apply the filters where their outcome may have changed: all mail when the filter
        settings changed since last time, and meetings always (they end as time passes)."""
        fingerprint = self.rules_fingerprint(settings)
        own = settings.own_addresses | self._aliases
        ignore = compiled(settings.ignore)
        with self.transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key='rules'").fetchone()
            updates: list[tuple[str | None, str, str, str]] = []
            if row is None or row[0] != fingerprint:
                for mail in self._stored_mail(db):
                    updates += [(v.rule, "email", mail.message_id, v.email)
                                for v in infer_mail(mail, own, ignore, settings.max_recipients)]
                db.execute("INSERT OR REPLACE INTO meta VALUES ('rules', ?)", (fingerprint,))
            for meeting in self._stored_meetings(db):
                updates += [(v.rule, "meeting", meeting.meeting_id, v.email) for v in
                            infer_meeting(meeting, own, ignore, settings.max_meeting_attendees,
                                          now)]
            db.executemany("UPDATE participants SET rule=? WHERE channel=? AND source_id=? "
                           "AND email=? AND rule IS NOT ?",
                           [(*u, u[0]) for u in updates])
            db.execute("INSERT OR IGNORE INTO addresses(email, contact, name, name_at) "
                       "SELECT email, email, name, at FROM participants WHERE rule IS NULL "
                       "GROUP BY email")

    def _stored_mail(self, db: sqlite3.Connection) -> Iterator[SentMail]:
        people: dict[str, dict[str, list[Address]]] = {}
        for mid, email, name, role in db.execute(
                "SELECT source_id, email, name, role FROM participants WHERE channel='email'"):
            people.setdefault(mid, {}).setdefault(role, []).append(Address(email, name))
        for mid, at, sender, list_id, unsub, prec, auto in db.execute(
                "SELECT message_id, at, sender, list_id, list_unsubscribe, precedence, "
                "auto_submitted FROM messages"):
            p = people.get(mid, {})
            yield SentMail(mid, _dt(at), Address(sender) if sender else None,
                           to=tuple(p.get("to", ())), cc=tuple(p.get("cc", ())),
                           bcc=tuple(p.get("bcc", ())), list_id=list_id, list_unsubscribe=unsub,
                           precedence=prec, auto_submitted=auto)

    def _stored_meetings(self, db: sqlite3.Connection) -> Iterator[Meeting]:
        people: dict[str, list[tuple[str, str, str, str]]] = {}
        for mid, email, name, role, status in db.execute(
                "SELECT source_id, email, name, role, status FROM participants "
                "WHERE channel='meeting'"):
            people.setdefault(mid, []).append((email, name, role, status))
        for mid, start, end, all_day, status in db.execute(
                "SELECT meeting_id, start, end, all_day, status FROM meetings"):
            rows = people.get(mid, [])
            organizer = next((Address(e, n) for e, n, r, _ in rows if r == "organizer"), None)
            attendees = tuple(Attendee(Address(e, n), cast(PartStat, s)) for e, n, r, s in rows
                              if r != "organizer" or s != "accepted")
            yield Meeting(mid, _dt(start), _dt(end), organizer, attendees,
                          cast(MeetingStatus, status), bool(all_day))
