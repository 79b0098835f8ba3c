"""The store's contacts: addresses, the user's settings of each contact, the steering
as a whole (``daemon.steering`` keeps it in a file too), and what a contact's history is."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from daemon.model import ContactFacts, ContactSteering, Steering, TimelineEntry
from daemon.reminderstore import ReminderTables
from daemon.sqlbase import epoch, from_epoch


class ContactTables(ReminderTables):
    """Contacts and steering; the steering includes the dismissed reminders."""

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
        limit = epoch(until) if until else 2**62
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
        tags = self._tags()
        return [_facts(contact, touches, emails.get(contact, []),
                       settings.get(contact, (None, None, 0)), tags.get(contact, set()))
                for contact, touches in per.items()]

    def _tags(self) -> dict[str, set[str]]:
        tags: dict[str, set[str]] = {}
        for contact, tag in self.db.execute("SELECT contact, tag FROM tags"):
            tags.setdefault(contact, set()).add(tag)
        return tags

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
        return [TimelineEntry(from_epoch(r[0]), *r[1:]) for r in rows]

    # -- the user's steering -----------------------------------------------------------
    def steering(self) -> Steering:
        """Everything the user told keepwarm, as it stands (see ``daemon.steering``)."""
        settings = {c: (days, date.fromisoformat(snooze) if snooze else None, bool(ignored))
                    for c, days, snooze, ignored in self.db.execute(
                        "SELECT contact, cadence_days, snooze_until, ignored FROM contacts")}
        tags = self._tags()
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
        last_touch=from_epoch(last),
        last_channel=channel,
        tags=frozenset(tags),
        cadence_days=cadence_days,
        snooze_until=date.fromisoformat(snooze_until) if snooze_until else None,
        ignored=bool(ignored))
