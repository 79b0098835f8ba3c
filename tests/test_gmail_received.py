"""Gmail's received mail: only replies cost a read (issue 13).

Against the fake Google server (tests.servers.google), which keeps labels and threads as
Gmail does: received messages have no SENT label, history records carry each added
message's threadId and labelIds, and ``threads.get`` returns a thread's messages.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

from daemon.model import Mail
from tests.servers.google import User
from tests.test_gmail import CTX, NOW, mail, run, sent

INBOX = ("INBOX",)


def reply(n: int, to: int, minutes_ago: int = 0, days_ago: int = 0) -> bytes:
    """Person ``to``'s answer to my message ``to`` (In-Reply-To and References set)."""
    when = NOW - timedelta(minutes=minutes_ago, days=days_ago)
    return (f"From: Person {to} <p{to}@example.org>\nTo: Me <me@example.com>\n"
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
            f"Message-ID: <r{n}@example.org>\nIn-Reply-To: <m{to}@example.com>\n"
            f"References: <m{to}@example.com>\nSubject: Re: hello {to}\n\nbody\n").encode()


def newsletter(n: int) -> bytes:
    when = NOW - timedelta(minutes=n)
    return (f"From: News <news@shop.example>\nTo: me@example.com\nList-Id: <news.shop>\n"
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
            f"Message-ID: <n{n}@shop.example>\nSubject: offer {n}\n\n").encode()


def received(batches: list[Any]) -> list[Mail]:
    return [m for m in sent(batches) if m.received]


def test_a_reply_that_arrives_by_history_only_is_read_and_nothing_else_is(
        google_user: User, tmp_path: Path) -> None:
    first = google_user.add_mail(mail(1))
    account = google_user.account(tmp_path, calendar=False)
    batches, cursor = run(account)
    (mine,) = sent(batches)
    assert (mine.received, mine.thread) == (False, first)
    assert mine.link == f"https://mail.google.com/mail/#all/{first}"
    assert google_user.count("batch:threads.get") == 1  # the backfill looked for replies
    reads = google_user.count("batch:messages.get")
    google_user.add_mail(reply(1, 1, minutes_ago=-1), labels=INBOX, thread=first)
    for n in range(30):
        google_user.add_mail(newsletter(n), labels=INBOX)
    batches, cursor = run(account, cursor)
    (answer,) = sent(batches)
    assert answer.received and answer.message_id == "r1@example.org"
    assert (answer.thread, answer.in_reply_to) == (first, "m1@example.com")
    assert answer.sender is not None and answer.sender.email == "p1@example.org"
    assert google_user.count("batch:messages.get") - reads == 1  # the reply, not the 30
    assert google_user.count("batch:threads.get") == 1  # history needs no thread reads


def test_received_mail_outside_threads_with_sent_mail_costs_no_read(
        google_user: User, tmp_path: Path) -> None:
    mine = [google_user.add_mail(mail(n, minutes_ago=10 * n + 5)) for n in range(3)]
    google_user.add_mail(reply(0, 0, minutes_ago=1), labels=INBOX, thread=mine[0])
    for n in range(200):
        google_user.add_mail(newsletter(n), labels=INBOX)
    account = google_user.account(tmp_path, calendar=False)
    batches, cursor = run(account)
    assert [m.message_id for m in received(batches)] == ["r0@example.org"]
    assert google_user.count("batch:messages.get") == 3  # my three, nothing received
    assert google_user.count("batch:threads.get") == 3
    assert "q" not in str(google_user.calls)
    for n in range(200, 260):
        google_user.add_mail(newsletter(n), labels=INBOX)
    batches, _ = run(account, cursor)
    assert sent(batches) == [] and google_user.count("batch:messages.get") == 3


