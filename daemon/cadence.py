"""How often to be in touch with each contact, when that is due, and who has lapsed.

Pure: contact facts and settings in, a status per contact out. Dates are days in the user's
timezone; a contact is lapsed when the as-of date is past its due date.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta, tzinfo

from daemon import rhythm
from daemon.model import CadenceRule, ContactFacts, Settings, Status

ORDINALS = ("1st", "2nd", "3rd")
# why a contact is not tracked with [cadence] two_way: they never wrote (nor met the user)
ONE_WAY = "one-way: never wrote back"
CARDED = "in your address book"


def local_date(dt: datetime, tz: tzinfo) -> date:
    return dt.astimezone(tz).date()


def rule_matches(rule: CadenceRule, emails: Iterable[str], tags: frozenset[str]) -> bool:
    """``tag:NAME`` matches a tag, in any case (an address book's ``group:Clients``); a
    pattern with ``@`` globs the address; else the domain."""
    if rule.match.startswith("tag:"):
        return rule.match[4:].lower() in {t.lower() for t in tags}
    for email in emails:
        target = email if "@" in rule.match else email.rpartition("@")[2]
        if fnmatch.fnmatchcase(target, rule.match):
            return True
    return False


def interval(facts: ContactFacts, settings: Settings) -> tuple[int, str]:
    """The contact's configured interval in days and where it comes from."""
    days, source, _ = _configured(facts, settings)
    return days, source


def _configured(facts: ContactFacts, settings: Settings) -> tuple[int, str, str]:
    """The configured interval, where it comes from in words, and as one word (``kind``)."""
    if facts.cadence_days is not None:
        return facts.cadence_days, "set for this contact", "set"
    for rule in settings.rules:
        if rule.every_days is not None and rule_matches(rule, facts.emails, facts.tags):
            return rule.every_days, f"rule {rule.match}", "rule"
    n = facts.touchpoints
    if 1 <= n <= len(settings.new_relationship_days):
        label = ORDINALS[n - 1] if n <= len(ORDINALS) else f"{n}th"
        return (settings.new_relationship_days[n - 1], f"new relationship ({label} touchpoint)",
                "new_relationship")
    return settings.default_days, "default", "default"


def _chosen(facts: ContactFacts, settings: Settings, as_of: date) -> Status:
    """A status with only the interval filled in: the configured one, or ``SLACK`` times
    the learned rhythm when that is shorter (never below ``learn_floor``); the user's own
    `keepwarm cadence` always wins. The strength comes along, read from the same days."""
    days, source, kind = _configured(facts, settings)
    touched = rhythm.touch_days(facts.touches, settings.tz, as_of)
    learned = rhythm.learned(touched, rhythm.window_start(as_of, settings.forget_after_days)
                             ) if settings.learn else None
    if learned is not None and kind != "set":
        suggested = rhythm.learned_interval(learned[0], settings.learn_floor_days)
        if suggested < days:
            source = (f"learned: {rhythm.SLACK:g} x your usual {learned[0]} days; {source} "
                      f"would be {days}")
            days, kind = suggested, "learned"
    two_way = facts.received > 0 or facts.meetings > 0
    last = local_date(facts.last_touch, settings.tz)
    return Status(facts, False, "", days, source, last, last, 0,
                  learned_days=learned[0] if learned else None,
                  gaps=learned[1] if learned else 0,
                  strength=rhythm.strength(touched, two_way, as_of), interval_kind=kind)


def status(facts: ContactFacts, settings: Settings, as_of: date) -> Status:
    """Tracked, interval, due date and how overdue one contact is on ``as_of``. With
    ``two_way`` a contact is tracked only once they wrote to the user or met them: cold
    outreach and a vendor written to once get follow-ups, never a cadence. Someone in the
    user's address book is known: tracked from the first touchpoint, two-way or not."""
    base = _chosen(facts, settings, as_of)
    days, last = base.interval_days, base.last_date
    due = last + timedelta(days=days)
    if facts.snooze_until is not None and facts.snooze_until > due:
        due = facts.snooze_until
    age = (as_of - last).days
    if facts.ignored:
        tracked, why = False, "ignored (keepwarm unignore to track again)"
    elif age > settings.forget_after_days:
        tracked, why = False, f"last touch {age} days ago, beyond forget_after"
    elif facts.meetings > 0:
        tracked, why = True, "met in a meeting"
    elif facts.carded:
        tracked, why = True, CARDED
    elif settings.two_way and facts.received == 0:
        tracked, why = False, ONE_WAY
    elif facts.touchpoints >= settings.min_touchpoints:
        tracked, why = True, (f"enough touchpoints (tracking starts at "
                              f"{settings.min_touchpoints})"
                              + (" and wrote back" if settings.two_way else ""))
    else:
        tracked, why = False, (f"fewer than {settings.min_touchpoints} touchpoints and no "
                               "meeting")
    return replace(base, tracked=tracked, why=why, due=due, overdue_days=(as_of - due).days)


def statuses(contacts: Iterable[ContactFacts], settings: Settings, as_of: date) -> list[Status]:
    return [status(c, settings, as_of) for c in contacts]


def lapsed(all_statuses: Iterable[Status], by: str = "priority") -> list[Status]:
    """Lapsed contacts, by ``priority`` (intervals overdue times strength: a close contact
    slightly overdue before a faint one long overdue) or ``overdue`` (most days first);
    then the most overdue, then by name, for a stable order."""
    def key(s: Status) -> tuple[float, int, str, str]:
        first = (rhythm.priority(s.overdue_days, s.interval_days, s.strength)
                 if by == "priority" else 0)
        return -first, -s.overdue_days, s.facts.name.lower(), s.facts.key
    return sorted((s for s in all_statuses if s.lapsed), key=key)
