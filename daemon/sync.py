"""One sync cycle: pull every account, infer, compute cadence, reconcile reminders.

Backends never see each other or the store; this module moves data between them. A failing
account is reported and the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors import registry
from connectors.base import Connector
from daemon import (
    cadence,
    followups,
    inference,
    ingest,
    planner,
    promisestate,
    reminder_state,
    reminders,
    thanks,
)
from daemon.config import Config
from daemon.errors import AuthError, KeepwarmError
from daemon.model import (
    AccountConfig,
    Awaiting,
    ContactFacts,
    Create,
    Delete,
    FetchContext,
    IngestResult,
    ReminderId,
    ReminderRecord,
    Settings,
    Skipped,
    Status,
    Update,
    Wish,
)
from daemon.sqlbase import bulk_read
from daemon.store import Store

log = logging.getLogger(__name__)

# account, what the batch stored, the source's estimate of what is still to come
Progress = Callable[[str, IngestResult, int | None], None]


@dataclass
class AccountReport:
    name: str
    messages: int = 0
    duplicates: int = 0
    meetings: int = 0
    touchpoints: int = 0
    skipped: int = 0
    cards: int = 0  # cards read (changed, or listed in full)
    address_book_only: bool = False  # reads no mail nor meetings: its summary says cards only
    error: str | None = None
    needs_signin: bool = False
    complete: bool = True  # False: stopped early (shutdown or time budget); more to read
    remaining: int | None = None  # the source's estimate of what is left to read, if it has one

    def add(self, r: IngestResult) -> None:
        self.messages += r.messages
        self.duplicates += r.duplicates
        self.meetings += r.meetings
        self.touchpoints += r.touchpoints
        self.skipped += r.skipped


@dataclass
class ReminderReport:
    created: int = 0
    moved: int = 0
    deleted: int = 0
    error: str | None = None


@dataclass
class SyncReport:
    accounts: list[AccountReport] = field(default_factory=list)
    reminders: ReminderReport | None = None

    @property
    def ok(self) -> bool:
        return all(a.error is None for a in self.accounts) and not (
            self.reminders and self.reminders.error)


def fetch_context(settings: Settings, now: datetime,
                  accept_shrink: bool = False) -> FetchContext:
    """What every source is told of the world; the two thread bounds come from [followup]
    window and [cadence] two_way, so a connector needs no copy of those settings."""
    window_start = now - timedelta(days=settings.forget_after_days)
    return FetchContext(now=now, tz=settings.tz, window_start=window_start,
                        window_end=now + timedelta(days=settings.horizon_days),
                        accept_shrink=accept_shrink,
                        thread_window_start=now - timedelta(days=settings.followup_window_days),
                        reach_back_start=window_start if settings.two_way else None)


def connector(account: AccountConfig) -> Connector:
    return registry.connector_class(account.type)(account)


def pull(store: Store, account: AccountConfig, settings: Settings, now: datetime,
         progress: Progress | None = None,
         stop: Callable[[], bool] | None = None, conn: Connector | None = None,
         accept_shrink: bool = False) -> AccountReport:
    """Read one account from its stored cursor, then its address book from its card
    cursor; each batch commits with its cursor, so ``stop`` (checked between batches) can
    end a long backfill anywhere without loss.
    ``conn``: the account's connector when the caller built it (tests tune its batches).
    ``accept_shrink``: a calendar that lost most of its meetings at once is believed."""
    conn = conn or connector(account)
    report = AccountReport(account.name,
                           address_book_only=not (conn.reads_mail or conn.reads_meetings))
    ctx = fetch_context(settings, now, accept_shrink)
    snapshot = ingest.Snapshot(accept_shrink=ctx.accept_shrink)
    try:
        with store.bulk():
            for batch in conn.fetch(store.cursor(account.name), ctx):
                result = ingest.store_batch(store, account.name, batch, settings, now, snapshot)
                report.add(result)
                report.remaining = batch.remaining
                _log_skipped(account.name, batch.observations)
                if progress:
                    progress(account.name, result, batch.remaining)
                if stop is not None and stop():
                    report.complete = False
                    return report
            _pull_cards(store, conn, ctx, report, stop, settings.own_addresses)
    finally:
        conn.close()
    return report


def _pull_cards(store: Store, conn: Connector, ctx: FetchContext, report: AccountReport,
                stop: Callable[[], bool] | None, own: Collection[str]) -> None:
    """The account's address book, after its mail and meetings; who is one person is
    worked out again once its batches are stored (or a crash left that undone). ``stop``
    never ends a full listing halfway: the next turn would have to list it all again."""
    listing = ingest.Listing(accept_shrink=ctx.accept_shrink)
    try:
        store.set_own(own)
        for batch in conn.fetch_cards(store.card_cursor(conn.name), ctx):
            report.cards += ingest.store_cards(store, conn.name, batch, ctx.now, listing)
            report.skipped += len(batch.skipped)
            _log_skipped(conn.name, batch.skipped)
            if listing.seen is None and stop is not None and stop():
                report.complete = False
                break
    finally:
        ingest.regroup(store)


def _log_skipped(account: str, items: Iterable[object]) -> None:
    for item in items:
        if isinstance(item, Skipped):
            log.warning("%s: skipped %s: %s", account, item.location, item.reason)


def reads(account: AccountConfig) -> bool:
    """Whether the account has anything to pull: mail, meetings or an address book."""
    cls = registry.connector_class(account.type)
    return cls.reads_mail or cls.reads_meetings or cls.reads_cards(account.options)


def pull_one(store: Store, account: AccountConfig, settings: Settings, now: datetime,
             progress: Progress | None = None,
             stop: Callable[[], bool] | None = None,
             accept_shrink: bool = False) -> AccountReport:
    """``pull`` with every failure turned into the report's error (never raised), recorded."""
    try:
        report = pull(store, account, settings, now, progress, stop,
                      accept_shrink=accept_shrink)
    except AuthError as exc:
        # only an OAuth account can be signed in again (`keepwarm auth`); a refused password
        # is an error like any other, its message names password_command or the keyring
        report = AccountReport(account.name, error=str(exc), needs_signin=registry.
                               connector_class(account.type).needs_signin)
    except KeepwarmError as exc:
        report = AccountReport(account.name, error=str(exc))
    except Exception as exc:  # a bug in one connector must not stop the others
        log.exception("%s failed unexpectedly", account.name)
        report = AccountReport(account.name, error=f"internal error: {exc!r}")
    if report.error:
        log.error("%s: %s", account.name, report.error, extra={"in_summary": True})
    store.record_attempt(account.name, now, report.error)
    return report


