"""Follow-ups on unanswered mail (daemon.followups): one literal test per case of the issue,
then properties over random threads."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as hst

from daemon.followups import add_working_days, awaiting, threads
from daemon.model import Address, Awaiting, CadenceRule, ContactFacts, Mail, Settings

TZ = ZoneInfo("Europe/Berlin")
ME = Address("me@example.com", "Me")
JANE = Address("jane@acme.example", "Jane Doe")
BOB = Address("bob@acme.example", "Bob Baker")
S = Settings(own_addresses=frozenset({ME.email}), tz=TZ)
MON = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)  # a Monday
NOW = MON + timedelta(days=30)


def sent(mid: str, when: datetime, *to: Address, subject: str = "Proposal Q3",
         reply_to: str = "", **kw: object) -> Mail:
    return Mail(mid, when, ME, to=to or (JANE,), subject=subject, in_reply_to=reply_to,
                references=(reply_to,) if reply_to else (), **kw)  # type: ignore[arg-type]


def got(mid: str, when: datetime, sender: Address = JANE, reply_to: str = "",
        refs: tuple[str, ...] | None = None, **kw: object) -> Mail:
    return Mail(mid, when, sender, to=(ME,), subject="Re: Proposal Q3", in_reply_to=reply_to,
                references=(reply_to,) if refs is None and reply_to else refs or (),
                received=True, **kw)  # type: ignore[arg-type]


def wait(*mails: Mail, now: datetime = NOW, s: Settings = S, done: frozenset[str] = frozenset(),
         contacts: tuple[ContactFacts, ...] = ()) -> list[Awaiting]:
    return awaiting(mails, s.own_addresses, s, done, now, contacts)


def test_an_unanswered_message_waits_three_working_days_then_says_so() -> None:
    [a] = wait(sent("m1", MON + timedelta(days=4)))  # a Friday
    assert (a.email, a.name, a.subject, a.message_id, a.attempt) == (
        JANE.email, "Jane Doe", "Proposal Q3", "m1", 1)
    assert a.next_followup == date(2026, 3, 11)  # Fri + 3 working days = Wed
    assert (a.state, a.thread, a.sent, a.contact) == (
        "waiting", "m1", (MON + timedelta(days=4),), JANE.email)


def test_a_reply_with_references_stripped_still_answers() -> None:
    """Outlook keeps In-Reply-To and drops References."""
    assert wait(sent("m1", MON), got("r1", MON + timedelta(days=1), reply_to="m1",
                                     refs=())) == []


def test_a_reply_found_only_by_the_services_thread_id_answers() -> None:
    other = Address("eve@elsewhere.example")
    assert wait(sent("m1", MON, thread="t1"),
                got("r1", MON + timedelta(days=1), sender=other, thread="t1")) == []


def test_a_new_message_from_the_person_answers_outside_the_thread() -> None:
    fresh = replace(got("r1", MON + timedelta(days=2)), subject="lunch?")
    assert wait(sent("m1", MON), fresh) == []
    assert len(wait(sent("m1", MON), replace(fresh, date=MON - timedelta(days=3)))) == 1


def test_a_colleague_at_the_recipients_company_answers() -> None:
    assert wait(sent("m1", MON), got("r1", MON + timedelta(days=1), sender=BOB)) == []


def test_a_stranger_at_the_same_free_mail_domain_is_no_colleague() -> None:
    ann, tom = Address("ann@gmail.com", "Ann"), Address("tom@gmail.com", "Tom")
    assert len(wait(sent("m1", MON, ann), got("r1", MON + timedelta(days=1), sender=tom))) == 1


def test_a_colleague_of_mine_is_no_answer_for_a_recipient_at_my_own_domain() -> None:
    pat, sam = Address("pat@example.com"), Address("sam@example.com")
    assert len(wait(sent("m1", MON, pat), got("r1", MON + timedelta(days=1), sender=sam))) == 1


def test_another_recipient_answering_in_the_thread_answers() -> None:
    other = Address("kim@other.example")
    assert wait(sent("m1", MON, JANE, other),
                got("r1", MON + timedelta(days=1), sender=other, reply_to="m1")) == []


def test_an_auto_reply_then_a_real_reply() -> None:
    auto = replace(got("r1", MON + timedelta(hours=1), reply_to="m1"),
                   subject="Automatic reply: Proposal Q3")
    assert [a.message_id for a in wait(sent("m1", MON), auto)] == ["m1"]
    assert wait(sent("m1", MON), auto, got("r2", MON + timedelta(days=2), reply_to="m1")) == []


def test_automatic_mail_of_every_kind_is_no_answer() -> None:
    later = MON + timedelta(hours=2)
    for auto in (got("r", later, reply_to="m1", autoreply=True),
                 got("r", later, reply_to="m1", auto_submitted="auto-replied"),
                 got("r", later, reply_to="m1", precedence="bulk"),
                 got("r", later, reply_to="m1", list_id="list.acme.example"),
                 replace(got("r", later, reply_to="m1"), subject="Abwesenheitsnotiz: x")):
        assert len(wait(sent("m1", MON), auto)) == 1, auto


def test_a_bounce_is_no_answer() -> None:
    daemon = Address("mailer-daemon@mx.acme.example")
    bounce = got("b1", MON + timedelta(minutes=5), sender=daemon, reply_to="m1", report=True)
    assert len(wait(sent("m1", MON), bounce)) == 1


def test_a_reply_dated_before_my_message_counts() -> None:
    """The sender's clock was wrong; the reply names my message, so it came after it."""
    assert wait(sent("m1", MON), got("r1", MON - timedelta(hours=3), reply_to="m1")) == []


