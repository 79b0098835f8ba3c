"""The value types the core and the connectors share: observations in, reminders out, and
what the store keeps in between.

A leaf: it imports nothing of keepwarm, so the pure core (inference, cadence, planner) and
the connectors can both depend on it without depending on each other (vdirsyncer's root
``exceptions`` module is the pattern; ``daemon.errors`` is the other leaf).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal
from urllib.parse import unquote

JSON = Any  # a value json.dumps accepts; cursors are opaque JSON to the core


# -- observations: what sources read ------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Address:
    """A mailbox: ``email`` lower-cased and stripped, ``name`` decoded display name ('' if none)."""

    email: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class PromiseText:
    """A sentence of the user's own new text in a sent message that commits to the next
    contact ("I'll call you on Tuesday"), found where the account reads bodies (``promises =
    true``, ``daemon.promisetext``). Only this leaves the connector: never the body."""

    sentence: str  # as written, cleaned, at most 200 characters
    due: date | None  # the day the time phrase names; None: a promise with no time (a note)


@dataclass(frozen=True, slots=True)
class Mail:
    """The headers of one message, sent by the user or received; nothing of the body.
    ``received`` says where a source found it (an inbox, an archive); whether it is the
    user's own is decided by its From (inference), since an archive holds both."""

    message_id: str  # without angle brackets; synthesised when the message has none
    date: datetime  # aware; delivery/file time when Date is missing or absurd
    sender: Address | None  # From
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    subject: str = ""
    list_id: str = ""
    list_unsubscribe: str = ""
    precedence: str = ""
    auto_submitted: str = ""
    in_reply_to: str = ""
    location: str = ""  # where it came from (file, folder/UID), for logs and `keepwarm show`
    references: tuple[str, ...] = ()  # References' ids, without <>, the last 20 at most
    thread: str = ""  # the service's thread id (Gmail threadId, Graph conversationId)
    autoreply: bool = False  # X-Autoreply, X-Autorespond or X-Autoresponder present
    report: bool = False  # Content-Type multipart/report: a bounce or a receipt
    link: str = ""  # a web link that opens the message (Graph webLink), if the source has one
    received: bool = False  # read from a received folder (see the class docstring)
    promises: tuple[PromiseText, ...] = ()  # found in the user's own text (opt-in)

    @property
    def recipients(self) -> tuple[Address, ...]:
        return self.to + self.cc + self.bcc


PartStat = Literal["accepted", "declined", "tentative", "needs-action", "delegated"]
MeetingStatus = Literal["confirmed", "tentative", "cancelled"]


@dataclass(frozen=True, slots=True)
class Attendee:
    address: Address
    status: PartStat = "needs-action"


@dataclass(frozen=True, slots=True)
class Meeting:
    """One occurrence of a calendar event (recurring events arrive expanded)."""

    meeting_id: str  # stable: iCalendar UID, plus the occurrence's start for recurrences
    start: datetime  # timezone-aware (all-day events: midnight in the user's timezone)
    end: datetime
    organizer: Address | None = None
    attendees: tuple[Attendee, ...] = ()
    status: MeetingStatus = "confirmed"
    all_day: bool = False
    summary: str = ""
    location: str = ""  # where it came from, for logs and `keepwarm show`
    # shown as free (TRANSP:TRANSPARENT, Google's transparency, Graph's showAs free or
    # workingElsewhere): still a touchpoint, never in the way of a reminder's placement
    free: bool = False


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item a source could not use; counted and logged by the core, never fatal."""

    location: str
    reason: str


@dataclass(frozen=True, slots=True)
class OwnAddress:
    """An address the provider says is the user's (e.g. a mailbox's proxy addresses): never
    counted as a contact."""

    email: str


Observation = Mail | Meeting | Skipped | OwnAddress


# -- address books ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, order=True)
class PartialDate:
    """A birthday or anniversary as address books hold it: the year is often unknown
    (vCard 4 ``--MMDD``, Apple's 1604, Google's year 0), and then ``year`` is None."""

    month: int
    day: int
    year: int | None = None


@dataclass(frozen=True, slots=True)
class Card:
    """One address-book entry, read-only: what keepwarm uses of it and nothing more.

    ``card_id`` is stable within its account (a CardDAV href, a file and the card's place in
    it, a People ``resourceName``, a Graph id): a changed card comes again with the same id.
    ``uid`` is the card's own UID where it has one (a card with no e-mail is keyed by it)."""

    card_id: str
    uid: str = ""
    name: str = ""  # the formatted name (FN, displayName); '' if the card has none
    emails: tuple[str, ...] = ()  # lower-cased, in the card's order, no duplicates
    groups: tuple[str, ...] = ()  # CATEGORIES, group cards, Google groups, Outlook categories
    starred: bool = False  # a starred Google contact, an Outlook favourite
    birthday: PartialDate | None = None
    anniversary: PartialDate | None = None
    birthday_text: str = ""  # a birthday written as words, not a date: kept, never guessed
    notes: tuple[str, ...] = ()  # what could not be used, e.g. a malformed BDAY (for `show`)
    location: str = ""  # where it came from, for logs and `keepwarm show`
    # the first postal address (ADR, Google's addresses, Outlook's homeAddress...), its lines
    # joined by newlines, for `keepwarm export` (holiday cards); '' if none
    postal: str = ""


