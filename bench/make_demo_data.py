"""Regenerate the sample data `keepwarm demo` runs the real pipeline on.

Why a script and not hand-edited files: the Maildir file names must match each message's
Date, the calendar must be folded and CRLF-terminated, replies must name the Message-IDs of
the messages they answer, and a reviewer should be able to read the whole story (who, when,
which filter drops what, who answered) in one place. Deterministic: no clock, no randomness;
running it twice gives byte-identical files.

The story is told as of 2026-03-02 (a Monday), Europe/Berlin; daemon/demo_data/EXPECTED.md
lists what keepwarm must conclude from it. Mail: the sent messages (`Sent`) and the received
ones (`INBOX`; headers are all keepwarm reads). Who is who: bench/demo_people.py; how a
message is written: bench/demo_mail.py; the calendar: bench/demo_calendar.py; the address
book (`Contacts`, a vdir of .vcf files): bench/demo_cards.py.

    python bench/make_demo_data.py
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from demo_calendar import EVENTS, render_calendar
from demo_cards import CARDS, render_card
from demo_mail import SENT_REF, Mail, message_id, render_mail, sent
from demo_people import (
    ALEX,
    ALEX_ALIAS,
    BILLING,
    DANIEL,
    FREIGHT_LIST,
    GRETA,
    GUESTS,
    JANE,
    JUERGEN,
    KARIN,
    LENA,
    MAILER_DAEMON,
    MARCO,
    NADIA,
    NEWSLETTER_LIST,
    OLIVER,
    OMAR,
    PRIYA,
    RUTH,
    SAM_HOME,
    SAM_WORK,
    SOFIA,
    TOM,
    VICTOR,
)

OUT = Path(__file__).resolve().parent.parent / "daemon" / "demo_data"
SENT_DIR = OUT / "Sent" / "cur"
INBOX_DIR = OUT / "INBOX" / "cur"
CONTACTS_DIR = OUT / "Contacts"
FILE_SUFFIX = "_demo.morgan:2,S"


# The sent mail of the first sample: what the cadence story is made of.
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
         refs=("routing-workshop.0326@harbor-logistics.example",)),
    Mail("2025-05-06 09:40", (JUERGEN,),
         "Re: =?utf-8?q?Angebot_f=C3=BCr_die_Prozessanalyse?=",
         "Hallo Jürgen, danke für die Zusage; ich schicke den Zeitplan bis Freitag.",
         refs=("angebot.0311@brandt-maschinenbau.example",)),
    Mail("2025-05-13 13:00", (JANE,), "Re: Engagement letter",
         "Thanks Jane, countersigned copy received.",
         refs=("engagement.0320@northwind-legal.example",)),
    Mail("2025-05-20 17:05", (PRIYA,), "Dashboard draft",
         "Priya, the first dashboard draft is in the shared folder."),
    Mail("2025-05-27 08:50", (OLIVER,), "Intro to a potential partner",
         "Oliver, meet my former colleague; I think you two should talk."),
    Mail("2025-06-03 15:35", (SAM_WORK,), "Pilot results",
         "Sam, the pilot cut average picking routes by 12 percent."),
    Mail("2025-06-10 10:30", (PRIYA,), "Re: Dashboard draft",
         "Good points; version two follows next week.",
         refs=("dashboard.0520@lumen-analytics.example",)),
    Mail("2025-07-08 11:20", (JUERGEN,), "Zwischenbericht Prozessanalyse",
         "Hallo Jürgen, der Zwischenbericht liegt im Anhang."),
    Mail("2025-07-22 14:00", (PRIYA,), "Summer break and next steps",
         "Priya, I am away until 11 August; next steps are in the attached plan."),
    Mail("2025-08-12 09:15", (SAM_WORK,), "Re: Pilot results",
         "Happy to present the results to your board in September.",
         refs=("pilot.0603@harbor-logistics.example",)),
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
         refs=("workshop.0909@brandt-maschinenbau.example",)),
    Mail("2025-11-25 10:40", (TOM,), "Steering committee slides",
         "Tom, the slides for Thursday's steering committee."),
    Mail("2025-12-04 18:10", (JUERGEN, PRIYA, SAM_WORK), "Invitation: client evening, 11 December",
         "You are warmly invited to our client evening on 11 December.", bcc=GUESTS),
    Mail("2025-12-08 14:20", (DANIEL,), "Re: Contract template questions",
         "Daniel, the updated template is attached; all three points are addressed.",
         refs=("template.0415@northwind-legal.example",)),
    Mail("2025-12-09 09:05", (SOFIA,), "Budget approval for Q1",
         "Sofia, could you confirm the Q1 budget by Friday?"),
    Mail("2025-12-16 11:50", (OLIVER,), "Season's greetings and a 2026 plan",
         "Oliver, best wishes for the holidays; a short plan for 2026 is below."),
    Mail("2025-12-18 17:30", (JUERGEN, PRIYA, SAM_WORK), "Office closed 22 December - 6 January",
         "Our office is closed from 22 December to 6 January.",
         extra=(("Precedence", "bulk"),)),
    Mail("2025-12-23 09:02", (PRIYA,), "Out of office: Re: Lumen roadmap review",
         "I am out of the office until 6 January and will reply after my return.",
         refs=("roadmap.1222@lumen-analytics.example",),
         extra=(("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes"))),
    Mail("2026-01-05 20:15", (SAM_HOME,), "Happy new year!",
         "Sam, happy new year to you and the family!", sender=ALEX_ALIAS),
    Mail("2026-01-08 11:00", (MARCO,), "Following up on the design meetup",
         "Marco, great to meet you at the meetup; here is the case study I mentioned."),
    Mail("2026-01-09 10:20", (TOM,), "Re: Steering committee slides",
         "Tom, updated slides with the January numbers.",
         refs=("steerco.1125@bigclient.example",)),
    Mail("2026-01-12 08:45", (BILLING,), "Re: Your invoice INV-2026-0113",
         "Please send the invoice to the accounts address instead.",
         refs=("inv-2026-0113@billing.cloudhost.example",)),
    Mail("2026-01-13 15:30", (JANE,), "Happy new year and Q1 planning",
         "Jane, happy new year; shall we fix the quarterly review for February?"),
    Mail("2026-01-15 09:10", (OLIVER,), "Re: Season's greetings and a 2026 plan",
         "Oliver, agreed, let's start with the pricing review.",
         refs=("greetings.1216@grant-partners.example",)),
    # Just after midnight in Berlin: the UTC date is 2026-01-19, the local date 2026-01-20.
    Mail("2026-01-20 00:15", (MARCO,), "Re: Following up on the design meetup",
         "Marco, sorry for the late reply; yes, let's do a workshop in March.",
         sender=ALEX_ALIAS, refs=("meetup.0108@rossi-design.example",)),
    Mail("2026-02-10 10:45", (LENA,), "Nice to meet you at the founders breakfast",
         "Lena, lovely to meet you this morning; here is the link I promised."),
    Mail("2026-02-14 19:30", (SAM_HOME,), "Dinner next week?",
         "Sam, dinner on Thursday? The new place near the river.", sender=ALEX_ALIAS),
    Mail("2026-02-18 14:10", (SOFIA,), "Q1 check-in",
         "Sofia, a quick Q1 check-in: everything on track from your side?"),
    Mail("2026-02-24 16:00", (OLIVER,), "Kick-off date",
         "Oliver, 9 March works for the kick-off; I will send the invitation."),
)

# Sent since, for two-way mail: the threads nobody answered. Added to the sample after a
# store of it was kept (tests/data/v1), so they are numbered after the first sample's.
GRETA_TALK = "A talk at the forum in May"
LATER: tuple[Mail, ...] = (
    # gone quiet: four messages, each on the day the follow-up fell due (3, 7, 14 working
    # days), and no answer to any
    Mail("2026-01-07 10:30", (GRETA,), GRETA_TALK,
         "Greta, I would love to give a talk on routing pilots at the Nordic Supply Chain "
         "Forum in May; the abstract is below."),
    Mail("2026-01-12 09:15", (GRETA,), f"Re: {GRETA_TALK}",
         "Greta, a gentle nudge on the talk; I can also make it 20 minutes.",
         refs=(sent("2026-01-07 10:30"),)),
    # to 10 people: a broadcast, nobody owes a reply
    Mail("2026-01-14 17:00", GUESTS[:10], "Client evening: photos and the reading list",
         "Thank you all for coming in December; the photos and the books we talked about "
         "are linked below."),
    Mail("2026-01-21 08:50", (GRETA,), f"Re: {GRETA_TALK}",
         "Greta, is the programme already closed? Happy to send a shorter abstract.",
         refs=(sent("2026-01-07 10:30"), sent("2026-01-12 09:15"))),
    # attempt 2: an out-of-office after the first, then the second after his return
    Mail("2026-02-10 09:00", (VICTOR,), "Freight audit",
         "Victor, following our call: this is how a two-week freight audit would run."),
    Mail("2026-02-10 16:30", (GRETA,), f"Re: {GRETA_TALK}",
         "Greta, a last note from me: if May does not work, another year would be great too.",
         refs=(sent("2026-01-07 10:30"), sent("2026-01-12 09:15"), sent("2026-01-21 08:50"))),
    Mail("2026-02-23 09:20", (VICTOR,), "Re: Freight audit",
         "Victor, welcome back; would a start in the second half of March suit you?",
         refs=(sent("2026-02-10 09:00"),)),
    # attempt 1, its follow-up due on Tuesday; Omar's address bounces
    Mail("2026-02-26 14:00", (NADIA,), "Proposal: store review",
         "Nadia, Omar, the proposal for the store review is attached.",
         cc=(OMAR,)),
)

BOUNCE_BOUNDARY = "4F2A1C0031.1772110860/mx.haddad.example"
BOUNCE = f"""This is a MIME-encapsulated message.