def test_what_my_message_answered_is_not_its_answer() -> None:
    question = replace(got("q1", MON - timedelta(hours=2)), subject="Proposal?")
    assert len(wait(question, sent("m1", MON, reply_to="q1"))) == 1


def test_with_replies_off_only_my_own_openings_and_their_follow_ups_wait() -> None:
    quiet = replace(S, followup_replies=False)
    question = replace(got("q1", MON - timedelta(hours=2)), subject="Proposal?")
    answer = sent("m1", MON, reply_to="q1")
    assert wait(question, answer, s=quiet) == []
    # ... nor my follow-up on that answer (the row starts with a reply), nor an answer that
    # kept only References (In-Reply-To dropped)
    assert wait(question, answer, sent("m2", MON + timedelta(days=5), reply_to="m1"),
                s=quiet) == []
    assert wait(question, replace(answer, in_reply_to=""), s=quiet) == []
    # a thread I started waits, and my reply after their answer there too does not
    assert len(wait(sent("m1", MON), s=quiet)) == 1
    assert wait(sent("m1", MON), got("r1", MON + timedelta(days=1), reply_to="m1"),
                replace(sent("m2", MON + timedelta(days=2), reply_to="r1"),
                        references=("m1", "r1")), s=quiet) == []
    # with the default, each of these waits
    assert len(wait(question, answer)) == 1


def test_my_second_unanswered_message_is_attempt_two() -> None:
    second = MON + timedelta(days=7)
    [a] = wait(sent("m1", MON), sent("m2", second, reply_to="m1"))
    assert (a.attempt, a.message_id, a.sent, a.thread) == (2, "m2", (MON, second), "m1")
    assert a.next_followup == add_working_days(second.date(), 7, S.working_days)
    assert a.message_ids == ("m1", "m2")


def test_after_the_last_step_the_thread_has_gone_quiet() -> None:
    mails = [sent(f"m{i}", MON + timedelta(days=5 * i), reply_to="m0" if i else "")
             for i in range(4)]
    [a] = wait(*mails)
    assert (a.attempt, a.state, a.next_followup) == (4, "gone_quiet", None)


def test_an_answer_ends_the_row_and_a_later_message_starts_a_new_one() -> None:
    [a] = wait(sent("m1", MON), got("r1", MON + timedelta(days=1), reply_to="m1"),
               replace(sent("m2", MON + timedelta(days=2), reply_to="r1"),
                       references=("m1", "r1")))
    assert (a.attempt, a.message_id, a.thread) == (1, "m2", "m1")


def test_me_only_in_cc_is_not_awaiting() -> None:
    theirs = Mail("x1", MON, JANE, to=(BOB,), cc=(ME,), subject="fyi", received=True)
    assert wait(theirs) == []


def test_a_message_to_ten_people_is_not_awaiting() -> None:
    many = tuple(Address(f"p{i}@co{i}.example") for i in range(10))
    assert wait(sent("m1", MON, *many)) == []
    assert len(wait(sent("m1", MON, *many[:3]))) == 1


def test_mail_to_myself_or_to_a_noreply_address_waits_for_nobody() -> None:
    assert wait(sent("m1", MON, ME), sent("m2", MON, Address("noreply@shop.example"))) == []