@dataclass(frozen=True, slots=True)
class CardPerson:
    """A person the address books know, for birthdays: every card's contact, whether or not
    they ever wrote (``Store.card_people``). ``key`` is the contact key (the first address,
    merges applied) or, for a card with no address, ``card:<account>/<uid or card_id>``."""

    key: str
    name: str
    emails: tuple[str, ...] = ()
    birthday: PartialDate | None = None
    anniversary: PartialDate | None = None
    birthday_text: str = ""
    tags: frozenset[str] = frozenset()
    ignored: bool = False
    source: str = ""  # the account whose card it is
    notes: tuple[str, ...] = ()  # what its cards could not use (``Card.notes``), for `show`
    postal: str = ""  # the first postal address of its cards (``Card.postal``)


@dataclass(frozen=True, slots=True)
class CardBatch:
    """Cards changed since the cursor, the ids of cards deleted since, and the cursor that is
    valid once both are stored (in one transaction, as for ``Batch``).

    ``full``: this fetch lists every card of the account (a first sync, an expired sync
    token, a source that cannot tell changes): its batches all say so, and once the one
    marked ``last`` is stored, the account's stored cards that no batch of it named are gone.
    Earlier batches of a full listing carry the old cursor, so a crash redoes the listing."""

    cards: Sequence[Card]
    cursor: JSON
    gone: Sequence[str] = ()  # card_ids deleted since the cursor
    skipped: Sequence[Skipped] = ()  # broken cards: counted and logged, never fatal
    full: bool = False
    last: bool = False


@dataclass(frozen=True, slots=True)
class Batch:
    """Observations plus the cursor that is valid once they are stored.

    The core stores the observations and the cursor in one transaction, so a crash
    between batches resumes exactly after the last stored one. ``snapshot`` means the
    meetings in this batch (with the ones in earlier batches of the same fetch) are
    all of this account's meetings in the window: stored meetings not seen are gone.
    """

    observations: Sequence[Observation]
    cursor: JSON
    snapshot: bool = False
    last: bool = False  # the final batch of a snapshot fetch; removal happens then
    remaining: int | None = None  # an estimate of observations still to come (progress, ETA)


@dataclass(frozen=True, slots=True)
class FetchContext:
    """What a source needs to know about the world besides its own config."""

    now: datetime  # timezone-aware
    tz: tzinfo  # the user's timezone: floating times and all-day dates live in it
    window_start: datetime  # nothing older matters (cadence.forget_after)
    window_end: datetime  # meetings later than this are not read yet
    accept_shrink: bool = False  # the user said a source that lost most of its data did so
    # Where a source reads replies only to chosen mail (Gmail's quota): the sent mail since
    # this has its threads read ([followup] window; None: since window_start) ...
    thread_window_start: datetime | None = None
    # ... and, behind everything else, the older sent mail's back to this ([cadence] two_way
    # on: an old reply makes a contact two-way; None: not at all). Other sources ignore both.
    reach_back_start: datetime | None = None