--{BOUNCE_BOUNDARY}
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered to
<omar@haddad.example>: user unknown.

--{BOUNCE_BOUNDARY}
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.haddad.example
Final-Recipient: rfc822; omar@haddad.example
Action: failed
Status: 5.1.1

--{BOUNCE_BOUNDARY}--"""

# The mail Alex received: the answers his "Re:" messages above reply to, and what came in
# on the threads of the two-way story. EXPECTED.md says what each counts for.
RECEIVED: tuple[Mail, ...] = (
    Mail("2025-04-01 08:40", (ALEX,), "Re: Warehouse routing workshop",
         "Alex, 15 April suits us; the warehouse team will be there.", sender=SAM_WORK,
         own_id="routing-workshop.0326@harbor-logistics.example",
         refs=(sent("2025-03-26 09:45"),)),
    Mail("2025-05-02 11:20", (ALEX,),
         "AW: =?utf-8?q?Angebot_f=C3=BCr_die_Prozessanalyse?=",
         "Hallo Alex, wir nehmen das Angebot gerne an. Gruß, Jürgen", sender=JUERGEN,
         own_id="angebot.0311@brandt-maschinenbau.example", refs=(sent("2025-03-11 10:15"),)),
    Mail("2025-05-12 17:30", (ALEX,), "Re: Engagement letter",
         "Alex, countersigned and attached. Jane", sender=JANE,
         own_id="engagement.0320@northwind-legal.example", refs=(sent("2025-03-20 14:30"),)),
    Mail("2025-06-04 09:10", (ALEX,), "Re: Dashboard draft",
         "Alex, looks great; two points on the filters below.", sender=PRIYA,
         own_id="dashboard.0520@lumen-analytics.example", refs=(sent("2025-05-20 17:05"),)),
    Mail("2025-08-05 13:25", (ALEX,), "Re: Pilot results",
         "Alex, impressive; could you present them to our board?", sender=SAM_WORK,
         own_id="pilot.0603@harbor-logistics.example", refs=(sent("2025-06-03 15:35"),)),
    Mail("2025-09-11 08:05", (ALEX,), "AW: Workshoptermine im Herbst",
         "Hallo Alex, leider passt keiner der beiden Termine; ich melde mich.", sender=JUERGEN,
         own_id="workshop.0909@brandt-maschinenbau.example", refs=(sent("2025-09-09 14:05"),)),
    Mail("2025-11-26 10:15", (ALEX,), "RE: Steering committee slides",
         "Alex, thanks; could you add the January numbers once they are in?", sender=TOM,
         own_id="steerco.1125@bigclient.example", refs=(sent("2025-11-25 10:40"),),
         outlook=True, extra=(("Thread-Topic", "Steering committee slides"),)),
    Mail("2025-11-27 15:00", (ALEX,), "Re: Contract template questions",
         "Alex, any news on the template? Our side is ready.", sender=DANIEL,
         own_id="template.0415@northwind-legal.example", refs=(sent("2025-04-15 16:20"),)),
    Mail("2025-12-17 09:30", (ALEX,), "Re: Season's greetings and a 2026 plan",
         "Alex, the same to you! The plan looks good; let's talk in January.", sender=OLIVER,
         own_id="greetings.1216@grant-partners.example", refs=(sent("2025-12-16 11:50"),)),
    Mail("2025-12-22 17:45", (ALEX,), "Lumen roadmap review",
         "Alex, the minutes of last week's review; sorry you could not make it.",
         sender=PRIYA, own_id="roadmap.1222@lumen-analytics.example"),
    Mail("2026-01-06 08:30", (ALEX_ALIAS,), "Re: Happy new year!",
         "Happy new year, Alex! Dinner soon?", sender=SAM_HOME,
         own_id="newyear.0106@postbox.example", refs=(sent("2026-01-05 20:15"),)),
    Mail("2026-01-10 07:00", (ALEX,), "Your invoice INV-2026-0113",
         "Your invoice for January is ready.", sender=BILLING,
         own_id="inv-2026-0113@billing.cloudhost.example"),
    # Outlook: In-Reply-To, no References
    Mail("2026-01-12 08:55", (ALEX,), "RE: Steering committee slides",
         "Alex, perfect, thank you. Tom", sender=TOM,
         own_id="DB9PR01MB7720.0112@bigclient.example",
         refs=("steerco.1125@bigclient.example", sent("2026-01-09 10:20")),
         outlook=True, extra=(("Thread-Topic", "Steering committee slides"),)),
    Mail("2026-01-14 12:10", (ALEX,), "Re: Happy new year and Q1 planning",
         "Alex, happy new year! I will send an invitation for 20 February.", sender=JANE,
         own_id="q1-planning.0114@northwind-legal.example", refs=(sent("2026-01-13 15:30"),)),
    Mail("2026-01-16 10:40", (ALEX,), "Re: Season's greetings and a 2026 plan",
         "Agreed; I will book a slot for the kick-off.", sender=OLIVER,
         own_id="pricing.0116@grant-partners.example",
         refs=(sent("2025-12-16 11:50"), "greetings.1216@grant-partners.example",
               sent("2026-01-15 09:10"))),
    Mail("2026-01-16 18:20", (ALEX,), "Re: Following up on the design meetup",
         "Alex, thanks for the case study; a workshop with my team would be great.",
         sender=MARCO, own_id="meetup.0108@rossi-design.example",
         refs=(sent("2026-01-08 11:00"),)),
    Mail("2026-01-21 09:00", (ALEX_ALIAS,), "Re: Following up on the design meetup",
         "Perfect: 5 March, 10:00, in our studio.", sender=MARCO,
         own_id="workshop.0121@rossi-design.example",
         refs=(sent("2026-01-08 11:00"), "meetup.0108@rossi-design.example",
               sent("2026-01-20 00:15"))),
    Mail("2026-02-10 09:01", (ALEX,), "Out of Office: Freight audit",
         "I am travelling until 20 February with little access to e-mail.", sender=VICTOR,
         own_id="ooo.0210@almeida.example", refs=(sent("2026-02-10 09:00"),),
         extra=(("Auto-Submitted", "auto-replied"),)),
    Mail("2026-02-11 19:40", (ALEX,), "Re: Nice to meet you at the founders breakfast",
         "Thanks Alex, lovely to meet you too!", sender=LENA,
         own_id="breakfast.0211@fischer-studio.example", refs=(sent("2026-02-10 10:45"),)),
    Mail("2026-02-14 21:05", (ALEX_ALIAS,), "Re: Dinner next week?",
         "Thursday works, see you at 7!", sender=SAM_HOME,
         own_id="dinner.0214@postbox.example", refs=(sent("2026-02-14 19:30"),)),
    # Sofia's colleague, not in the thread: a colleague at the recipient's company answers
    Mail("2026-02-19 11:30", (ALEX,), "Q1 figures for the programme",
         "Alex, Sofia asked me to answer your check-in: all on track, figures attached.",
         cc=(SOFIA,), sender=KARIN, own_id="q1-figures.0219@bigclient.example"),
    # Alex only in Cc: Ruth's message, hers to chase
    Mail("2026-02-23 11:00", ("Hanna Berger <hanna.berger@berger-pharma.example>",),
         "Introduction: process reviews at Morgan Consulting",
         "Hanna, as promised at the fair: a short note on our process reviews.", cc=(ALEX,),
         sender=RUTH, own_id="intro.0223@morgan-consulting.example"),
    Mail("2026-02-25 08:15", (ALEX,), "Re: Kick-off date", "Great, 9 March it is.",
         sender=OLIVER, own_id="kickoff.0225@grant-partners.example",
         refs=(sent("2026-02-24 16:00"),)),
    Mail("2026-02-26 14:01", (ALEX,), "Undelivered Mail Returned to Sender", BOUNCE,
         sender=MAILER_DAEMON, own_id="20260226130100.4F2A1C0031@mx.haddad.example",
         content_type=f'multipart/report; report-type=delivery-status;\n'
                      f' boundary="{BOUNCE_BOUNDARY}"'),
    # Victor posts to a list: a list post answers nobody
    Mail("2026-02-26 17:30", (FREIGHT_LIST,), "[freight-forum] Rates outlook for Q2",
         "Dear all, our outlook for Q2 rates is below.", sender=VICTOR,
         own_id="rates-q2.0226@almeida.example",
         extra=(("List-Id", "Freight Forum <freight-forum.lists.logistics-network.example>"),
                ("Precedence", "list"))),
)


def numbered_sent() -> list[tuple[int, Mail]]:
    """Every sent message with its number, which its file name and Message-ID carry. The
    first sample's keep theirs, by date from 1 without 30 (a malformed file in the first
    demo), so that the store of an older version (tests/data/v1) still matches; the ones
    added since follow from 49, by date."""
    first = zip((n for n in itertools.count(1) if n != 30),
                sorted(MAILS, key=lambda m: m.date), strict=False)
    later = zip(itertools.count(49), sorted(LATER, key=lambda m: m.date), strict=False)
    return [*first, *later]


def file_name(when: datetime, n: int) -> str:
    return f"{int(when.timestamp())}.{n}{FILE_SUFFIX}"


def write_maildir(folder: Path, messages: Iterable[tuple[int, Mail, str]],
                  ids: Mapping[str, str]) -> int:
    """Each (number, message, Message-ID) into ``folder``, replacing what an earlier run
    wrote; a reference to a sent message that does not exist is an error."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.name.endswith(FILE_SUFFIX):
            old.unlink()

    def resolve(ref: str) -> str:
        return ids[ref] if ref.startswith(SENT_REF) else ref

    count = 0
    for n, mail, mid in messages:
        (folder / file_name(mail.date, n)).write_bytes(render_mail(mail, mid, resolve))
        count += 1
    return count


