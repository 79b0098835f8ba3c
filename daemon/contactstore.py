"""The store's contacts: addresses, the user's settings of each contact, the steering
as a whole (``daemon.steering`` keeps it in a file too), what a contact's history is, and
what their address-book cards add to it (``cardstore``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from daemon.cardstore import CardTables
from daemon.model import (
    FROM,
    CardPerson,
    ContactFacts,
    ContactSteering,
    Steering,
    TimelineEntry,
)
from daemon.notestore import NoteTables
from daemon.promisestore import PromiseTables
from daemon.sqlbase import bulk_read, epoch, from_epoch


class ContactTables(CardTables, PromiseTables, NoteTables):
    """Contacts and steering; the steering includes the dismissed reminders, the notes
    and the referrals."""

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
        """``gone``'s addresses join ``keep``; its settings fill only gaps in ``keep``'s. The
        user's merges are kept apart from the cards' (``merges``); who is one person is then
        worked out again (``mark_regroup``)."""
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
            self.db.execute("UPDATE merges SET contact=? WHERE contact=?", (keep, gone))
            self.db.execute("INSERT OR REPLACE INTO merges VALUES (?, ?)", (gone, keep))
            self.db.execute("UPDATE addresses SET contact=? WHERE contact=?", (keep, gone))
            self.mark_regroup()

    def unmerge(self, email: str) -> None:
        """``email`` leaves its contact for one of its own, with no settings (a merge folded
        them into the contact it joined) and its own touchpoints (they follow the address):
        the user's merges of it and into it end, and a card that lists it no longer joins
        it to the card's other addresses (``apart``, kept in the steering file)."""
        with self.transaction():
            self.db.execute("DELETE FROM merges WHERE email=? OR contact=?", (email, email))
            if self._on_a_card(email):
                self.db.execute("INSERT OR IGNORE INTO apart VALUES (?)", (email,))
            self.db.execute("UPDATE addresses SET contact=email WHERE email=?", (email,))
            self.mark_regroup()

    def merged_into(self, contact: str) -> list[str]:
        """The addresses the user merged into ``contact`` (not those its cards join)."""
        return sorted(r[0] for r in self.db.execute("SELECT email FROM merges WHERE contact=?",
                                                    (contact,)))

    def set_apart(self, email: str, apart: bool) -> None:
        """Whether cards leave ``email`` out of the person they make (the user's unmerge);
        a merge the user makes again ends it."""
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO apart VALUES (?)" if apart else
                            "DELETE FROM apart WHERE email=?", (email,))
            self.mark_regroup()

    def addresses_of(self, contact: str) -> list[str]:
        """The contact's addresses, its key first."""
        rows = self.db.execute("SELECT email FROM addresses WHERE contact=?", (contact,))
        return sorted((r[0] for r in rows), key=lambda e: (e != contact, e))

    def tags_of(self, contact: str) -> set[str]:
        """The tags the user gave the contact (not those of its cards' groups)."""
        return self._tags().get(contact, set())

    def knows(self, email: str) -> bool:
        """Whether keepwarm has seen ``email`` at all: a contact, or in any message or
        meeting (a dropped one too)."""
        return self.contact_of(email) is not None or self.db.execute(
            "SELECT 1 FROM participants WHERE email=? LIMIT 1", (email,)).fetchone() is not None

    def known_names(self) -> list[tuple[str, str]]:
        """(address, name) of everyone seen or on a card, '' where no name was; for
        did-you-mean."""
        rows = self.db.execute("SELECT email, '' FROM addresses UNION "
                               "SELECT DISTINCT email, name FROM participants")
        return [(str(e), str(n)) for e, n in rows] + [
            (e, card.name) for _, card in self.cards() for e in card.emails]

    def contact_facts(self, until: datetime | None = None) -> list[ContactFacts]:
        """Every contact with at least one touchpoint (up to ``until``), own addresses
        excluded: received mail is never a touchpoint, so someone who only wrote to the
        user is no contact (every vendor mailing twice would be one)."""
        with bulk_read():
            return self._contact_facts(epoch(until) if until else 2**62)

    def _contact_facts(self, limit: int) -> list[ContactFacts]:
        per: dict[str, dict[tuple[str, str], int]] = {}
        for contact, channel, source, at in self.db.execute(
                "SELECT a.contact, p.channel, p.source_id, max(p.at) FROM participants p "
                "JOIN addresses a ON a.email = p.email WHERE p.rule IS NULL AND p.at <= ? "
                "AND p.role != ? GROUP BY a.contact, p.channel, p.source_id", (limit, FROM)):
            per.setdefault(contact, {})[(channel, source)] = at
        emails: dict[str, list[str]] = {}
        for email, contact in self.db.execute("SELECT email, contact FROM addresses"):
            emails.setdefault(contact, []).append(email)
        names = self._names(limit)
        settings = {r[0]: r[1:] for r in self.db.execute(
            "SELECT contact, cadence_days, snooze_until, ignored FROM contacts")}
        tags = self._tags()
        received = self._received(limit)
        cards = self.card_persons()
        words = self._last_words(per)
        out = []
        for contact, touches in per.items():
            facts = _facts(contact, touches, emails.get(contact, []), names.get(contact, ""),
                           settings.get(contact, (None, None, 0)), tags.get(contact, set()),
                           received.get(contact, (0, None)), cards.get(contact))
            subject, meeting, link = words.get(contact, ("", "", ""))
            out.append(replace(facts, last_subject=subject, last_meeting=meeting,
                               last_link=link))
        return out

    def _last_words(self, per: Mapping[str, Mapping[tuple[str, str], int]]
                    ) -> dict[str, tuple[str, str, str]]:
        """contact -> (the subject of its latest message, the summary of its latest meeting,
        the latest message's link), read for those alone: one row per contact and channel,
        whatever the history's length."""
        latest: dict[str, dict[str, str]] = {"email": {}, "meeting": {}}
        for contact, touches in per.items():
            for channel, mine in latest.items():
                times = [(at, src) for (ch, src), at in touches.items() if ch == channel]
                if times:
                    mine[contact] = max(times)[1]
        mails = self._rows("SELECT message_id, subject, link FROM messages WHERE message_id",
                           latest["email"].values())
        meets = self._rows("SELECT meeting_id, summary, '' FROM meetings WHERE meeting_id",
                           latest["meeting"].values())
        words = {}
        for contact in latest["email"].keys() | latest["meeting"].keys():
            subject, link = mails.get(latest["email"].get(contact, ""), ("", ""))
            meeting = meets.get(latest["meeting"].get(contact, ""), ("", ""))[0]
            words[contact] = (subject, meeting, link)
        return words

    def _rows(self, select: str, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """id -> the two columns after it of ``select ... IN (ids)``, in chunks that stay
        under SQLite's limit of bound parameters."""
        wanted, out = sorted(set(ids)), dict[str, tuple[str, str]]()
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i:i + _CHUNK]
            out.update((str(r[0]), (str(r[1]), str(r[2]))) for r in self.db.execute(
                f"{select} IN ({','.join('?' * len(chunk))})", chunk))
        return out

    def card_people(self, own: Collection[str] = ()) -> list[CardPerson]:
        """Every person the address books know, whether or not they were ever in touch
        (birthdays): their cards' fields, with the contact's addresses (merges applied),
        tags (the user's and the cards'), whether it is ignored, and a name from mail
        where no card names them. The user's own card (every address one of ``own`` or
        known as the user's, ``CardTables.own``) is no one to remind them of."""
        mine = {*own, *self.own()}
        with bulk_read():
            people = self.card_persons()
            emails: dict[str, list[str]] = {}
            for email, contact in self.db.execute("SELECT email, contact FROM addresses"):
                emails.setdefault(contact, []).append(email)
            ignored = {r[0] for r in self.db.execute(
                "SELECT contact FROM contacts WHERE ignored")}
            tags = self._tags()
            names = self._names(2**62) if any(not p.name for p in people.values()) else {}
        return [replace(p, name=p.name or names.get(key, "") or key,
                        emails=_key_first(emails.get(key, p.emails), key),
                        tags=p.tags | tags.get(key, set()), ignored=key in ignored)
                for key, p in sorted(people.items())
                if not (p.emails and set(emails.get(key, p.emails)) <= mine)]

    def names(self) -> dict[str, str]:
        """Contact key -> its name: a card's, else the one from mail (``best_name``)."""
        return self._names(2**62) | {k: p.name for k, p in self.card_persons().items()
                                     if p.name}

    def _received(self, limit: int) -> dict[str, tuple[int, int]]:
        """contact -> (messages they wrote to the user up to ``limit``, the latest one's
        time): received mail whose sender is a person (no rule), by any of their addresses."""
        return {r[0]: (r[1], r[2]) for r in self.db.execute(
            "SELECT a.contact, count(DISTINCT p.source_id), max(p.at) FROM participants p "
            "JOIN addresses a ON a.email = p.email WHERE p.channel='email' AND p.role=? "
            "AND p.rule IS NULL AND p.at <= ? GROUP BY a.contact", (FROM, limit))}

    def _names(self, limit: int) -> dict[str, str]:
        """contact -> its name (``best_name``), from every message and meeting up to
        ``limit``: names are read from the observations, so they never go stale."""
        seen: dict[str, list[NameSeen]] = {}
        for contact, email, name, channel, count, last in self.db.execute(
                "SELECT a.contact, p.email, p.name, p.channel, count(*), max(p.at) "
                "FROM participants p JOIN addresses a ON a.email = p.email "
                "WHERE p.name != '' AND p.at <= ? GROUP BY p.email, p.name, p.channel",
                (limit,)):
            seen.setdefault(contact, []).append((email, name, channel, count, last))
        return {contact: best_name(rows) for contact, rows in seen.items()}

    def _tags(self) -> dict[str, set[str]]:
        tags: dict[str, set[str]] = {}
        for contact, tag in self.db.execute("SELECT contact, tag FROM tags"):
            tags.setdefault(contact, set()).add(tag)
        return tags

    def timeline(self, email: str) -> list[TimelineEntry]:
        """Every message and meeting with the contact owning ``email``, dropped ones included;
        a received message is never counted (its rule says so, or why it is automatic)."""
        contact = self.contact_of(email)
        emails = [email] if contact is None else [r[0] for r in self.db.execute(
            "SELECT email FROM addresses WHERE contact=?", (contact,))]
        marks = ",".join("?" * len(emails))
        rows = self.db.execute(
            "SELECT p.at, p.channel, p.email, p.role, coalesce(m.subject, g.summary, ''), "
            "CASE WHEN p.role=? THEN coalesce(p.rule, ?) ELSE p.rule END, "
            "coalesce(m.location, g.location, '') FROM participants p "
            "LEFT JOIN messages m ON p.channel='email' AND m.message_id=p.source_id "
            "LEFT JOIN meetings g ON p.channel='meeting' AND g.meeting_id=p.source_id "
            f"WHERE p.email IN ({marks}) ORDER BY p.at DESC", [FROM, RECEIVED_NOTE, *emails])
        return [TimelineEntry(from_epoch(r[0]), *r[1:]) for r in rows]

    def touches(self, since: datetime, until: datetime) -> list[tuple[str, str, str, datetime]]:
        """(contact, channel, message or meeting id, time) of every counted message and
        meeting in [since, until], once per contact however many of its addresses it reached
        (``keepwarm report``). A set in Python, not SQL's DISTINCT: half the time."""
        with bulk_read():
            rows = set(self.db.execute(
                "SELECT a.contact, p.channel, p.source_id, p.at FROM participants p "
                "JOIN addresses a ON a.email = p.email WHERE p.rule IS NULL AND p.role != ? "
                "AND p.at BETWEEN ? AND ?", (FROM, epoch(since), epoch(until))))
            return [(c, ch, src, from_epoch(at)) for c, ch, src, at in rows]

    # -- the user's steering -----------------------------------------------------------
    def steering(self) -> Steering:
        """Everything the user told keepwarm, as it stands (see ``daemon.steering``)."""
        settings = {c: (days, date.fromisoformat(snooze) if snooze else None, bool(ignored))
                    for c, days, snooze, ignored in self.db.execute(
                        "SELECT contact, cadence_days, snooze_until, ignored FROM contacts")}
        tags = self._tags()
        merged: dict[str, set[str]] = {}
        for email, contact in self.db.execute("SELECT email, contact FROM merges"):
            merged.setdefault(contact, set()).add(email)
        apart = {r[0] for r in self.db.execute("SELECT email FROM apart")}
        contacts = {c: ContactSteering(*settings.get(c, (None, None, False)),
                                       tags=frozenset(tags.get(c, ())),
                                       addresses=frozenset(merged.get(c, ())),
                                       unmerged=c in apart)
                    for c in {*settings, *tags, *merged, *apart}}
        done = {mid: from_epoch(at) for mid, at in self.db.execute(
            "SELECT message_id, at FROM followup_done")}
        return Steering({c: s for c, s in sorted(contacts.items()) if s}, self.dismissals(),
                        done, tuple(self.manual_promises()), tuple(self.notes()),
                        tuple(self.referrals()))

    def apply_steering(self, steering: Steering) -> None:
        """Make the store's steering exactly ``steering`` (what the user's file says); who is
        one person is then worked out again (``mark_regroup``)."""
        merged = {e: c for c, s in steering.contacts.items() for e in s.addresses}
        with self.transaction():
            self.db.execute("DELETE FROM contacts")
            self.db.execute("DELETE FROM tags")
            self.db.execute("DELETE FROM merges")
            self.db.executemany("INSERT OR REPLACE INTO merges VALUES (?, ?)", merged.items())
            self.db.execute("DELETE FROM apart")
            self.db.executemany("INSERT INTO apart VALUES (?)", [
                (c,) for c, s in steering.contacts.items() if s.unmerged])
            self.db.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?)", [
                (c, s.cadence_days, s.snooze_until.isoformat() if s.snooze_until else None,
                 int(s.ignored)) for c, s in steering.contacts.items()])
            self.db.executemany("INSERT INTO tags VALUES (?, ?)", [
                (c, t) for c, s in steering.contacts.items() for t in s.tags])
            # a note's or a referral's address was a contact when it was typed: again now
            typed = {n.email for n in steering.notes} | {
                e for r in steering.referrals for e in (r.source, r.referred)}
            self.db.executemany("INSERT OR IGNORE INTO addresses(email, contact) VALUES (?, ?)",
                                [(c, c) for c in steering.contacts] + list(merged.items())
                                + [(e, e) for e in sorted(typed)])
            self.mark_regroup()
            self.db.execute("DELETE FROM dismissals")
            self.db.executemany("INSERT INTO dismissals VALUES (?, ?, ?, ?)",
                                [(r.kind, r.contact, r.key, d.isoformat())
                                 for r, d in steering.dismissals.items()])
            self.db.execute("DELETE FROM followup_done")
            self.db.executemany("INSERT INTO followup_done VALUES (?, ?)",
                                [(mid, epoch(at)) for mid, at in
                                 steering.followups_done.items()])
            self.set_manual_promises(steering.promises)
            self.set_notes(steering.notes)
            self.set_referrals(steering.referrals)

    def steering_digest(self) -> str | None:
        """The digest of the steering file the store last took its steering from."""
        return self._meta("steering")

    def set_steering_digest(self, digest: str) -> None:
        self._set_meta("steering", digest)


