"""The steering read back from a JSON export (`keepwarm import`), and merged into what a
store holds.

Pure: text in, a ``Steering`` out. The file is checked before anything is changed, and the
first thing wrong with it is one line naming where (``steering.contacts[2].cadence_days``)
and what was expected: not JSON, not a keepwarm export, a ``format_version`` this keepwarm
does not read, a value of the wrong kind. Addresses are lower-cased as the steering file's
are; a time without an offset is UTC.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from daemon.errors import UsageError
from daemon.export import FORMAT, FORMAT_VERSION
from daemon.model import ContactSteering, Note, Promise, Referral, ReminderId, Steering
from daemon.words import plural

HINT = "give it a file `keepwarm export --format json` wrote"


class _Fields:
    """One JSON object of the file, read field by field; the first wrong one raises."""

    def __init__(self, where: str, path: str, value: Any) -> None:
        if not isinstance(value, dict):
            raise UsageError(f"{where}: {path}: must be an object, not {_shown(value)}")
        self.where, self.path, self.value = where, path, value

    def _get(self, key: str, ok: Callable[[Any], bool], what: str, default: Any) -> Any:
        if key not in self.value and default == "":  # "": a value it cannot do without
            raise UsageError(f"{self.where}: {self.path}.{key}: missing")
        value = self.value.get(key, default)
        if value is None and default is None:
            return None
        if not ok(value):
            raise UsageError(f"{self.where}: {self.path}.{key}: must be {what}, not "
                             f"{_shown(value)}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        """The text at ``key``; '' when absent or null, unless ``default`` is '' (needed)."""
        value = self._get(key, lambda v: isinstance(v, str), "text", default)
        return "" if value is None else str(value)

    def address(self, key: str, default: str | None = "") -> str:
        """An address, lower-cased; with no ``default`` it must be there and not empty."""
        value = self.text(key, default).strip().lower()
        if not value and default == "":
            raise UsageError(f"{self.where}: {self.path}.{key}: must be an address, not \"\"")
        return value

    def flag(self, key: str) -> bool:
        return bool(self._get(key, lambda v: isinstance(v, bool), "true or false", False))

    def days(self, key: str) -> int | None:
        value = self._get(key, lambda v: isinstance(v, int) and not isinstance(v, bool)
                          and v > 0, "a whole number of days above 0, or null", None)
        return None if value is None else int(value)

    def texts(self, key: str) -> frozenset[str]:
        value = self._get(key, lambda v: isinstance(v, list) and all(
            isinstance(x, str) for x in v), "a list of text", [])
        return frozenset(str(x).strip().lower() for x in value)

    def day(self, key: str) -> date:
        return date.fromisoformat(self._get(key, _is(date.fromisoformat),
                                            "a date like 2026-03-02", ""))

    def maybe_day(self, key: str) -> date | None:
        value = self._get(key, _is(date.fromisoformat), "a date like 2026-03-02, or null", None)
        return None if value is None else date.fromisoformat(value)

    def time(self, key: str) -> datetime:
        value = self._get(key, _is(datetime.fromisoformat),
                          "a time like 2026-03-02T09:30:00+00:00", "")
        at = datetime.fromisoformat(value)
        return at if at.tzinfo else at.replace(tzinfo=UTC)

    def items(self, key: str) -> list[_Fields]:
        value = self._get(key, lambda v: isinstance(v, list), "a list", [])
        return [_Fields(self.where, f"{self.path}.{key}[{i}]", v) for i, v in enumerate(value)]


def _is(parse: Callable[[str], object]) -> Callable[[Any], bool]:
    def ok(value: Any) -> bool:
        try:
            parse(value)
        except (TypeError, ValueError):
            return False
        return True
    return ok


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def read(text: str, where: str) -> Steering:
    """The steering of the export ``text`` (``where`` names it in every refusal)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        msg = getattr(exc, "msg", str(exc))
        at = f", line {exc.lineno} column {exc.colno}" if isinstance(
            exc, json.JSONDecodeError) else ""
        raise UsageError(f"{where} is not JSON ({msg}{at}); {HINT}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f'{where} is not a keepwarm export (no "format": "{FORMAT}"); {HINT}')
    version = data.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise UsageError(f"{where} is a keepwarm export of format_version {_shown(version)}; "
                         f"this keepwarm reads version {FORMAT_VERSION}: import it with a "
                         "keepwarm as new as the one that wrote it")
    return steering(_Fields(where, "steering", data.get("steering", {})))


def steering(s: _Fields) -> Steering:
    """The ``steering`` object: `keepwarm steering --json`'s keys, notes and referrals."""
    contacts = {c.address("contact"): ContactSteering(
        c.days("cadence_days"), c.maybe_day("snooze_until"), c.flag("ignored"),
        c.texts("tags"), c.texts("merged"), c.flag("unmerged")) for c in s.items("contacts")}
    dismissed = {ReminderId(d.text("kind", ""), d.address("contact", None), d.text("key")):
                 d.day("due") for d in s.items("dismissed")}
    done = {d.text("message_id", ""): d.time("at") for d in s.items("done")}
    promised = tuple(Promise(p.address("email"), p.text("name") or p.address("email"),
                             p.day("due"), p.time("made"), "manual", p.text("key", ""),
                             note=p.text("note"), when=p.text("when"))
                     for p in s.items("promised"))
    notes = tuple(Note(n.address("email"), n.time("made"), n.text("text", ""))
                  for n in s.items("notes"))
    referrals = tuple(Referral(r.address("source"), r.address("referred"), r.day("day"),
                               "thank" not in r.value or r.flag("thank"))
                      for r in s.items("referrals"))
    return Steering(contacts, dismissed, done, promised, notes, referrals)


def merge(here: Steering, new: Steering) -> Steering:
    """``new`` over ``here``: a contact's steering, a dismissed reminder, a follow-up mark,
    a promise (by key), a note (by address and time) and a referral (by source and person)
    in both is the one of ``new``; the rest of each is kept."""
    return Steering(
        dict(sorted({**here.contacts, **new.contacts}.items())),
        {**here.dismissals, **new.dismissals}, {**here.followups_done, **new.followups_done},
        tuple(sorted({p.key: p for p in (*here.promises, *new.promises)}.values(),
                     key=lambda p: p.key)),
        tuple(sorted({(n.email, n.made): n for n in (*here.notes, *new.notes)}.values(),
                     key=lambda n: (n.email, n.made))),
        tuple(sorted({(r.source, r.referred): r
                      for r in (*here.referrals, *new.referrals)}.values(),
                     key=lambda r: (r.source, r.referred))))


def replaced(here: Steering, new: Steering) -> list[str]:
    """The contacts whose steering ``new`` changes: what the store had is gone."""
    return sorted(k for k, v in new.contacts.items()
                  if k in here.contacts and here.contacts[k] != v)


def summary(new: Steering) -> str:
    """What an import restores, in words: ``3 cadences, 2 tags, 1 note``."""
    c = new.contacts.values()
    counts = [(sum(s.cadence_days is not None for s in c), "cadence", ""),
              (sum(len(s.tags) for s in c), "tag", ""),
              (sum(s.snooze_until is not None for s in c), "snooze", ""),
              (sum(s.ignored for s in c), "ignore", ""),
              (sum(len(s.addresses) for s in c), "merge", ""),
              (sum(s.unmerged for s in c), "unmerge", ""),
              (len(new.dismissals), "dismissed reminder", ""),
              (len(new.followups_done), "follow-up marked done", "follow-ups marked done"),
              (len(new.promises), "promise", ""),
              (len(new.notes), "note", ""),
              (len(new.referrals), "referral", "")]
    return ", ".join(plural(n, word, many) for n, word, many in counts if n)
