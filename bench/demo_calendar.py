"""The demo's calendar (daemon/demo_data/calendar.ics), written by bench/make_demo_data.py:
ten events, folded and CRLF-terminated as RFC 5545 has it, with a fixed DTSTAMP so that the
file never changes by itself. daemon/demo_data/EXPECTED.md says what each event counts for.
"""

from __future__ import annotations

from dataclasses import dataclass

from demo_people import (
    ALEX,
    DANIEL,
    JANE_CAL,
    JUERGEN_CAL,
    KARIN,
    MARCO,
    OLIVER,
    PRIYA,
    SOFIA,
    SUMMIT_GUESTS,
    TOM,
    YUKI,
)

DTSTAMP = "20260227T120000Z"  # one fixed stamp, so the calendar never changes by itself


@dataclass(frozen=True)
class Event:
    uid: str
    summary: str
    start: str  # "YYYYMMDDTHHMMSS", Europe/Berlin
    end: str
    organizer: str  # "Name <email>"
    attendees: tuple[tuple[str, str], ...]  # ("Name <email>", PARTSTAT)
    status: str = "CONFIRMED"
    extra: tuple[str, ...] = ()  # raw content lines: RRULE, EXDATE ...


EVENTS: tuple[Event, ...] = (
    Event("lumen-kickoff-20250429@morgan-consulting.example", "Lumen: project kick-off",
          "20250429T100000", "20250429T113000", ALEX,
          ((ALEX, "ACCEPTED"), (PRIYA, "ACCEPTED"))),
    Event("jane-lunch-20250618@morgan-consulting.example", "Lunch with Jane",
          "20250618T123000", "20250618T133000", ALEX,
          ((JANE_CAL, "ACCEPTED"),
           (ALEX, "ACCEPTED"))),
    Event("grant-review-20250715@grant-partners.example", "Grant Partners: mid-year review",
          "20250715T150000", "20250715T160000", OLIVER,
          ((OLIVER, "ACCEPTED"), (ALEX, "ACCEPTED"))),
    Event("bigclient-weekly@morgan-consulting.example", "BigClient programme: weekly sync",
          "20251103T100000", "20251103T103000", ALEX,
          ((ALEX, "ACCEPTED"), (TOM, "ACCEPTED"), (SOFIA, "ACCEPTED")),
          extra=("RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20260126T235959Z",
                 "EXDATE;TZID=Europe/Berlin:20251229T100000")),
    Event("brandt-site-visit-20251212@morgan-consulting.example", "Brandt: site visit",
          "20251212T090000", "20251212T120000", ALEX,
          ((ALEX, "ACCEPTED"), (JUERGEN_CAL, "ACCEPTED")), status="CANCELLED"),
    Event("lumen-roadmap-20251215@lumen-analytics.example", "Lumen roadmap review",
          "20251215T140000", "20251215T150000", PRIYA,
          ((PRIYA, "ACCEPTED"), (ALEX, "DECLINED"))),
    Event("bigclient-summit-2026@bigclient.example", "BigClient partner summit 2026",
          "20260210T090000", "20260210T120000", KARIN,
          ((ALEX, "ACCEPTED"), (TOM, "ACCEPTED"), (SOFIA, "ACCEPTED"),
           *((guest, "NEEDS-ACTION") for guest in SUMMIT_GUESTS))),
    Event("kumo-intro-20260212@kumo-ventures.example", "Intro: Kumo Ventures x Morgan Consulting",
          "20260212T150000", "20260212T154500", YUKI,
          ((YUKI, "ACCEPTED"), (ALEX, "ACCEPTED"))),
    Event("northwind-qr-20260220@northwind-legal.example", "Northwind quarterly review",
          "20260220T100000", "20260220T110000",
          JANE_CAL,
          ((JANE_CAL, "ACCEPTED"),
           (ALEX, "ACCEPTED"), (DANIEL, "DECLINED"))),
    Event("rossi-workshop-20260305@morgan-consulting.example", "Rossi Design: workshop",
          "20260305T100000", "20260305T120000", ALEX,
          ((ALEX, "ACCEPTED"), (MARCO, "ACCEPTED"))),
)

VTIMEZONE = (
    "BEGIN:VTIMEZONE",
    "TZID:Europe/Berlin",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "TZNAME:CEST",
    "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "TZNAME:CET",
    "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
)


def _cal_address(prop: str, person: str, params: str = "") -> str:
    name, _, email = person.rpartition(" <")
    return f'{prop};CN="{name}"{params}:mailto:{email.rstrip(">")}'


def render_event(event: Event) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"DTSTAMP:{DTSTAMP}",
        f"DTSTART;TZID=Europe/Berlin:{event.start}",
        f"DTEND;TZID=Europe/Berlin:{event.end}",
        *event.extra,
        f"SUMMARY:{event.summary}",
        f"STATUS:{event.status}",
        _cal_address("ORGANIZER", event.organizer),
    ]
    lines += [_cal_address("ATTENDEE", person, f";ROLE=REQ-PARTICIPANT;PARTSTAT={partstat}")
              for person, partstat in event.attendees]
    lines.append("END:VEVENT")
    return lines


def fold(line: str) -> bytes:
    """RFC 5545 folding: at most 75 octets per physical line, never inside a character."""
    out = b""
    chunk = b""
    limit = 75
    for char in line:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > limit:
            out += chunk + b"\r\n "
            chunk = b""
            limit = 74  # the leading space counts
        chunk += encoded
    return out + chunk + b"\r\n"


def render_calendar() -> bytes:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Morgan Consulting//Demo calendar//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Alex Morgan",
        "X-WR-TIMEZONE:Europe/Berlin",
        *VTIMEZONE,
    ]
    for event in EVENTS:
        lines += render_event(event)
    lines.append("END:VCALENDAR")
    return b"".join(fold(line) for line in lines)
