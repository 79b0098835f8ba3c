"""Regenerate the sample data `keepwarm demo` runs the real pipeline on.

Why a script and not hand-edited files: the Maildir file names must match each message's
Date, the calendar must be folded and CRLF-terminated, and a reviewer should be able to
read the whole story (who, when, which filter drops what) in one place. Deterministic: no
clock, no randomness; running it twice gives byte-identical files.

The story is told as of 2026-03-02 (a Monday), Europe/Berlin; daemon/demo_data/EXPECTED.md
lists what keepwarm must conclude from it.

    python bench/make_demo_data.py
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
OUT = Path(__file__).resolve().parent.parent / "daemon" / "demo_data"
MAILDIR = OUT / "Sent" / "cur"
FILE_SUFFIX = "_demo.morgan:2,S"
DTSTAMP = "20260227T120000Z"  # one fixed stamp, so the calendar never changes by itself

# -- people ------------------------------------------------------------------------------
ALEX = "Alex Morgan <alex@morgan-consulting.example>"
ALEX_ALIAS = "Alex Morgan <alex.morgan@gmail.example>"  # only ever a From: keepwarm learns it
JUERGEN = "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen.mueller@brandt-maschinenbau.example>"
JANE = '"Doe, Jane" <jane.doe@northwind-legal.example>'
DANIEL = "Daniel Okafor <daniel.okafor@northwind-legal.example>"
PRIYA = "Priya Raman <priya@lumen-analytics.example>"
TOM = "Tom Becker <tom.becker@bigclient.example>"
SOFIA = "Sofia Lind <sofia.lind@bigclient.example>"
MARCO = "Marco Rossi <marco@rossi-design.example>"
LENA = "Lena Fischer <lena@fischer-studio.example>"
SAM_WORK = "Sam Carter <sam.carter@harbor-logistics.example>"
SAM_HOME = "Sam Carter <sam.carter@postbox.example>"
OLIVER = "Oliver Grant <oliver.grant@grant-partners.example>"
NEWSLETTER_LIST = "Morgan Consulting Quarterly <quarterly@lists.morgan-consulting.example>"
BILLING = "CloudHost Billing <noreply@billing.cloudhost.example>"

# Guests of the client evening (Bcc): 17 people who never become contacts.
GUESTS = tuple(
    f"{name} <{name.lower().replace(' ', '.')}@{domain}>"
    for name, domain in (
        ("Anna Kowalski", "vistula-foods.example"),
        ("Ben Hughes", "hughes-architects.example"),
        ("Clara Stein", "stein-verlag.example"),
        ("David Park", "parkline.example"),
        ("Elif Yilmaz", "bosporus-trade.example"),
        ("Felix Braun", "braun-energie.example"),
        ("Grace Liu", "liu-capital.example"),
        ("Henrik Dahl", "nordkyst.example"),
        ("Ines Moreau", "atelier-moreau.example"),
        ("Jonas Vogel", "vogel-it.example"),
        ("Kate Brennan", "brennan-law.example"),
        ("Luis Ortega", "ortega-logistica.example"),
        ("Maja Novak", "novak-studio.example"),
        ("Nils Berg", "berg-consult.example"),
        ("Olga Petrova", "petrova-translations.example"),
        ("Paul Schmitt", "schmitt-bau.example"),
        ("Rosa Lange", "lange-medien.example"),
    )
)


# -- mail ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mail:
    when: str  # "YYYY-MM-DD HH:MM", Europe/Berlin wall time
    to: tuple[str, ...]
    subject: str
    body: str
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    sender: str = ALEX
    reply_to_id: str = ""  # In-Reply-To, for replies
    extra: tuple[tuple[str, str], ...] = ()  # List-Id, Precedence, Auto-Submitted ...

    @property
    def date(self) -> datetime:
        return datetime.strptime(self.when, "%Y-%m-%d %H:%M").replace(tzinfo=BERLIN)


MAILS: tuple[Mail, ...] = (
    Mail("2025-03-04 10:05", (PRIYA,), "Lumen: scope for the analytics review",
         "Hi Priya, here is the scope we discussed; happy to adjust before Friday."),
    Mail("2025-03-11 10:15", (JUERGEN,),
         "=?utf-8?q?Angebot_f=C3=BCr_die_Prozessanalyse?=",
         "Hallo Jürgen, anbei wie besprochen unser Angebot. Viele Grüße, Alex"),
    Mail("2025-03-20 14:30", (JANE,), "Engagement letter",
         "Hi Jane, attached is the signed engagement letter."),
    Mail("2025-03-26 09:45", (SAM_WORK,), "Warehouse routing workshop",
         "Hi Sam, could we hold the routing workshop in the week of 14 April?"),
    Mail("2025-04-08 11:00", (OLIVER,), "Catching up",
         "Oliver, it has been a while; coffee next time I am in town?"),
    Mail("2025-04-15 16:20", (DANIEL,), "Contract template questions",
         "Hi Daniel, three small questions on the template, inline below."),
    Mail("2025-04-22 10:10", (SAM_WORK,), "Re: Warehouse routing workshop",
         "Great, 15 April it is. I will bring the floor plans.",
         reply_to_id="routing-workshop.0326@harbor-logistics.example"),
    Mail("2025-05-06 09:40", (JUERGEN,),
         "Re: =?utf-8?q?Angebot_f=C3=BCr_die_Prozessanalyse?=",
         "Hallo Jürgen, danke für die Zusage; ich schicke den Zeitplan bis Freitag.",
         reply_to_id="angebot.0311@brandt-maschinenbau.example"),
    Mail("2025-05-13 13:00", (JANE,), "Re: Engagement letter",
         "Thanks Jane, countersigned copy received.",
         reply_to_id="engagement.0320@northwind-legal.example"),
    Mail("2025-05-20 17:05", (PRIYA,), "Dashboard draft",
         "Priya, the first dashboard draft is in the shared folder."),
    Mail("2025-05-27 08:50", (OLIVER,), "Intro to a potential partner",
         "Oliver, meet my former colleague; I think you two should talk."),
    Mail("2025-06-03 15:35", (SAM_WORK,), "Pilot results",
         "Sam, the pilot cut average picking routes by 12 percent."),
    Mail("2025-06-10 10:30", (PRIYA,), "Re: Dashboard draft",
         "Good points; version two follows next week.",
         reply_to_id="dashboard.0520@lumen-analytics.example"),
    Mail("2025-07-08 11:20", (JUERGEN,), "Zwischenbericht Prozessanalyse",
         "Hallo Jürgen, der Zwischenbericht liegt im Anhang."),
    Mail("2025-07-22 14:00", (PRIYA,), "Summer break and next steps",
         "Priya, I am away until 11 August; next steps are in the attached plan."),
    Mail("2025-08-12 09:15", (SAM_WORK,), "Re: Pilot results",
         "Happy to present the results to your board in September.",
         reply_to_id="pilot.0603@harbor-logistics.example"),
    Mail("2025-08-26 11:45", (JANE,), "Northwind: Q3 review notes",
         "Jane, Daniel, my notes from today's review are below.", cc=(DANIEL,)),
    Mail("2025-09-09 14:05", (JUERGEN,), "Workshoptermine im Herbst",
         "Hallo Jürgen, passen dir der 6. oder der 13. Oktober?"),
    Mail("2025-09-15 16:40", (PRIYA,), "Final report delivered",
         "Priya, the final report is delivered; thank you for a great project."),
    Mail("2025-09-18 10:00", (SOFIA,), "Thanks for the introduction call",
         "Sofia, thanks for your time today; I will reach out to Tom."),
    Mail("2025-09-22 09:30", (TOM,), "Introduction: Alex Morgan / Tom Becker",
         "Hi Tom, Sofia suggested we talk about the supply-chain programme."),
    Mail("2025-10-01 08:00", (NEWSLETTER_LIST,), "Morgan Consulting Quarterly, autumn 2025",
         "Three lessons from this year's process reviews.",
         extra=(("List-Id",
                 "Morgan Consulting Quarterly <quarterly.lists.morgan-consulting.example>"),
                ("List-Unsubscribe",
                 "<mailto:quarterly-unsubscribe@lists.morgan-consulting.example>"))),
    Mail("2025-10-02 12:10", (JANE,), "Question on the data processing agreement",
         "Jane, quick question on clause 7 of the DPA."),
    Mail("2025-10-07 10:25", (OLIVER,), "Proposal for 2026",
         "Oliver, here is the proposal; a copy goes to my own inbox for the files.", cc=(ALEX,)),
    Mail("2025-10-14 15:15", (TOM,), "Discovery workshop agenda",
         "Tom, the agenda for the discovery workshop is attached."),
    Mail("2025-10-20 11:30", (SAM_WORK,), "Quarterly check-in",
         "Sam, how is the new routing holding up after the peak season prep?"),
    Mail("2025-10-28 13:45", (TOM,), "Statement of work v2",
         "Tom, Sofia, version two of the statement of work with your changes.", cc=(SOFIA,)),
    Mail("2025-11-04 09:55", (JANE,), "Northwind: renewal",
         "Jane, Daniel, the renewal terms for 2026 are attached.", cc=(DANIEL,)),
    Mail("2025-11-10 16:30", (JUERGEN,), "Re: Workshoptermine im Herbst",
         "Danke Jürgen, dann bis zum nächsten Mal.",
         reply_to_id="workshop.0909@brandt-maschinenbau.example"),
    Mail("2025-11-25 10:40", (TOM,), "Steering committee slides",
         "Tom, the slides for Thursday's steering committee."),
    Mail("2025-12-04 18:10", (JUERGEN, PRIYA, SAM_WORK), "Invitation: client evening, 11 December",
         "You are warmly invited to our client evening on 11 December.", bcc=GUESTS),
    Mail("2025-12-08 14:20", (DANIEL,), "Re: Contract template questions",
         "Daniel, the updated template is attached; all three points are addressed.",
         reply_to_id="template.0415@northwind-legal.example"),
    Mail("2025-12-09 09:05", (SOFIA,), "Budget approval for Q1",
         "Sofia, could you confirm the Q1 budget by Friday?"),
    Mail("2025-12-16 11:50", (OLIVER,), "Season's greetings and a 2026 plan",
         "Oliver, best wishes for the holidays; a short plan for 2026 is below."),
    Mail("2025-12-18 17:30", (JUERGEN, PRIYA, SAM_WORK), "Office closed 22 December - 6 January",
         "Our office is closed from 22 December to 6 January.",
         extra=(("Precedence", "bulk"),)),
    Mail("2025-12-23 09:02", (PRIYA,), "Out of office: Re: Lumen roadmap review",
         "I am out of the office until 6 January and will reply after my return.",
         reply_to_id="roadmap.1222@lumen-analytics.example",
         extra=(("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes"))),
    Mail("2026-01-05 20:15", (SAM_HOME,), "Happy new year!",
         "Sam, happy new year to you and the family!", sender=ALEX_ALIAS),
    Mail("2026-01-08 11:00", (MARCO,), "Following up on the design meetup",
         "Marco, great to meet you at the meetup; here is the case study I mentioned."),
    Mail("2026-01-09 10:20", (TOM,), "Re: Steering committee slides",
         "Tom, updated slides with the January numbers.",
         reply_to_id="steerco.1125@bigclient.example"),
    Mail("2026-01-12 08:45", (BILLING,), "Re: Your invoice INV-2026-0113",
         "Please send the invoice to the accounts address instead.",
         reply_to_id="inv-2026-0113@billing.cloudhost.example"),
    Mail("2026-01-13 15:30", (JANE,), "Happy new year and Q1 planning",
         "Jane, happy new year; shall we fix the quarterly review for February?"),
    Mail("2026-01-15 09:10", (OLIVER,), "Re: Season's greetings and a 2026 plan",
         "Oliver, agreed, let's start with the pricing review.",
         reply_to_id="greetings.1216@grant-partners.example"),
    # Just after midnight in Berlin: the UTC date is 2026-01-19, the local date 2026-01-20.
    Mail("2026-01-20 00:15", (MARCO,), "Re: Following up on the design meetup",
         "Marco, sorry for the late reply; yes, let's do a workshop in March.",
         sender=ALEX_ALIAS, reply_to_id="meetup.0108@rossi-design.example"),
    Mail("2026-02-10 10:45", (LENA,), "Nice to meet you at the founders breakfast",
         "Lena, lovely to meet you this morning; here is the link I promised."),
    Mail("2026-02-14 19:30", (SAM_HOME,), "Dinner next week?",
         "Sam, dinner on Thursday? The new place near the river.", sender=ALEX_ALIAS),
    Mail("2026-02-18 14:10", (SOFIA,), "Q1 check-in",
         "Sofia, a quick Q1 check-in: everything on track from your side?"),
    Mail("2026-02-24 16:00", (OLIVER,), "Kick-off date",
         "Oliver, 9 March works for the kick-off; I will send the invitation."),
)

def message_id(mail: Mail, n: int) -> str:
    domain = "mail.gmail.example" if mail.sender == ALEX_ALIAS else "morgan-consulting.example"
    return f"<{mail.date:%Y%m%d%H%M}.{n:02d}.demo@{domain}>"


def render_mail(mail: Mail, n: int) -> bytes:
    """One raw RFC 5322 message, LF line endings, a one-line text body."""
    lines = [
        f"Date: {format_datetime(mail.date)}",
        f"From: {mail.sender}",
        _address_list("To", mail.to),
    ]
    if mail.cc:
        lines.append(_address_list("Cc", mail.cc))
    if mail.bcc:
        lines.append(_address_list("Bcc", mail.bcc))
    lines += [f"Subject: {mail.subject}", f"Message-ID: {message_id(mail, n)}"]
    if mail.reply_to_id:
        lines += [f"In-Reply-To: <{mail.reply_to_id}>", f"References: <{mail.reply_to_id}>"]
    lines += [f"{name}: {value}" for name, value in mail.extra]
    lines += [
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "User-Agent: Morgan Mail 4.2",
        "",
        mail.body,
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def _address_list(header: str, addresses: tuple[str, ...]) -> str:
    """``Header: a, b, ...`` folded before an address that would pass 78 columns, as mail
    clients do (so the parser must unfold)."""
    lines = [f"{header}:"]
    for i, address in enumerate(addresses):
        item = f" {address}" + ("," if i < len(addresses) - 1 else "")
        if len(lines[-1]) + len(item) > 78 and lines[-1] != f"{header}:":
            lines.append("")
        lines[-1] += item
    return "\n".join(lines)


def file_name(when: datetime, n: int) -> str:
    return f"{int(when.timestamp())}.{n}{FILE_SUFFIX}"


def write_maildir() -> list[str]:
    MAILDIR.mkdir(parents=True, exist_ok=True)
    for old in MAILDIR.iterdir():
        if old.name.endswith(FILE_SUFFIX):
            old.unlink()
    names = []
    # number 30 was a malformed file in the first demo: the numbers stay, so the file names
    # and Message-IDs a store of an older version holds (tests/data/v1) still match
    numbers = (n for n in itertools.count(1) if n != 30)
    for n, mail in zip(numbers, sorted(MAILS, key=lambda m: m.date), strict=False):
        name = file_name(mail.date, n)
        (MAILDIR / name).write_bytes(render_mail(mail, n))
        names.append(name)
    return names


# -- calendar ------------------------------------------------------------------------------
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


ALEX_CAL = "Alex Morgan <alex@morgan-consulting.example>"
JUERGEN_CAL = "Jürgen Müller <juergen.mueller@brandt-maschinenbau.example>"
YUKI = "Yuki Tanaka <yuki.tanaka@kumo-ventures.example>"
KARIN = "Karin Holm <karin.holm@bigclient.example>"
SUMMIT_GUESTS = tuple(
    f"{first} {last} <{first.lower()}.{last.lower()}@bigclient.example>"
    for first, last in (
        ("Andreas", "Koch"), ("Birgit", "Hahn"), ("Carsten", "Wolf"), ("Dana", "Ziegler"),
        ("Emil", "Roth"), ("Frieda", "Kaiser"), ("Georg", "Sommer"), ("Heike", "Frank"),
        ("Ivan", "Lorenz"), ("Julia", "Arnold"), ("Kai", "Pohl"), ("Lara", "Engel"),
        ("Moritz", "Haas"), ("Nina", "Graf"), ("Oskar", "Jung"), ("Petra", "Ludwig"),
        ("Quirin", "Busch"), ("Ronja", "Kuhn"), ("Stefan", "Dietrich"), ("Tanja", "Seidel"),
        ("Uwe", "Brandt"), ("Vera", "Kraus"), ("Walter", "Horn"), ("Xenia", "Beck"),
        ("Yannick", "Winter"), ("Zoe", "Schulte"),
    )
)

EVENTS: tuple[Event, ...] = (
    Event("lumen-kickoff-20250429@morgan-consulting.example", "Lumen: project kick-off",
          "20250429T100000", "20250429T113000", ALEX_CAL,
          ((ALEX_CAL, "ACCEPTED"), (PRIYA, "ACCEPTED"))),
    Event("jane-lunch-20250618@morgan-consulting.example", "Lunch with Jane",
          "20250618T123000", "20250618T133000", ALEX_CAL,
          (("Doe, Jane <jane.doe@northwind-legal.example>", "ACCEPTED"),
           (ALEX_CAL, "ACCEPTED"))),
    Event("grant-review-20250715@grant-partners.example", "Grant Partners: mid-year review",
          "20250715T150000", "20250715T160000", OLIVER,
          ((OLIVER, "ACCEPTED"), (ALEX_CAL, "ACCEPTED"))),
    Event("bigclient-weekly@morgan-consulting.example", "BigClient programme: weekly sync",
          "20251103T100000", "20251103T103000", ALEX_CAL,
          ((ALEX_CAL, "ACCEPTED"), (TOM, "ACCEPTED"), (SOFIA, "ACCEPTED")),
          extra=("RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20260126T235959Z",
                 "EXDATE;TZID=Europe/Berlin:20251229T100000")),
    Event("brandt-site-visit-20251212@morgan-consulting.example", "Brandt: site visit",
          "20251212T090000", "20251212T120000", ALEX_CAL,
          ((ALEX_CAL, "ACCEPTED"), (JUERGEN_CAL, "ACCEPTED")), status="CANCELLED"),
    Event("lumen-roadmap-20251215@lumen-analytics.example", "Lumen roadmap review",
          "20251215T140000", "20251215T150000", PRIYA,
          ((PRIYA, "ACCEPTED"), (ALEX_CAL, "DECLINED"))),
    Event("bigclient-summit-2026@bigclient.example", "BigClient partner summit 2026",
          "20260210T090000", "20260210T120000", KARIN,
          ((ALEX_CAL, "ACCEPTED"), (TOM, "ACCEPTED"), (SOFIA, "ACCEPTED"),
           *((guest, "NEEDS-ACTION") for guest in SUMMIT_GUESTS))),
    Event("kumo-intro-20260212@kumo-ventures.example", "Intro: Kumo Ventures x Morgan Consulting",
          "20260212T150000", "20260212T154500", YUKI,
          ((YUKI, "ACCEPTED"), (ALEX_CAL, "ACCEPTED"))),
    Event("northwind-qr-20260220@northwind-legal.example", "Northwind quarterly review",
          "20260220T100000", "20260220T110000",
          "Doe, Jane <jane.doe@northwind-legal.example>",
          (("Doe, Jane <jane.doe@northwind-legal.example>", "ACCEPTED"),
           (ALEX_CAL, "ACCEPTED"), (DANIEL, "DECLINED"))),
    Event("rossi-workshop-20260305@morgan-consulting.example", "Rossi Design: workshop",
          "20260305T100000", "20260305T120000", ALEX_CAL,
          ((ALEX_CAL, "ACCEPTED"), (MARCO, "ACCEPTED"))),
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


def main() -> None:
    names = write_maildir()
    (OUT / "calendar.ics").write_bytes(render_calendar())
    init = OUT / "__init__.py"
    if not init.exists():
        init.write_text("")
    print(f"wrote {len(names)} messages to {MAILDIR} and {len(EVENTS)} events to calendar.ics")


if __name__ == "__main__":
    main()