@dataclass(frozen=True)
class AccountConfig:
    """An ``[[accounts]]`` table after validation; ``options`` holds the connector's own keys."""

    name: str
    type: str
    address: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    holds_reminders: bool = False  # [reminders] calendar names this account
    state_dir: str = ""  # keepwarm's private state folder (0700): default home of token files
    poll_interval: float | None = None  # seconds between polls by `keepwarm run` (None: default)


# -- verdicts and what the store makes of them ---------------------------------------------
@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether one participant of a message or meeting is a touchpoint, and if not, why."""

    email: str
    name: str
    role: str  # to | cc | bcc | organizer | attendee | from (FROM)
    status: str  # an attendee's response; '' for mail
    rule: str | None  # None: a touchpoint; else why it is not one


# the role of a received message's sender: rule None means a person wrote, never a touchpoint
FROM = "from"


@dataclass(frozen=True, slots=True)
class IngestResult:
    messages: int = 0  # new messages stored
    duplicates: int = 0  # already stored (same Message-ID from another folder or account)
    meetings: int = 0
    touchpoints: int = 0  # new (message, person) touchpoints
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    channel: str
    email: str
    role: str
    title: str  # subject or meeting summary
    rule: str | None
    location: str


# -- settings the pure core runs on ---------------------------------------------------------
# Automated senders and recipients that never count as people. Free-mail domains are
# deliberately absent: real people use them.
DEFAULT_IGNORE = (
    "noreply@*", "no-reply@*", "no_reply@*", "donotreply@*", "do-not-reply@*",
    "do_not_reply@*", "mailer-daemon@*", "postmaster@*", "bounce@*", "bounces@*",
    "bounce-*@*", "bounces+*@*", "notification@*", "notifications@*", "*@notifications.*",
    "*@bounce.*", "*@bounces.*", "*@reply.github.com", "*@resource.calendar.google.com",
    "*@group.calendar.google.com", "*@import.calendar.google.com",
    "calendar-notification@google.com", "*@docs.google.com",
)


@dataclass(frozen=True)
class CadenceRule:
    match: str  # glob on an address ("*@x.com"), a domain ("x.com") or "tag:NAME"
    every_days: int | None  # None: the rule sets only follow-ups
    followup: tuple[int, ...] | None = None  # working days per attempt; () off; None: [followup]
    birthday_lead: int | None = None  # days ahead of a birthday; None: [birthdays] lead
    thanks: bool | None = None  # thank-yous after meetings; None: [thanks] after_meetings


@dataclass(frozen=True)
class Settings:
    """Everything the pure core (inference, cadence, planner) needs; no paths, no accounts."""

    own_addresses: frozenset[str] = frozenset()
    tz: tzinfo = UTC
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    max_recipients: int = 15
    max_meeting_attendees: int = 12
    default_days: int = 90
    new_relationship_days: tuple[int, ...] = (14, 30)
    min_touchpoints: int = 2
    forget_after_days: int = 3 * 365
    two_way: bool = False  # track only contacts who wrote back or met the user
    learn: bool = True  # learn each contact's rhythm from their touch days (``daemon.rhythm``)
    learn_floor_days: int = 7  # a learned interval is never shorter
    rules: tuple[CadenceRule, ...] = ()
    reminders_calendar: str = ""
    reminder_time: time = time(9, 30)
    reminder_duration: timedelta = timedelta(minutes=15)
    max_per_day: int = 5
    working_days: frozenset[int] = frozenset(range(5))  # Monday = 0
    horizon_days: int = 14
    reminder_hours: tuple[time, time] = (time(9), time(17))  # a reminder moved off a meeting
    reminder_style: str = "each"  # "digest": one event a day lists the people due
    followup_after: tuple[int, ...] = (3, 7, 14)  # working days after the n-th unanswered one
    followup_window_days: int = 60  # an unanswered message older than this is let go
    followup_max_recipients: int = 3  # more people than this: a broadcast, nobody owes a reply
    followup_replies: bool = True  # a reply of the user's to a person's message waits too
    birthdays: bool = True  # [birthdays] enabled
    birthday_lead_days: int = 0  # remind this many days ahead (rules and tags may override)
    anniversaries: bool = True
    include_subject: bool = True  # [reminders]: subjects in reminders (false: shared calendar)
    include_notes: bool = True  # [reminders]: a person's latest note in their reminders
    reminder_alarm: timedelta | None = None  # a display alarm this long before; None: none
    thanks_after_meetings: bool = True  # [thanks]: a thank-you after a first meeting
    thanks_gap_days: int = 60  # a meeting this long after the last one is a first again
    thanks_within_days: int = 3  # a thank-you not written by then is dropped


# -- contacts ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What the store knows about one person (one or more addresses)."""

    key: str  # the contact's first address; stable, names the reminder
    emails: tuple[str, ...]
    name: str
    touchpoints: int  # distinct messages and meetings
    meetings: int
    last_touch: datetime
    last_channel: str  # email | meeting
    tags: frozenset[str] = frozenset()
    cadence_days: int | None = None  # set with `keepwarm cadence`
    snooze_until: date | None = None
    ignored: bool = False
    received: int = 0  # messages they wrote to the user (not automatic; never a touchpoint)
    last_received: datetime | None = None
    # from the address book (``Card``): the contact has a card, and what it says
    carded: bool = False
    birthday: PartialDate | None = None
    anniversary: PartialDate | None = None
    birthday_text: str = ""
    card_notes: tuple[str, ...] = ()
    postal: str = ""  # the cards' postal address (``Card.postal``), for `keepwarm export`
    # every touchpoint, (channel, message or meeting id) -> epoch seconds UTC, as the store
    # reads it (no copy: 200,000 of them cost nothing more); the rhythm and the strength are
    # read from their days (``daemon.rhythm``). Derived data: not compared, not hashed.
    touches: Mapping[tuple[str, str], int] = field(default_factory=dict, compare=False)
    # the latest touchpoints' own words, for a reminder one can act on: the subject of the
    # latest message, the summary of the latest meeting, and the web link that opens that
    # message's conversation where its source has one (Gmail, Graph's webLink), else ''
    last_subject: str = ""
    last_meeting: str = ""
    last_link: str = ""