def pull_all(config: Config, store: Store, now: datetime, only: str | None = None,
             progress: Progress | None = None,
             accept_shrink: Collection[str] = ()) -> list[AccountReport]:
    return [pull_one(store, account, config.settings, now, progress,
                     accept_shrink=account.name in accept_shrink)
            for account in config.accounts
            if (not only or account.name == only) and reads(account)]


def compute(store: Store, settings: Settings, now: datetime) -> list[Status]:
    """Every contact's cadence status as of ``now`` (touchpoints after ``now`` ignored)."""
    as_of = now.astimezone(settings.tz).date()
    return cadence.statuses(store.contact_facts(until=now), settings, as_of)


# the account options that make a source read received mail: maildir and mbox `received`
# (paths), imap `received_folders`, gmail and outlook `received` (true by default)
def reads_received(account: AccountConfig) -> bool:
    return registry.connector_class(account.type).reads_received(account.options)


def followups_off(config: Config, store: Store) -> str | None:
    """Why there are no follow-ups, in one line, or None when there are. Without received
    mail no reply can be seen, and every message sent would look unanswered: they are on
    when an account's options read it, or received mail is stored (a source without such
    an option); then once each account whose options read it has synced."""
    s = config.settings
    if not s.followup_after and not any(r.followup for r in s.rules):
        return "off: [followup] after = [] and no cadence rule carries followup steps"
    readers = [a.name for a in config.accounts if reads_received(a)]
    if not readers and not store.counts().get("received"):
        return ("off: no account reads received mail, so no reply can be seen; add "
                'received = ["PATH"] to a maildir or mbox account (imap, gmail and outlook '
                "accounts read it unless turned off)")
    states = store.account_states()
    first = [name for name in readers if not (states.get(name) or {}).get("last_success")]
    if first:
        return f"waiting for the first sync of {', '.join(first)}, which reads the replies"
    return None


