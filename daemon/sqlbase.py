"""What every part of the store shares: the SQLite connection, transactions, the meta
table, and what SQLite's faults mean to a person. The store is several modules (observations
in ``store``, contacts and steering in ``contactstore``, reminders in ``reminderstore``),
one class, and the only code that speaks SQL."""

from __future__ import annotations

import contextlib
import gc
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from daemon.errors import StoreDamaged, StoreError


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def from_epoch(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@contextlib.contextmanager
def bulk_read() -> Iterator[None]:
    """The cyclic garbage collector paused while a read builds 100,000 objects that hold no
    cycles: its passes over them cost a third of such a read."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# What SQLite raises on a damaged or unusable file, anywhere in a command (see ``fault``).
FAULTS = (sqlite3.DatabaseError,)


def fault(exc: BaseException, path: Path) -> StoreError:
    """One of ``FAULTS`` as the typed error a person reads: damaged, or unusable now."""
    if isinstance(exc, sqlite3.OperationalError) and "malformed" not in str(exc):
        return StoreError(f"cannot use the store {path}: {exc}")
    return StoreDamaged(f"the store {path} is damaged ({exc}); run `keepwarm sync`: it sets "
                        "the file aside and rebuilds the store from your accounts, keeping "
                        "what you told keepwarm (the steering file beside it)", str(exc))


class Tables:
    """The connection and its transactions; ``Store`` opens it."""

    path: Path
    db: sqlite3.Connection

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

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
