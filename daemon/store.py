"""The cadence store: observations and their verdicts, contacts, cursors and reminders in
SQLite; the one module that speaks SQL (vdirsyncer's ``SqliteStatus`` is the pattern).

It runs no rule of its own: the sync layer judges what a source read and hands the verdicts
over. Every batch is written with the source's cursor inside one ``transaction()``, so a
crash never loses or doubles a touchpoint: either both land or neither does.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

from daemon.errors import StoreDamaged, StoreError
from daemon.model import (
    JSON,
    Address,
    Attendee,
    ContactFacts,
    ContactSteering,
    Meeting,
    MeetingStatus,
    PartStat,
    ReminderId,
    ReminderRecord,
    SentMail,
    Skipped,
    Steering,
    TimelineEntry,
    Verdict,
)
from daemon.schema import migrate

BULK_CACHE_KIB = 32 * 1024

# channel, source_id, email, name, role, status, at, rule
Row = tuple[str, str, str, str, str, str, int, str | None]
# rule, channel, source_id, email: a verdict that may have changed
Rejudged = tuple[str | None, str, str, str]


def _ts(dt: datetime) -> int:
    return int(dt.timestamp())


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


# What SQLite raises on a damaged or unusable file, anywhere in a command (see ``fault``).
FAULTS = (sqlite3.DatabaseError,)


def fault(exc: BaseException, path: Path) -> StoreError:
    """One of ``FAULTS`` as the typed error a person reads: damaged, or unusable now."""
    if isinstance(exc, sqlite3.OperationalError) and "malformed" not in str(exc):
        return StoreError(f"cannot use the store {path}: {exc}")
    return StoreDamaged(f"the store {path} is damaged ({exc}); run `keepwarm sync`: it sets "
                        "the file aside and rebuilds the store from your accounts, keeping "
                        "what you told keepwarm (the steering file beside it)", str(exc))


class Store:
    """One SQLite database (WAL). Opening it creates the folder (0700) and migrates; a file
    that is not a usable database is a ``StoreError`` (``StoreDamaged`` when damaged)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        new = not path.exists()
        try:
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
            if new:
                os.chmod(path, 0o600)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            migrate(self.db)
        except FAULTS as exc:
            raise fault(exc, path) from None

    def close(self) -> None:
        self.db.close()

    def damage(self) -> str | None:
        """What SQLite's own check finds wrong with the file, or None (a few hundred ms for
        a large store: `keepwarm sync` pays it, other commands do not)."""
        try:
            rows = [r[0] for r in self.db.execute("PRAGMA quick_check(5)")]
        except FAULTS as exc:
            return str(exc)
        return None if rows == ["ok"] else "; ".join(rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; BEGIN IMMEDIATE so two writers queue instead of failing late.
        Inside a transaction already, the block is part of it."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
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

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- cursors and account state ---------------------------------------------------
    def cursor(self, account: str) -> JSON | None:
        row = self.db.execute("SELECT cursor FROM cursors WHERE account=?", (account,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_cursor(self, account: str, cursor: JSON) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)",
                            (account, json.dumps(cursor, sort_keys=True)))

    def record_attempt(self, account: str, now: datetime, error: str | None) -> None:
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO account_state(account) VALUES (?)", (account,))
            if error is None:
                self.db.execute("UPDATE account_state SET last_attempt=?, last_success=?, "
                                "last_error=NULL WHERE account=?",
                                (now.isoformat(),) * 2 + (account,))
            else:
                self.db.execute("UPDATE account_state SET last_attempt=?, last_error=?, "
                                "last_error_at=? WHERE account=?",
                                (now.isoformat(), error, now.isoformat(), account))

    def add_skipped(self, account: str, skipped: Sequence[Skipped], now: datetime) -> None:
        if not skipped:
            return
        with self.transaction():
            self.db.executemany("INSERT OR REPLACE INTO skipped VALUES (?, ?, ?, ?)",
                                [(account, s.location, s.reason, now.isoformat())
                                 for s in skipped])
            self.db.execute("INSERT OR IGNORE INTO account_state(account) VALUES (?)", (account,))
            self.db.execute("UPDATE account_state SET skipped_total = skipped_total + ? "
                            "WHERE account=?", (len(skipped), account))

    def record_reminders(self, calendar: str, now: datetime, error: str | None) -> None:
        """The outcome of the last reminders write, for `keepwarm status`: a failing calendar
        stays failing there until a write succeeds."""
        state = self.reminders_state() or {}
        state.update(calendar=calendar, last_attempt=now.isoformat(), last_error=error)
        if error is None:
            state["last_success"] = now.isoformat()
        self._set_meta("reminders", json.dumps(state))

    def reminders_state(self) -> dict[str, Any] | None:
        value = self._meta("reminders")
        return None if value is None else cast(dict[str, Any], json.loads(value))

    def stored_by_account(self) -> dict[str, tuple[int, int]]:
        """account -> (messages, meetings) stored from it: what an interrupted first sync
        already has."""
        out: dict[str, tuple[int, int]] = {}
        for account, n in self.db.execute("SELECT account, count(*) FROM messages "
                                          "GROUP BY account"):
            out[account] = (n, 0)
        for account, n in self.db.execute("SELECT account, count(*) FROM meetings "
                                          "GROUP BY account"):
            out[account] = (out.get(account, (0, 0))[0], n)
        return out

    def skipped(self) -> list[tuple[str, str, str, str]]:
        """(account, location, reason, when) of every item a source could not use and that
        has not been read since."""
        return list(self.db.execute("SELECT account, location, reason, at FROM skipped "
                                    "ORDER BY account, at, location"))

    def clear_skipped(self, account: str, locations: Collection[str]) -> None:
        """Items read at last: no longer skipped."""
        if not self.db.execute("SELECT 1 FROM skipped WHERE account=? LIMIT 1",
                               (account,)).fetchone():
            return
        with self.transaction():
            self.db.executemany("DELETE FROM skipped WHERE account=? AND location=?",
                                [(account, loc) for loc in locations])

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

    def daemon_state(self) -> dict[str, Any] | None:
        """What the running daemon last published (for `keepwarm status`)."""
        value = self._meta("daemon")
        return None if value is None else cast(dict[str, Any], json.loads(value))

    def set_daemon_state(self, state: Mapping[str, Any]) -> None:
        self._set_meta("daemon", json.dumps(state))

    # -- observations and verdicts ---------------------------------------------------
    def aliases(self) -> frozenset[str]:
        return frozenset(r[0] for r in self.db.execute("SELECT email FROM aliases"))

    def add_aliases(self, emails: Collection[str], now: datetime, rule: str) -> None:
        """New addresses of the user's own: ``rule`` on every row that has them (an own
        address is the first rule of all, so it only ever turns touchpoints off)."""
        if not emails:
            return
        with self.transaction():
            self.db.executemany("INSERT OR IGNORE INTO aliases VALUES (?, ?)",
                                [(a, now.isoformat()) for a in sorted(emails)])
            self.db.executemany("UPDATE participants SET rule=? WHERE email=?",
                                [(rule, a) for a in emails])

    def unknown_messages(self, ids: Sequence[str]) -> set[str]:
        """Those of ``ids`` not stored yet."""
        known: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            known.update(r[0] for r in self.db.execute(
                f"SELECT message_id FROM messages WHERE message_id IN ({marks})", chunk))
        return set(ids) - known

    def add_mail(self, account: str,
                 judged: Iterable[tuple[SentMail, Sequence[Verdict]]]) -> int:
        """New messages (see ``unknown_messages``) with one verdict per recipient; returns
        how many of the verdicts are touchpoints. ``judged`` is read once, as it comes: a
        verdict lives only until it is a row (a backfill's verdicts kept alive at once cost
        the garbage collector a sixth of the ingest time)."""
        messages, rows = [], []
        for m, verdicts in judged:
            at = _ts(m.date)
            messages.append((m.message_id, account, at, m.sender.email if m.sender else "",
                             m.subject, m.list_id, m.list_unsubscribe, m.precedence,
                             m.auto_submitted, m.in_reply_to, m.location))
            rows += [("email", m.message_id, v.email, v.name, v.role, "", at, v.rule)
                     for v in verdicts]
        with self.transaction():
            self.db.executemany("INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?,?,?)", messages)
            return self._add_participants(rows)

    def put_meetings(self, account: str,
                     judged: Iterable[tuple[Meeting, Sequence[Verdict]]]) -> int:
        """Meetings as they are now (new or changed), replacing what was stored of them;
        returns how many of the verdicts are touchpoints."""
        meetings, rows = [], []
        for m, verdicts in judged:
            at = _ts(m.start)
            meetings.append((m.meeting_id, account, at, _ts(m.end), int(m.all_day), m.status,
                             m.summary, m.location))
            rows += [("meeting", m.meeting_id, v.email, v.name, v.role, v.status, at, v.rule)
                     for v in verdicts]
        if not meetings:
            return 0
        with self.transaction():
            self.db.executemany("INSERT OR REPLACE INTO meetings VALUES (?,?,?,?,?,?,?,?)",
                                meetings)
            self.db.executemany("DELETE FROM participants WHERE channel='meeting' AND "
                                "source_id=?", [(m[0],) for m in meetings])
            return self._add_participants(rows)

    def _add_participants(self, rows: list[Row]) -> int:
        """Store the rows, and keep each touched address's display name the one seen at
        the latest time (ties: the later row); returns how many rows are touchpoints.

        Applying the rows' names one by one keeps a running "latest named row", so only
        each address's first row (it creates the address) and its latest named row can
        matter: two statements per address instead of one per row, with the same result.
        """
        self.db.executemany("INSERT OR IGNORE INTO participants VALUES (?,?,?,?,?,?,?,?)", rows)
        first: dict[str, tuple[str, str, str, int]] = {}
        latest: dict[str, tuple[str, str, str, int]] = {}
        for r in rows:
            if r[7] is not None:
                continue
            email, name, at = r[2], r[3], r[6]
            first.setdefault(email, (email, email, name, at))
            if name and (email not in latest or at >= latest[email][3]):
                latest[email] = (email, email, name, at)
        self.db.executemany("INSERT OR IGNORE INTO addresses(email, contact, name, name_at) "
                            "VALUES (?, ?, ?, ?)", first.values())
        self.db.executemany(
            "INSERT INTO addresses(email, contact, name, name_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(email) DO UPDATE SET name=excluded.name, name_at=excluded.name_at "
            "WHERE excluded.name_at >= addresses.name_at", latest.values())
        return sum(1 for r in rows if r[7] is None)

    def meeting_ids(self, account: str) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT meeting_id FROM meetings WHERE account=?",
                                              (account,))}

    def drop_meetings_except(self, account: str, seen: Collection[str]) -> None:
        """The end of a snapshot: this account's meetings not in it are gone."""
        with self.transaction():
            stored = [r[0] for r in self.db.execute(
                "SELECT meeting_id FROM meetings WHERE account=?", (account,))]
            gone = [(mid,) for mid in stored if mid not in seen]
            self.db.executemany("DELETE FROM participants WHERE channel='meeting' AND "
                                "source_id=?", gone)
            self.db.executemany("DELETE FROM meetings WHERE meeting_id=?", gone)

    def rules_fingerprint(self) -> str | None:
        """The fingerprint of the filter settings the stored mail verdicts were made with."""
        return self._meta("rules")

    def set_rules_fingerprint(self, fingerprint: str, only_if_unset: bool = False) -> None:
        with self.transaction():
            self.db.execute(f"INSERT OR {'IGNORE' if only_if_unset else 'REPLACE'} INTO meta "
                            "VALUES ('rules', ?)", (fingerprint,))

    def stored_mail(self) -> Iterator[SentMail]:
        """Every stored message with what inference reads of it (to judge it again)."""
        people: dict[str, dict[str, list[Address]]] = {}
        for mid, email, name, role in self.db.execute(
                "SELECT source_id, email, name, role FROM participants WHERE channel='email'"):
            people.setdefault(mid, {}).setdefault(role, []).append(Address(email, name))
        for mid, at, sender, list_id, unsub, prec, auto in self.db.execute(
                "SELECT message_id, at, sender, list_id, list_unsubscribe, precedence, "
                "auto_submitted FROM messages"):
            p = people.get(mid, {})
            yield SentMail(mid, _dt(at), Address(sender) if sender else None,
                           to=tuple(p.get("to", ())), cc=tuple(p.get("cc", ())),
                           bcc=tuple(p.get("bcc", ())), list_id=list_id, list_unsubscribe=unsub,
                           precedence=prec, auto_submitted=auto)

    def stored_meetings(self) -> Iterator[Meeting]:
        people: dict[str, list[tuple[str, str, str, str]]] = {}
        for mid, email, name, role, status in self.db.execute(
                "SELECT source_id, email, name, role, status FROM participants "
                "WHERE channel='meeting'"):
            people.setdefault(mid, []).append((email, name, role, status))
        for mid, start, end, all_day, status in self.db.execute(
                "SELECT meeting_id, start, end, all_day, status FROM meetings"):
            rows = people.get(mid, [])
            organizer = next((Address(e, n) for e, n, r, _ in rows if r == "organizer"), None)
            attendees = tuple(Attendee(Address(e, n), cast(PartStat, s)) for e, n, r, s in rows
                              if r != "organizer" or s != "accepted")
            yield Meeting(mid, _dt(start), _dt(end), organizer, attendees,
                          cast(MeetingStatus, status), bool(all_day))

    def update_verdicts(self, updates: Sequence[Rejudged]) -> None:
        """Verdicts judged again; an address that became a touchpoint gets a contact."""
        with self.transaction():
            self.db.executemany("UPDATE participants SET rule=? WHERE channel=? AND "
                                "source_id=? AND email=? AND rule IS NOT ?",
                                [(*u, u[0]) for u in updates])
            self.db.execute("INSERT OR IGNORE INTO addresses(email, contact, name, name_at) "
                            "SELECT email, email, name, at FROM participants WHERE rule IS NULL "
                            "GROUP BY email")

    # -- contacts ----------------------------------------------------------------------
    def contact_of(self, email: str) -> str | None:
        """The key of the contact owning ``email``, if any."""
        row = self.db.execute("SELECT contact FROM addresses WHERE email=?", (email,)).fetchone()
        return None if row is None else str(row[0])

    def add_address(self, email: str) -> str:
        """A new one-address contact for an address never seen; its key."""
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO addresses(email, contact) VALUES (?, ?)",
                            (email, email))
        return self.contact_of(email) or email

    def set_contact(self, contact: str, field: str, value: int | str | None) -> None:
        """One of the user's settings of a contact: cadence_days, snooze_until or ignored."""
        if field not in ("cadence_days", "snooze_until", "ignored"):
            raise ValueError(f"not a contact setting: {field}")
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO contacts(contact) VALUES (?)", (contact,))
            self.db.execute(f"UPDATE contacts SET {field}=? WHERE contact=?", (value, contact))

    def tag(self, contact: str, tags: Collection[str], add: bool) -> None:
        with self.transaction():
            self.db.executemany("INSERT OR IGNORE INTO tags VALUES (?, ?)" if add else
                                "DELETE FROM tags WHERE contact=? AND tag=?",
                                [(contact, t) for t in tags])

    def merge_contacts(self, keep: str, gone: str) -> None:
        """``gone``'s addresses join ``keep``; its settings fill only gaps in ``keep``'s."""
        with self.transaction():
            for c in (keep, gone):
                self.db.execute("INSERT OR IGNORE INTO contacts(contact) VALUES (?)", (c,))
            self.db.execute(
                "UPDATE contacts SET "
                "cadence_days=coalesce(cadence_days, (SELECT cadence_days FROM contacts o "
                "WHERE o.contact=?)), "
                "snooze_until=coalesce(snooze_until, (SELECT snooze_until FROM contacts o "
                "WHERE o.contact=?)), "
                "ignored=max(ignored, (SELECT ignored FROM contacts o WHERE o.contact=?)) "
                "WHERE contact=?", (gone, gone, gone, keep))
            self.db.execute("INSERT OR IGNORE INTO tags SELECT ?, tag FROM tags WHERE contact=?",
                            (keep, gone))
            self.db.execute("DELETE FROM tags WHERE contact=?", (gone,))
            self.db.execute("DELETE FROM contacts WHERE contact=?", (gone,))
            self.db.execute("UPDATE addresses SET contact=? WHERE contact=?", (keep, gone))

    def contact_facts(self, until: datetime | None = None) -> list[ContactFacts]:
        """Every contact with at least one touchpoint (up to ``until``), own addresses excluded."""
        limit = int(until.timestamp()) if until else 2**62
        per: dict[str, dict[tuple[str, str], int]] = {}
        for contact, channel, source, at in self.db.execute(
                "SELECT a.contact, p.channel, p.source_id, max(p.at) FROM participants p "
                "JOIN addresses a ON a.email = p.email WHERE p.rule IS NULL AND p.at <= ? "
                "GROUP BY a.contact, p.channel, p.source_id", (limit,)):
            per.setdefault(contact, {})[(channel, source)] = at
        emails: dict[str, list[tuple[int, str, str]]] = {}
        for email, contact, name, name_at in self.db.execute(
                "SELECT email, contact, name, name_at FROM addresses"):
            emails.setdefault(contact, []).append((name_at, email, name))
        settings = {r[0]: r[1:] for r in self.db.execute(
            "SELECT contact, cadence_days, snooze_until, ignored FROM contacts")}
        tags: dict[str, set[str]] = {}
        for contact, tag in self.db.execute("SELECT contact, tag FROM tags"):
            tags.setdefault(contact, set()).add(tag)
        return [_facts(contact, touches, emails.get(contact, []),
                       settings.get(contact, (None, None, 0)), tags.get(contact, set()))
                for contact, touches in per.items()]

    def timeline(self, email: str) -> list[TimelineEntry]:
        """Every message and meeting with the contact owning ``email``, dropped ones included."""
        contact = self.contact_of(email)
        emails = [email] if contact is None else [r[0] for r in self.db.execute(
            "SELECT email FROM addresses WHERE contact=?", (contact,))]
        marks = ",".join("?" * len(emails))
        rows = self.db.execute(
            "SELECT p.at, p.channel, p.email, p.role, coalesce(m.subject, g.summary, ''), "
            "p.rule, coalesce(m.location, g.location, '') FROM participants p "
            "LEFT JOIN messages m ON p.channel='email' AND m.message_id=p.source_id "
            "LEFT JOIN meetings g ON p.channel='meeting' AND g.meeting_id=p.source_id "
            f"WHERE p.email IN ({marks}) ORDER BY p.at DESC", emails)
        return [TimelineEntry(_dt(r[0]), *r[1:]) for r in rows]

    # -- the user's steering -----------------------------------------------------------
    def steering(self) -> Steering:
        """Everything the user told keepwarm, as it stands (see ``daemon.steering``)."""
        settings = {c: (days, date.fromisoformat(snooze) if snooze else None, bool(ignored))
                    for c, days, snooze, ignored in self.db.execute(
                        "SELECT contact, cadence_days, snooze_until, ignored FROM contacts")}
        tags: dict[str, set[str]] = {}
        for contact, tag in self.db.execute("SELECT contact, tag FROM tags"):
            tags.setdefault(contact, set()).add(tag)
        merged: dict[str, set[str]] = {}
        for email, contact in self.db.execute(
                "SELECT email, contact FROM addresses WHERE email != contact"):
            merged.setdefault(contact, set()).add(email)
        contacts = {c: ContactSteering(*settings.get(c, (None, None, False)),
                                       tags=frozenset(tags.get(c, ())),
                                       addresses=frozenset(merged.get(c, ())))
                    for c in {*settings, *tags, *merged}}
        return Steering({c: s for c, s in sorted(contacts.items()) if s}, self.dismissals())

    def apply_steering(self, steering: Steering) -> None:
        """Make the store's steering exactly ``steering`` (what the user's file says)."""
        merged = {e: c for c, s in steering.contacts.items() for e in s.addresses}
        with self.transaction():
            self.db.execute("DELETE FROM contacts")
            self.db.execute("DELETE FROM tags")
            self.db.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?)", [
                (c, s.cadence_days, s.snooze_until.isoformat() if s.snooze_until else None,
                 int(s.ignored)) for c, s in steering.contacts.items()])
            self.db.executemany("INSERT INTO tags VALUES (?, ?)", [
                (c, t) for c, s in steering.contacts.items() for t in s.tags])
            self.db.executemany("INSERT OR IGNORE INTO addresses(email, contact) VALUES (?, ?)",
                                [(c, c) for c in steering.contacts] + list(merged.items()))
            self.db.execute("UPDATE addresses SET contact=email WHERE contact != email")
            self.db.executemany("UPDATE addresses SET contact=? WHERE email=?",
                                [(c, e) for e, c in merged.items()])
            self.db.execute("DELETE FROM dismissals")
            self.db.executemany("INSERT INTO dismissals VALUES (?, ?, ?, ?)",
                                [(r.kind, r.contact, r.key, d.isoformat())
                                 for r, d in steering.dismissals.items()])

    def steering_digest(self) -> str | None:
        """The digest of the steering file the store last took its steering from."""
        return self._meta("steering")

    def set_steering_digest(self, digest: str) -> None:
        self._set_meta("steering", digest)

    # -- reminders ---------------------------------------------------------------------
    def reminder_records(self) -> dict[ReminderId, ReminderRecord]:
        out = {}
        for row in self.db.execute(
                "SELECT kind, contact, key, uid, start, due, pinned, confirmed, prev_start, "
                "remote_id, etag FROM reminders"):
            rid = ReminderId(*row[:3])
            out[rid] = ReminderRecord(
                rid=rid, uid=row[3], start=datetime.fromisoformat(row[4]),
                due=date.fromisoformat(row[5]), pinned=bool(row[6]), confirmed=bool(row[7]),
                prev_start=datetime.fromisoformat(row[8]) if row[8] else None,
                remote_id=row[9], etag=row[10])
        return out

    def dismissals(self) -> dict[ReminderId, date]:
        return {ReminderId(k, c, key): date.fromisoformat(d) for k, c, key, d in self.db.execute(
            "SELECT kind, contact, key, due FROM dismissals")}

    def replace_reminders(self, records: Mapping[ReminderId, ReminderRecord],
                          dismissals: Mapping[ReminderId, date]) -> None:
        """All records and dismissals at once (the plan's intents, before a calendar write)."""
        with self.transaction():
            self.db.execute("DELETE FROM reminders")
            self.db.executemany("INSERT INTO reminders VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                                [_record_row(r) for r in records.values()])
            self.db.execute("DELETE FROM dismissals")
            self.db.executemany("INSERT INTO dismissals VALUES (?, ?, ?, ?)",
                                [(r.kind, r.contact, r.key, d.isoformat())
                                 for r, d in dismissals.items()])

    def put_record(self, rid: ReminderId, record: ReminderRecord | None) -> None:
        """Set one reminder's record (None: forget it)."""
        with self.transaction():
            self.db.execute("DELETE FROM reminders WHERE kind=? AND contact=? AND key=?",
                            (rid.kind, rid.contact, rid.key))
            if record is not None:
                self.db.execute("INSERT INTO reminders VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                                _record_row(record))

    def confirm_record(self, rid: ReminderId, uid: str, remote_id: str, etag: str) -> None:
        """The calendar now holds what the record of ``rid`` (with ``uid``) says."""
        with self.transaction():
            self.db.execute("UPDATE reminders SET confirmed=1, prev_start=NULL, remote_id=?, "
                            "etag=? WHERE kind=? AND contact=? AND key=? AND uid=?",
                            (remote_id, etag, rid.kind, rid.contact, rid.key, uid))

    def count_written(self, day: date, writes: int) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO meta VALUES ('written:' || ?, ?) ON CONFLICT(key) DO "
                            "UPDATE SET value = CAST(value AS INTEGER) + excluded.value",
                            (day.isoformat(), str(writes)))

    def written_on(self, day: date) -> int:
        """Reminder events created or changed on ``day``."""
        return int(self._meta(f"written:{day.isoformat()}") or 0)


def _record_row(r: ReminderRecord) -> tuple[Any, ...]:
    return (r.rid.kind, r.rid.contact, r.rid.key, r.uid, r.start.isoformat(),
            r.prev_start.isoformat() if r.prev_start else None, r.due.isoformat(),
            int(r.pinned), int(r.confirmed), r.remote_id, r.etag)


def _facts(contact: str, touches: Mapping[tuple[str, str], int],
           emails: list[tuple[int, str, str]], settings: tuple[Any, ...],
           tags: set[str]) -> ContactFacts:
    """One contact from its touchpoints (channel, source -> time), addresses and settings:
    the name is the latest one seen, the key comes first among the addresses."""
    (channel, _), last = max(touches.items(), key=lambda kv: (kv[1], kv[0][0] == "meeting"))
    addrs = sorted(emails, reverse=True)
    name = next((n for _, _, n in addrs if n), "")
    cadence_days, snooze_until, ignored = settings
    return ContactFacts(
        key=contact,
        emails=tuple(sorted({e for _, e, _ in addrs}, key=lambda e: (e != contact, e))),
        name=name or contact,
        touchpoints=len(touches),
        meetings=sum(1 for ch, _ in touches if ch == "meeting"),
        last_touch=_dt(last),
        last_channel=channel,
        tags=frozenset(tags),
        cadence_days=cadence_days,
        snooze_until=date.fromisoformat(snooze_until) if snooze_until else None,
        ignored=bool(ignored))
