"""The demo's address book (daemon/demo_data/Contacts/), written by bench/make_demo_data.py:
a vdir as vdirsyncer keeps it and khard reads it, one card per ``UID.vcf`` file, folded and
CRLF-terminated (RFC 6350). Each card is there for one thing keepwarm does with cards;
daemon/demo_data/EXPECTED.md works out what each one changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from demo_calendar import fold

APPLE = "-//Apple Inc.//iPhone OS 17.4//EN"  # vCard 3.0, as an iPhone exports it
KHARD = "-//khard//NONSGML v0.19//EN"  # vCard 4.0, as khard writes it
REV = "20260227T120000Z"  # one fixed revision, so the files never change by themselves


@dataclass(frozen=True)
class CardFile:
    uid: str
    lines: tuple[str, ...]  # the content lines between VERSION and UID
    version: str = "4.0"


CARDS: tuple[CardFile, ...] = (
    # two addresses of one person: joined into one contact; a friend (his wedding)
    CardFile("sam-carter",
             ("N:Carter;Sam;;;", "FN:Sam Carter", "ORG:Harbor Logistics;",
              "EMAIL;type=INTERNET;type=WORK;type=pref:sam.carter@harbor-logistics.example",
              "EMAIL;type=INTERNET;type=HOME:sam.carter@postbox.example",
              # Apple's birthday without a year
              "BDAY;X-APPLE-OMIT-YEAR=1604:1604-03-09",
              "X-ANNIVERSARY:2016-03-12", "CATEGORIES:Friends"),
             version="3.0"),
    # the card's name wins over the header's 'Doe, Jane'; a client; a birthday with its year
    CardFile("jane-doe",
             ("N:Doe;Jane;;;", "FN:Jane Doe", "ORG:Northwind Legal",
              "EMAIL;TYPE=work:jane.doe@northwind-legal.example", "BDAY:19810311",
              "CATEGORIES:Clients")),
    # a client; a birthday written in words
    CardFile("juergen-mueller",
             ("N:Müller;Jürgen;;;", "FN:Jürgen Müller", "ORG:Brandt Maschinenbau",
              "EMAIL;TYPE=work:juergen.mueller@brandt-maschinenbau.example",
              "BDAY;VALUE=text:Ende März", "CATEGORIES:Clients")),
    # a birthday without a year, as vCard 4 writes it
    CardFile("oliver-grant",
             ("N:Grant;Oliver;;;", "FN:Oliver Grant",
              "EMAIL;TYPE=work:oliver.grant@grant-partners.example", "BDAY:--0520")),
    # born on 29 February
    CardFile("priya-raman",
             ("N:Raman;Priya;;;", "FN:Priya Raman",
              "EMAIL;TYPE=work:priya@lumen-analytics.example", "BDAY:1988-02-29")),
    # a birthday that is no date: left out, with a note in show
    CardFile("daniel-okafor",
             ("N:Okafor;Daniel;;;", "FN:Daniel Okafor",
              "EMAIL;TYPE=work:daniel.okafor@northwind-legal.example", "BDAY:1986-02-30")),
    # Alex's mother: no e-mail address, a birthday only
    CardFile("eva-morgan",
             ("N:Morgan;Eva;;;", "FN:Eva Morgan", "TEL;TYPE=home:+44 20 7946 0123",
              "BDAY:19560307", "CATEGORIES:Family")),
)


def render_card(card: CardFile) -> bytes:
    prodid = APPLE if card.version == "3.0" else KHARD
    lines = ["BEGIN:VCARD", f"VERSION:{card.version}", f"PRODID:{prodid}", *card.lines,
             f"REV:{REV}", f"UID:{card.uid}", "END:VCARD"]
    return b"".join(fold(line) for line in lines)
