"""Write a deterministic, realistic Maildir of one user's SENT mail, for benchmarking ingest
(``--received``: the same user's RECEIVED mail instead).

Why synthetic: a real sent folder cannot be shipped, and a benchmark must be reproducible
byte for byte. What makes it realistic enough to measure a header parser and a store:
~2,000 recipients with a Zipf-skewed distribution (a few people get most mail), 1-4
recipients with occasional Cc/Bcc, some mailing-list / bulk / no-reply / auto-reply mail
(so the filters fire), ~1.3 KB header blocks with Received and DKIM lines as real
providers add them, some RFC 2047 and quoted display names, short bodies and one 200 KB
attachment per 1,000 messages, Maildir delivery file names
(``time.MusecPpidQn.host,S=size,W=wsize:2,S``) in ``cur/``, and dates spread over the
three years before 2026-11-22.

File mtimes are left at generation time: setting them costs more than writing the file on
some file systems, the name already carries the delivery time, and neither keepwarm (ctime
cursor) nor notmuch (directory mtimes) looks at a message file's mtime.

Received mail comes from the same people (the same Zipf weights), to the user and sometimes
a colleague in Cc, most of it replies with an In-Reply-To and a References chain of 1-8 ids,
with some mailing-list posts, notifications, auto-replies (X-Autoreply, Auto-Submitted) and
bounces (multipart/report from MAILER-DAEMON) among it.

Usage: python bench/gen_maildir.py OUT_DIR [--count 100000] [--seed 1] [--received]
Same arguments, same bytes (file contents and names). OUT_DIR must not exist or be empty.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ME_NAME = "Alex Morgan"
ME_EMAIL = "alex.morgan@example.com"
ME_DOMAIN = ME_EMAIL.split("@")[1]
HOST = "mx-bench.example.com"
# Dates spread over the three years before the benchmark date (2026-11-22).
END = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
START = END - timedelta(days=3 * 365)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PEOPLE = 2000
ZIPF_S = 1.0  # Zipf: the top person gets ~12% of recipient slots, the top 100 ~63%
LARGE_EVERY = 1000  # one message in this many carries a 200 KB body
LARGE_SIZE = 200 * 1024

FIRST = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony "
    "Betty Mark Sandra Paul Ashley Steven Emily Andrew Donna Kenneth Michelle Joshua Carol "
    "Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Rebecca Jason Sharon "
    "Edward Laura Jeffrey Cynthia Ryan Amy Jacob Kathleen Gary Angela Nicholas Helen Eric Anna "
    "Jonathan Brenda Larry Pamela Justin Emma Scott Nicole Priya Wei Yuki Lars Ingrid Mateo "
    "Sofia Chidi Amara Omar Leila Raj Mei Hiroshi Olga Ivan Fatima Diego Lucia Kwame Nia Sven "
    "Astrid Pierre Chloé")
LAST = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White "
    "Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres "
    "Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts "
    "Patel Kim Chen Tanaka Schmidt Müller Rossi Dubois Kowalski Novak Larsen Okafor Mensah "
    "Haddad Singh Ivanova Silva Costa Yamamoto Andersson O'Brien Fernández")
FREEMAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "fastmail.com",
            "proton.me", "gmx.de", "hotmail.co.uk")
WORDS = _words(
    "project budget review meeting notes quarterly plan draft proposal contract invoice update "
    "launch roadmap hiring feedback intro coffee lunch dinner trip conference talk slides paper "
    "release design spec migration outage follow-up catch-up question thanks offer schedule "
    "agenda report deadline")
TZ_OFFSETS = (-480, -420, -300, -240, 0, 60, 60, 60, 120, 330, 540)  # minutes
MAILERS = ("Mozilla Thunderbird 115.6.0", "Apple Mail (2.3774.300.61.1.2)",
           "Microsoft Outlook 16.0", "Evolution 3.50.2", "Mutt/2.2.12 (2023-09-09)")
BODY_LINES = (
    "Thanks for getting back to me so quickly.",
    "Sounds good, let's do Thursday at 3pm.",
    "I've attached the latest draft; comments welcome.",
    "Could you send me the numbers before the call?",
    "Great seeing you last week - let's not wait so long next time.",
    "Looping in a colleague who knows more about this than I do.",
    "No rush on this, whenever you get a chance.",
    "Happy to help. Let me know if anything else comes up.",
    "Following up on my last mail: any news on your side?",
    "I'll be travelling next week but reachable by mail.",
)
LISTS = (("dev@lists.opensource.example.org", "<dev.lists.opensource.example.org>"),
         ("users@lists.python.example", "<users.lists.python.example>"),
         ("team-all@" + ME_DOMAIN, "<team-all." + ME_DOMAIN + ">"))
NOREPLY = ("noreply@github.example.net", "no-reply@accounts.service.example",
           "notifications@tracker.example.io", "donotreply@billing.vendor.example")

_MONTHS = _words("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec")
_DAYS = _words("Mon Tue Wed Thu Fri Sat Sun")


def rfc2822(ts: float, offset_min: int) -> str:
    """An RFC 5322 date with a numeric zone, as mail clients write it (fast, no locale)."""
    t = time.gmtime(ts + offset_min * 60)
    sign = "+" if offset_min >= 0 else "-"
    hh, mm = divmod(abs(offset_min), 60)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {sign}{hh:02d}{mm:02d}")


def encode_name(name: str) -> str:
    """A display name as a client puts it in a header: plain, quoted, or RFC 2047 Q-encoded."""
    if not name.isascii():
        q = "".join(c if c.isascii() and c.isalnum() else "_" if c == " " else
                    "".join(f"={b:02X}" for b in c.encode()) for c in name)
        return f"=?UTF-8?Q?{q}?="
    if "'" in name or "," in name:
        return f'"{name}"'
    return name


def make_people(rng: random.Random) -> list[tuple[str, str]]:
    """(header form, email) for PEOPLE distinct people; some company colleagues share a domain."""
    companies = [f"{rng.choice(WORDS)}{rng.choice(WORDS)}{i}.example" for i in range(300)]
    people: list[tuple[str, str]] = []
    seen: set[str] = set()
    while len(people) < PEOPLE:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        r = rng.random()
        domain = (rng.choice(FREEMAIL) if r < 0.35 else ME_DOMAIN if r < 0.45
                  else companies[int(rng.paretovariate(1.2)) % len(companies)])
        local_first = first.lower().encode("ascii", "ignore").decode()
        local_last = last.lower().replace("'", "").encode("ascii", "ignore").decode()
        style = rng.random()
        local = (f"{local_first}.{local_last}" if style < 0.6 else
                 f"{local_first[0]}{local_last}" if style < 0.85 else
                 f"{local_first}{rng.randint(1, 99)}")
        email = f"{local}@{domain}"
        if email in seen or email == ME_EMAIL:
            continue
        seen.add(email)
        if rng.random() < 0.08:
            form = email  # bare address, no display name
        elif rng.random() < 0.05:
            form = f'"{last}, {first}" <{email}>'
        else:
            form = f"{encode_name(f'{first} {last}')} <{email}>"
        people.append((form, email))
    return people


def b64(rng: random.Random, nbytes: int) -> str:
    return base64.b64encode(rng.randbytes(nbytes)).decode()


def wrap(s: str, first: int, width: int = 72, indent: str = "\t ") -> str:
    """Fold ``s`` the way signing MTAs fold b= values."""
    out = [s[:first]]
    for i in range(first, len(s), width):
        out.append(indent + s[i:i + width])
    return "\n".join(out)


class Generator:
    """The pools every message draws from: people, their weights, the big attachment."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = random.Random(seed)
        self.people = make_people(rng)
        self.cum: list[float] = []
        total = 0.0
        for k in range(PEOPLE):
            total += 1 / (k + 1) ** ZIPF_S
            self.cum.append(total)
        self.total = total
        self.large_body = wrap(b64(rng, LARGE_SIZE * 3 // 4), 76, 76, "") + "\n"
        self.pid = rng.randint(1000, 60000)

    def person(self, rng: random.Random) -> tuple[str, str]:
        i = bisect.bisect_left(self.cum, rng.random() * self.total)
        return self.people[min(i, PEOPLE - 1)]

    def recipients(self, rng: random.Random, n: int) -> list[tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        while len(out) < n:
            p = self.person(rng)
            out[p[1]] = p
        return list(out.values())

    def message(self, rng: random.Random, n: int, ts: float) -> bytes:
        offset = rng.choice(TZ_OFFSETS)
        date = rfc2822(ts, offset)
        utc_date = rfc2822(ts + rng.uniform(0.5, 3), 0)
        kind = rng.random()
        extra: list[str] = []
        cc: list[tuple[str, str]] = []
        bcc: list[tuple[str, str]] = []
        if kind < 0.025:  # a post to a mailing list
            addr, list_id = rng.choice(LISTS)
            to = [(addr, addr)]
            extra += [f"List-Id: {list_id}",
                      f"List-Unsubscribe: <mailto:{addr.replace('@', '-unsubscribe@')}>",
                      "Precedence: list"]
        elif kind < 0.04:  # a reply to a notification
            a = rng.choice(NOREPLY)
            to = [(a, a)]
        elif kind < 0.05:  # a vacation auto-reply
            to = [self.person(rng)]
            extra += ["Auto-Submitted: auto-replied", "Precedence: bulk"]
        elif kind < 0.055:  # a newsletter-ish mail the user sent with a tool
            to = self.recipients(rng, rng.randint(1, 3))
            extra.append(f"List-Unsubscribe: <https://{ME_DOMAIN}/unsub/{n}>")
        else:
            r = rng.random()
            to = self.recipients(rng, 1 if r < 0.62 else 2 if r < 0.85 else 3 if r < 0.95 else 4)
            if rng.random() < 0.15:
                cc = [p for p in self.recipients(rng, rng.randint(1, 2)) if p not in to]
            if rng.random() < 0.02:
                bcc = [p for p in self.recipients(rng, 1) if p not in to and p not in cc]
        subject = " ".join(rng.choices(WORDS, k=rng.randint(2, 6))).capitalize()
        reply = rng.random() < 0.45
        if reply:
            subject = "Re: " + subject
        rand = b64(rng, 258)  # one draw, sliced: message-id, body hash, signature, reference
        msgid = rand[:24].replace("/", "_").replace("+", "-")
        boundary = f"{rng.getrandbits(96):024x}"
        h = [
            f"Return-Path: <{ME_EMAIL}>",
            f"Received: from smtp-out.{ME_DOMAIN} (smtp-out.{ME_DOMAIN} "
            f"[198.51.100.{n % 250 + 1}])\n\tby {HOST} (Postfix) with ESMTPS id "
            f"{rng.getrandbits(40):010X}\n\tfor <{to[0][1]}>; {utc_date}",
            f"Received: from [192.168.{n % 7}.{n % 200 + 10}] (unknown [203.0.113.{n % 250}])"
            f"\n\t(Authenticated sender: {ME_EMAIL})\n\tby smtp-out.{ME_DOMAIN} (Postfix) "
            f"with ESMTPSA id {rng.getrandbits(40):010X};\n\t{date}",
            "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n"
            f"\td={ME_DOMAIN}; s=2024; t={int(ts)}; x={int(ts) + 604800};\n"
            "\th=to:subject:message-id:date:from:mime-version;\n"
            f"\tbh={rand[24:67]}=;\n\tb={wrap(rand[67:323], 64)}",
            f"X-Mailer: {rng.choice(MAILERS)}",
            "MIME-Version: 1.0",
            f"From: {ME_NAME} <{ME_EMAIL}>",
            f"Date: {date}",
            f"Message-ID: <{msgid}@mail.{ME_DOMAIN}>",
            f"Subject: {subject}",
            "To: " + ",\n\t".join(f for f, _ in to),
        ]
        if cc:
            h.append("Cc: " + ", ".join(f for f, _ in cc))
        if bcc:
            h.append("Bcc: " + ", ".join(f for f, _ in bcc))
        if reply:
            ref = f"<{rand[323:343].replace('/', '_')}@mail.gmail.com>"
            h += [f"In-Reply-To: {ref}", f"References: {ref}"]
        h += extra
        h.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        text = "\n".join(rng.choices(BODY_LINES, k=rng.randint(1, 4)))
        body = (f"--{boundary}\nContent-Type: text/plain; charset=\"UTF-8\"\n"
                f"Content-Transfer-Encoding: 7bit\n\nHi,\n\n{text}\n\nBest,\nAlex\n")
        if n % LARGE_EVERY == LARGE_EVERY // 2:
            body += (f"--{boundary}\nContent-Type: application/pdf; name=\"report-{n}.pdf\"\n"
                     "Content-Disposition: attachment\nContent-Transfer-Encoding: base64\n\n"
                     + self.large_body)
        body += f"--{boundary}--\n"
        return ("\n".join(h) + "\n\n" + body).encode("utf-8")


    def received(self, rng: random.Random, n: int, ts: float) -> bytes:
        """One message to the user: mostly a person's reply, sometimes automated mail."""
        sender, sender_email = self.person(rng)
        kind = rng.random()
        extra: list[str] = []
        if kind < 0.1:  # a mailing-list post
            addr, list_id = rng.choice(LISTS)
            extra += [f"List-Id: {list_id}", "Precedence: list",
                      f"List-Unsubscribe: <mailto:{addr.replace('@', '-unsubscribe@')}>"]
        elif kind < 0.2:  # a notification
            sender = sender_email = rng.choice(NOREPLY)
        elif kind < 0.23:  # an out-of-office reply
            extra += ["Auto-Submitted: auto-replied", "X-Autoreply: yes"]
        elif kind < 0.24:  # a bounce of one of the user's messages
            sender, sender_email = "Mail Delivery System <MAILER-DAEMON@mx.example>", ""
            extra.append('Content-Type: multipart/report; report-type=delivery-status; '
                         f'boundary="b{n}"')
        rand = b64(rng, 120).replace("/", "_").replace("+", "-")
        domain = sender_email.partition("@")[2] or "mx.example"
        subject = " ".join(rng.choices(WORDS, k=rng.randint(2, 6))).capitalize()
        h = [f"Return-Path: <{sender_email}>",
             f"Received: from mail.{domain} (mail.{domain} [192.0.2.{n % 250 + 1}])\n\tby "
             f"{HOST} (Postfix) with ESMTPS id {rng.getrandbits(40):010X}\n\tfor "
             f"<{ME_EMAIL}>; {rfc2822(ts + rng.uniform(0.5, 3), 0)}",
             f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n\td={domain}; "
             f"s=sel; t={int(ts)};\n\tbh={rand[:43]}=;\n\tb={wrap(rand[43:160], 64)}",
             f"From: {sender}", f"To: {ME_NAME} <{ME_EMAIL}>",
             f"Date: {rfc2822(ts, rng.choice(TZ_OFFSETS))}",
             f"Message-ID: <{rand[:24]}@{domain}>", "MIME-Version: 1.0"]
        if rng.random() < 0.1:
            h.append("Cc: " + self.person(rng)[0])
        if not extra and rng.random() < 0.7:  # a reply: a thread of 1 to 8 earlier messages
            refs = [f"<{rng.getrandbits(64):016x}@mail.{ME_DOMAIN}>"
                    for _ in range(rng.randint(1, 8))]
            subject = "Re: " + subject
            h += [f"In-Reply-To: {refs[-1]}", "References: " + "\n\t".join(refs)]
        h.append(f"Subject: {subject}")
        h += extra or ['Content-Type: text/plain; charset="UTF-8"']
        text = "\n".join(rng.choices(BODY_LINES, k=rng.randint(1, 4)))
        return ("\n".join(h) + f"\n\nHi Alex,\n\n{text}\n").encode("utf-8")


def timestamps(rng: random.Random, count: int) -> list[float]:
    """Sorted send times: uniform over days, weekday-heavy, during working hours mostly."""
    start, span = START.timestamp(), (END - START).total_seconds()
    out: list[float] = []
    while len(out) < count:
        ts = start + rng.random() * span
        t = time.gmtime(ts)
        if t.tm_wday >= 5 and rng.random() < 0.75:
            continue
        if not 7 <= t.tm_hour <= 20 and rng.random() < 0.8:
            continue
        out.append(ts)
    out.sort()
    return out


def generate(out: Path, count: int, seed: int, received: bool = False) -> int:
    """Write ``count`` messages into the Maildir ``out``; returns the bytes written.

    One process on purpose: creating files in one directory serialises on its lock in the
    kernel, and that (about 70 us a file here) is most of the run time.
    """
    for sub in ("cur", "new", "tmp"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    if any((out / "cur").iterdir()) or any((out / "new").iterdir()):
        raise SystemExit(f"{out} already holds messages; use an empty or new folder")
    gen = Generator(seed)
    rng = random.Random(seed + 1)
    cur = str(out / "cur")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    total = 0
    for n, ts in enumerate(timestamps(rng, count)):
        data = gen.received(rng, n, ts) if received else gen.message(rng, n, ts)
        sec = int(ts)
        usec = int((ts - sec) * 1e6)
        wsize = len(data) + data.count(b"\n")  # size with CRLF line ends, as Dovecot writes
        path = f"{cur}/{sec}.M{usec}P{gen.pid}Q{n % 97 + 1}.{HOST},S={len(data)},W={wsize}:2,S"
        fd = os.open(path, flags, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        total += len(data)
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="the Maildir to create (cur/ new/ tmp/ inside)")
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--received", action="store_true", help="the user's received mail")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    size = generate(args.out, args.count, args.seed, args.received)
    dt = time.perf_counter() - t0
    print(f"wrote {args.count} messages ({size / 1e6:.1f} MB) to {args.out}/cur "
          f"in {dt:.1f} s; {'To' if args.received else 'From'}: {ME_EMAIL}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
