"""How quickly the user and a person answer each other: the median time from a message to
its answer, each way, read from the threads (pure: mail in, durations out)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise

from daemon import followups, inference
from daemon.model import Mail, Settings
from daemon.words import plural


@dataclass(frozen=True)
class ReplyTimes:
    theirs: timedelta | None  # how long they take to answer the user (median), or None
    mine: timedelta | None  # how long the user takes to answer them
    theirs_count: int = 0  # how many answers each median is of
    mine_count: int = 0


def reply_times(mails: Iterable[Mail], people: Collection[str], own: Collection[str],
                settings: Settings) -> ReplyTimes:
    """Medians over every answer in a thread: a message a person of ``people`` wrote (not an
    automatic one) right after a message of the user's to them, and the other way round. Only
    the first answer to a message counts, and a message answers only a message before it."""
    own = frozenset(own)
    ignore = inference.compiled(settings.ignore)
    theirs: list[timedelta] = []
    mine: list[timedelta] = []
    relevant = [m for m in _relevant(mails, people, own)  # a machine's answer is none
                if _is_mine(m, own) or inference.received_rule(m, own, ignore) is None]
    for thread in followups.threads(relevant):
        for before, after in _turns(sorted(thread, key=lambda m: m.date), own):
            (theirs if _is_mine(before, own) else mine).append(after.date - before.date)
    return ReplyTimes(_median(theirs), _median(mine), len(theirs), len(mine))


def _relevant(mails: Iterable[Mail], people: Collection[str], own: frozenset[str]
              ) -> list[Mail]:
    """The messages between the user and ``people``, either way: what they wrote, and what
    the user wrote to one of them."""
    return [m for m in mails
            if (m.sender is not None and m.sender.email in people)
            or (_is_mine(m, own) and any(a.email in people for a in m.recipients))]


def _is_mine(m: Mail, own: frozenset[str]) -> bool:
    return m.sender is not None and m.sender.email in own


def _turns(thread: Sequence[Mail], own: frozenset[str]) -> Iterable[tuple[Mail, Mail]]:
    """Each pair of consecutive messages where the turn passes from one side to the other."""
    for before, after in pairwise(thread):
        if _is_mine(before, own) != _is_mine(after, own) and after.date > before.date:
            yield before, after


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered, mid = sorted(values), len(values) // 2
    return ordered[mid] if len(values) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def spoken(delta: timedelta) -> str:
    """A duration as a person says it: '3 hours', '2 days'."""
    hours = delta.total_seconds() / 3600
    if hours < 1:
        return plural(max(1, round(hours * 60)), "minute")
    if hours < 48:
        return plural(round(hours), "hour")
    return plural(round(hours / 24), "day")
