"""What the user told keepwarm, kept in a plain file beside the store, and opening the store
so that a lost or damaged one loses none of it.

Everything else in the store can be read again from the sources; cadences, tags, snoozes,
ignores, merges, dismissed reminders, follow-ups and promises marked done, promises
made with `keepwarm remind`, notes (`keepwarm note`) and referrals (`keepwarm referred`)
cannot. So every change of them is also written to
``steering.toml`` (atomically, 0600), and the file is applied whenever the store is
opened: it is the user's, readable, and may be edited by hand. A
store that SQLite finds damaged is set aside by `keepwarm sync` (``keepwarm.db.corrupt-
<time>``) and rebuilt from the sources and this file; the reminders already in the calendar
are adopted again by their marker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tomllib
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

from connectors.atomic import write_atomic
from daemon import ingest, noteview
from daemon.config import toml_type
from daemon.errors import ConfigError, StoreDamaged
from daemon.model import ContactSteering, Note, Promise, Referral, ReminderId, Steering
from daemon.store import Store

log = logging.getLogger(__name__)

HEADER = """\
# What you told keepwarm (keepwarm cadence, tag, snooze, ignore, merge, unmerge, remind,
# done, note, referred) and the reminders you deleted from your calendar. keepwarm writes
# this file at every change and applies it whenever it opens its store, so a lost or
# damaged store loses none of it. You may edit it by hand (keep it valid TOML); the next
# keepwarm command takes it over.
"""


def path_for(store_path: Path) -> Path:
    """``steering.toml`` beside the default store; ``<name>.steering.toml`` beside another,
    so two stores in one folder never share one."""
    name = "steering.toml" if store_path.name == "keepwarm.db" else (
        f"{store_path.stem}.steering.toml")
    return store_path.with_name(name)


def render(steering: Steering) -> str:
    """The file's text: TOML, sorted, so an unchanged steering gives the same bytes."""
    lines = [HEADER]
    for contact, s in sorted(steering.contacts.items()):
        lines.append(f"\n[contacts.{_str(contact)}]\n")
        if s.cadence_days is not None:
            lines.append(f"cadence_days = {s.cadence_days}\n")
        if s.snooze_until is not None:
            lines.append(f"snooze_until = {s.snooze_until.isoformat()}\n")
        if s.ignored:
            lines.append("ignored = true\n")
        if s.tags:
            lines.append(f"tags = [{', '.join(_str(t) for t in sorted(s.tags))}]\n")
        if s.addresses:
            lines.append(f"addresses = [{', '.join(_str(a) for a in sorted(s.addresses))}]\n")
        if s.unmerged:
            lines.append("unmerged = true  # its address-book card does not join it\n")
    if steering.dismissals:
        lines.append("\n[dismissed]  # reminder (kind:contact:key) -> the due date deleted\n")
        lines += [f"{_str(rid.marker)} = {due.isoformat()}\n"
                  for rid, due in sorted(steering.dismissals.items())]
    if steering.followups_done:
        lines.append("\n[done]  # keepwarm done: Message-ID or promise -> when; closed\n")
        lines += [f"{_str(mid)} = {at.astimezone(UTC).isoformat()}\n"
                  for mid, at in sorted(steering.followups_done.items())]
    for p in sorted(steering.promises, key=lambda p: p.key):
        lines.append(f"\n[promised.{_str(p.key)}]  # keepwarm remind\n"
                     f"email = {_str(p.email)}\n"
                     + (f"name = {_str(p.name)}\n" if p.name and p.name != p.email else "")
                     + f"due = {p.due.isoformat()}\n"
                     f"made = {p.made.astimezone(UTC).isoformat()}\n"
                     f"when = {_str(p.when)}\n"
                     + (f"note = {_str(p.note)}\n" if p.note else ""))
    for n in sorted(steering.notes, key=lambda n: (n.made, n.email)):
        lines.append(f"\n[[notes]]  # keepwarm note\nemail = {_str(n.email)}\n"
                     f"made = {_time(n.made)}\ntext = {_str(n.text)}\n")
    for r in sorted(steering.referrals, key=lambda r: (r.source, r.referred)):
        lines.append(f"\n[[referrals]]  # keepwarm referred\nsource = {_str(r.source)}\n"
                     f"referred = {_str(r.referred)}\nday = {r.day.isoformat()}\n"
                     f"thank = {'true' if r.thank else 'false'}\n")
    return "".join(lines)


