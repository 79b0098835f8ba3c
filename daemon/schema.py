"""The store's schema as an ordered list of migrations; ``PRAGMA user_version`` is the index."""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE messages (
        message_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        at INTEGER NOT NULL,              -- unix seconds, UTC
        sender TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        list_id TEXT NOT NULL DEFAULT '',
        list_unsubscribe TEXT NOT NULL DEFAULT '',
        precedence TEXT NOT NULL DEFAULT '',
        auto_submitted TEXT NOT NULL DEFAULT '',
        in_reply_to TEXT NOT NULL DEFAULT '',
        location TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE meetings (
        meeting_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        all_day INTEGER NOT NULL,
        status TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '',
        location TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX meetings_account ON meetings(account);
    -- one row per (message or meeting, person): a touchpoint when rule IS NULL
    CREATE TABLE participants (
        channel TEXT NOT NULL,            -- email | meeting
        source_id TEXT NOT NULL,
        email TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT '',
        at INTEGER NOT NULL,
        rule TEXT,
        PRIMARY KEY (channel, source_id, email)
    ) WITHOUT ROWID;
    CREATE INDEX participants_email ON participants(email, at);
    CREATE TABLE aliases (email TEXT PRIMARY KEY, first_seen TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE addresses (
        email TEXT PRIMARY KEY,
        contact TEXT NOT NULL,            -- the contact's key: its first address
        name TEXT NOT NULL DEFAULT '',
        name_at INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX addresses_contact ON addresses(contact);
    CREATE TABLE contacts (
        contact TEXT PRIMARY KEY,
        cadence_days INTEGER,
        snooze_until TEXT,
        ignored INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE tags (contact TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (contact, tag))
        WITHOUT ROWID;
    CREATE TABLE cursors (account TEXT PRIMARY KEY, cursor TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE account_state (
        account TEXT PRIMARY KEY,
        last_attempt TEXT, last_success TEXT, last_error TEXT, last_error_at TEXT,
        skipped_total INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE skipped (
        account TEXT NOT NULL, location TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (account, location)
    ) WITHOUT ROWID;
    -- the reminder keepwarm keeps for a contact, confirmed=0 marks an intent not yet applied
    CREATE TABLE reminders (
        contact TEXT PRIMARY KEY,
        uid TEXT NOT NULL,
        start TEXT NOT NULL,
        prev_start TEXT,
        due TEXT NOT NULL,
        pinned INTEGER NOT NULL DEFAULT 0,
        confirmed INTEGER NOT NULL DEFAULT 0,
        remote_id TEXT NOT NULL DEFAULT '',
        etag TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    CREATE TABLE dismissals (contact TEXT PRIMARY KEY, due TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    """,
    # 2: reminders of several kinds: a reminder is (kind, contact, key). The rows of schema 1
    # were all follow-ups, but for the sign-in notices keyed 'keepwarm:signin:ACCOUNT'.
    """
    CREATE TABLE reminders2 (
        kind TEXT NOT NULL,               -- cadence | notice | ...
        contact TEXT NOT NULL,            -- the contact's key, '' for keepwarm's own notices
        key TEXT NOT NULL,                -- tells several of one kind apart, often ''
        uid TEXT NOT NULL,
        start TEXT NOT NULL,
        prev_start TEXT,
        due TEXT NOT NULL,
        pinned INTEGER NOT NULL DEFAULT 0,
        confirmed INTEGER NOT NULL DEFAULT 0,
        remote_id TEXT NOT NULL DEFAULT '',
        etag TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (kind, contact, key)
    ) WITHOUT ROWID;
    INSERT INTO reminders2
        SELECT 'notice', '', 'signin:' || substr(contact, 17), uid, start, prev_start, due,
               pinned, confirmed, remote_id, etag
        FROM reminders WHERE substr(contact, 1, 16) = 'keepwarm:signin:';
    INSERT INTO reminders2
        SELECT 'cadence', contact, '', uid, start, prev_start, due, pinned, confirmed,
               remote_id, etag
        FROM reminders WHERE substr(contact, 1, 16) != 'keepwarm:signin:';
    DROP TABLE reminders;
    ALTER TABLE reminders2 RENAME TO reminders;
    CREATE TABLE dismissals2 (
        kind TEXT NOT NULL, contact TEXT NOT NULL, key TEXT NOT NULL, due TEXT NOT NULL,
        PRIMARY KEY (kind, contact, key)
    ) WITHOUT ROWID;
    INSERT INTO dismissals2
        SELECT 'notice', '', 'signin:' || substr(contact, 17), due
        FROM dismissals WHERE substr(contact, 1, 16) = 'keepwarm:signin:';
    INSERT INTO dismissals2
        SELECT 'cadence', contact, '', due
        FROM dismissals WHERE substr(contact, 1, 16) != 'keepwarm:signin:';
    DROP TABLE dismissals;
    ALTER TABLE dismissals2 RENAME TO dismissals
    """,
    # 3: what an account skipped is the rows of `skipped` (an item read at last leaves it),
    # not a running total
    """
    ALTER TABLE account_state DROP COLUMN skipped_total
    """,
    # 4: a contact's name is chosen from the participants rows when it is read (mail names
    # first, the most frequent), not kept per address as the latest one seen
    """
    ALTER TABLE addresses DROP COLUMN name;
    ALTER TABLE addresses DROP COLUMN name_at
    """,
    # 5: received mail and threads. A message has a direction (a received one has one
    # participants row, role 'from', never a touchpoint), what threads it (References,
    # the service's thread id), its automatic markers and a web link. followup_done holds
    # the user's `keepwarm done` marks (the steering file keeps them too).
    """
    ALTER TABLE messages ADD COLUMN direction TEXT NOT NULL DEFAULT 'sent';
    ALTER TABLE messages ADD COLUMN refs TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN thread TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN autoreply INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN report INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN link TEXT NOT NULL DEFAULT '';
    CREATE TABLE followup_done (message_id TEXT PRIMARY KEY, at INTEGER) WITHOUT ROWID
    """,
    # 6: address books. `cards` holds each account's cards as the source last gave them
    # (lists as JSON, a date as YYYY-MM-DD or --MM-DD), `card_cursors` the accounts' address
    # book cursors, apart from their mail cursors. Who is one person is now derived:
    # `addresses.contact` is the union of the user's merges (`merges`, taken from the rows
    # schema 5 had, which were all merges) and every card's addresses, less the addresses
    # the user unmerged from a card (`apart`). `regroup` in `meta` marks it stale.
    """
    CREATE TABLE cards (
        account TEXT NOT NULL,
        card_id TEXT NOT NULL,
        uid TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL DEFAULT '',
        emails TEXT NOT NULL DEFAULT '[]',
        groups TEXT NOT NULL DEFAULT '[]',
        starred INTEGER NOT NULL DEFAULT 0,
        birthday TEXT,
        anniversary TEXT,
        birthday_text TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT '[]',
        location TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (account, card_id)
    ) WITHOUT ROWID;
    CREATE TABLE card_cursors (account TEXT PRIMARY KEY, cursor TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE merges (email TEXT PRIMARY KEY, contact TEXT NOT NULL) WITHOUT ROWID;
    INSERT INTO merges SELECT email, contact FROM addresses WHERE email != contact;
    CREATE TABLE apart (email TEXT PRIMARY KEY) WITHOUT ROWID
    """,
    # 7: promises (issue 15). `promise_texts` holds the sentences a connector found in the
    # user's own sent text (at most 200 characters each, never a body) and the day each
    # names (NULL: no time), stored with the message. `promises_manual` holds what
    # `keepwarm remind` recorded (the steering file keeps it too). A plus tag needs no table:
    # the tagged address is a recipient, and sent mail keeps a row for every recipient, but
    # not their order, which says whom a promise is to (the first other recipient):
    # `promise_order` keeps it, for sent messages with a plus-addressed recipient or a
    # sentence. `keepwarm done` marks of promises share `followup_done` (a promise key or
    # Message-ID).
    """
    CREATE TABLE promise_order (
        message_id TEXT PRIMARY KEY,
        recipients TEXT NOT NULL          -- To, Cc, Bcc in header order, space-separated
    ) WITHOUT ROWID;
    CREATE TABLE promise_texts (
        message_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        sentence TEXT NOT NULL,
        due TEXT,
        PRIMARY KEY (message_id, n)
    ) WITHOUT ROWID;
    CREATE TABLE promises_manual (
        key TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        due TEXT NOT NULL,
        made TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        when_text TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID
    """,
    # 8: a meeting shown as free (issue 16) is no obstacle to a reminder's placement. Meetings
    # stored before are taken as busy until their source sends them again.
    """
    ALTER TABLE meetings ADD COLUMN free INTEGER NOT NULL DEFAULT 0
    """,
    # 9: what issue 17 keeps. `notes`: what the user typed about someone (`keepwarm note`),
    # by the address it was written for, also in the steering file. `referrals`: who
    # referred whom and when (`keepwarm referred`), also in the steering file. `cards.postal`:
    # a card's first postal address (its lines joined by newlines), for `keepwarm export`.
    """
    CREATE TABLE notes (
        email TEXT NOT NULL,
        made TEXT NOT NULL,               -- ISO time, UTC, to the microsecond
        text TEXT NOT NULL,
        PRIMARY KEY (email, made)
    ) WITHOUT ROWID;
    CREATE TABLE referrals (
        source TEXT NOT NULL,
        referred TEXT NOT NULL,
        day TEXT NOT NULL,                -- YYYY-MM-DD
        thank INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (source, referred)
    ) WITHOUT ROWID;
    ALTER TABLE cards ADD COLUMN postal TEXT NOT NULL DEFAULT ''
    """,
]


def migrate(db: sqlite3.Connection) -> int:
    """Bring ``db`` to the newest schema, each step in its own transaction (no ";" in comments)."""
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(f"the store has schema version {version}, newer than this keepwarm "
                           f"({len(MIGRATIONS)}); upgrade keepwarm")
    for number in range(version, len(MIGRATIONS)):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
