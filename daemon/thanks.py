"""Thank-you reminders (kind ``thanks``): after a first meeting with someone, and to a person
who referred someone to the user (`keepwarm referred`).

A thank-you sent right after a meeting sets one apart, and one sent a week later is not the
point: so the reminder goes on the next working day, fixed there whatever ``max_per_day``
says, stays on today while it waits, and is dropped once ``[thanks] within`` has passed.
Writing to the person after the meeting (or on or after the referral's day) is the
thank-you, and ends it. Nobody thanks a colleague for every weekly one-on-one: only a
person's first meeting, or the first after ``gap`` without one, and never a recurring
series after its first occurrence.

Pure: stored meetings, contact facts (whose touches say who counted in which meeting and
when the user last wrote), referrals and the settings in; ``Wish``es out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta

from daemon.cadence import local_date, rule_matches
from daemon.followups import FREE_MAIL, domain
from daemon.model import ContactFacts, Meeting, Referral, ReminderId, Settings, Wish
from daemon.planner import next_working_day
from daemon.reminders import mailto

THANKS = "thanks"  # key: the meeting's id, or "referral:" and the address referred
REFERRAL = "referral:"


def held_back(f: ContactFacts, as_of: date) -> bool:
    """Ignored or snoozed: no thank-you of either kind."""
    return f.ignored or (f.snooze_until is not None and f.snooze_until > as_of)


def wanted(f: ContactFacts, settings: Settings, as_of: date) -> bool:
    """Whether a person may get a thank-you after a meeting: not ``held_back``, and the
    first ``[[cadence.rules]]`` carrying ``thanks`` that matches, else ``[thanks]
    after_meetings``."""
    if held_back(f, as_of):
        return False
    for rule in settings.rules:
        if rule.thanks is not None and rule_matches(rule, f.emails, f.tags):
            return rule.thanks
    return settings.thanks_after_meetings


def colleague(f: ContactFacts, own: Collection[str]) -> bool:
    """At the user's own company: one of their addresses at the domain of one of the user's,
    unless that is free mail (two strangers at gmail.com are not colleagues)."""
    company = {domain(e) for e in own} - FREE_MAIL
    return any(domain(e) in company for e in f.emails)


def later_occurrences(meetings: Iterable[Meeting]) -> set[str]:
    """The ids of recurring occurrences (``UID/STAMP``) after the earliest one stored of their
    series: never thanked."""
    first: dict[str, Meeting] = {}
    series = [m for m in meetings if "/" in m.meeting_id]
    for m in series:
        uid = m.meeting_id.rpartition("/")[0]
        if uid not in first or (m.start, m.meeting_id) < (first[uid].start, first[uid].meeting_id):
            first[uid] = m
    return {m.meeting_id for m in series if first[m.meeting_id.rpartition("/")[0]] is not m}


def first_meeting(f: ContactFacts, m: Meeting, settings: Settings) -> bool:
    """``m`` is the person's first meeting, or the first after ``gap`` days without one."""
    start = m.start.timestamp()
    before = [at for (channel, mid), at in f.touches.items()
              if channel == "meeting" and mid != m.meeting_id and at < start]
    if not before:
        return True
    last = datetime.fromtimestamp(max(before), m.start.tzinfo)
    return (local_date(m.start, settings.tz) - local_date(last, settings.tz)).days \
        >= settings.thanks_gap_days


def wrote_since(f: ContactFacts, since: float) -> bool:
    """The user sent the person mail at or after ``since`` (epoch seconds)."""
    return any(channel == "email" and at >= since for (channel, _), at in f.touches.items())


def day_for(ended: date, settings: Settings, as_of: date) -> date | None:
    """The day a thank-you for something on ``ended`` goes: the next working day after it,
    or today's (a later sync) while ``within`` has not passed; None once it has. ``within``
    never ends one before its first day (a week of four working days)."""
    first = next_working_day(ended + timedelta(days=1), settings.working_days)
    day = next_working_day(max(first, as_of), settings.working_days)
    last = max(ended + timedelta(days=settings.thanks_within_days), first)
    return day if day <= last else None


def after_meetings(meetings: Sequence[Meeting], facts: Iterable[ContactFacts],
                   own: Collection[str], settings: Settings, as_of: date,
                   subjects: bool = True) -> list[Wish]:
    """A thank-you per person counted in a meeting (a touchpoint: ended, not declined nor
    cancelled, within ``max_meeting_attendees``) that is their first, unless they are a
    colleague, the user wrote to them since it ended, or ``within`` has passed.
    ``subjects``: ``[reminders] include_subject`` (False: the meeting's date, not its name)."""
    later = later_occurrences(meetings)
    recent = [(("meeting", m.meeting_id), m) for m in meetings if m.meeting_id not in later]
    wishes = []
    for f in facts:
        for touch, m in recent if f.meetings else ():
            if (touch not in f.touches or colleague(f, own)
                    or not wanted(f, settings, as_of) or not first_meeting(f, m, settings)
                    or wrote_since(f, m.end.timestamp())):
                continue
            ended = local_date(m.end, settings.tz)
            day = day_for(ended, settings, as_of)
            if day is not None:
                wishes.append(_meeting_wish(f, m, ended, day, subjects))
    return wishes


def _meeting_wish(f: ContactFacts, m: Meeting, ended: date, day: date,
                  subjects: bool) -> Wish:
    named = subjects and m.summary
    what = f'"{m.summary}"' if named else f"the meeting of {ended.isoformat()}"
    lines = [f'Meeting: "{m.summary}" on {ended.isoformat()}' if named
             else f"Meeting: {ended.isoformat()}",
             f"Write: {mailto(f.emails[0] if f.emails else f.key)}"]
    name = f.name or f.key
    return Wish(ReminderId(THANKS, f.key, m.meeting_id), ended, f"Thank: {name} for {what}",
                _text(lines, f.key), earliest=day, fixed=True, name=name)


def _text(lines: list[str], key: str) -> str:
    return "\n".join([*lines, "", "Created by keepwarm. It removes this event when you write "
                      "to them, or once a thank-you would be late.", f"Why: keepwarm show {key}"])


def referrals(made: Iterable[Referral], facts: Iterable[ContactFacts], settings: Settings,
              as_of: date) -> list[Wish]:
    """A thank-you to the source of each referral with ``thank``, on the next working day
    after it, until the user writes to the source on or after its day (a reply to the
    introduction is the thank-you) or ``within`` has passed. An ignored or snoozed source
    gets none; ``after_meetings`` and rules' ``thanks`` are about meetings only."""
    by_email = {e: f for f in facts for e in f.emails}
    wishes = []
    for r in made:
        source = by_email.get(r.source)
        day = day_for(r.day, settings, as_of)
        if not r.thank or day is None or (source is not None and (
                held_back(source, as_of) or wrote_since(source, _midnight(r.day, settings)))):
            continue
        referred = by_email.get(r.referred)
        name = source.name if source and source.name else r.source
        whom = referred.name if referred and referred.name else r.referred
        lines = [f"Referred: {whom} <{r.referred}> on {r.day.isoformat()}",
                 f"Write: {mailto(r.source)}"]
        key = source.key if source else r.source
        wishes.append(Wish(ReminderId(THANKS, key, REFERRAL + r.referred), r.day,
                           f"Thank: {name} for referring {whom}", _text(lines, key),
                           earliest=day, fixed=True, name=name))
    return wishes


def _midnight(day: date, settings: Settings) -> float:
    return datetime.combine(day, datetime.min.time(), tzinfo=settings.tz).timestamp()
