"""How keepwarm's counts and states read to a person: "1 meeting", never "1 meetings" or a
plural in brackets; a contact's state in the words `show` and `contacts` share."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from daemon.cadence import ONE_WAY
from daemon.model import Status


def plural(n: int, word: str, many: str = "") -> str:
    """``n`` and the noun in the number English wants ("1 reply", "2 replies" with many)."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def state(s: Status, today: date) -> str:
    """One contact's state in a few words: lapsed, tracked or not, and whatever the user
    steered (ignored, snoozed, merged, tags), so `contacts` never hides an ignored person
    behind a bare "not tracked"."""
    f = s.facts
    words = ["ignored" if f.ignored else "lapsed" if s.lapsed else
             "tracked" if s.tracked else
             f"not tracked ({ONE_WAY})" if s.why == ONE_WAY else "not tracked"]
    if f.snooze_until and f.snooze_until > today:
        words.append(f"snoozed until {f.snooze_until}")
    if len(f.emails) > 1:
        words.append(f"merged ({plural(len(f.emails), 'address', 'addresses')})")
    if f.tags:
        words.append("tags: " + ", ".join(sorted(f.tags)))
    return "; ".join(words)


def moment(stamp: str | None, tz: tzinfo, now: datetime) -> str:
    """A stored ISO time stamp as a person reads it: in their time zone, to the minute, and
    how long ago or ahead ("2026-03-02 09:30, 5 minutes ago"); 'never' for none."""
    if not stamp:
        return "never"
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if at.tzinfo is None:
        return stamp
    seconds = (now - at).total_seconds()
    span, unit = abs(seconds), "second"
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if span >= size:
            span, unit = span / size, name
            break
    if unit == "second":
        return f"{at.astimezone(tz):%Y-%m-%d %H:%M}, just now"
    amount = plural(int(span), unit)
    return f"{at.astimezone(tz):%Y-%m-%d %H:%M}, " + (
        f"{amount} ago" if seconds > 0 else f"in {amount}")