def test_older_than_the_window_is_let_go() -> None:
    assert wait(sent("m1", NOW - timedelta(days=61))) == []
    assert len(wait(sent("m1", NOW - timedelta(days=59)))) == 1


def test_done_marks_end_the_wait_and_a_later_message_waits_anew() -> None:
    assert wait(sent("m1", MON), done=frozenset({"m1"})) == []
    [a] = wait(sent("m1", MON), sent("m2", MON + timedelta(days=3), reply_to="m1"),
               done=frozenset({"m1"}))
    assert (a.attempt, a.message_ids) == (1, ("m2",))


def test_rules_carry_their_own_steps_or_turn_follow_ups_off() -> None:
    prospect = ContactFacts(JANE.email, (JANE.email,), "Jane D.", 1, 0, MON, "email",
                            tags=frozenset({"prospect"}))
    s = replace(S, rules=(CadenceRule("tag:prospect", None, (2, 5, 10, 20)),
                          CadenceRule("acme.example", 30, ())))
    [a] = wait(sent("m1", MON), s=s, contacts=(prospect,))
    assert (a.next_followup, a.name) == (date(2026, 3, 4), "Jane D.")
    assert wait(sent("m1", MON), s=s) == []  # untagged: the domain rule turns them off
    assert wait(sent("m1", MON), s=replace(S, followup_after=())) == []


def test_an_ignored_contact_gets_no_follow_up_and_a_merged_one_its_key() -> None:
    facts = ContactFacts("j@old.example", ("j@old.example", JANE.email), "Jane", 3, 0, MON,
                         "email")
    [a] = wait(sent("m1", MON), contacts=(facts,))
    assert a.contact == "j@old.example"
    assert wait(sent("m1", MON), contacts=(replace(facts, ignored=True),)) == []


def test_links_open_the_thread_where_the_source_has_one() -> None:
    graph = "https://outlook.office365.com/owa/?ItemID=abc"
    [a] = wait(sent("m1", MON, link=graph))
    assert a.link == graph
    [a] = wait(sent("m1", MON, thread="18c2f0a1b2c3d4e5"))
    assert a.link == "https://mail.google.com/mail/#all/18c2f0a1b2c3d4e5"
    assert a.thread == "18c2f0a1b2c3d4e5"
    [a] = wait(sent("m1@example.com", MON))
    assert a.link == ("mailto:jane@acme.example?subject=Re%3A%20Proposal%20Q3"
                      "&In-Reply-To=%3Cm1@example.com%3E")


def test_messages_after_now_are_not_seen_yet() -> None:
    late = got("r1", MON + timedelta(days=5), reply_to="m1")
    assert len(wait(sent("m1", MON), late, now=MON + timedelta(days=4))) == 1


def test_sorted_by_next_follow_up_with_gone_quiet_last() -> None:
    quiet = [sent(f"q{i}", MON + timedelta(days=i), Address("zed@z.example"),
                  reply_to="q0" if i else "") for i in range(4)]
    found = wait(sent("m1", MON + timedelta(days=10)), sent("b1", MON, BOB), *quiet)
    assert [a.message_id for a in found] == ["b1", "m1", "q3"]


def test_working_days_skip_the_weekend() -> None:
    assert add_working_days(date(2026, 3, 6), 1, range(5)) == date(2026, 3, 9)
    assert add_working_days(date(2026, 3, 7), 3, range(5)) == date(2026, 3, 11)


# -- properties ---------------------------------------------------------------------------
PEOPLE = [JANE, BOB, Address("ann@gmail.com", "Ann"), Address("kim@kim.example", "Kim")]


@hst.composite
def mailboxes(draw: hst.DrawFn) -> list[Mail]:
    """Random conversations: my messages and theirs, some replying to earlier ones."""
    mails: list[Mail] = []
    for i in range(draw(hst.integers(1, 12))):
        when = MON + timedelta(hours=draw(hst.integers(0, 24 * 25)))
        parent = draw(hst.sampled_from(["", *(m.message_id for m in mails)]))
        person = draw(hst.sampled_from(PEOPLE))
        if draw(hst.booleans()):
            mails.append(sent(f"m{i}", when, person, reply_to=parent))
        else:
            mails.append(got(f"r{i}", when, sender=person, reply_to=parent,
                             autoreply=draw(hst.booleans())))
    return mails


