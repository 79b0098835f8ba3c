"""Promises (daemon.promises and the ``promise`` reminder kind): plus tags in every header,
aliases, the self-copy, what cannot be dated, the state of each promise, and where its
reminder goes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as hst

from daemon.followups import awaiting
from daemon.inference import OWN_ADDRESS, Patterns, infer_mail, is_own, judge_mail
from daemon.model import (
    DEFAULT_IGNORE,
    Address,
    Create,
    Delete,
    Mail,
    Promise,
    PromiseText,
    RemoteReminder,
    Settings,
    Wish,
)
from daemon.planner import plan
from daemon.promises import Tag, collect, from_mail, judge, manual, tag_of
from daemon.reminders import promise_id, promise_title, promises

TZ = ZoneInfo("Europe/Berlin")
ME = Address("me@example.com", "Me")
ALIAS = "me@alias.example"  # learned: From of the user's sent mail
OWN = frozenset({ME.email, ALIAS})
JANE = Address("jane@acme.example", "Jane Doe")
BOB = Address("bob@acme.example", "Bob Baker")
S = Settings(own_addresses=frozenset({ME.email}), tz=TZ)
WED = datetime(2026, 12, 2, 10, 0, tzinfo=TZ)  # a Wednesday


def tagged(*to: Address, cc: tuple[Address, ...] = (), bcc: tuple[Address, ...] = (),
           mid: str = "m1", at: datetime = WED, sender: Address = ME, **kw: object) -> Mail:
    return Mail(mid, at, sender, to=to, cc=cc, bcc=bcc, subject="Proposal Q3",
                **kw)  # type: ignore[arg-type]


def tag(address: str) -> Address:
    return Address(address)


def one(mail: Mail) -> Promise:
    made, notes = from_mail(mail, OWN, S)
    assert notes == []
    [p] = made
    return p


# -- plus tags ---------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["to", "cc", "bcc"])
def test_a_tag_in_to_cc_or_bcc_promises_the_other_recipients(where: str) -> None:
    t = tag("me+followup-3d@example.com")
    headers = {"to": (JANE,), "cc": (), "bcc": ()}
    headers[where] = (*headers[where], t)
    p = one(tagged(*headers["to"], cc=headers["cc"], bcc=headers["bcc"]))
    assert (p.email, p.name, p.due, p.made, p.source, p.key, p.message_id, p.note, p.when,
            p.always, p.others) == (JANE.email, "Jane Doe", date(2026, 12, 5), WED, "tag",
                                    "m1", "m1", "Proposal Q3", "3d", False, ())


def test_the_short_tag_any_case_and_a_learned_alias() -> None:
    # sources lower-case addresses (``Address``); the tag is read in any case all the same
    p = one(tagged(JANE, BOB, bcc=(tag("ME+KW-Tue@Alias.Example".lower()),)))
    assert (p.email, p.others, p.due, p.when) == (JANE.email, (BOB.email,),
                                                  date(2026, 12, 8), "tue")
    assert tag_of("ME+KW-Tue-Always@Alias.Example", OWN) == Tag(
        "ME+KW-Tue-Always@Alias.Example", "tue", True)


def test_always_is_read_from_the_end_of_the_tag() -> None:
    p = one(tagged(JANE, bcc=(tag("me+followup-2026-12-24-always@example.com"),)))
    assert (p.due, p.when, p.always) == (date(2026, 12, 24), "2026-12-24", True)
    assert tag_of("me+kw-3d@example.com", OWN) is not None
    assert tag_of("me+shop@example.com", OWN) is None  # the user's, but no tag
    assert tag_of("jane+kw-3d@acme.example", OWN) is None  # someone else's plus-address


def test_a_tag_on_someone_elses_address_is_no_tag_and_they_are_a_person() -> None:
    other = tag("jane+kw-3d@acme.example")
    assert from_mail(tagged(other), OWN, S) == ([], [])
    [v] = infer_mail(tagged(other), OWN, Patterns(DEFAULT_IGNORE), 15)
    assert v.rule is None


def test_the_day_counts_from_the_date_in_the_users_zone() -> None:
    # 23:30 UTC on Saturday 28 March is Sunday in Berlin, where summer time begins
    late = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    p = one(tagged(JANE, bcc=(tag("me+kw-1d@example.com"),), at=late))
    assert p.due == date(2026, 3, 30)
    p = one(tagged(JANE, bcc=(tag("me+kw-1wd@example.com"),), at=late))
    assert p.due == date(2026, 3, 30)


def test_an_unparseable_tag_is_a_note_never_dropped_silently() -> None:
    made, notes = from_mail(tagged(JANE, bcc=(tag("me+kw-3x@example.com"),)), OWN, S)
    assert made == []
    [n] = notes
    assert (n.message_id, n.at, n.text, n.email) == ("m1", WED, "me+kw-3x@example.com",
                                                      JANE.email)
    assert "names no day" in n.problem and "3d, 2w, 1m, 5wd, tue" in n.problem
    made, [n] = from_mail(tagged(JANE, bcc=(tag("me+followup@example.com"),)), OWN, S)
    assert made == [] and "is not a day like" in n.problem


def test_a_tag_to_no_one_else_is_a_note() -> None:
    noreply = Address("noreply@shop.example")
    made, [n] = from_mail(tagged(noreply, bcc=(tag("me+kw-3d@example.com"),)), OWN, S)
    assert made == [] and "no one but you" in n.problem


def test_automated_recipients_are_not_promised() -> None:
    p = one(tagged(Address("notifications@github.com"), JANE,
                   cc=(tag("me+kw-3d@example.com"),)))
    assert (p.email, p.others) == (JANE.email, ())


def test_mail_someone_else_sent_makes_no_promise() -> None:
    mail = tagged(ME, cc=(tag("me+kw-3d@example.com"),), sender=JANE, received=True)
    assert from_mail(mail, OWN, S) == ([], [])


def test_the_self_copy_in_the_inbox_is_the_users_own_message_and_one_promise() -> None:
    sent = tagged(JANE, bcc=(tag("me+followup-3d@example.com"),))
    inbox = replace(sent, bcc=(), received=True, location="INBOX/1")  # the Bcc copy
    judged, verdicts = judge_mail(inbox, OWN, Patterns(DEFAULT_IGNORE), 15)
    assert judged.received is False  # the user's own: never a reply, never a person writing
    assert [(v.email, v.rule) for v in verdicts] == [(JANE.email, None)]
    promised, notes = collect([inbox, sent], OWN, S)
    assert [p.key for p in promised] == ["m1"] and notes == []


def test_the_tagged_address_is_the_users_never_a_contact_nor_awaited() -> None:
    verdicts = infer_mail(tagged(tag("me+kw-3d@example.com"), cc=(JANE,)), OWN,
                          Patterns(DEFAULT_IGNORE), 15)
    assert [(v.email, v.rule) for v in verdicts] == [
        ("me+kw-3d@example.com", OWN_ADDRESS), (JANE.email, None)]
    assert is_own("me+anything@alias.example", OWN)
    assert not is_own("me+x@other.example", OWN) and not is_own("+x@example.com", OWN)
    [a] = awaiting([tagged(tag("me+kw-3d@example.com"), cc=(JANE,))], OWN, S, (),
                   WED + timedelta(days=1))
    assert (a.email, a.recipients) == (JANE.email, (JANE.email,))


# -- sentences found in the user's text, and promises set by hand ---------------------------------
def test_found_sentences_are_promises_and_those_without_a_time_notes() -> None:
    found = (PromiseText("I'll call you on Tuesday", date(2026, 12, 8)),
             PromiseText("I'll get back to you", None))
    made, [n] = from_mail(tagged(JANE, bcc=(tag("me+kw-1w@example.com"),), promises=found),
                          OWN, S)
    assert [(p.source, p.key, p.due, p.note) for p in made] == [
        ("tag", "m1", date(2026, 12, 9), "Proposal Q3"),
        ("detected", "m1#2", date(2026, 12, 8), "I'll call you on Tuesday")]
    assert (n.text, n.problem) == ("I'll get back to you",
                                   "a promise that names no time: no reminder")


def test_a_manual_promise_counts_from_today_with_a_stable_key() -> None:
    p = manual(JANE.email, "", "fri", "the contract", WED, S)
    assert (p.email, p.name, p.due, p.source, p.note, p.when, p.message_id) == (
        JANE.email, JANE.email, date(2026, 12, 4), "manual", "the contract", "fri", "")
    assert p.key.startswith("manual-") and manual(JANE.email, "", "fri", "the contract",
                                                  WED, S).key == p.key
    assert manual(JANE.email, "", "fri", "other", WED, S).key != p.key
    with pytest.raises(ValueError, match="is not a day like"):
        manual(JANE.email, "", "someday", "", WED, S)


# -- state ------------------------------------------------------------------------------
P = one(tagged(JANE, BOB, bcc=(tag("me+kw-3d@example.com"),)))  # due Saturday 5 December
ALWAYS = replace(P, always=True)
BY_HAND = manual(JANE.email, "Jane Doe", "2026-12-05", "", WED, S)


def state(p: Promise, touched: dict[str, list[datetime]] | None = None,
          heard: dict[str, list[datetime]] | None = None,
          done: dict[str, datetime] | None = None,
          now: datetime = datetime(2026, 12, 10, 12, 0, tzinfo=TZ)) -> tuple[str, bool, str]:
    [s] = judge([p], touched or {}, heard or {}, done or {}, now, TZ)
    return s.state, s.overdue, s.why


def day(d: int, hh: int = 12) -> datetime:
    return datetime(2026, 12, d, hh, 0, tzinfo=TZ)


def test_open_until_its_day_then_overdue() -> None:
    assert state(P, now=day(5, 23)) == ("open", False, "")
    assert state(P, now=day(6, 0)) == ("open", True, "overdue since 2026-12-05")


def test_kept_by_a_touchpoint_after_the_promise_up_to_its_day() -> None:
    assert state(P, {JANE.email: [day(5, 23)]})[:2] == ("kept", False)
    assert state(P, {BOB.email: [day(3)]}) == ("kept", False, "in touch on 2026-12-03")
    assert state(BY_HAND, {JANE.email: [day(4)]})[0] == "kept"


def test_the_promising_message_itself_and_earlier_ones_keep_nothing() -> None:
    assert state(P, {JANE.email: [WED, WED - timedelta(days=1)]})[:2] == ("open", True)


def test_an_overdue_promise_is_kept_late_by_a_touchpoint() -> None:
    assert state(P, {JANE.email: [day(8)]}) == ("kept", False,
                                               "in touch on 2026-12-08, 3 days late")
    assert state(P, {JANE.email: [day(6)]})[2] == "in touch on 2026-12-06, 1 day late"


def test_dropped_when_they_answer_before_the_day() -> None:
    assert state(P, heard={BOB.email: [day(3)]}) == (
        "dropped", False, "they wrote on 2026-12-03, before the day")
    assert state(P, heard={JANE.email: [day(5, 8)]})[:2] == ("open", True)  # on the day
    assert state(BY_HAND, heard={JANE.email: [day(3)]})[:2] == ("open", True)  # the user's word


def test_the_first_thing_to_happen_decides() -> None:
    assert state(P, {JANE.email: [day(4)]}, {JANE.email: [day(3)]})[0] == "dropped"
    assert state(P, {JANE.email: [day(3)]}, {JANE.email: [day(4)]})[0] == "kept"


def test_always_ignores_what_happens_before_its_day() -> None:
    assert state(ALWAYS, {JANE.email: [day(3)]}, {JANE.email: [day(4)]})[:2] == ("open", True)
    assert state(ALWAYS, {JANE.email: [day(3), day(5, 15)]})[0] == "kept"


def test_done_by_key_or_message_id_keeps_it() -> None:
    assert state(P, done={"m1": day(3)}) == ("kept", False, "marked done")
    assert state(BY_HAND, done={BY_HAND.key: day(3)})[0] == "kept"
    assert state(ALWAYS, done={"m1": day(3)})[0] == "kept"


def test_nothing_after_now_is_seen() -> None:
    assert state(P, {JANE.email: [day(9)]}, done={"m1": day(9)}, now=day(8))[:2] == (
        "open", True)


HOURS = hst.lists(hst.integers(-48, 24 * 12), max_size=6).map(
    lambda hs: [WED + timedelta(hours=h) for h in hs])


@given(HOURS, HOURS, hst.booleans(), hst.sampled_from(["tag", "detected", "manual"]))
def test_once_closed_a_promise_stays_closed_and_order_does_not_matter(
        touches: list[datetime], answers: list[datetime], always: bool, source: str) -> None:
    p = replace(P, always=always, source=source)  # type: ignore[arg-type]
    end = WED + timedelta(days=12)
    [last] = judge([p], {JANE.email: touches}, {BOB.email: answers}, {}, end, TZ)
    [again] = judge([p], {JANE.email: touches[::-1]}, {BOB.email: answers[::-1]}, {}, end, TZ)
    assert again == last
    if last.state == "open":
        assert last.overdue and all(t <= WED or (always and t.date() < p.due) for t in touches)
        return
    assert last.closed is not None and last.closed > WED
    assert last.state == "kept" or (source != "manual" and not always)
    for now in (last.closed, last.closed + timedelta(hours=5), end):
        [then] = judge([p], {JANE.email: touches}, {BOB.email: answers}, {}, now, TZ)
        assert (then.state, then.closed) == (last.state, last.closed)
    [before] = judge([p], {JANE.email: touches}, {BOB.email: answers}, {},
                     last.closed - timedelta(seconds=1), TZ)
    assert before.state == "open"


# -- the reminder ------------------------------------------------------------------------
def test_titles_say_what_was_promised_and_when() -> None:
    said = replace(P, source="detected", note="I'll call you on Tuesday", when="")
    assert promise_title(said, TZ) == 'Promised: Jane Doe — "I\'ll call you on Tuesday" (2 Dec)'
    assert promise_title(P, TZ) == 'Follow up: Jane Doe — "Proposal Q3" (you set 3 days on 2 Dec)'
    assert promise_title(replace(P, note=""), TZ) == (
        "Follow up: Jane Doe — (no subject) (you set 3 days on 2 Dec)")
    assert promise_title(BY_HAND, TZ) == "Promised: Jane Doe (2 Dec)"


def wishes(p: Promise, now: datetime, **kw: list[datetime]) -> list[Wish]:
    return promises(judge([p], kw, {}, {}, now, TZ), now.date(), TZ)


def test_an_open_promise_is_a_fixed_wish_on_its_day_a_kept_one_none() -> None:
    [w] = wishes(P, day(3))
    assert (w.rid, w.rid.kind, w.due, w.earliest, w.fixed, w.name) == (
        promise_id(P), "promise", date(2026, 12, 5), date(2026, 12, 5), True, "Jane Doe")
    assert w.rid.key == "m1" and w.rid.contact == JANE.email
    assert w.description.splitlines() == [
        'Set on 2026-12-02 with the tag 3d on "Proposal Q3"', "Due: 2026-12-05",
        "To: jane@acme.example, bob@acme.example", "Message: <m1>", "",
        "Created by keepwarm. It removes this event once you are in touch with them (or they "
        "answer before the day), or after: keepwarm done m1", "Why: keepwarm promises"]
    [always] = wishes(ALWAYS, day(3))
    assert "in touch with them on its day or later, or after" in always.description
    assert "the tag 3d-always" in always.description
    [mine] = wishes(replace(BY_HAND, note="the contract"), day(3))
    assert mine.description.splitlines()[0] == (
        'Promised on 2026-12-02 with keepwarm remind: "the contract"')
    assert "answer" not in mine.description and "keepwarm done jane@acme.example" in (
        mine.description)
    assert promise_id(replace(P, contact="j@old.example")).contact == "j@old.example"
    assert wishes(P, day(4), **{JANE.email: [day(4)]}) == []


def test_budget_never_moves_a_promised_day_and_overdue_lands_on_today() -> None:
    s = replace(S, max_per_day=1)
    mon = replace(P, due=date(2026, 12, 7))
    crowd = Wish(replace(promise_id(P), kind="cadence", contact="x@y", key=""),
                 date(2026, 12, 1), "Follow up: X", "", earliest=date(2026, 12, 7), name="A")
    [w] = wishes(mon, day(3, 8))
    [w2] = wishes(replace(mon, key="m2", email=BOB.email), day(3, 8))
    placed = plan([crowd, w, w2], [], {}, {}, s, day(3, 8), True).reminders
    assert [placed[x.rid].start for x in (w, w2, crowd)] == [
        datetime(2026, 12, 7, 9, 30, tzinfo=TZ), datetime(2026, 12, 7, 9, 30, tzinfo=TZ),
        datetime(2026, 12, 8, 9, 30, tzinfo=TZ)]  # the budget moves the cadence one only
    [late] = wishes(mon, day(9, 15))  # overdue: today's slot, even past its time
    placed = plan([late], [], {}, {}, s, day(9, 15), True).reminders
    assert placed[late.rid].start == datetime(2026, 12, 9, 9, 30, tzinfo=TZ)
    assert late.due == w.due  # the same reminder, moved


def test_a_promise_on_the_day_summer_time_ends_is_at_reminders_time() -> None:
    p = replace(P, due=date(2026, 10, 25), made=datetime(2026, 10, 20, 9, tzinfo=TZ))
    [w] = wishes(p, datetime(2026, 10, 20, 9, tzinfo=TZ))
    placed = plan([w], [], {}, {}, S, datetime(2026, 10, 20, 9, tzinfo=TZ), True).reminders
    start = placed[w.rid].start
    assert (start.date(), start.hour, start.minute, start.utcoffset()) == (
        date(2026, 10, 25), 9, 30, timedelta(hours=1))


def test_a_kept_promise_loses_its_reminder_at_the_next_sync() -> None:
    [w] = wishes(P, day(3))
    first = plan([w], [], {}, {}, S, day(3), False)
    [create] = first.changes
    assert isinstance(create, Create)
    r = create.reminder
    event = RemoteReminder(r.uid, r.rid, r.start, "e1", "", r.title, r.description, r.end)
    kept = wishes(P, day(4, 18), **{JANE.email: [day(4)]})
    second = plan(kept, [event], first.records, {}, S, day(4, 18), False)
    assert second.changes == [Delete(event)]
