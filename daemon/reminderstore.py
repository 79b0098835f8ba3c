"""The store's reminders: what keepwarm wrote or is about to write, what the user
dismissed, and how the last write went."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, cast

from daemon.model import ReminderId, ReminderRecord
from daemon.sqlbase import Tables


class ReminderTables(Tables):
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
