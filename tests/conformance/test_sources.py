"""The contract every source connector keeps (run for each harness in conftest.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors import registry
from daemon.model import Address, Attendee, Batch, FetchContext, Mail, Meeting, Skipped

NOW = datetime.now(UTC).replace(microsecond=0)
CTX = FetchContext(now=NOW, tz=ZoneInfo("Europe/Berlin"), window_start=NOW - timedelta(days=1095),
                   window_end=NOW + timedelta(days=14))


def message(n: int, **extra: str) -> bytes:
    date = (NOW - timedelta(days=30 - n)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    headers = {
        "From": "Me <me@example.com>",
        "To": f"Person {n} <p{n}@example.org>",
        "Date": date,
        "Message-ID": f"<m{n}@example.com>",
        "Subject": f"hello {n}",
        **extra,
    }
    head = "".join(f"{k}: {v}\n" for k, v in headers.items())
    return (head + "\nbody\n").encode()


def fetch(harness: Any, cursor: Any = None) -> tuple[list[Batch], Any]:
    conn = registry.connector_class(harness.type)(harness.account())
    try:
        batches = list(conn.fetch(cursor, CTX))
    finally:
        conn.close()
    assert batches, "a fetch yields at least one batch (with the cursor)"
    return batches, batches[-1].cursor


def mails(batches: list[Batch]) -> list[Mail]:
    return [o for b in batches for o in b.observations if isinstance(o, Mail)]


def meetings(batches: list[Batch]) -> list[Meeting]:
    return [o for b in batches for o in b.observations if isinstance(o, Meeting)]


# -- mail sources ----------------------------------------------------------------
def test_empty_source_yields_a_json_cursor(mail_harness: Any) -> None:
    batches, cursor = fetch(mail_harness)
    assert mails(batches) == []
    assert json.loads(json.dumps(cursor)) == cursor


def test_reads_everything_once_then_only_what_is_new(mail_harness: Any) -> None:
    for n in range(5):
        mail_harness.add_mail(message(n))
    batches, cursor = fetch(mail_harness)
    assert sorted(m.message_id for m in mails(batches)) == [f"m{n}@example.com" for n in range(5)]
    again, cursor2 = fetch(mail_harness, json.loads(json.dumps(cursor)))
    assert mails(again) == []
    mail_harness.add_mail(message(7))
    newer, _ = fetch(mail_harness, cursor2)
    assert [m.message_id for m in mails(newer)] == ["m7@example.com"]


def test_resuming_from_any_batch_cursor_loses_nothing(mail_harness: Any) -> None:
    for n in range(8):
        mail_harness.add_mail(message(n))
    batches, _ = fetch(mail_harness)
    want = {f"m{n}@example.com" for n in range(8)}
    for i, batch in enumerate(batches):
        before = {m.message_id for m in mails(batches[: i + 1])}
        after, _ = fetch(mail_harness, batch.cursor)
        assert before | {m.message_id for m in mails(after)} == want


def test_headers_reach_inference(mail_harness: Any) -> None:
    mail_harness.add_mail(message(
        1, Cc='"Doe, Jane" <Jane@Example.org>, =?utf-8?q?J=C3=BCrgen?= <j@example.org>',
        **{"List-Id": "<news.example.com>", "Precedence": "Bulk", "Auto-Submitted": "auto-replied",
           "In-Reply-To": "<prev@example.org>", "List-Unsubscribe": "<mailto:u@example.com>"}))
    (m,) = mails(fetch(mail_harness)[0])
    assert m.sender == Address("me@example.com", "Me")
    assert m.to == (Address("p1@example.org", "Person 1"),)
    assert m.cc == (Address("jane@example.org", "Doe, Jane"), Address("j@example.org", "Jürgen"))
    assert m.date == NOW - timedelta(days=29)
    assert (m.list_id, m.precedence, m.auto_submitted) == (
        "<news.example.com>", "bulk", "auto-replied")
    assert m.in_reply_to == "prev@example.org"  # normalised like Message-ID
    assert m.list_unsubscribe == "<mailto:u@example.com>"
    assert m.subject == "hello 1"
    assert m.location


def test_a_malformed_message_is_skipped_and_the_rest_read(mail_harness: Any) -> None:
    mail_harness.add_mail(message(1))
    mail_harness.add_mail(b"\x00\x01\x02\xff no header here at all\n\n")
    mail_harness.add_mail(message(2))
    batches, _ = fetch(mail_harness)
    assert sorted(m.message_id for m in mails(batches)) == ["m1@example.com", "m2@example.com"]
    skipped = [o for b in batches for o in b.observations if isinstance(o, Skipped)]
    assert len(skipped) == 1 and skipped[0].reason and skipped[0].location


# -- received mail -----------------------------------------------------------------
HEADER_SOURCES = {"memory", "maildir", "mbox", "imap"}  # read raw headers: no thread ids


def received_harness(harness: Any) -> Any:
    if not hasattr(harness, "add_received"):
        pytest.skip(f"the {harness.type} harness delivers no received mail")
    return harness


def reply(n: int, **extra: str) -> bytes:
    """Person n's answer to my message n."""
    date = (NOW - timedelta(days=20 - n)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    headers = {"From": f"Person {n} <p{n}@example.org>", "To": "Me <me@example.com>",
               "Date": date, "Message-ID": f"<r{n}@example.org>", "Subject": f"Re: hello {n}",
               "In-Reply-To": f"<m{n}@example.com>", **extra}
    return ("".join(f"{k}: {v}\n" for k, v in headers.items()) + "\nbody\n").encode()


def test_received_mail_carries_every_thread_and_automation_field(mail_harness: Any) -> None:
    harness = received_harness(mail_harness)
    chain = " ".join(f"<a{i}@example.org>" for i in range(25))
    harness.add_mail(message(1))
    harness.add_received(reply(1, References=f"{chain}\n <m1@example.com>"))
    harness.add_received(reply(2, **{"X-Autoreply": "yes"}))
    harness.add_received(reply(3, **{"X-Autorespond": "x", "Content-Type":
                                     'Multipart/Report; report-type="delivery-status"'}))
    harness.add_received(reply(4, **{"X-Autoresponder": ""}))
    got = {m.message_id: m for m in mails(fetch(harness)[0])}
    assert not got["m1@example.com"].received
    first = got["r1@example.org"]
    assert first.received and first.sender == Address("p1@example.org", "Person 1")
    assert first.to == (Address("me@example.com", "Me"),)
    assert first.in_reply_to == "m1@example.com"
    assert first.references == (*(f"a{i}@example.org" for i in range(6, 25)), "m1@example.com")
    assert (first.autoreply, first.report) == (False, False)
    assert first.thread == "" or harness.type not in HEADER_SOURCES
    assert (got["r2@example.org"].autoreply, got["r2@example.org"].report) == (True, False)
    assert (got["r3@example.org"].autoreply, got["r3@example.org"].report) == (True, True)
    assert got["r4@example.org"].autoreply and got["r4@example.org"].received


def test_received_mail_resumes_from_any_batch_cursor(mail_harness: Any) -> None:
    harness = received_harness(mail_harness)
    for n in range(4):
        harness.add_mail(message(n))
        harness.add_received(reply(n))
    batches, cursor = fetch(harness)
    want = {f"m{n}@example.com" for n in range(4)} | {f"r{n}@example.org" for n in range(4)}
    assert {m.message_id for m in mails(batches)} == want
    for i, batch in enumerate(batches):
        before = {m.message_id for m in mails(batches[: i + 1])}
        after, _ = fetch(harness, json.loads(json.dumps(batch.cursor)))
        assert before | {m.message_id for m in mails(after)} == want
    idle, cursor = fetch(harness, cursor)
    assert mails(idle) == []
    harness.add_received(reply(7))
    newer, _ = fetch(harness, cursor)
    assert [(m.message_id, m.received) for m in mails(newer)] == [("r7@example.org", True)]


def test_a_message_in_sent_and_received_comes_first_as_sent(mail_harness: Any) -> None:
    """A copy of my own message in an inbox or an archive: the sent copy is delivered first,
    so the store (first stored wins) keeps it as sent; a source may drop the second."""
    harness = received_harness(mail_harness)
    harness.add_received(message(1))
    harness.add_mail(message(1))
    harness.add_received(reply(1))
    harness.add_received(reply(1))  # delivered twice to the inbox
    got = [(m.message_id, m.received) for m in mails(fetch(harness)[0])]
    assert got[0] == ("m1@example.com", False)
    assert ("r1@example.org", True) in got


def test_plus_tags_reach_mail_in_to_cc_and_bcc(mail_harness: Any) -> None:
    """Promises set from the mail client (issue 15): the user's own plus-address in To, Cc
    or Bcc of the sent copy must reach Mail from every source as written (Gmail keeps Bcc in
    the sent copy's metadata, Graph has bccRecipients), and the copy of the message in the
    inbox is the same message, never a second one."""
    harness = received_harness(mail_harness)
    harness.add_mail(message(
        1, To="Jane <jane@acme.example>, Me <Me+KW-tue@example.com>",
        Cc="me+followup-2026-13-40@example.com", Bcc="me+followup-3d-always@example.com"))
    harness.add_received(message(1, To="Jane <jane@acme.example>"))
    got = mails(fetch(harness)[0])
    assert [m.message_id for m in got if not m.received] == ["m1@example.com"]
    (m,) = [m for m in got if not m.received]
    assert [a.email for a in m.to] == ["jane@acme.example", "me+kw-tue@example.com"]
    assert [a.email for a in m.cc] == ["me+followup-2026-13-40@example.com"]
    assert [a.email for a in m.bcc] == ["me+followup-3d-always@example.com"]
    assert all(c.message_id == "m1@example.com" for c in got)


def headers(**fields: str) -> bytes:
    return ("".join(f"{k.replace('_', '-')}: {v}\n" for k, v in fields.items())
            + "\nbody\n").encode()


def day(n: int) -> str:
    return (NOW - timedelta(days=n)).strftime("%a, %d %b %Y %H:%M:%S +0000")


# The thread cases, as raw messages: (sent?, raw). What follow-ups need of each must
# reach Mail the same way from every source (the follow-up rules themselves are pure code).
THREAD = {
    "mine": (True, headers(From="Me <me@example.com>", To="Jane <jane@acme.example>",
                           Date=day(10), Message_ID="<p1@example.com>", Subject="Proposal Q3")),
    "second": (True, headers(From="Me <me@example.com>", To="Jane <jane@acme.example>",
                             Date=day(6), Message_ID="<p2@example.com>",
                             Subject="Re: Proposal Q3", In_Reply_To="<p1@example.com>",
                             References="<p1@example.com>")),
    "ten": (True, headers(From="Me <me@example.com>", Date=day(9),
                          To=", ".join(f"t{i}@example.org" for i in range(10)),
                          Message_ID="<all@example.com>", Subject="News")),
    "stripped": (False, headers(From="Jane <jane@acme.example>", To="me@example.com",
                                Date=day(5), Message_ID="<s1@acme.example>",
                                Subject="RE: Proposal Q3")),
    "colleague": (False, headers(From="Joe <joe@acme.example>", To="me@example.com",
                                 Date=day(5), Message_ID="<c1@acme.example>",
                                 Subject="Re: Proposal Q3", In_Reply_To="<p1@example.com>")),
    "auto": (False, headers(From="Jane <jane@acme.example>", To="me@example.com",
                            Date=day(9), Message_ID="<o1@acme.example>",
                            Subject="Automatic reply: Proposal Q3",
                            Auto_Submitted="auto-replied", X_Autoreply="yes",
                            In_Reply_To="<p1@example.com>")),
    "bounce": (False, headers(From="Mail Delivery System <MAILER-DAEMON@mx.example>",
                              To="me@example.com", Date=day(9), Message_ID="<b1@mx.example>",
                              Subject="Undelivered Mail Returned to Sender",
                              Content_Type='multipart/report; report-type=delivery-status')),
    "skewed": (False, headers(From="Ann <ann@example.org>", To="me@example.com",
                              Date=day(11), Message_ID="<k1@example.org>",
                              Subject="Re: Proposal Q3", In_Reply_To="<p1@example.com>",
                              References="<p0@example.com> <p1@example.com>")),
    "cc_only": (False, headers(From="Bob <bob@example.org>", To="carl@example.org",
                               Cc="Me <me@example.com>", Date=day(8),
                               Message_ID="<cc1@example.org>", Subject="FYI")),
}


def test_the_thread_cases_reach_mail_with_what_follow_ups_need(mail_harness: Any) -> None:
    harness = received_harness(mail_harness)
    for sent, raw in THREAD.values():
        (harness.add_mail if sent else harness.add_received)(raw)
    got = {m.message_id.split("@")[0]: m for m in mails(fetch(harness)[0])}
    assert set(got) == {"p1", "p2", "all", "s1", "c1", "o1", "b1", "k1", "cc1"}
    assert sorted(n for n, m in got.items() if not m.received) == ["all", "p1", "p2"]
    assert (got["p2"].in_reply_to, got["p2"].references) == ("p1@example.com",
                                                            ("p1@example.com",))
    assert len(got["all"].to) == 10
    stripped = got["s1"]
    assert (stripped.in_reply_to, stripped.references) == ("", ())
    assert stripped.sender == Address("jane@acme.example", "Jane")
    assert got["c1"].sender == Address("joe@acme.example", "Joe")
    assert (got["o1"].auto_submitted, got["o1"].autoreply) == ("auto-replied", True)
    assert got["o1"].subject == "Automatic reply: Proposal Q3"
    assert got["b1"].report and got["b1"].sender == Address("mailer-daemon@mx.example",
                                                             "Mail Delivery System")
    assert got["k1"].date == NOW - timedelta(days=11) < got["p1"].date  # kept, not "fixed"
    assert got["k1"].references == ("p0@example.com", "p1@example.com")
    assert got["cc1"].cc == (Address("me@example.com", "Me"),) and got["cc1"].to == (
        Address("carl@example.org"),)
    if harness.type in HEADER_SOURCES:  # the APIs' sources give their own thread ids
        assert all(m.thread == "" for m in got.values())


# -- meeting sources ---------------------------------------------------------------
def meeting(uid: str, days_ago: int, **kw: Any) -> Meeting:
    start = NOW.replace(minute=0, second=0) - timedelta(days=days_ago)
    return Meeting(uid, start, start + timedelta(hours=1), **kw)


def test_meetings_come_back_as_stored(meeting_harness: Any) -> None:
    m = meeting("a1@example.com", 3, organizer=Address("boss@example.org", "Boss"),
                attendees=(Attendee(Address("me@example.com", "Me"), "accepted"),
                           Attendee(Address("x@example.org", "X"), "declined"),
                           Attendee(Address("y@example.org", "Y"), "tentative")),
                summary="Review")
    meeting_harness.add_meeting(m)
    meeting_harness.add_meeting(meeting("c1@example.com", 2, status="cancelled"))
    (got_a, got_c) = sorted(meetings(fetch(meeting_harness)[0]), key=lambda x: x.meeting_id)
    assert (got_a.meeting_id, got_a.start, got_a.end) == (m.meeting_id, m.start, m.end)
    assert got_a.organizer is not None and got_a.organizer.email == "boss@example.org"
    assert {(a.address.email, a.status) for a in got_a.attendees} == {
        ("me@example.com", "accepted"), ("x@example.org", "declined"),
        ("y@example.org", "tentative")}
    assert not got_a.all_day and got_a.status == "confirmed"
    assert got_c.status == "cancelled"


def test_unchanged_meetings_are_not_read_again(meeting_harness: Any) -> None:
    meeting_harness.add_meeting(meeting("b1@example.com", 3))
    _, cursor = fetch(meeting_harness)
    again, _ = fetch(meeting_harness, cursor)
    assert meetings(again) == []


def test_meetings_outside_the_window_are_not_read(meeting_harness: Any) -> None:
    meeting_harness.add_meeting(meeting("old@example.com", 2000))
    meeting_harness.add_meeting(meeting("far@example.com", -60))
    meeting_harness.add_meeting(meeting("in@example.com", 10))
    got = meetings(fetch(meeting_harness)[0])
    assert [m.meeting_id for m in got] == ["in@example.com"]


def test_a_changed_snapshot_ends_with_a_last_batch(meeting_harness: Any) -> None:
    meeting_harness.add_meeting(meeting("s1@example.com", 3))
    batches, _ = fetch(meeting_harness)
    snap = [b for b in batches if b.snapshot]
    assert snap and snap[-1].last and not any(b.last for b in snap[:-1])


# -- promises (the user's own new text, opt-in) -----------------------------------------------
MINE = ("Hi Jane,\n\nthanks for the figures. I'll call you on Tuesday to go through them.\n\n"
        "Best,\nMe\n\nOn Mon, 30 Nov 2026 at 16:12, Jane <jane@example.org> wrote:\n"
        "> I'll call you on Wednesday.\n")
THEIRS = "Hello,\n\nI'll call you on Thursday about it.\n\nJane\n"


def with_body(raw: bytes, body: str) -> bytes:
    """``raw`` (a message of ``message`` or ``reply``) with ``body`` instead of its own."""
    return raw[:raw.rindex(b"\n\nbody\n") + 2] + body.encode()


def test_promises_come_from_my_sent_mail_only_and_only_when_asked(mail_harness: Any) -> None:
    if not hasattr(mail_harness, "read_promises"):
        pytest.skip(f"the {mail_harness.type} harness reads no bodies")
    mail_harness.add_mail(with_body(message(1), MINE))
    if hasattr(mail_harness, "add_received"):
        mail_harness.add_received(with_body(reply(1), THEIRS))
    assert [m.promises for m in mails(fetch(mail_harness)[0])] in ([()], [(), ()])
    mail_harness.read_promises()
    got = {m.message_id: m for m in mails(fetch(mail_harness)[0])}
    (promise,) = got["m1@example.com"].promises
    assert promise.sentence == "I'll call you on Tuesday to go through them."
    sent_day = got["m1@example.com"].date.astimezone(CTX.tz).date()
    assert promise.due is not None and promise.due.weekday() == 1
    assert timedelta(days=1) <= promise.due - sent_day <= timedelta(days=7)
    if "r1@example.org" in got:
        assert got["r1@example.org"].promises == ()


def test_a_meeting_shown_as_free_says_so(meeting_harness: Any) -> None:
    """TRANSP:TRANSPARENT, Google's transparency, Graph's showAs: the placement of reminders
    needs to know the user is available then (the meeting still counts as a touchpoint)."""
    meeting_harness.add_meeting(meeting("free1@example.com", 3, free=True,
                                        attendees=(Attendee(Address("x@example.org")),)))
    meeting_harness.add_meeting(meeting("busy1@example.com", 2,
                                        attendees=(Attendee(Address("x@example.org")),)))
    got = {m.meeting_id: m.free for m in meetings(fetch(meeting_harness)[0])}
    assert got == {"free1@example.com": True, "busy1@example.com": False}