def write_contacts(folder: Path) -> int:
    """Each card into ``folder`` as ``UID.vcf``, replacing what an earlier run wrote."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.vcf"):
        old.unlink()
    for card in CARDS:
        (folder / f"{card.uid}.vcf").write_bytes(render_card(card))
    return len(CARDS)


def main() -> None:
    numbered = numbered_sent()
    ids = {sent(m.when): message_id(m, n) for n, m in numbered}
    assert len(ids) == len(numbered), "two sent messages at the same minute"
    sent_count = write_maildir(SENT_DIR, ((n, m, ids[sent(m.when)]) for n, m in numbered),
                               ids)
    received = enumerate(sorted(RECEIVED, key=lambda m: m.date), start=1)
    received_count = write_maildir(INBOX_DIR, ((n, m, m.own_id) for n, m in received), ids)
    (OUT / "calendar.ics").write_bytes(render_calendar())
    card_count = write_contacts(CONTACTS_DIR)
    init = OUT / "__init__.py"
    if not init.exists():
        init.write_text("")
    print(f"wrote {sent_count} sent messages to {SENT_DIR}, {received_count} received to "
          f"{INBOX_DIR}, {len(EVENTS)} events to calendar.ics and {card_count} cards to "
          f"{CONTACTS_DIR}")


if __name__ == "__main__":
    main()