def awaiting(config: Config, store: Store, now: datetime,
             facts: Iterable[ContactFacts] | None = None) -> list[Awaiting]:
    """Every thread waiting for a reply as of ``now`` (none while follow-ups are off). The
    mail read reaches back past the window by every step, working days as calendar days,
    so the earlier attempts of a row are counted too."""
    if followups_off(config, store) is not None:
        return []
    s = config.settings
    rows = [s.followup_after, *(r.followup for r in s.rules if r.followup)]
    reach = -(-max(sum(row) for row in rows) * 7 // len(s.working_days))
    mails = store.thread_mail(now - timedelta(days=s.followup_window_days + reach))
    if facts is None:
        facts = store.contact_facts(until=now)
    with bulk_read():  # its objects hold no cycles, and 100,000 messages are alive
        return followups.awaiting(mails, s.own_addresses | store.aliases(), s,
                                  store.followups_done(), now, facts)


def reminders_account(config: Config) -> AccountConfig | None:
    name = config.settings.reminders_calendar
    return config.account(name) if name else None


def make_plan(config: Config, store: Store, statuses: list[Status], now: datetime,
              writer: Connector, needs_signin: Sequence[str] = (),
              records: Mapping[ReminderId, ReminderRecord] | None = None) -> planner.Plan:
    """The plan against what the calendar holds; ``records`` when the caller read them."""
    if records is None:
        records = store.reminder_records()
    as_of = now.astimezone(config.settings.tz).date()
    facts = [s.facts for s in statuses]
    promised = promisestate.judged(store, config.settings, now, facts).open()
    # a message with an open promise wants that reminder on its day, not a follow-up too
    promising = {s.promise.message_id for s in promised}
    waiting = [a for a in awaiting(config, store, now, facts)
               if promising.isdisjoint(a.message_ids)]
    wishes = (reminders.contacts(statuses, waiting, as_of, config.settings.tz,
                                 config.settings.include_subject)
              + reminders.promises(promised, as_of, config.settings.tz,
                                   config.settings.include_subject)
              + reminders.birthdays(store.card_people(config.settings.own_addresses),
                                    config.settings, as_of, records)
              + reminders.signin_notices(needs_signin, records, as_of)
              + thank_yous(config, store, facts, now))
    wishes = reminders.with_notes(wishes, store.latest_notes(), config.settings.include_notes,
                                  config.settings.tz)
    held = writer.list_reminders()
    return reminders.with_alarm(
        planner.plan(wishes, held, records, store.dismissals(), config.settings, now,
                     writer.user_editable, busy(store, config, now)),
        held, config.settings.reminder_alarm)


def thank_yous(config: Config, store: Store, facts: Sequence[ContactFacts],
               now: datetime) -> list[Wish]:
    """The thank-yous after meetings that ended within ``[thanks] within``, or a week (a
    thank-you goes on its first working day even past ``within``), and a day more (the kind
    judges the days), and to the sources of referrals."""
    s = config.settings
    since = now - timedelta(days=max(s.thanks_within_days, 7) + 1)
    as_of = now.astimezone(s.tz).date()
    return (thanks.after_meetings(store.ended_meetings(since, now), facts,
                                  s.own_addresses | store.aliases(), s, as_of,
                                  s.include_subject)
            + thanks.referrals(store.referrals(), facts, s, as_of))


def busy(store: Store, config: Config, now: datetime) -> list[tuple[datetime, datetime]]:
    """The meetings a reminder steps around, from today to a week past the horizon (a
    reminder that finds no free slot by then is not written yet anyway)."""
    today = datetime.combine(now.astimezone(config.settings.tz).date(), datetime.min.time(),
                             tzinfo=config.settings.tz)
    return store.busy_spans(today, today + timedelta(days=config.settings.horizon_days + 8),
                            inference.OWN_ADDRESS)


def reconcile(config: Config, store: Store, statuses: list[Status], now: datetime,
              needs_signin: Sequence[str] = ()) -> ReminderReport | None:
    """Bring the reminders calendar to what the plan says; record intent before writing."""
    account = reminders_account(config)
    if account is None:
        return None
    report = ReminderReport()
    writer: Connector | None = None
    try:
        writer = connector(account)  # a missing library is this calendar's error, like others
        previous = store.reminder_records()
        p = make_plan(config, store, statuses, now, writer, needs_signin, previous)
        reminder_state.save_intent(store, p.records, p.dismissals)
        applied = writer.apply(p.changes)
        reminder_state.confirm(store, applied, now, previous, p.changes)
        for a in applied:
            if isinstance(a.change, Create):
                report.created += 1
            elif isinstance(a.change, Update):
                report.moved += 1
            elif isinstance(a.change, Delete):
                report.deleted += 1
    except KeepwarmError as exc:
        report.error = str(exc)
        log.error("reminders calendar %s: %s", account.name, exc, extra={"in_summary": True})
    finally:
        if writer is not None:
            writer.close()
    store.record_reminders(account.name, now, report.error)
    return report


def sync(config: Config, store: Store, now: datetime, only: str | None = None,
         write: bool = True, progress: Progress | None = None,
         accept_shrink: Collection[str] = ()) -> SyncReport:
    """One full cycle: pull, infer, plan, write."""
    report = SyncReport(pull_all(config, store, now, only, progress, accept_shrink))
    ingest.rejudge(store, config.settings, now)
    if write:
        report.reminders = reconcile(config, store, compute(store, config.settings, now), now)
    return report
