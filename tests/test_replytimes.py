"""How quickly each side answers: the median of the first answer to each message, each way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from daemon.model import Address, Mail, Settings
from daemon.replytimes import reply_times, spoken

T = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ME, JANE, BOB = "me@alpha.example", "jane@beta.example", "bob@gamma.example"
SETTINGS = Settings(own_addresses=frozenset({ME}))


def mail(mid: str, hours: float, frm: str, to: str, reply_to: str = "", **kw: object) -> Mail:
    return Mail(mid, T + timedelta(hours=hours), Address(frm), to=(Address(to),),
                in_reply_to=reply_to, references=(reply_to,) if reply_to else (),
                received=frm != ME, **kw)  # type: ignore[arg-type]


def test_the_medians_each_way() -> None:
    mails = [mail("a", 0, ME, JANE), mail("b", 2, JANE, ME, "a"),     # theirs: 2 h
             mail("c", 26, ME, JANE, "b"),                              # mine: 24 h
             mail("d", 30, JANE, ME, "c"), mail("e", 31, ME, JANE, "d"),  # 4 h, 1 h
             mail("f", 100, ME, JANE), mail("g", 106, JANE, ME, "f")]  # 6 h
    t = reply_times(mails, {JANE}, {ME}, SETTINGS)
    assert (t.theirs, t.theirs_count) == (timedelta(hours=4), 3)
    assert (t.mine, t.mine_count) == (timedelta(hours=12.5), 2)


def test_what_is_no_answer() -> None:
    mails = [mail("a", 0, ME, JANE),
             mail("b", 1, JANE, ME, "a", subject="Automatic reply: away"),  # a machine
             mail("c", 3, BOB, ME, "a"),  # someone else
             mail("d", 5, ME, JANE, "a"),  # my second message is no answer to my first
             mail("x", 9, JANE, ME)]  # a new thread, answering nothing of mine
    t = reply_times(mails, {JANE}, {ME}, SETTINGS)
    assert (t.theirs, t.mine) == (None, None)
    assert reply_times([], {JANE}, {ME}, SETTINGS) == t


@given(st.lists(st.tuples(st.booleans(), st.floats(0.1, 500)), max_size=12))
def test_medians_lie_between_the_shortest_and_the_longest_gap(
        turns: list[tuple[bool, float]]) -> None:
    """One thread of alternating or repeated turns: every median is one of the gaps where
    the turn passed (or between two of them), never outside them."""
    mails, at, prev = [], 0.0, ""
    for i, (mine, gap) in enumerate(turns):
        at += gap
        mid = f"m{i}"
        mails.append(mail(mid, at, ME if mine else JANE, JANE if mine else ME, prev))
        prev = mid
    t = reply_times(mails, {JANE}, {ME}, SETTINGS)
    passes = [(b.date, a.date) for b, a in pairwise(mails)
              if (b.sender == Address(ME)) != (a.sender == Address(ME))]
    gaps = [a - b for b, a in passes]
    assert t.theirs_count + t.mine_count == len(gaps)
    for median in (t.theirs, t.mine):
        if median is not None:
            assert min(gaps) <= median <= max(gaps)


def test_spoken() -> None:
    assert [spoken(timedelta(minutes=m)) for m in (0, 1, 59, 60, 90, 47 * 60, 49 * 60)] == [
        "1 minute", "1 minute", "59 minutes", "1 hour", "2 hours", "47 hours", "2 days"]
