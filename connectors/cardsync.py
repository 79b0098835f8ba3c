"""Which cards changed, for an address book made of units of vCard text: the files of a
vdir folder or one .vcf file (``connectors.vcf``), the objects of CardDAV address books
(``connectors.carddav``). Both use this one reckoning, so they report alike.

Each unit has a marker that changes with its content (a file's mtime and size, an object's
ETag). The cursor holds every unit's marker, the ids of its cards when they are not just
the unit's name, and the group cards each unit holds. A read then parses only the units
whose marker changed, reports their cards, and reports as ``gone`` the ids of removed units
and the ids a changed unit no longer holds. So an idle read parses nothing, and a changed
card comes again alone.

An address book that held cards and now has no unit at all (an unmounted disk, a server
answering with an empty book) is refused, as vdirsyncer refuses to sync an emptied storage,
until ``keepwarm sync --accept-shrink NAME``: keepwarm keeps the cards it has.

Group cards make one unit's content another's groups. When a unit's group cards changed
(or a unit holding some went away), every unit is parsed and every card listed
(``full``): the members of a group are known only then, and it is rare. The first read,
and a cursor written for another ``VERSION`` of the reading, list everything too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from connectors.vcard import Group, with_groups
from daemon.errors import ShrinkRefused
from daemon.model import JSON, Card, CardBatch, FetchContext, Skipped

VERSION = 2  # bump when cards are read differently: every account lists its cards again
# (2: ADR, the postal address, is read)
BATCH = 500  # cards per CardBatch


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit as read: its people's cards (ids given), its group cards, what was
    skipped; ``ok`` False when the unit itself could not be read (tried again next time)."""

    cards: list[Card] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    ok: bool = True


def numbered(unit: str, cards: list[Card]) -> list[Card]:
    """Cards named after their unit: the unit's name, with ``#n`` when it holds several."""
    if len(cards) == 1:
        return [replace(cards[0], card_id=unit)]
    return [replace(c, card_id=f"{unit}#{n}") for n, c in enumerate(cards, 1)]


def by_uid(cards: list[Card]) -> list[Card]:
    """Cards named by their UID (one file of many cards, edited anywhere), else their place
    (``#n``); a UID two cards share names neither."""
    seen: dict[str, int] = {}
    for c in cards:
        seen[c.uid] = seen.get(c.uid, 0) + 1
    return [replace(c, card_id=c.uid if c.uid and seen[c.uid] == 1 else f"#{n}")
            for n, c in enumerate(cards, 1)]


def changes(cursor: JSON | None, markers: Mapping[str, str], read: Callable[[str], Unit],
            ctx: FetchContext, account: str, what: str,
            extra: Mapping[str, JSON] | None = None) -> Iterator[CardBatch]:
    """The CardBatches that bring the store from ``cursor`` to the units now (``markers``:
    unit -> marker), reading units with ``read``; ``extra`` goes into the new cursor too
    (what else the source keeps there). ``account`` and ``what`` (its address book, in
    words) name them in the refusal of an emptied one."""
    old = cursor if isinstance(cursor, dict) and cursor.get("v") == VERSION else None
    old_units: dict[str, str] = old["units"] if old else {}
    if old_units and not markers and not ctx.accept_shrink:
        raise ShrinkRefused(f"{account}: {what} is empty, but it held cards at an earlier "
                            "sync (an unmounted disk? a sync tool gone wrong?); keepwarm keeps "
                            "the cards it read. If you emptied it: keepwarm sync "
                            f"--accept-shrink {account}")
    changed = [u for u, m in markers.items() if old_units.get(u) != m]
    removed = [u for u in old_units if u not in markers]
    if old is not None and not changed and not removed:
        yield CardBatch([], {**old, **(extra or {})})
        return
    parsed = {u: read(u) for u in changed}
    old_groups: dict[str, Any] = old["groups"] if old else {}
    regrouped = any(u in old_groups for u in removed) or any(
        p.ok and _encode_groups(p.groups) != old_groups.get(u) for u, p in parsed.items())
    if old is None or regrouped:
        everything = {u: parsed[u] if u in parsed else read(u) for u in markers}
        new = {**_cursor(markers, everything, None), **(extra or {})}
        groups = [g for p in everything.values() for g in p.groups]
        cards = [with_groups(c, groups) for p in everything.values() for c in p.cards]
        yield from _batches(cards, [], _skips(everything), cursor, new, full=True)
        return
    assert old is not None
    new = {**_cursor(markers, parsed, old), **(extra or {})}
    groups = [Group(n, frozenset(m)) for gs in old_groups.values() for n, m in gs]
    cards = [with_groups(c, groups) for p in parsed.values() if p.ok for c in p.cards]
    now_ids = {c.card_id for c in cards}
    gone = [i for u in removed for i in _ids(old, u)]
    gone += [i for u, p in parsed.items() if p.ok for i in _ids(old, u) if i not in now_ids]
    yield from _batches(cards, gone, _skips(parsed), cursor, new, full=False)


def _ids(cursor: Mapping[str, Any], unit: str) -> list[str]:
    """The card ids ``cursor`` holds for ``unit``."""
    return list(cursor["ids"].get(unit, [unit] if unit in cursor["units"] else []))


def _encode_groups(groups: list[Group]) -> list[Any] | None:
    return [[g.name, sorted(g.members)] for g in groups] or None


def _cursor(markers: Mapping[str, str], parsed: Mapping[str, Unit],
            old: Mapping[str, Any] | None) -> dict[str, Any]:
    """The cursor after ``parsed``: on top of ``old`` (None: from nothing). A unit that could
    not be read keeps what ``old`` says of it (nothing: it is read again next time)."""
    units: dict[str, str] = {}
    ids: dict[str, list[str]] = {}
    groups: dict[str, Any] = {}
    for unit, marker in markers.items():
        got = parsed.get(unit)
        if got is not None and got.ok:
            units[unit] = marker
            names = [c.card_id for c in got.cards]
            if names != [unit]:
                ids[unit] = names
            if got.groups:
                groups[unit] = _encode_groups(got.groups)
        elif old is not None and unit in old["units"]:
            units[unit] = old["units"][unit]
            if unit in old["ids"]:
                ids[unit] = old["ids"][unit]
            if unit in old["groups"]:
                groups[unit] = old["groups"][unit]
    return {"v": VERSION, "units": units, "ids": ids, "groups": groups}


def _skips(parsed: Mapping[str, Unit]) -> list[Skipped]:
    return [s for p in parsed.values() for s in p.skipped]


def _batches(cards: list[Card], gone: list[str], skipped: list[Skipped], old: JSON | None,
             new: JSON, full: bool) -> Iterator[CardBatch]:
    """``cards`` BATCH at a time; earlier batches carry the old cursor (a crash redoes the
    read), the last the new one with the ids gone and the skips."""
    starts = range(0, max(len(cards), 1), BATCH)
    for start in starts:
        last = start == starts[-1]
        yield CardBatch(cards[start:start + BATCH], new if last else old,
                        gone=gone if last else (), skipped=skipped if last else (),
                        full=full, last=last)
