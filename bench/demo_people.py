"""Who is in the demo's sample (bench/make_demo_data.py): one cast for the mail and the
calendar, so an address is spelled once. daemon/demo_data/EXPECTED.md tells each one's story.
"""

from __future__ import annotations

# -- Alex Morgan, the user ----------------------------------------------------------------
ALEX = "Alex Morgan <alex@morgan-consulting.example>"
ALEX_ALIAS = "Alex Morgan <alex.morgan@gmail.example>"  # only ever a From: keepwarm learns it
RUTH = "Ruth Adler <ruth.adler@morgan-consulting.example>"  # Alex's colleague

# -- the contacts --------------------------------------------------------------------------
JUERGEN = "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen.mueller@brandt-maschinenbau.example>"
JUERGEN_CAL = "Jürgen Müller <juergen.mueller@brandt-maschinenbau.example>"
JANE = '"Doe, Jane" <jane.doe@northwind-legal.example>'
JANE_CAL = "Doe, Jane <jane.doe@northwind-legal.example>"
DANIEL = "Daniel Okafor <daniel.okafor@northwind-legal.example>"
PRIYA = "Priya Raman <priya@lumen-analytics.example>"
TOM = "Tom Becker <tom.becker@bigclient.example>"
SOFIA = "Sofia Lind <sofia.lind@bigclient.example>"
KARIN = "Karin Holm <karin.holm@bigclient.example>"  # Tom's and Sofia's colleague
MARCO = "Marco Rossi <marco@rossi-design.example>"
LENA = "Lena Fischer <lena@fischer-studio.example>"
SAM_WORK = "Sam Carter <sam.carter@harbor-logistics.example>"
SAM_HOME = "Sam Carter <sam.carter@postbox.example>"
OLIVER = "Oliver Grant <oliver.grant@grant-partners.example>"
YUKI = "Yuki Tanaka <yuki.tanaka@kumo-ventures.example>"

# -- people Alex wrote to who never answered (the follow-ups) -----------------------------
NADIA = "Nadia Haddad <nadia@haddad.example>"
OMAR = "Omar Haddad <omar@haddad.example>"  # his mailbox is gone: a bounce
VICTOR = "Victor Almeida <victor@almeida.example>"
GRETA = "Greta Lindqvist <greta@nordic-forum.example>"

# -- addresses that are no person ----------------------------------------------------------
NEWSLETTER_LIST = "Morgan Consulting Quarterly <quarterly@lists.morgan-consulting.example>"
BILLING = "CloudHost Billing <noreply@billing.cloudhost.example>"
MAILER_DAEMON = "Mail Delivery System <MAILER-DAEMON@haddad.example>"
FREIGHT_LIST = "Freight Forum <freight-forum@lists.logistics-network.example>"

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

# The 26 others invited to BigClient's partner summit, all at bigclient.example.
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