def _time(at: datetime) -> str:
    """A note's time as TOML writes it: UTC, to the microsecond (two notes a moment
    apart stay two)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def lines(steering: Steering, tz: tzinfo = UTC) -> list[tuple[str, str, str]]:
    """(contact, setting, value), one per thing the user set, named as the command that
    set it (`keepwarm steering`); a dismissed reminder's value is its kind, key and due
    date, its contact '-' for keepwarm's own notices (so no column is ever empty). Days of
    times (a note's, a done mark's) are in ``tz``, as `notes` and `show` give them."""
    rows: list[tuple[str, str, str]] = []
    for contact, s in sorted(steering.contacts.items()):
        if s.cadence_days is not None:
            rows.append((contact, "cadence", f"{s.cadence_days}d"))
        rows += [(contact, "tag", t) for t in sorted(s.tags)]
        if s.snooze_until is not None:
            rows.append((contact, "snooze", s.snooze_until.isoformat()))
        if s.ignored:
            rows.append((contact, "ignore", "yes"))
        rows += [(contact, "merge", a) for a in sorted(s.addresses)]
        if s.unmerged:
            rows.append((contact, "unmerge", "from its address-book card"))
    rows += [(rid.contact or "-", "dismissed", " ".join(
        filter(None, (rid.kind, rid.key, "due", due.isoformat()))))
        for rid, due in sorted(steering.dismissals.items())]
    rows += [("-", "done", f"{mid} on {at.astimezone(tz).date().isoformat()}")
             for mid, at in sorted(steering.followups_done.items())]
    rows += [(p.email, "remind", " ".join(filter(None, (p.due.isoformat(), p.note))))
             for p in sorted(steering.promises, key=lambda p: (p.due, p.key))]
    rows += [(n.email, "note", f"{noteview.day(n, tz)} {n.text}")
             for n in sorted(steering.notes, key=lambda n: (n.email, n.made))]
    rows += [(r.referred, "referred", f"by {r.source} on {r.day.isoformat()}"
              + ("" if r.thank else ", no thanks"))
             for r in sorted(steering.referrals, key=lambda r: (r.referred, r.source))]
    return rows


def as_json(steering: Steering) -> dict[str, Any]:
    """The steering for `keepwarm steering --json` (keys documented in the README)."""
    return {
        "contacts": [{"contact": c, "cadence_days": s.cadence_days,
                      "snooze_until": s.snooze_until.isoformat() if s.snooze_until else None,
                      "ignored": s.ignored, "tags": sorted(s.tags),
                      "merged": sorted(s.addresses), "unmerged": s.unmerged}
                     for c, s in sorted(steering.contacts.items())],
        "dismissed": [{"kind": rid.kind, "contact": rid.contact, "key": rid.key,
                       "due": due.isoformat()}
                      for rid, due in sorted(steering.dismissals.items())],
        "done": [{"message_id": mid, "at": at.astimezone(UTC).isoformat()}
                 for mid, at in sorted(steering.followups_done.items())],
        "promised": [{"key": p.key, "email": p.email, "name": p.name, "due": p.due.isoformat(),
                      "made": p.made.astimezone(UTC).isoformat(), "when": p.when,
                      "note": p.note}
                     for p in sorted(steering.promises, key=lambda p: p.key)],
        "notes": [{"email": n.email, "made": _time(n.made), "text": n.text}
                  for n in sorted(steering.notes, key=lambda n: (n.made, n.email))],
        "referrals": [{"source": r.source, "referred": r.referred, "day": r.day.isoformat(),
                       "thank": r.thank}
                      for r in sorted(steering.referrals, key=lambda r: (r.source, r.referred))]}


def _str(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, but TOML also forbids a raw DEL."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def parse(text: str, path: Path) -> Steering:
    """The file's steering; ConfigError naming the file and the key for anything wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}; fix it, or delete it to have "
                           "keepwarm write it again from the store"]) from None
    problems: list[str] = []
    contacts = {}
    for contact, table in _table(data, "contacts", path, problems).items():
        if isinstance(table, dict):
            contacts[contact.lower()] = _contact(table, f"contacts.{contact}", path, problems)
        else:
            problems.append(f"{path}: contacts.{contact}: must be a table")
    dismissals = {}
    for marker, due in _table(data, "dismissed", path, problems).items():
        if isinstance(due, date) and not isinstance(due, datetime):
            dismissals[ReminderId.parse(marker)] = due
        else:
            problems.append(f"{path}: dismissed.{marker}: must be a date like 2026-03-02")
    done = {}
    for mid, at in _table(data, "done", path, problems).items():
        if isinstance(at, datetime):  # a time written without an offset is UTC
            done[mid] = at if at.tzinfo else at.replace(tzinfo=UTC)
        else:
            problems.append(f"{path}: done.{mid}: must be a time like 2026-03-02T09:30:00Z")
    promised = [_promise(key, table, path, problems)
                for key, table in _table(data, "promised", path, problems).items()]
    notes = [_note(t) for t in _entries(data, "notes", NOTE_KEYS, path, problems)]
    referrals = [_referral(t) for t in _entries(data, "referrals", REFERRAL_KEYS, path,
                                                  problems)]
    if problems:
        raise ConfigError(problems)
    return Steering(contacts, dismissals, done, tuple(p for p in promised if p),
                    tuple(notes), tuple(referrals))


