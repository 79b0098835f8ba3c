"""The store's promises (issue 15): the sentences found in the user's sent text (the
sentence and its day, never a body), the promises made with `keepwarm remind`, the done
marks, and the times that decide whether a promise was kept. The plus tags need no table:
a sent message keeps a row for every recipient, the tagged address among them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime

from daemon.model import FROM, Address, Mail, Promise, PromiseText
from daemon.sqlbase import Tables, from_epoch

SENTENCE_MAX = 200  # characters of a found sentence the store keeps (the connector cuts it)
# the sent messages that may carry a promise: a recipient with a plus (the user's own
# plus-address is never a touchpoint, so it has a rule), or a sentence found in its text
PROMISING = ("SELECT source_id FROM participants WHERE channel='email' AND rule IS NOT NULL "
             "AND instr(email, '+') > 0 UNION SELECT message_id FROM promise_texts "
             "UNION SELECT message_id FROM promise_order")
# email -> the times of what happened with them
Times = dict[str, list[datetime]]


def text_rows(mails: Iterable[Mail]) -> list[tuple[str, int, str, str | None]]:
    """The rows of ``promise_texts`` for the sentences found in ``mails``."""
    return [(m.message_id, n, t.sentence[:SENTENCE_MAX], t.due.isoformat() if t.due else None)
            for m in mails for n, t in enumerate(m.promises)]


def may_promise(m: Mail) -> bool:
    """Whether a message may carry a promise: sent, with a sentence found in its text or a
    plus-addressed recipient (whether that is the user's tag is decided when judged)."""
    return not m.received and bool(m.promises or any("+" in a.email for a in m.recipients))


def order_rows(mails: Iterable[Mail]) -> list[tuple[str, str]]:
    """The rows of ``promise_order``: each message's recipients in header order."""
    return [(m.message_id, " ".join(a.email for a in m.recipients)) for m in mails]


def in_order(mail: Mail, order: str | None) -> Mail:
    """``mail`` with its To, Cc and Bcc in header order again (the participants rows keep
    no order; without one stored, as from before schema 7, they stay by address)."""
    if not order:
        return mail
    place = {e: i for i, e in enumerate(order.split())}

    def sort(people: tuple[Address, ...]) -> tuple[Address, ...]:
        return tuple(sorted(people, key=lambda a: place.get(a.email, len(place))))

    return replace(mail, to=sort(mail.to), cc=sort(mail.cc), bcc=sort(mail.bcc))


class PromiseTables(Tables):
    """Promises and the facts that judge them."""

    def promise_texts(self) -> dict[str, tuple[PromiseText, ...]]:
        """Message-ID -> the sentences found in it, in the order found."""
        found: dict[str, list[PromiseText]] = {}
        for mid, sentence, due in self.db.execute(
                "SELECT message_id, sentence, due FROM promise_texts ORDER BY message_id, n"):
            found.setdefault(mid, []).append(
                PromiseText(sentence, date.fromisoformat(due) if due else None))
        return {mid: tuple(texts) for mid, texts in found.items()}

    def promise_orders(self) -> dict[str, str]:
        """Message-ID -> its recipients in header order (``order_rows``)."""
        return dict(self.db.execute("SELECT message_id, recipients FROM promise_order"))

    def add_manual_promise(self, p: Promise) -> None:
        """What `keepwarm remind` recorded (the steering file keeps it too)."""
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO promises_manual VALUES (?,?,?,?,?,?,?)",
                            _manual_row(p))

    def manual_promises(self) -> list[Promise]:
        return [Promise(email, name or email, date.fromisoformat(due),
                        datetime.fromisoformat(made), "manual", key, note=note, when=when)
                for key, email, name, due, made, note, when in self.db.execute(
                    "SELECT key, email, name, due, made, note, when_text FROM promises_manual "
                    "ORDER BY due, key")]

    def set_manual_promises(self, promises: Iterable[Promise]) -> None:
        """Make the manual promises exactly ``promises`` (the steering file's)."""
        with self.transaction():
            self.db.execute("DELETE FROM promises_manual")
            self.db.executemany("INSERT OR REPLACE INTO promises_manual VALUES (?,?,?,?,?,?,?)",
                                [_manual_row(p) for p in promises])

    def done_marks(self) -> dict[str, datetime]:
        """`keepwarm done`: Message-ID or promise key -> when (a mark from before times were
        kept counts from the start)."""
        return {key: from_epoch(at or 0) for key, at in self.db.execute(
            "SELECT message_id, at FROM followup_done")}

    def ignored_addresses(self) -> set[str]:
        """Every address of the contacts the user ignores."""
        return {r[0] for r in self.db.execute(
            "SELECT a.email FROM addresses a JOIN contacts c ON c.contact = a.contact "
            "WHERE c.ignored")}

    def promise_times(self, emails: Collection[str]) -> tuple[Times, Times]:
        """(touchpoints, mail they wrote), each a list of times per address of ``emails``;
        a merged contact's times are under each of its addresses. Automatic mail is none."""
        touched: Times = {e: [] for e in emails}
        heard: Times = {e: [] for e in emails}
        marks = ",".join("?" * len(emails))
        rows = self.db.execute(
            "SELECT a.email, p.at, p.role FROM addresses a "
            "JOIN addresses b ON b.contact = a.contact "
            "JOIN participants p ON p.email = b.email AND p.rule IS NULL "
            f"WHERE a.email IN ({marks}) UNION "
            "SELECT p.email, p.at, p.role FROM participants p "
            f"WHERE p.rule IS NULL AND p.role = ? AND p.email IN ({marks})",
            [*emails, FROM, *emails])
        for email, at, role in rows:
            (heard if role == FROM else touched)[email].append(from_epoch(at))
        return touched, heard


def _manual_row(p: Promise) -> Sequence[object]:
    return (p.key, p.email, p.name if p.name != p.email else "", p.due.isoformat(),
            p.made.isoformat(), p.note, p.when)