_CHUNK = 900  # bound parameters per query: SQLite before 3.32 allows 999
# what `keepwarm show` says of a received message from a person: not a touchpoint
RECEIVED_NOTE = "received (never a touchpoint)"
# (email, name, channel, how many messages or meetings, the latest one's time)
NameSeen = tuple[str, str, str, int, int]
# what calendars write where a person's name belongs
PLACEHOLDER_NAMES = frozenset({"organizer", "organiser", "attendee", "participant", "guest",
                               "chair", "required", "optional", "unknown", "none"})


def best_name(seen: Iterable[NameSeen]) -> str:
    """The name a person is written to most in mail, ties to the most recent; a meeting's
    name only when no mail names them, since calendars fill CN with placeholders
    ("Organizer") or the address itself, which are never a name. '' when nothing is left."""
    score: dict[tuple[bool, str], tuple[int, int]] = {}
    for email, name, channel, count, last in seen:
        bare = name.strip().strip("<>").strip().lower()
        if bare in PLACEHOLDER_NAMES or bare == email or bare.removeprefix("mailto:") == email:
            continue
        n, at = score.get((channel == "email", name), (0, 0))
        score[(channel == "email", name)] = (n + count, max(at, last))
    if not score:
        return ""
    return max(score.items(), key=lambda kv: (kv[0][0], kv[1], kv[0][1]))[0][1]