@dataclass(frozen=True, slots=True)
class Status:
    facts: ContactFacts
    tracked: bool
    why: str  # why tracked or not, in words
    interval_days: int
    interval_source: str  # which setting chose the interval
    last_date: date
    due: date
    overdue_days: int
    # the contact's learned rhythm in days and how many gaps it is read from (None, 0: none)
    learned_days: int | None = None
    gaps: int = 0
    strength: int = 0  # 0-100, how close (``rhythm.strength``)
    # which setting chose the interval, as a word for programs: set, rule,
    # new_relationship, default or learned
    interval_kind: str = "default"

    @property
    def lapsed(self) -> bool:
        return self.tracked and self.overdue_days > 0


@dataclass(frozen=True)
class ContactSteering:
    """What the user told keepwarm about one contact (``keepwarm cadence/tag/snooze/ignore/
    merge``): the part of the store that cannot be rebuilt from the sources."""

    cadence_days: int | None = None
    snooze_until: date | None = None
    ignored: bool = False
    tags: frozenset[str] = frozenset()
    addresses: frozenset[str] = frozenset()  # merged into this contact, besides its key
    unmerged: bool = False  # unmerged from its address-book card: the card no longer joins it

    def __bool__(self) -> bool:
        return bool(self.cadence_days is not None or self.snooze_until or self.ignored
                    or self.tags or self.addresses or self.unmerged)


@dataclass(frozen=True, slots=True)
class Note:
    """A dated note the user typed about someone (`keepwarm note`): the user's words, so the
    steering file keeps it as well as the store. ``email`` is the address it was written
    for (it follows that address into whatever contact holds it)."""

    email: str
    made: datetime  # when it was typed (aware); orders a person's notes, oldest first
    text: str


@dataclass(frozen=True, slots=True)
class Referral:
    """``source`` referred ``referred`` to the user on ``day`` (`keepwarm referred`);
    ``thank``: the source is owed a thank-you reminder (not with ``--no-thanks``)."""

    source: str  # an address
    referred: str  # an address
    day: date
    thank: bool = True