# the keys of a [[notes]] and a [[referrals]] entry: their type, and whether one is needed
NOTE_KEYS: dict[str, tuple[type, bool]] = {"email": (str, True), "made": (datetime, True),
                                           "text": (str, True)}
PROMISE_KEYS: dict[str, tuple[type, bool]] = {
    "email": (str, True), "name": (str, False), "due": (date, True), "made": (datetime, True),
    "when": (str, False), "note": (str, False)}
REFERRAL_KEYS: dict[str, tuple[type, bool]] = {"source": (str, True), "referred": (str, True),
                                               "day": (date, True), "thank": (bool, False)}


def _entries(data: dict[str, Any], key: str, wanted: dict[str, tuple[type, bool]],
             path: Path, problems: list[str]) -> list[dict[str, Any]]:
    """The valid tables of the array ``key`` (``[[notes]]``), each problem of the others
    noted as ``file: notes[2].text: problem`` (numbered from 1, as a person counts)."""
    value = data.get(key, [])
    if not isinstance(value, list):
        problems.append(f"{path}: {key}: must be an array of tables ([[{key}]])")
        return []
    valid = []
    for n, table in enumerate(value, 1):
        where = f"{path}: {key}[{n}]"
        if not isinstance(table, dict):
            problems.append(f"{where}: must be a table")
            continue
        found = _problems(table, where, wanted)
        found += [f"{where}.{k}: must not be empty" for k in ("email", "text", "source",
                                                              "referred")
                  if isinstance(table.get(k), str) and not table[k].strip()]
        problems += found
        if not found:
            valid.append(table)
    return valid


def _problems(table: dict[str, Any], where: str, wanted: dict[str, tuple[type, bool]]
              ) -> list[str]:
    """What is wrong with one table of the file: keys it should not have, keys it needs
    and lacks, values of the wrong type; one line each, ``where`` naming the table."""
    found = [f"{where}.{k}: unknown key" for k in sorted(set(table) - set(wanted))]
    found += [f"{where}.{k}: missing" for k, (_, need) in wanted.items()
              if need and k not in table]
    found += [f"{where}.{k}: must be {toml_type(kind)}, not {table[k]!r}"
              for k, (kind, _) in wanted.items() if k in table and not _is(table[k], kind)]
    return found


def _is(value: Any, kind: type) -> bool:
    """``isinstance``, but a TOML date-time is no date, nor a boolean an integer."""
    if kind is date and isinstance(value, datetime):
        return False
    return isinstance(value, kind)