def _key_first(emails: Iterable[str], key: str) -> tuple[str, ...]:
    """A contact's addresses, each once: its key, then the others in order."""
    return tuple(sorted(set(emails), key=lambda e: (e != key, e)))


def _facts(contact: str, touches: Mapping[tuple[str, str], int], emails: list[str],
           name: str, settings: tuple[Any, ...], tags: set[str],
           received: tuple[int, int | None], card: CardPerson | None) -> ContactFacts:
    """One contact from its touchpoints (channel, source -> time), addresses, name,
    settings, received mail (count, latest) and cards; the key comes first among the
    addresses, a card's name wins over one from mail, its groups are tags."""
    (channel, _), last = max(touches.items(), key=lambda kv: (kv[1], kv[0][0] == "meeting"))
    cadence_days, snooze_until, ignored = settings
    return ContactFacts(
        key=contact,
        emails=_key_first(emails, contact),
        name=(card.name if card else "") or name or contact,
        touchpoints=len(touches),
        meetings=sum(1 for ch, _ in touches if ch == "meeting"),
        last_touch=from_epoch(last),
        last_channel=channel,
        tags=frozenset(tags) | (card.tags if card else frozenset()),
        cadence_days=cadence_days,
        snooze_until=date.fromisoformat(snooze_until) if snooze_until else None,
        ignored=bool(ignored),
        received=received[0],
        last_received=None if received[1] is None else from_epoch(received[1]),
        carded=card is not None,
        birthday=card.birthday if card else None,
        anniversary=card.anniversary if card else None,
        birthday_text=card.birthday_text if card else "",
        card_notes=card.notes if card else (),
        postal=card.postal if card else "",
        touches=touches)
