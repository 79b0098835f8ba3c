"""The touchpoint rules, one literal case each."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from daemon.inference import (
    Patterns,
    infer_mail,
    infer_meeting,
    learned_aliases,
    received_rule,
)
from daemon.model import DEFAULT_IGNORE, Address, Attendee, Mail, Meeting

T = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
OWN = {"me@example.com", "alias@example.net"}
IGNORE = Patterns(DEFAULT_IGNORE)


def mail(*to: str, cc: tuple[str, ...] = (), bcc: tuple[str, ...] = (),
         sender: str = "me@example.com", **kw: str) -> Mail:
    return Mail("id@x", T, Address(sender), to=tuple(Address(a, a[0].upper()) for a in to),
                    cc=tuple(Address(a) for a in cc), bcc=tuple(Address(a) for a in bcc), **kw)


def rules(m: Mail, max_recipients: int = 15) -> dict[str, str | None]:
    return {v.email: v.rule for v in infer_mail(m, OWN, IGNORE, max_recipients)}


def test_one_touchpoint_per_distinct_recipient_with_role() -> None:
    vs = infer_mail(mail("a@x.org", "b@x.org", cc=("a@x.org", "c@x.org"), bcc=("d@x.org",)),
                    OWN, IGNORE, 15)
    assert [(v.email, v.role, v.rule) for v in vs] == [
        ("a@x.org", "to", None), ("b@x.org", "to", None), ("c@x.org", "cc", None),
        ("d@x.org", "bcc", None)]


def test_own_addresses_are_never_touchpoints() -> None:
    assert rules(mail("a@x.org", "alias@example.net", cc=("me@example.com",))) == {
        "a@x.org": None, "alias@example.net": "own address", "me@example.com": "own address"}


@pytest.mark.parametrize("address, pattern", [
    ("noreply@shop.example", "noreply@*"),
    ("no-reply@bank.example", "no-reply@*"),
    ("mailer-daemon@mx.example", "mailer-daemon@*"),
    ("bob@notifications.service.example", "*@notifications.*"),
    ("room-4@resource.calendar.google.com", "*@resource.calendar.google.com"),
])
def test_automated_recipients_are_dropped(address: str, pattern: str) -> None:
    assert rules(mail("a@x.org", address)) == {
        "a@x.org": None, address: f"automated address ({pattern})"}


def test_free_mail_domains_are_people() -> None:
    assert rules(mail("someone@gmail.com", "x@outlook.com", "y@yahoo.com")) == {
        "someone@gmail.com": None, "x@outlook.com": None, "y@yahoo.com": None}


def test_configured_patterns_add_to_defaults() -> None:
    custom = Patterns((*DEFAULT_IGNORE, "*@crm.example"))
    vs = infer_mail(mail("bot@crm.example", "noreply@x.org", "p@x.org"), OWN, custom, 15)
    assert [v.rule for v in vs] == ["automated address (*@crm.example)",
                                    "automated address (noreply@*)", None]


@pytest.mark.parametrize("headers, rule", [
    ({"list_id": "<team.lists.example>"}, "mailing list (List-Id)"),
    ({"precedence": "bulk"}, "bulk mail (Precedence: bulk)"),
    ({"precedence": "list"}, "bulk mail (Precedence: list)"),
    ({"precedence": "junk"}, "bulk mail (Precedence: junk)"),
    ({"auto_submitted": "auto-replied"}, "automated (Auto-Submitted: auto-replied)"),
    ({"auto_submitted": "auto-generated"}, "automated (Auto-Submitted: auto-generated)"),
    ({"list_unsubscribe": "<mailto:u@x>"}, "bulk mail (List-Unsubscribe)"),
])
def test_list_and_bulk_mail_counts_for_nobody(headers: dict[str, str], rule: str) -> None:
    assert rules(mail("a@x.org", "b@x.org", **headers)) == {"a@x.org": rule, "b@x.org": rule}


def test_auto_submitted_no_and_other_precedence_are_fine() -> None:
    assert rules(mail("a@x.org", auto_submitted="no", precedence="first-class")) == {
        "a@x.org": None}


def test_an_automated_sender_drops_the_whole_message() -> None:
    assert rules(mail("a@x.org", sender="noreply@me.example")) == {
        "a@x.org": "automated sender (noreply@*)"}


def test_recipient_limit_counts_distinct_recipients() -> None:
    many = [f"p{i}@x.org" for i in range(15)]
    assert set(rules(mail(*many, cc=(many[0],))).values()) == {None}
    over = rules(mail(*many, "p99@x.org"))
    assert set(over.values()) == {"too many recipients (16 > 15)"}
    # a person rule wins over the message rule, so `show` names the real reason
    assert rules(mail(*many, "me@example.com"))["me@example.com"] == "own address"


def test_aliases_are_learned_from_from() -> None:
    assert learned_aliases([mail("a@x.org", sender="alex@home.example"),
                            mail("a@x.org"), Mail("n", T, None)]) == {
        "alex@home.example", "me@example.com"}


def meeting(*people: tuple[str, str], end_offset: int = -1, **kw: object) -> Meeting:
    start = T - timedelta(hours=2)
    return Meeting("m1", start, T + timedelta(hours=end_offset),
                   organizer=Address("boss@x.org", "Boss"),
                   attendees=tuple(Attendee(Address(e, e[0]), s) for e, s in people),  # type: ignore[arg-type]
                   **kw)  # type: ignore[arg-type]


def mrules(m: Meeting, max_attendees: int = 12) -> dict[str, str | None]:
    return {v.email: v.rule for v in infer_meeting(m, OWN, IGNORE, max_attendees, T)}


def test_meeting_touchpoints_per_attendee_and_organizer() -> None:
    m = meeting(("me@example.com", "accepted"), ("a@x.org", "accepted"),
                ("b@x.org", "declined"), ("c@x.org", "needs-action"))
    assert mrules(m) == {"me@example.com": "own address", "a@x.org": None,
                         "b@x.org": "declined", "c@x.org": None, "boss@x.org": None}


def test_meeting_organizer_listed_as_attendee_keeps_its_response() -> None:
    m = meeting(("boss@x.org", "declined"), ("a@x.org", "accepted"))
    vs = {v.email: (v.role, v.rule) for v in infer_meeting(m, OWN, IGNORE, 12, T)}
    assert vs == {"boss@x.org": ("organizer", "declined"), "a@x.org": ("attendee", None)}


@pytest.mark.parametrize("kw, rule", [
    ({"status": "cancelled"}, "cancelled"),
    ({"all_day": True}, "all-day event"),
    ({"end_offset": 1}, "not ended yet"),
])
def test_meetings_that_do_not_count(kw: dict[str, object], rule: str) -> None:
    assert set(mrules(meeting(("a@x.org", "accepted"), **kw)).values()) == {rule}


def test_a_meeting_the_user_declined_counts_for_nobody() -> None:
    m = meeting(("alias@example.net", "declined"), ("a@x.org", "accepted"))
    assert mrules(m) == {"alias@example.net": "own address", "a@x.org": "you declined",
                         "boss@x.org": "you declined"}


def test_big_meetings_count_for_nobody() -> None:
    people = [(f"p{i}@x.org", "accepted") for i in range(12)]  # + organizer = 13
    assert set(mrules(meeting(*people)).values()) == {"too many attendees (13 > 12)"}
    assert set(mrules(meeting(*people[:11])).values()) == {None}


@pytest.mark.parametrize(("changes", "rule"), [
    ({}, None),
    ({"subject": "Re: Proposal Q3"}, None),
    ({"subject": "Auto insurance renewal"}, None),
    ({"subject": "Automatic reply: Proposal"}, "auto-reply (subject)"),
    ({"subject": "AW: Abwesenheitsnotiz: Angebot"}, None),  # a forwarded notice is a person's
    ({"subject": "Abwesenheitsnotiz: Angebot"}, "auto-reply (subject)"),
    ({"subject": "Réponse automatique : devis"}, "auto-reply (subject)"),
    ({"subject": "Respuesta automática: propuesta"}, "auto-reply (subject)"),
    ({"subject": "Out of Office: back Monday"}, "auto-reply (subject)"),
    ({"subject": "Auto: Proposal"}, "auto-reply (subject)"),
    ({"sender": Address("mailer-daemon@mx.example")}, "bounce or receipt"),
    ({"sender": Address("postmaster@beta.example")}, "bounce or receipt"),
    ({"report": True}, "bounce or receipt"),
    ({"list_id": "<team.lists.example>"}, "mailing list (List-Id)"),
    ({"auto_submitted": "auto-replied"}, "automated (Auto-Submitted: auto-replied)"),
    ({"auto_submitted": "no"}, None),
    ({"autoreply": True}, "auto-reply (X-Autoreply)"),
    ({"precedence": "auto_reply"}, "automated (Precedence: auto_reply)"),
    ({"precedence": "junk"}, "automated (Precedence: junk)"),
    ({"sender": Address("noreply@beta.example")}, "automated sender (noreply@*)"),
    ({"sender": Address("me@alpha.example")}, "own address"),
    ({"sender": None}, "no sender"),
])
def test_what_received_mail_is_a_person_writing(changes: dict[str, object],
                                                 rule: str | None) -> None:
    base = Mail("r1", T, Address("jane@beta.example", "Jane"), to=(Address("me@alpha.example"),),
                received=True)
    mail = dataclasses.replace(base, **changes)  # type: ignore[arg-type]
    assert received_rule(mail, {"me@alpha.example"}, Patterns(DEFAULT_IGNORE)) == rule