def _note(table: dict[str, Any]) -> Note:
    made = table["made"]  # a time written without an offset is UTC
    return Note(table["email"].strip().lower(), made if made.tzinfo else made.replace(
        tzinfo=UTC), table["text"])


def _referral(table: dict[str, Any]) -> Referral:
    return Referral(table["source"].strip().lower(), table["referred"].strip().lower(),
                    table["day"], table.get("thank", True))


def _table(data: dict[str, Any], key: str, path: Path, problems: list[str]) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"{path}: {key}: must be a table")
        return {}
    return value


def _contact(table: dict[str, Any], key: str, path: Path, problems: list[str]
             ) -> ContactSteering:
    def get(name: str, kind: type, default: Any) -> Any:
        value = table.get(name, default)
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool)) and (
            kind is not date or not isinstance(value, datetime))
        if not ok:
            problems.append(f"{path}: {key}.{name}: must be {toml_type(kind)}, not {value!r}")
            return default
        return value

    for unknown in sorted(set(table) - {"cadence_days", "snooze_until", "ignored", "tags",
                                        "addresses", "unmerged"}):
        problems.append(f"{path}: {key}.{unknown}: unknown key")
    return ContactSteering(
        cadence_days=get("cadence_days", int, None) if "cadence_days" in table else None,
        snooze_until=get("snooze_until", date, None) if "snooze_until" in table else None,
        ignored=get("ignored", bool, False),
        tags=frozenset(str(t).lower() for t in get("tags", list, [])),
        addresses=frozenset(str(a).lower() for a in get("addresses", list, [])),
        unmerged=get("unmerged", bool, False))


def _promise(key: str, table: Any, path: Path, problems: list[str]) -> Promise | None:
    """One promise made with `keepwarm remind`, or None with its problems noted."""
    where = f"{path}: promised.{key}"
    if not isinstance(table, dict):
        problems.append(f"{where}: must be a table")
        return None
    found = _problems(table, where, PROMISE_KEYS)
    if found:
        problems += found
        return None
    made = table["made"] if table["made"].tzinfo else table["made"].replace(tzinfo=UTC)
    email = table["email"].strip().lower()
    return Promise(email, table.get("name") or email, table["due"], made, "manual", key,
                   note=table.get("note", ""), when=table.get("when", ""))


def save(store: Store) -> None:
    """Write the store's steering to the file when it changed (after every steering command
    and every change of the dismissed reminders)."""
    path = path_for(store.path)
    text = render(store.steering())
    if _read(path) == text:
        return
    write_atomic(path, text.encode("utf-8"), mode=0o600)
    store.set_steering_digest(_digest(text))


def restore(store: Store) -> None:
    """Apply the file to the store, unless the store already holds exactly it; with no file
    yet (a first run, or a store from before the file existed), write it."""
    path = path_for(store.path)
    text = _read(path)
    if text is None:
        save(store)
        return
    if store.steering_digest() == _digest(text):
        return
    store.apply_steering(parse(text, path))
    ingest.regroup(store)
    store.set_steering_digest(_digest(text))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def open_store(path: Path, repair: bool = False) -> Store:
    """The store at ``path`` with the user's steering applied. With ``repair`` (`keepwarm
    sync`, `keepwarm run`), a damaged file is set aside and a new store rebuilt in its
    place; otherwise damage is a StoreDamaged error naming the command that repairs it."""
    store: Store | None
    try:
        store = Store(path)
        damage = store.damage() if repair else None
    except StoreDamaged as exc:
        if not repair:
            raise
        damage, store = exc.detail, None
    if store is None or damage is not None:
        if store is not None:
            store.close()
        store = Store(set_aside(path, damage or "unreadable"))
    restore(store)
    return store


def set_aside(path: Path, damage: str) -> Path:
    """Move a damaged store (and its WAL files) out of the way; returns ``path``, now free."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.rename(aside.with_name(aside.name + suffix))
    log.warning("the store %s was damaged (%s); moved it to %s and rebuilding it from your "
                "accounts and %s", path, damage, aside, path_for(path).name)
    return path
