"""Judging what a source read and handing it to the store: the step between a connector's
batch and the store's tables. Inference is pure; the store only saves verdicts; this is
where the two meet, one transaction per batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

from daemon import grouping
from daemon.errors import ShrinkRefused
from daemon.inference import (
    OWN_ADDRESS,
    compiled,
    fingerprint,
    infer_mail,
    infer_meeting,
    infer_received,
    judge_mail,
    learned_aliases,
)
from daemon.model import (
    Batch,
    CardBatch,
    IngestResult,
    Mail,
    Meeting,
    OwnAddress,
    Settings,
    Skipped,
)
from daemon.store import Rejudged, Store


@dataclass
class Snapshot:
    """The meetings of one snapshot fetch, collected across its batches: at its last batch,
    the account's stored meetings not seen are removed, unless that is most of them."""

    seen: set[str] = field(default_factory=set)
    accept_shrink: bool = False  # the user said the calendar really lost them
    before: set[str] | None = None  # the account's meetings when the snapshot began


def store_batch(store: Store, account: str, batch: Batch, settings: Settings, now: datetime,
                snapshot: Snapshot | None = None) -> IngestResult:
    """Judge one batch and store it with its cursor, all or nothing (see ``Snapshot``).
    Aliases are learned from sent folders only; a message is the user's (sent) when its From
    is one of the user's addresses, else received when read from a received folder."""
    mails = [o for o in batch.observations if isinstance(o, Mail)]
    meetings = [o for o in batch.observations if isinstance(o, Meeting)]
    skipped = [o for o in batch.observations if isinstance(o, Skipped)]
    told = {o.email for o in batch.observations if isinstance(o, OwnAddress)}
    ignore = compiled(settings.ignore)
    with store.transaction():
        aliases = store.aliases()
        new_aliases = (learned_aliases(mails) | told) - aliases - settings.own_addresses
        own = settings.own_addresses | aliases | new_aliases
        store.add_aliases(new_aliases, now, OWN_ADDRESS)
        unique: dict[str, Mail] = {}
        for m in mails:
            unique.setdefault(m.message_id, m)
        unknown = store.unknown_messages(list(unique))
        touchpoints = store.add_mail(account, (
            judge_mail(m, own, ignore, settings.max_recipients)
            for mid, m in unique.items() if mid in unknown))
        if snapshot is not None and batch.snapshot and snapshot.before is None:
            snapshot.before = store.meeting_ids(account)
        touchpoints += store.put_meetings(account, (
            (m, infer_meeting(m, own, ignore, settings.max_meeting_attendees, now))
            for m in meetings))
        if snapshot is not None and batch.snapshot:
            snapshot.seen.update(m.meeting_id for m in meetings)
            if batch.last:
                _check_shrink(account, snapshot.before or set(), snapshot.seen,
                              snapshot.accept_shrink, ("calendar", "meetings"))
                store.drop_meetings_except(account, snapshot.seen)
        store.clear_skipped(account, chain((m.location for m in mails if m.location),
                                           (m.location for m in meetings if m.location)))
        store.add_skipped(account, skipped, now)
        store.set_cursor(account, batch.cursor)
        # what was just judged used these rules: the first rejudge need not redo it
        store.set_rules_fingerprint(fingerprint(settings), only_if_unset=True)
    return IngestResult(len(unknown), len(mails) - len(unknown), len(meetings), touchpoints,
                        len(skipped))


@dataclass
class Listing:
    """The cards of one full listing, collected across its batches: at its last batch, the
    account's stored cards it did not name are gone, unless that is most of them (as for a
    calendar's meetings)."""

    seen: set[str] | None = None  # None: no full listing under way
    accept_shrink: bool = False  # the user said the address book really lost them
    before: set[str] = field(default_factory=set)  # the account's cards when it began


def store_cards(store: Store, account: str, batch: CardBatch, now: datetime,
                listing: Listing) -> int:
    """Store one batch of cards with the account's card cursor, all or nothing, as
    ``CardBatch`` says (a full listing's removals once its ``last`` batch is stored); who is
    one person is marked to be worked out again when a card's addresses changed. Returns
    how many cards it stored."""
    ids = [c.card_id for c in batch.cards]
    with store.transaction():
        if batch.full and listing.seen is None:
            listing.before, listing.seen = store.card_ids(account), set()
        changed = store.put_cards(account, batch.cards, batch.gone)
        if batch.full and listing.seen is not None:
            listing.seen.update(ids)
            if batch.last:
                _check_shrink(account, listing.before, listing.seen, listing.accept_shrink,
                              ("address book", "cards"))
                changed = store.drop_cards_except(account, listing.seen) or changed
                listing.seen = None
        store.clear_skipped(account, (c.location for c in batch.cards if c.location))
        store.add_skipped(account, batch.skipped, now)
        store.set_card_cursor(account, batch.cursor)
        if changed:
            store.mark_regroup()
    return len(ids)


def regroup(store: Store) -> None:
    """Work out again who is one person (``daemon.grouping``) when cards or merges changed
    since it was last done."""
    if not store.regroup_needed():
        return
    with store.transaction():
        if store.regroup_needed():
            store.set_grouping(grouping.group(*store.people_facts()))


def _check_shrink(account: str, stored: set[str], seen: set[str], accept: bool,
                  what: tuple[str, str]) -> None:
    """A calendar or an address book that suddenly holds nothing, or lost more than half of
    its meetings or cards at once, is far more often a truncated file, a sync tool gone
    wrong or an unmounted disk than a real clear-out (vdirsyncer refuses the same): keep
    what the store has, and say how to accept it. Raised inside the batch's transaction, so
    nothing of it is stored. ``what``: the source and its items, in words (the summary
    and the log put the account's name before the message)."""
    gone = len(stored - seen)
    if not stored or accept or (seen and 2 * gone <= len(stored)):
        return
    raise ShrinkRefused(
        f"the {what[0]} now holds {len(stored) - gone} of the {len(stored)} "
        f"{what[1]} keepwarm has from it; keepwarm keeps them rather than forget {gone} at "
        f"once (a truncated file? an unmounted disk?). If they are really gone: keepwarm "
        f"sync --accept-shrink {account}")


def rejudge(store: Store, settings: Settings, now: datetime) -> None:
    """Apply the filters again where their outcome may have changed: all mail when the
    filter settings changed since last time, and meetings always (they end as time passes).
    A message keeps the direction it was stored with (a received one has no recipients
    stored to judge as sent mail); its sender's address becoming the user's own turns its
    row off all the same (``Store.add_aliases``)."""
    own = settings.own_addresses | store.aliases()
    ignore = compiled(settings.ignore)
    rules = fingerprint(settings)
    with store.transaction():
        updates: list[Rejudged] = []
        if store.rules_fingerprint() != rules:
            for mail in store.stored_mail():
                verdicts = (infer_received(mail, own, ignore) if mail.received else
                            infer_mail(mail, own, ignore, settings.max_recipients))
                updates += [(v.rule, "email", mail.message_id, v.email) for v in verdicts]
            store.set_rules_fingerprint(rules)
        for meeting in store.stored_meetings():
            updates += [(v.rule, "meeting", meeting.meeting_id, v.email) for v in
                        infer_meeting(meeting, own, ignore, settings.max_meeting_attendees, now)]
        store.update_verdicts(updates)