@settings(max_examples=200, deadline=None)
@given(mailboxes(), hst.randoms())
def test_the_answer_does_not_depend_on_the_order_of_the_input(mails: list[Mail],
                                                              rnd: random.Random) -> None:
    shuffled = list(mails)
    rnd.shuffle(shuffled)
    assert wait(*shuffled) == wait(*mails)


@settings(max_examples=200, deadline=None)
@given(mailboxes())
def test_every_waiting_thread_is_my_unanswered_messages_in_a_row(mails: list[Mail]) -> None:
    by_id = {m.message_id: m for m in mails}
    for a in wait(*mails):
        mine = [by_id[i] for i in a.message_ids]
        assert all(m.sender == ME for m in mine) and a.attempt == len(mine) >= 1
        assert a.sent == tuple(m.date for m in mine) == tuple(sorted(a.sent))
        assert a.message_id == a.message_ids[-1]
        assert (a.state == "waiting") == (a.attempt <= len(S.followup_after))
        if a.next_followup is not None:
            assert a.next_followup > a.sent[-1].date() and a.next_followup.weekday() < 5


@settings(max_examples=200, deadline=None)
@given(mailboxes())
def test_a_reply_or_done_ends_every_wait(mails: list[Mail]) -> None:
    found = wait(*mails)
    replies = [got(f"reply-{a.message_id}", a.sent[-1] + timedelta(minutes=1),
                   sender=Address(a.email), reply_to=a.message_id) for a in found]
    assert wait(*mails, *replies) == []
    assert wait(*mails, done=frozenset(i for a in found for i in a.message_ids)) == []


@settings(max_examples=100, deadline=None)
@given(mailboxes())
def test_each_message_is_in_exactly_one_thread(mails: list[Mail]) -> None:
    groups = threads(mails)
    assert sorted(m.message_id for g in groups for m in g) == sorted(
        m.message_id for m in mails)


@settings(max_examples=100, deadline=None)
@given(mailboxes(), hst.data())
def test_the_threads_holding_some_messages_are_those_of_all_threads(
        mails: list[Mail], data: hst.DataObject) -> None:
    """``threads`` with ``holding`` leaves messages that name none out of its union-find."""
    ids = [m.message_id for m in mails] + ["absent"]
    holding = set(data.draw(hst.lists(hst.sampled_from(ids), max_size=4)))

    def ids_of(groups: list[list[Mail]]) -> set[frozenset[str]]:
        return {frozenset(m.message_id for m in g) for g in groups}

    assert ids_of(threads(mails, holding)) == ids_of(
        [g for g in threads(mails) if any(m.message_id in holding for m in g)])


@settings(max_examples=100, deadline=None)
@given(mailboxes(), hst.lists(hst.tuples(hst.integers(0, 24 * 30), hst.booleans()),
                              max_size=5))
def test_mail_from_strangers_outside_every_thread_changes_nothing(
        mails: list[Mail], noise: list[tuple[int, bool]]) -> None:
    """Such mail is not even judged (most of an inbox is newsletters and strangers)."""
    strangers = [got(f"n{i}", MON + timedelta(hours=h), sender=Address(f"x{i}@news.example"),
                     refs=(), list_id="news.example" if listed else "")
                 for i, (h, listed) in enumerate(noise)]
    assert wait(*mails, *strangers) == wait(*mails)


def test_a_strangers_message_that_a_reply_names_is_in_the_thread() -> None:
    """Eve wrote (naming nothing); I answered her message to Jane, then asked Jane again:
    Eve's message, dated a day after my last (her clock is wrong), is in the thread and
    answers it."""
    eve = Address("eve@elsewhere.example", "Eve")
    late = got("e1", MON + timedelta(days=3), sender=eve, refs=())
    first = sent("m1", MON, JANE, reply_to="e1")
    again = sent("m2", MON + timedelta(days=2), JANE, reply_to="m1")
    assert [a.attempt for a in wait(first, again)] == [2]
    assert wait(late, first, again) == []


@given(hst.text())
def test_mailto_links_quote_what_needs_it(text: str) -> None:
    # "x." first: a bare "donotreply" would be an automated address, which awaits nobody
    person = f"x.{text}@acme.example"
    [a] = wait(sent(f"{text}@example.com", MON, Address(person)))
    assert a.link.endswith(f"&In-Reply-To={quote(f'<{text}@example.com>', safe='@')}")
    assert a.link.startswith(f"mailto:{quote(person, safe='@')}?subject=")
