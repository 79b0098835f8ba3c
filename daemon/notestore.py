"""The store's notes and referrals (issue 17): what the user typed about people (`keepwarm
note`) and who referred whom (`keepwarm referred`). Both are the user's word, so the
steering file keeps them too (``daemon.steering``).

Both are kept by the address the user gave, not by contact key: a contact's key changes
with merges and address books, an address does not. A contact's notes are those of all
of its addresses, so a note follows its address into whatever contact holds it."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime

from daemon.model import Note, Referral
from daemon.sqlbase import Tables


def _made(at: datetime) -> str:
    """The stored form of a note's time: ISO, UTC, to the microsecond (it orders them)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class NoteTables(Tables):
    """Notes and referrals."""

    def add_note(self, note: Note) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO notes VALUES (?, ?, ?)",
                            (note.email, _made(note.made), note.text))

    def delete_note(self, note: Note) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM notes WHERE email=? AND made=?",
                            (note.email, _made(note.made)))

    def notes(self, emails: Collection[str] | None = None) -> list[Note]:
        """Every note (or those written for ``emails``), oldest first."""
        rows = self.db.execute("SELECT email, made, text FROM notes ORDER BY made, email")
        return [Note(e, datetime.fromisoformat(m), t) for e, m, t in rows
                if emails is None or e in emails]

    def set_notes(self, notes: Iterable[Note]) -> None:
        """Make the notes exactly ``notes`` (the steering file's)."""
        with self.transaction():
            self.db.execute("DELETE FROM notes")
            self.db.executemany("INSERT OR REPLACE INTO notes VALUES (?, ?, ?)",
                                [(n.email, _made(n.made), n.text) for n in notes])

    def latest_notes(self) -> dict[str, Note]:
        """Contact key -> the latest note written for any of its addresses (the address
        itself for one no contact holds)."""
        latest: dict[str, Note] = {}
        for contact, email, made, text in self.db.execute(
                "SELECT coalesce(a.contact, n.email), n.email, n.made, n.text FROM notes n "
                "LEFT JOIN addresses a ON a.email = n.email ORDER BY n.made, n.email"):
            latest[contact] = Note(email, datetime.fromisoformat(made), text)
        return latest

    def put_referral(self, referral: Referral) -> None:
        """Record who referred whom; the same pair again takes the new day and thanks."""
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO referrals VALUES (?, ?, ?, ?)",
                            _referral_row(referral))

    def referrals(self) -> list[Referral]:
        """Every referral, by day, then source and referred address."""
        return [Referral(s, r, date.fromisoformat(d), bool(t)) for s, r, d, t in self.db.execute(
            "SELECT source, referred, day, thank FROM referrals ORDER BY day, source, referred")]

    def set_referrals(self, referrals: Iterable[Referral]) -> None:
        """Make the referrals exactly ``referrals`` (the steering file's)."""
        with self.transaction():
            self.db.execute("DELETE FROM referrals")
            self.db.executemany("INSERT OR REPLACE INTO referrals VALUES (?, ?, ?, ?)",
                                [_referral_row(r) for r in referrals])


def _referral_row(r: Referral) -> tuple[str, str, str, int]:
    return (r.source, r.referred, r.day.isoformat(), int(r.thank))
