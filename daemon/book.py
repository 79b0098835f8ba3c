"""The address book over the store: who the contacts are, and the user's steering of them
(cadence, tags, snooze, ignore, merge). Changes take effect at the next sync."""

from __future__ import annotations

from datetime import UTC, date, datetime

from daemon.cadence import ContactFacts
from daemon.errors import UsageError
from daemon.store import Store, TimelineEntry


def normalise(address: str) -> str:
    email = address.strip().strip("<>").lower()
    if email.count("@") != 1 or not all(email.split("@")):
        raise UsageError(f"{address!r} is not an e-mail address")
    return email


def contact_of(store: Store, email: str, create: bool = False) -> str:
    """The contact key owning ``email``; with create, a new one-address contact if unknown."""
    row = store.db.execute("SELECT contact FROM addresses WHERE email=?", (email,)).fetchone()
    if row:
        return str(row[0])
    if not create:
        raise UsageError(f"keepwarm has never seen {email}; check `keepwarm contacts`")
    store.db.execute("INSERT INTO addresses(email, contact) VALUES (?, ?)", (email, email))
    return email


def _settings_row(store: Store, contact: str) -> None:
    store.db.execute("INSERT OR IGNORE INTO contacts(contact) VALUES (?)", (contact,))


def set_cadence(store: Store, address: str, days: int | None) -> str:
    with store.transaction() as db:
        contact = contact_of(store, normalise(address), create=True)
        _settings_row(store, contact)
        db.execute("UPDATE contacts SET cadence_days=? WHERE contact=?", (days, contact))
    return contact


def set_tags(store: Store, address: str, tags: list[str], add: bool) -> str:
    with store.transaction() as db:
        contact = contact_of(store, normalise(address), create=True)
        rows = [(contact, t.strip().lower()) for t in tags if t.strip()]
        if add:
            db.executemany("INSERT OR IGNORE INTO tags VALUES (?, ?)", rows)
        else:
            db.executemany("DELETE FROM tags WHERE contact=? AND tag=?", rows)
    return contact


def snooze(store: Store, address: str, until: date | None) -> str:
    with store.transaction() as db:
        contact = contact_of(store, normalise(address), create=True)
        _settings_row(store, contact)
        db.execute("UPDATE contacts SET snooze_until=? WHERE contact=?",
                   (until.isoformat() if until else None, contact))
    return contact


def set_ignored(store: Store, address: str, ignored: bool) -> str:
    with store.transaction() as db:
        contact = contact_of(store, normalise(address), create=True)
        _settings_row(store, contact)
        db.execute("UPDATE contacts SET ignored=? WHERE contact=?", (int(ignored), contact))
    return contact


def merge(store: Store, address: str, other: str) -> str:
    """Make ``other``'s contact part of ``address``'s; its own settings fill only gaps."""
    with store.transaction() as db:
        keep = contact_of(store, normalise(address), create=True)
        gone = contact_of(store, normalise(other), create=True)
        if keep == gone:
            return keep
        _settings_row(store, keep)
        _settings_row(store, gone)
        db.execute(
            "UPDATE contacts SET "
            "cadence_days=coalesce(cadence_days, (SELECT cadence_days FROM contacts o "
            "WHERE o.contact=?)), "
            "snooze_until=coalesce(snooze_until, (SELECT snooze_until FROM contacts o "
            "WHERE o.contact=?)), "
            "ignored=max(ignored, (SELECT ignored FROM contacts o WHERE o.contact=?)) "
            "WHERE contact=?",
            (gone, gone, gone, keep))
        db.execute("INSERT OR IGNORE INTO tags SELECT ?, tag FROM tags WHERE contact=?",
                   (keep, gone))
        db.execute("DELETE FROM tags WHERE contact=?", (gone,))
        db.execute("DELETE FROM contacts WHERE contact=?", (gone,))
        db.execute("UPDATE addresses SET contact=? WHERE contact=?", (keep, gone))
    return keep


def facts(store: Store, until: datetime | None = None) -> list[ContactFacts]:
    """Every contact with at least one touchpoint (up to ``until``), own addresses excluded."""
    limit = int(until.timestamp()) if until else 2**62
    per: dict[str, dict[tuple[str, str], int]] = {}
    for contact, channel, source, at in store.db.execute(
            "SELECT a.contact, p.channel, p.source_id, max(p.at) FROM participants p "
            "JOIN addresses a ON a.email = p.email WHERE p.rule IS NULL AND p.at <= ? "
            "GROUP BY a.contact, p.channel, p.source_id", (limit,)):
        per.setdefault(contact, {})[(channel, source)] = at
    emails: dict[str, list[tuple[int, str, str]]] = {}
    for email, contact, name, name_at in store.db.execute(
            "SELECT email, contact, name, name_at FROM addresses"):
        emails.setdefault(contact, []).append((name_at, email, name))
    settings = {r[0]: r[1:] for r in store.db.execute(
        "SELECT contact, cadence_days, snooze_until, ignored FROM contacts")}
    tags: dict[str, set[str]] = {}
    for contact, tag in store.db.execute("SELECT contact, tag FROM tags"):
        tags.setdefault(contact, set()).add(tag)
    out = []
    for contact, touches in per.items():
        (channel, _), last = max(touches.items(), key=lambda kv: (kv[1], kv[0][0] == "meeting"))
        addrs = sorted(emails.get(contact, []), reverse=True)
        name = next((n for _, _, n in addrs if n), "")
        cadence_days, snooze_until, ignored = settings.get(contact, (None, None, 0))
        out.append(ContactFacts(
            key=contact,
            emails=tuple(sorted({e for _, e, _ in addrs}, key=lambda e: (e != contact, e))),
            name=name or contact,
            touchpoints=len(touches),
            meetings=sum(1 for ch, _ in touches if ch == "meeting"),
            last_touch=datetime.fromtimestamp(last, UTC),
            last_channel=channel,
            tags=frozenset(tags.get(contact, ())),
            cadence_days=cadence_days,
            snooze_until=date.fromisoformat(snooze_until) if snooze_until else None,
            ignored=bool(ignored)))
    return out


def timeline(store: Store, email: str) -> list[TimelineEntry]:
    """Every message and meeting with the contact owning ``email``, dropped ones included."""
    row = store.db.execute("SELECT contact FROM addresses WHERE email=?", (email,)).fetchone()
    emails = [email] if row is None else [r[0] for r in store.db.execute(
        "SELECT email FROM addresses WHERE contact=?", (row[0],))]
    marks = ",".join("?" * len(emails))
    rows = store.db.execute(
        "SELECT p.at, p.channel, p.email, p.role, coalesce(m.subject, g.summary, ''), p.rule, "
        "coalesce(m.location, g.location, '') FROM participants p "
        "LEFT JOIN messages m ON p.channel='email' AND m.message_id=p.source_id "
        "LEFT JOIN meetings g ON p.channel='meeting' AND g.meeting_id=p.source_id "
        f"WHERE p.email IN ({marks}) ORDER BY p.at DESC", emails)
    return [TimelineEntry(datetime.fromtimestamp(r[0], UTC), *r[1:]) for r in rows]
