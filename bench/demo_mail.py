"""What a message of the demo's sample is, and its bytes (bench/make_demo_data.py tells the
story with them): raw RFC 5322 as a mail client writes it, LF line endings, folded address
lists, the thread in In-Reply-To and References.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from demo_people import ALEX, ALEX_ALIAS

BERLIN = ZoneInfo("Europe/Berlin")
SENT_REF = "sent:"


def sent(when: str) -> str:
    """A reference to Alex's message sent at ``when``, made its Message-ID on writing: those
    are numbered, and the numbers come from the order of all the sent mail."""
    return SENT_REF + when


@dataclass(frozen=True)
class Mail:
    when: str  # "YYYY-MM-DD HH:MM", Europe/Berlin wall time
    to: tuple[str, ...]
    subject: str
    body: str
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    sender: str = ALEX
    refs: tuple[str, ...] = ()  # the thread it answers, oldest first; the last: In-Reply-To
    extra: tuple[tuple[str, str], ...] = ()  # List-Id, Precedence, Auto-Submitted ...
    own_id: str = ""  # a received message's Message-ID (the sent ones' are numbered)
    outlook: bool = False  # In-Reply-To only: Outlook strips References
    content_type: str = "text/plain; charset=utf-8"

    @property
    def date(self) -> datetime:
        return datetime.strptime(self.when, "%Y-%m-%d %H:%M").replace(tzinfo=BERLIN)


def message_id(mail: Mail, n: int) -> str:
    domain = "mail.gmail.example" if mail.sender == ALEX_ALIAS else "morgan-consulting.example"
    return f"{mail.date:%Y%m%d%H%M}.{n:02d}.demo@{domain}"


def render_mail(mail: Mail, mid: str, resolve: Callable[[str], str]) -> bytes:
    """One raw RFC 5322 message, LF line endings, a short body."""
    lines = [
        f"Date: {format_datetime(mail.date)}",
        f"From: {mail.sender}",
        _address_list("To", mail.to),
    ]
    if mail.cc:
        lines.append(_address_list("Cc", mail.cc))
    if mail.bcc:
        lines.append(_address_list("Bcc", mail.bcc))
    lines += [f"Subject: {mail.subject}", f"Message-ID: <{mid}>"]
    refs = [f"<{resolve(r)}>" for r in mail.refs]
    if refs:
        lines.append(f"In-Reply-To: {refs[-1]}")
        if not mail.outlook:
            lines.append("References: " + "\n ".join(refs))
    lines += [f"{name}: {value}" for name, value in mail.extra]
    lines += [
        "MIME-Version: 1.0",
        f"Content-Type: {mail.content_type}",
        "Content-Transfer-Encoding: 8bit",
    ]
    if mail.sender in (ALEX, ALEX_ALIAS):
        lines.append("User-Agent: Morgan Mail 4.2")
    lines += ["", mail.body, ""]
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