@dataclass(frozen=True)
class Steering:
    """Every contact's steering, the reminders the user deleted (kind -> due date), the
    messages and promises the user said are done (`keepwarm done`: Message-ID or promise
    key -> when), and the promises made with `keepwarm remind`."""

    contacts: Mapping[str, ContactSteering] = field(default_factory=dict)
    dismissals: Mapping[ReminderId, date] = field(default_factory=dict)
    followups_done: Mapping[str, datetime] = field(default_factory=dict)
    promises: tuple[Promise, ...] = ()  # made with `keepwarm remind` (its own word: no source)
    notes: tuple[Note, ...] = ()  # `keepwarm note`
    referrals: tuple[Referral, ...] = ()  # `keepwarm referred`


# -- reminders ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, order=True)
class ReminderId:
    """Which reminder an event is: its kind (``cadence``, ``notice``, ...), the contact it is
    about ('' for keepwarm's own notices) and a key telling several of one kind apart (a
    thread, a date; '' when one per contact is all there can be)."""

    kind: str
    contact: str = ""
    key: str = ""

    @property
    def marker(self) -> str:
        """The value keepwarm writes into its events to find them again: ``kind:contact:key``
        with ``%`` and ``:`` escaped in each part (``:`` is never special in an iCalendar
        text value, Google's or Outlook's properties, and no plain address contains one)."""
        return ":".join(_escape(p) for p in (self.kind, self.contact, self.key))

    @classmethod
    def parse(cls, marker: str) -> ReminderId:
        """The id a marker names. Releases before reminder kinds wrote the bare contact key,
        or ``keepwarm:signin:ACCOUNT`` for a sign-in notice: both are still recognised."""
        if marker.startswith(LEGACY_SIGNIN):
            return cls(NOTICE, "", "signin:" + marker[len(LEGACY_SIGNIN):])
        parts = marker.split(":")
        if len(parts) == 3:
            return cls(*(_unescape(p) for p in parts))
        return cls(CADENCE, marker)

    def __str__(self) -> str:
        return self.marker


LEGACY_SIGNIN = "keepwarm:signin:"
CADENCE = "cadence"  # a contact is due
NOTICE = "notice"  # keepwarm's own message to the user


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace(":", "%3A")


def _unescape(part: str) -> str:
    return unquote(part)


@dataclass(frozen=True, slots=True)
class Wish:
    """A reminder one kind wants in the calendar, before placement.

    ``due`` names the cycle it belongs to (a new due date is a new reminder: its own UID, and
    a dismissal of the old one no longer holds). It goes on the first working day from
    ``earliest`` with room under ``max_per_day``, unless ``fixed``: then on exactly that day,
    whatever the budget says (a birthday does not move). ``budgeted`` is False for keepwarm's
    own notices, which never take a follow-up's place. Wishes competing for room are placed
    earliest due first, then by ``name``."""

    rid: ReminderId
    due: date
    title: str
    description: str
    earliest: date
    fixed: bool = False
    budgeted: bool = True
    name: str = ""
    all_day: bool = False  # a day, not a time: a birthday (``earliest`` is that day)


@dataclass(frozen=True, slots=True)
class Reminder:
    """A reminder event as keepwarm wants it to be in the user's calendar."""

    uid: str
    rid: ReminderId
    title: str
    description: str
    start: datetime
    end: datetime
    # an all-day event: ``start`` and ``end`` are midnights in the user's zone, and a writer
    # writes their dates (``start.date()``), never a time
    all_day: bool = False
    alarm: timedelta | None = None  # a display alarm this long before ``start``; None: none


@dataclass(frozen=True, slots=True)
class RemoteReminder:
    """A keepwarm-created event as it is now in the calendar. An ``all_day`` event has dates,
    not times: a calendar gives them as midnights in any zone (a date has none), to be read
    with ``start.date()``; the planner puts them in the user's zone."""

    uid: str
    rid: ReminderId
    start: datetime
    remote_id: str
    etag: str = ""
    title: str = ""
    description: str = ""
    end: datetime | None = None
    all_day: bool = False
    alarm: timedelta | None = None  # the display alarm as the calendar has it


@dataclass(frozen=True, slots=True)
class Create:
    reminder: Reminder


