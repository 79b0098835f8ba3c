"""The store's address books: each account's cards as its source last gave them, the
accounts' card cursors, and what decides who is one person (the user's merges and
unmerges, every card's addresses) with the contact key each address is filed under.

Which addresses make one person, and which address keys them, is a rule
(``daemon.grouping``); this module hands out what the rule reads (``people_facts``) and
saves what it decided (``set_grouping``), as ``rejudge`` does for verdicts."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace

from daemon.model import FROM, JSON, Card, CardPerson, PartialDate
from daemon.reminderstore import ReminderTables

CARD_COLUMNS = ("card_id, uid, name, emails, groups, starred, birthday, anniversary, "
                "birthday_text, notes, location, postal")
STARRED = "starred"  # the tag of a starred Google contact or an Outlook favourite
GROUP = "group:"  # the tags an address book's groups become: group:<name>
# what ``people_facts`` hands the grouping rule: every address and its contact key now, the
# user's merges (address -> the key it joined), each card's addresses, the addresses the
# user unmerged from their cards, the keys the user steered or merged into, the keys holding
# a reminder, and each address's first touchpoint (unix seconds)
PeopleFacts = tuple[dict[str, str], dict[str, str], list[tuple[str, ...]], set[str],
                    set[str], set[str], dict[str, int]]


def date_text(d: PartialDate | None) -> str | None:
    """A birthday as stored and as JSON has it: ``1986-04-12``, or ``--04-12`` without a
    year (ISO 8601's form, vCard 4's with dashes)."""
    if d is None:
        return None
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}" if d.year else f"--{d.month:02d}-{d.day:02d}"


def parse_date(text: str | None) -> PartialDate | None:
    if not text:
        return None
    year, month, day = text.rsplit("-", 2)
    return PartialDate(int(month), int(day), int(year) if year.strip("-") else None)


def card_tags(card: Card) -> frozenset[str]:
    """The tags a card gives its person: ``group:<name>`` per group, ``starred``."""
    return frozenset({f"{GROUP}{g}" for g in card.groups} | ({STARRED} if card.starred else set()))


class CardTables(ReminderTables):
    """Cards, card cursors, merges and who is one person."""

    def card_cursor(self, account: str) -> JSON | None:
        row = self.db.execute("SELECT cursor FROM card_cursors WHERE account=?",
                              (account,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_card_cursor(self, account: str, cursor: JSON) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO card_cursors VALUES (?, ?)",
                            (account, json.dumps(cursor, sort_keys=True)))

    def put_cards(self, account: str, cards: Sequence[Card], gone: Iterable[str] = ()) -> bool:
        """Cards new or changed replace what was stored of them, ``gone`` ones go; True when
        some card's addresses changed (who is one person must be worked out again)."""
        before, gone = self._card_emails(account), list(gone)
        rows = [(account, c.card_id, c.uid, c.name, json.dumps(list(c.emails)),
                 json.dumps(list(c.groups)), int(c.starred), date_text(c.birthday),
                 date_text(c.anniversary), c.birthday_text, json.dumps(list(c.notes)),
                 c.location, c.postal) for c in cards]
        after = {str(r[1]): str(r[4]) for r in rows} | dict.fromkeys(gone, "[]")
        with self.transaction():
            self.db.executemany(f"INSERT OR REPLACE INTO cards (account, {CARD_COLUMNS}) "
                                f"VALUES ({','.join('?' * 13)})", rows)
            self.db.executemany("DELETE FROM cards WHERE account=? AND card_id=?",
                                [(account, g) for g in gone])
        return any(before.get(cid, "[]") != emails for cid, emails in after.items())

    def drop_cards_except(self, account: str, listed: Iterable[str]) -> bool:
        """The end of a full listing: the account's cards it did not name are gone; True
        when one of them had an address."""
        keep = set(listed)
        gone = [cid for cid in self._card_emails(account) if cid not in keep]
        return self.put_cards(account, [], gone)

    def card_ids(self, account: str) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT card_id FROM cards WHERE account=?",
                                              (account,))}

    def _card_emails(self, account: str) -> dict[str, str]:
        return dict(self.db.execute("SELECT card_id, emails FROM cards WHERE account=?",
                                    (account,)).fetchall())

    def cards(self) -> list[tuple[str, Card]]:
        """(account, card) of every stored card, by account and card id."""
        return [(r[0], _card(r[1:])) for r in self.db.execute(
            f"SELECT account, {CARD_COLUMNS} FROM cards ORDER BY account, card_id")]

    def cards_of(self, contact: str) -> list[tuple[str, Card]]:
        """The cards of one contact (those whose first address not unmerged is its)."""
        keys = self._card_keys()
        return [(account, card) for account, card in self.cards()
                if keys(account, card) == contact]

    def _on_a_card(self, email: str) -> bool:
        return any(email in card.emails for _, card in self.cards())

    def share_a_card(self, one: str, other: str) -> bool:
        """Whether some card lists both addresses."""
        return any(one in card.emails and other in card.emails for _, card in self.cards())

    def card_tags_of(self, contact: str) -> frozenset[str]:
        """The tags a contact's cards give it (``group:<name>``, ``starred``)."""
        person = self.card_persons().get(contact)
        return person.tags if person else frozenset()

    def _card_keys(self) -> _KeyOf:
        contact = dict(self.db.execute("SELECT email, contact FROM addresses").fetchall())
        return _KeyOf(contact, self._apart())

    def _apart(self) -> set[str]:
        """The addresses no card joins to others: those the user unmerged from their cards,
        and the user's own, on a card shared with someone else."""
        return {r[0] for r in self.db.execute("SELECT email FROM apart")} | self.own()

    def own(self) -> set[str]:
        """The user's addresses: learned (``aliases``) and configured (``set_own``)."""
        return {r[0] for r in self.db.execute("SELECT email FROM aliases")} | set(
            json.loads(self._meta("own") or "[]"))

    def set_own(self, addresses: Collection[str]) -> None:
        """The user's configured addresses, for what the store decides without the config
        (who is one person): a change of them is worked out again."""
        value = json.dumps(sorted(addresses))
        if self._meta("own") != value:
            with self.transaction():
                self._set_meta("own", value)
                self.mark_regroup()

    def card_persons(self) -> dict[str, CardPerson]:
        """contact key -> the person its cards make: the first non-empty of each field over
        its cards (by account, then card id), their tags together, the notes of all. Only
        what the cards say: the user's tags and ignores are ``ContactTables``' to add."""
        keys = self._card_keys()
        people: dict[str, CardPerson] = {}
        for account, card in self.cards():
            key = keys(account, card)
            have = people.get(key)
            if have is None:
                people[key] = CardPerson(key, card.name, card.emails, card.birthday,
                                         card.anniversary, card.birthday_text, card_tags(card),
                                         source=account, notes=card.notes,
                                         postal=card.postal)
                continue
            people[key] = replace(
                have, name=have.name or card.name, birthday=have.birthday or card.birthday,
                anniversary=have.anniversary or card.anniversary,
                birthday_text=have.birthday_text or card.birthday_text,
                tags=have.tags | card_tags(card), notes=have.notes + card.notes,
                postal=have.postal or card.postal)
        return people

    # -- who is one person ----------------------------------------------------------
    def regroup_needed(self) -> bool:
        return self._meta("regroup") is not None

    def mark_regroup(self) -> None:
        """Cards or merges changed: who is one person is worked out again (``set_grouping``
        clears the mark; one left by a crash is seen at the next sync)."""
        self._set_meta("regroup", "1")

    def people_facts(self) -> PeopleFacts:
        """What the grouping rule reads (see ``PeopleFacts``)."""
        db = self.db
        steered = {r[0] for r in db.execute("SELECT contact FROM contacts UNION "
                                            "SELECT contact FROM tags UNION "
                                            "SELECT contact FROM merges")}
        first = dict(db.execute("SELECT email, min(at) FROM participants WHERE rule IS NULL "
                                "AND role != ? GROUP BY email", (FROM,)).fetchall())
        return (dict(db.execute("SELECT email, contact FROM addresses").fetchall()),
                dict(db.execute("SELECT email, contact FROM merges").fetchall()),
                [tuple(json.loads(r[0])) for r in db.execute(
                    "SELECT emails FROM cards WHERE emails != '[]' ORDER BY account, card_id")],
                self._apart(), steered,
                {r[0] for r in db.execute("SELECT contact FROM reminders WHERE contact != ''")},
                first)

    def set_grouping(self, keys: Mapping[str, str]) -> None:
        """Every address's contact key as the grouping rule decided it (new addresses, from
        cards, get their row); clears the mark of ``mark_regroup``."""
        with self.transaction():
            now = dict(self.db.execute("SELECT email, contact FROM addresses").fetchall())
            self.db.executemany("INSERT OR REPLACE INTO addresses(email, contact) VALUES (?, ?)",
                                [(e, k) for e, k in keys.items() if now.get(e) != k])
            self.db.execute("DELETE FROM meta WHERE key='regroup'")


class _KeyOf:
    """The contact key of a card: its first address's contact, an address the user unmerged
    from it only when it has no other; ``card:<account>/<uid or card_id>`` with none."""

    def __init__(self, contact: Mapping[str, str], apart: set[str]) -> None:
        self.contact, self.apart = contact, apart

    def __call__(self, account: str, card: Card) -> str:
        emails = [e for e in card.emails if e not in self.apart] or list(card.emails)
        if not emails:
            return f"card:{account}/{card.uid or card.card_id}"
        return self.contact.get(emails[0], emails[0])


def _card(row: Sequence[object]) -> Card:
    cid, uid, name, emails, groups, starred, bday, anniv, text, notes, location, postal = row
    return Card(str(cid), str(uid), str(name), tuple(json.loads(str(emails))),
                tuple(json.loads(str(groups))), bool(starred), parse_date(_opt(bday)),
                parse_date(_opt(anniv)), str(text), tuple(json.loads(str(notes))),
                str(location), str(postal))


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
