"""The cadence store: observations and their verdicts, contacts, cursors and reminders in
SQLite. ``Store`` is the one class that speaks SQL (vdirsyncer's ``SqliteStatus`` is the
pattern), written in four modules: this one (the connection, cursors, account state,
observations and verdicts), ``contactstore``, ``reminderstore`` and ``sqlbase``.

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
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from daemon.contactstore import ContactTables
from daemon.model import (
    FROM,
    JSON,
    Address,
    Attendee,
    Mail,
    Meeting,
    MeetingStatus,
    PartStat,
    Skipped,
    Verdict,
)
from daemon.promisestore import PROMISING, in_order, may_promise, order_rows, text_rows
from daemon.schema import migrate
from daemon.sqlbase import FAULTS, bulk_read, epoch, fault, from_epoch

BULK_CACHE_KIB = 32 * 1024

# channel, source_id, email, name, role, status, at, rule
Row = tuple[str, str, str, str, str, str, int, str | None]
# rule, channel, source_id, email: a verdict that may have changed
Rejudged = tuple[str | None, str, str, str]
# a message's direction; the one participants row of a received message has role FROM
SENT, RECEIVED = "sent", "received"
MESSAGE_COLUMNS = ("message_id, account, at, sender, subject, list_id, list_unsubscribe, "
                   "precedence, auto_submitted, in_reply_to, location, direction, refs, "
                   "thread, autoreply, report, link")


class Store(ContactTables):
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

    def clear_skipped(self, account: str, locations: Iterable[str]) -> None:
        """Items read at last: no longer skipped (``locations`` is read only when the
        account has skipped items at all: a backfill's batches pay one lookup)."""
        if not self.db.execute("SELECT 1 FROM skipped WHERE account=? LIMIT 1",
                               (account,)).fetchone():
            return
        with self.transaction():
            self.db.executemany("DELETE FROM skipped WHERE account=? AND location=?",
                                [(account, loc) for loc in locations])

    def account_states(self) -> dict[str, dict[str, str | int | None]]:
        cols = ["account", "last_attempt", "last_success", "last_error", "last_error_at"]
        rows = self.db.execute(f"SELECT {', '.join(cols)} FROM account_state")
        return {r[0]: dict(zip(cols, r, strict=True)) for r in rows}

    def counts(self) -> dict[str, int]:
        q = {"messages": "SELECT count(*) FROM messages",
             "received": f"SELECT count(*) FROM messages WHERE direction='{RECEIVED}'",
             "meetings": "SELECT count(*) FROM meetings",
             "touchpoints": "SELECT count(*) FROM participants WHERE rule IS NULL "
                            f"AND role != '{FROM}'",
             # those `keepwarm contacts` lists: a card alone makes no contact of anyone
             "contacts": "SELECT count(DISTINCT a.contact) FROM addresses a WHERE EXISTS "
                         "(SELECT 1 FROM participants p WHERE p.email = a.email AND "
                         f"p.rule IS NULL AND p.role != '{FROM}')",
             "reminders": "SELECT count(*) FROM reminders",
             "cards": "SELECT count(*) FROM cards"}
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
        address is the first rule of all, so it only ever turns touchpoints off). Mail
        received from one of them before it was known (an inbox read before the sent
        folder) was the user's own: it becomes sent, its recipients unknown (a received
        message stores none)."""
        if not emails:
            return
        with self.transaction():
            self.db.executemany("INSERT OR IGNORE INTO aliases VALUES (?, ?)",
                                [(a, now.isoformat()) for a in sorted(emails)])
            self.db.executemany("UPDATE participants SET rule=? WHERE email=?",
                                [(rule, a) for a in emails])
            self.db.executemany(f"DELETE FROM participants WHERE role='{FROM}' AND email=?",
                                [(a,) for a in emails])
            self.db.executemany(f"UPDATE messages SET direction='{SENT}' WHERE "
                                f"direction='{RECEIVED}' AND sender=?", [(a,) for a in emails])

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
                 judged: Iterable[tuple[Mail, Sequence[Verdict]]]) -> int:
        """New messages (see ``unknown_messages``) with their verdicts: one per recipient of
        a sent message, one for the sender of a received one (``Mail.received`` is the
        direction here: ingest decides it by From). Returns how many verdicts are
        touchpoints (never a received one's). ``judged`` is read once, as it comes: a
        verdict lives only until it is a row (a backfill's verdicts kept alive at once cost
        the garbage collector a sixth of the ingest time). A sent message that may carry
        a promise keeps its sentences and its recipients' order (``promisestore``), in the
        same transaction: never anything else of a body. A message stored already is left
        as it is, but for the recipients rows and the sentences it lacked (``ingest`` hands
        over a copy that may promise: the sent one, after the copy a Bcc tag drops in the
        inbox, which has no Bcc)."""
        messages, rows, promising = [], [], []
        for m, verdicts in judged:
            if may_promise(m):
                promising.append(m)
            at = epoch(m.date)
            messages.append((m.message_id, account, at, m.sender.email if m.sender else "",
                             m.subject, m.list_id, m.list_unsubscribe, m.precedence,
                             m.auto_submitted, m.in_reply_to, m.location,
                             RECEIVED if m.received else SENT, " ".join(m.references),
                             m.thread, int(m.autoreply), int(m.report), m.link))
            rows += [("email", m.message_id, v.email, v.name, v.role, "", at, v.rule)
                     for v in verdicts]
        with self.transaction():
            self.db.executemany(f"INSERT OR IGNORE INTO messages ({MESSAGE_COLUMNS}) VALUES "
                                f"({','.join('?' * 17)})", messages)
            self.db.executemany("INSERT OR REPLACE INTO promise_texts VALUES (?, ?, ?, ?)",
                                text_rows(promising))
            self.db.executemany("INSERT OR REPLACE INTO promise_order VALUES (?, ?)",
                                order_rows(promising))
            return self._add_participants(rows)

    def put_meetings(self, account: str,
                     judged: Iterable[tuple[Meeting, Sequence[Verdict]]]) -> int:
        """Meetings as they are now (new or changed), replacing what was stored of them;
        returns how many of the verdicts are touchpoints."""
        meetings, rows = [], []
        for m, verdicts in judged:
            at = epoch(m.start)
            meetings.append((m.meeting_id, account, at, epoch(m.end), int(m.all_day), m.status,
                             m.summary, m.location, int(m.free)))
            rows += [("meeting", m.meeting_id, v.email, v.name, v.role, v.status, at, v.rule)
                     for v in verdicts]
        if not meetings:
            return 0
        with self.transaction():
            self.db.executemany("INSERT OR REPLACE INTO meetings VALUES (?,?,?,?,?,?,?,?,?)",
                                meetings)
            self.db.executemany("DELETE FROM participants WHERE channel='meeting' AND "
                                "source_id=?", [(m[0],) for m in meetings])
            return self._add_participants(rows)

    def _add_participants(self, rows: list[Row]) -> int:
        """Store the rows and give every touchpoint address a contact (a contact's name is
        read from the rows when asked for: ``ContactTables._names``); returns how many rows
        are touchpoints."""
        self.db.executemany("INSERT OR IGNORE INTO participants VALUES (?,?,?,?,?,?,?,?)", rows)
        touched = {r[2] for r in rows if r[7] is None and r[4] != FROM}
        self.db.executemany("INSERT OR IGNORE INTO addresses(email, contact) VALUES (?, ?)",
                            [(e, e) for e in sorted(touched)])
        return sum(1 for r in rows if r[7] is None and r[4] != FROM)

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

    def stored_mail(self) -> Iterator[Mail]:
        """Every stored message with what inference reads of it (to judge it again)."""
        return self._mail(-2**62)

    def thread_mail(self, since: datetime) -> list[Mail]:
        """Every message of either direction dated from ``since`` on, oldest first, as the
        source read it (what follow-ups need: who wrote, to whom, in which thread). A sent
        message's To and Cc come from its participants rows (own addresses included), a
        received one has its sender's name and no recipients (they are not stored)."""
        with bulk_read():
            return list(self._mail(epoch(since)))

    def promise_mail(self, since: datetime) -> list[Mail]:
        """The sent messages from ``since`` on that may carry a promise (a plus-addressed
        recipient, or a sentence found in their text), each with its sentences."""
        texts, orders = self.promise_texts(), self.promise_orders()
        with bulk_read():
            return [in_order(replace(m, promises=texts.get(m.message_id, ())),
                             orders.get(m.message_id))
                    for m in self._mail(epoch(since), PROMISING) if not m.received]

    def _mail(self, since: int, only: str = "") -> Iterator[Mail]:
        """The messages from ``since`` on in two queries, one per table (100,000 in about
        0.7 s on a laptop); equal addresses share one ``Address``. Written for speed: columns
        are read in ``Mail``'s field order and passed by position. ``only``: a query of the
        Message-IDs to read, none else."""
        source = f" AND source_id IN ({only})" if only else ""
        message = f" AND message_id IN ({only})" if only else ""
        people: dict[str, dict[str, list[Address]]] = {}
        addresses: dict[tuple[str, str], Address] = {}
        for mid, email, name, role in self.db.execute(
                "SELECT source_id, email, name, role FROM participants "
                f"WHERE channel='email' AND at >= ?{source}", (since,)):
            address = addresses.get((email, name)) or addresses.setdefault(
                (email, name), Address(email, name))
            roles = people.get(mid)
            if roles is None:
                people[mid] = {role: [address]}
            elif role in roles:
                roles[role].append(address)
            else:
                roles[role] = [address]
        none: dict[str, list[Address]] = {}
        for (mid, at, sender, subject, list_id, unsub, prec, auto, in_reply_to, location,
             refs, thread, autoreply, report, link, direction) in self.db.execute(
                "SELECT message_id, at, sender, subject, list_id, list_unsubscribe, "
                "precedence, auto_submitted, in_reply_to, location, refs, thread, autoreply, "
                f"report, link, direction FROM messages WHERE at >= ?{message} "
                "ORDER BY at, message_id",
                (since,)):
            p = people.get(mid, none)
            frm = p[FROM][0] if FROM in p else (
                addresses.get((sender, "")) or Address(sender) if sender else None)
            yield Mail(mid, datetime.fromtimestamp(at, UTC), frm,
                       tuple(p.get("to", ())), tuple(p.get("cc", ())), tuple(p.get("bcc", ())),
                       subject, list_id, unsub, prec, auto, in_reply_to, location,
                       tuple(refs.split()) if refs else (), thread, autoreply == 1,
                       report == 1, link, direction == RECEIVED)

    def mark_followup_done(self, message_ids: Iterable[str], at: datetime) -> None:
        """The user's `keepwarm done`: no follow-up on these messages (the first mark of a
        message is kept). The steering file keeps the marks too (``daemon.steering``)."""
        with self.transaction():
            self.db.executemany("INSERT OR IGNORE INTO followup_done VALUES (?, ?)",
                                [(mid, epoch(at)) for mid in message_ids])

    def followups_done(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT message_id FROM followup_done")}

    def stored_meetings(self) -> Iterator[Meeting]:
        people: dict[str, list[tuple[str, str, str, str]]] = {}
        for mid, email, name, role, status in self.db.execute(
                "SELECT source_id, email, name, role, status FROM participants "
                "WHERE channel='meeting'"):
            people.setdefault(mid, []).append((email, name, role, status))
        for mid, start, end, all_day, status, free in self.db.execute(
                "SELECT meeting_id, start, end, all_day, status, free FROM meetings"):
            rows = people.get(mid, [])
            organizer = next((Address(e, n) for e, n, r, _ in rows if r == "organizer"), None)
            attendees = tuple(Attendee(Address(e, n), cast(PartStat, s)) for e, n, r, s in rows
                              if r != "organizer" or s != "accepted")
            yield Meeting(mid, from_epoch(start), from_epoch(end), organizer, attendees,
                          cast(MeetingStatus, status), bool(all_day), free=bool(free))

    def busy_spans(self, start: datetime, end: datetime, own_rule: str
                   ) -> list[tuple[datetime, datetime]]:
        """The timed meetings overlapping [start, end) the user is busy in: not shown as free,
        not cancelled, not declined by the user (whose own row's rule is ``own_rule``); for placing
        reminders around them. A scan of one table, and the participants' key."""
        return [(from_epoch(s), from_epoch(e)) for s, e in self.db.execute(
            "SELECT start, end FROM meetings m WHERE all_day=0 AND free=0 AND status!='cancelled' "
            "AND end>? AND start<? AND NOT EXISTS (SELECT 1 FROM participants p WHERE "
            "p.channel='meeting' AND p.source_id=m.meeting_id AND p.rule=? "
            "AND p.status='declined') ORDER BY start", (epoch(start), epoch(end), own_rule))]

    def ended_meetings(self, since: datetime, until: datetime) -> list[Meeting]:
        """The meetings that ended in [since, until], and the first stored occurrence of each
        recurring series among them (id ``UID/STAMP``), however old: what a thank-you needs
        of them (id, times, summary; no attendees: their touchpoints say who counted)."""
        rows = self.db.execute("SELECT meeting_id, start, end, summary FROM meetings "
                               "WHERE end>=? AND end<=?", (epoch(since), epoch(until))).fetchall()
        for uid in {r[0].rpartition("/")[0] for r in rows if "/" in r[0]}:
            # "0" follows "/": the range is every id that starts with UID/, on the key's index
            rows += self.db.execute("SELECT meeting_id, start, end, summary FROM meetings "
                                    "WHERE meeting_id>? AND meeting_id<? ORDER BY start LIMIT 1",
                                    (uid + "/", uid + "0")).fetchall()
        return [Meeting(mid, from_epoch(start), from_epoch(end), summary=summary)
                for mid, start, end, summary in dict.fromkeys(rows)]

    def update_verdicts(self, updates: Sequence[Rejudged]) -> None:
        """Verdicts judged again; an address that became a touchpoint gets a contact."""
        with self.transaction():
            self.db.executemany("UPDATE participants SET rule=? WHERE channel=? AND "
                                "source_id=? AND email=? AND rule IS NOT ?",
                                [(*u, u[0]) for u in updates])
            self.db.execute("INSERT OR IGNORE INTO addresses(email, contact) "
                            "SELECT DISTINCT email, email FROM participants "
                            f"WHERE rule IS NULL AND role != '{FROM}'")