@dataclass(frozen=True, slots=True)
class Update:
    remote: RemoteReminder
    reminder: Reminder


@dataclass(frozen=True, slots=True)
class Delete:
    remote: RemoteReminder


Change = Create | Update | Delete


def change_rid(change: Change) -> ReminderId:
    """The reminder a change is about."""
    return change.remote.rid if isinstance(change, Delete) else change.reminder.rid


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of one change: remote_id/etag after it ('' for a delete)."""

    change: Change
    remote_id: str = ""
    etag: str = ""


@dataclass(frozen=True, slots=True)
class ReminderRecord:
    """What keepwarm wrote (or is about to write) for one reminder: ``confirmed=False`` is an
    intent not yet known to be in the calendar."""

    rid: ReminderId
    uid: str
    start: datetime
    due: date
    pinned: bool = False
    confirmed: bool = False
    prev_start: datetime | None = None
    remote_id: str = ""
    etag: str = ""


# -- follow-ups on unanswered mail -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Awaiting:
    """A thread where the user's last messages got no reply (``daemon.followups``)."""

    email: str  # the person it waits on: the first recipient of the latest message
    name: str
    subject: str
    message_id: str  # the latest unanswered message (a follow-up answers it)
    thread: str  # the thread's key: the service's thread id, else its first message's id
    sent: tuple[datetime, ...]  # the unanswered messages in a row, oldest first
    attempt: int  # len(sent)
    next_followup: date | None  # None once the thread has gone quiet
    state: Literal["waiting", "gone_quiet"]
    link: str  # opens the thread: the service's web link, else a mailto: reply
    contact: str = ""  # the contact key the reminder is filed under
    message_ids: tuple[str, ...] = ()  # of ``sent``: what `keepwarm done` marks
    recipients: tuple[str, ...] = ()  # everyone the latest message went to, but the user


# -- promises: "you'll hear from me on Tuesday" ------------------------------------------------
PromiseSource = Literal["tag", "manual", "detected"]
PromiseState = Literal["open", "kept", "dropped"]


@dataclass(frozen=True, slots=True)
class Promise:
    """A dated promise of the next contact (``daemon.promises``): set by a plus tag on a sent
    message (``me+kw-3d@example.com``), by ``keepwarm remind``, or found in a sent message's
    own text (``Mail.promises``)."""

    email: str  # the person promised: the message's first other recipient, or as given
    name: str  # as the headers (or the user) name them; the wiring may put the contact's
    due: date  # the day promised, in the user's zone
    made: datetime  # when: the message's Date, or when `keepwarm remind` ran
    source: PromiseSource
    key: str  # the reminder's key: the message id (``#n`` after its first), or a manual id
    message_id: str = ""  # the message it was made in; '' for a manual one
    note: str = ""  # the subject (tag), the sentence (detected), the user's note (manual)
    when: str = ""  # the day as written: ``3d``, ``tue`` (tag, manual); '' when detected
    always: bool = False  # ``-always``: kept on its day whatever happens before
    others: tuple[str, ...] = ()  # the message's other recipients: one answering counts
    contact: str = ""  # the contact key the reminder is filed under ('' : ``email``)

    @property
    def people(self) -> tuple[str, ...]:
        return (self.email, *self.others)


@dataclass(frozen=True, slots=True)
class PromiseNote:
    """A promise keepwarm saw but cannot date, for ``show`` and ``status``: a plus tag whose
    day does not parse, or a sentence that names no time. Never dropped silently."""

    message_id: str
    at: datetime  # the message's Date
    text: str  # the tagged address, or the sentence
    problem: str  # one line: what is wrong, naming the fix
    email: str = ""  # the person it is about, when there is one


@dataclass(frozen=True, slots=True)
class PromiseStatus:
    """Where a promise stands as of a time (``promises.judge``). ``overdue``: open past its
    day (its reminder stays, on today, until a touchpoint or ``keepwarm done``)."""

    promise: Promise
    state: PromiseState
    overdue: bool = False
    closed: datetime | None = None  # when it was kept or dropped
    why: str = ""  # how, in words: ``you wrote on 2026-12-03``, ``marked done``