def test_threads_are_read_newest_first_within_the_window_and_resume(
        google_user: User, tmp_path: Path) -> None:
    ids = [google_user.add_mail(mail(n, minutes_ago=0, days_ago=10 * n)) for n in range(8)]
    for n in range(8):
        google_user.add_mail(reply(n, n, minutes_ago=-1, days_ago=10 * n), labels=INBOX,
                             thread=ids[n])
    account = google_user.account(tmp_path, calendar=False)
    ctx = dataclasses.replace(CTX, thread_window_start=NOW - timedelta(days=45))
    batches, _ = run(account, batch=2, ctx=ctx)
    answers = [m.message_id for m in received(batches)]
    assert answers == ["r0@example.org", "r1@example.org", "r2@example.org", "r3@example.org",
                       "r4@example.org"]  # 0 to 40 days old; 50 and more are outside
    assert google_user.count("batch:threads.get") == 5
    queued = [b for b in batches if b.cursor["mail"].get("queue")]
    assert queued[0].cursor["mail"]["queue"][:2] == [ids[0], ids[1]]
    middle = next(b for b in batches if received([b]) and
                  received([b])[-1].message_id == "r1@example.org")
    reads = google_user.count("batch:threads.get")
    rest, _ = run(account, middle.cursor, batch=2, ctx=ctx)
    assert [m.message_id for m in received(rest)] == answers[2:]
    assert google_user.count("batch:threads.get") - reads == 3


def test_lost_history_reads_the_known_threads_again(google_user: User, tmp_path: Path) -> None:
    first = google_user.add_mail(mail(1, minutes_ago=60))
    account = google_user.account(tmp_path, calendar=False)
    _, cursor = run(account)
    google_user.add_mail(reply(1, 1, minutes_ago=5), labels=INBOX, thread=first)
    google_user.expire_history()
    batches, cursor = run(account, cursor)
    assert [m.message_id for m in received(batches)] == ["r1@example.org"]
    assert cursor["mail"]["phase"] == "incremental" and cursor["mail"]["threads"] == {
        first: int((NOW - timedelta(minutes=60)).timestamp()) * 1000}


def test_a_cursor_from_before_received_mail_learns_the_threads_once(
        google_user: User, tmp_path: Path) -> None:
    first = google_user.add_mail(mail(1, minutes_ago=60))
    google_user.add_mail(reply(1, 1, minutes_ago=5), labels=INBOX, thread=first)
    old = google_user.account(tmp_path, calendar=False, received=False)
    batches, cursor = run(old)
    assert received(batches) == [] and "threads" not in cursor["mail"]
    assert google_user.count("batch:threads.get") == 0
    batches, cursor = run(google_user.account(tmp_path, calendar=False), cursor)
    assert [m.message_id for m in received(batches)] == ["r1@example.org"]
    lists = google_user.count("messages.list")
    batches, _ = run(google_user.account(tmp_path, calendar=False), cursor)
    assert sent(batches) == [] and google_user.count("messages.list") == lists


def test_received_off_reads_sent_history_only(google_user: User, tmp_path: Path) -> None:
    first = google_user.add_mail(mail(1))
    account = google_user.account(tmp_path, calendar=False, received=False)
    _, cursor = run(account)
    google_user.add_mail(reply(1, 1, minutes_ago=-1), labels=INBOX, thread=first)
    google_user.add_mail(mail(2, minutes_ago=-2))
    batches, _ = run(account, cursor)
    assert [m.message_id for m in sent(batches)] == ["m2@example.com"]
    assert google_user.count("batch:threads.get") == 0


def test_my_answer_to_a_new_thread_reads_what_they_wrote_first(
        google_user: User, tmp_path: Path) -> None:
    account = google_user.account(tmp_path, calendar=False)
    _, cursor = run(account)
    theirs = google_user.add_mail(
        b"From: Ann <ann@example.org>\nTo: me@example.com\nMessage-ID: <ask@example.org>\n"
        b"Subject: a question\n\n", NOW - timedelta(minutes=30), labels=INBOX)
    batches, cursor = run(account, cursor)
    assert sent(batches) == []  # nothing of mine in that thread yet: not read
    google_user.add_mail(b"From: me@example.com\nTo: ann@example.org\nMessage-ID: <answer@x>\n"
                         b"In-Reply-To: <ask@example.org>\nSubject: Re: a question\n\n",
                         NOW - timedelta(minutes=5))
    batches, _ = run(account, cursor)
    assert {(m.message_id, m.received) for m in sent(batches)} == {
        ("answer@x", False), ("ask@example.org", True)}
    assert google_user.messages[theirs].thread == theirs
