"""Which people a sent message or a meeting is a touchpoint with, and why others are not;
whether a received message is a person writing.

Pure functions: observations and settings in, one verdict per participant out. A verdict
with ``rule=None`` is a touchpoint; otherwise ``rule`` names the filter that dropped it, so
``keepwarm show`` can tell a user why someone is missing. A received message has one verdict,
for its sender (role ``from``): ``rule=None`` means a person wrote, which counts for replies
and two-way relationships but is never a touchpoint (keepwarm tracks the user's own effort).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime
from functools import lru_cache

from daemon.model import FROM, Address, Mail, Meeting, Settings, Verdict

BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
AUTO_PRECEDENCE = BULK_PRECEDENCE | {"auto_reply"}
OWN_ADDRESS = "own address"
# subjects of auto-replies in the languages people's correspondents write most
AUTO_SUBJECTS = re.compile(
    r"^\s*(auto\s*:|(automatic reply|auto-?reply|out of (the )?office|abwesenheitsnotiz"
    r"|automatische antwort|r\u00e9ponse automatique|respuesta autom\u00e1tica"
    r"|fuera de la oficina)\b)", re.IGNORECASE)
BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@")
# how many addresses a Patterns remembers (a few MB at most); then it starts again
KNOWN_ADDRESSES = 50_000
# bumped when a rule changes what a stored message's verdicts are: 2, the user's
# plus-addresses are the user's (stored mail is judged again once)
RULES = 2
_UNKNOWN = ""  # not remembered yet (an empty pattern, matching only "", is never remembered)


class Patterns:
    """Glob patterns for automated addresses, matched as one regex (tens of thousands of
    recipients per second go through this), each address's answer remembered: the same few
    thousand people send and receive most mail, and the regex costs a microsecond."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(dict.fromkeys(p.lower() for p in patterns))
        joined = "|".join(f"(?:{fnmatch.translate(p)})" for p in self.patterns)
        self._any = re.compile(joined) if joined else None
        self._known: dict[str, str | None] = {}

    def match(self, email: str) -> str | None:
        """The first pattern ``email`` matches, or None."""
        found = self._known.get(email, _UNKNOWN)
        if found is _UNKNOWN:
            if len(self._known) >= KNOWN_ADDRESSES:
                self._known.clear()
            found = self._known[email] = self._first(email)
        return found

    def _first(self, email: str) -> str | None:
        if self._any is None or not self._any.match(email):
            return None
        return next(p for p in self.patterns if fnmatch.fnmatchcase(email, p))


@lru_cache(maxsize=8)
def compiled(patterns: tuple[str, ...]) -> Patterns:
    return Patterns(patterns)


def mail_rule(mail: Mail, ignore: Patterns, max_recipients: int) -> str | None:
    """A rule that drops the whole message, or None. Order: most specific reason first."""
    if mail.sender is not None and (pattern := ignore.match(mail.sender.email)):
        return f"automated sender ({pattern})"
    if mail.list_id:
        return "mailing list (List-Id)"
    if mail.precedence in BULK_PRECEDENCE:
        return f"bulk mail (Precedence: {mail.precedence})"
    if mail.auto_submitted and mail.auto_submitted != "no":
        return f"automated (Auto-Submitted: {mail.auto_submitted})"
    if mail.list_unsubscribe:
        return "bulk mail (List-Unsubscribe)"
    count = len({a.email for a in mail.recipients})
    if count > max_recipients:
        return f"too many recipients ({count} > {max_recipients})"
    return None


def is_own(email: str, own: Collection[str]) -> bool:
    """Whether ``email`` is the user's: one of ``own``, or a plus-address of one
    (``me+kw-3d@example.com``, RFC 5233 subaddressing), which only the user writes to on
    purpose: a plus tag setting a promise is never a contact, and its copy in the inbox is
    the user's own message."""
    if email in own:
        return True
    local, plus, rest = email.partition("+")
    return bool(plus) and "@" in rest and f"{local}@{rest.rpartition('@')[2]}" in own


def received_rule(mail: Mail, own: Collection[str], ignore: Patterns) -> str | None:
    """Why a received message is not a person writing to the user (an auto-reply, a bounce,
    a list), or None: only such a message counts as an answer or as their having written."""
    sender = mail.sender.email if mail.sender is not None else ""
    if not sender:
        return "no sender"
    if is_own(sender, own):
        return OWN_ADDRESS
    if sender.startswith(BOUNCE_SENDERS) or mail.report:
        return "bounce or receipt"
    if mail.list_id:
        return "mailing list (List-Id)"
    if mail.auto_submitted and mail.auto_submitted != "no":
        return f"automated (Auto-Submitted: {mail.auto_submitted})"
    if mail.autoreply:
        return "auto-reply (X-Autoreply)"
    if mail.precedence in AUTO_PRECEDENCE:
        return f"automated (Precedence: {mail.precedence})"
    if AUTO_SUBJECTS.match(mail.subject):
        return "auto-reply (subject)"
    if pattern := ignore.match(sender):
        return f"automated sender ({pattern})"
    return None


def infer_received(mail: Mail, own: Collection[str], ignore: Patterns) -> list[Verdict]:
    """The one verdict of a received message, for its sender (none without a sender)."""
    if mail.sender is None or not mail.sender.email:
        return []
    return [Verdict(mail.sender.email, mail.sender.name, FROM, "",
                    received_rule(mail, own, ignore))]


def judge_mail(mail: Mail, own: Collection[str], ignore: Patterns, max_recipients: int
               ) -> tuple[Mail, list[Verdict]]:
    """A message and its verdicts, ``received`` now saying its direction: the user's own
    (sent) when its From is one of ``own``, wherever it was found (an archive or Gmail's
    All Mail holds both), else received when a received folder held it."""
    if mail.received and mail.sender is not None and is_own(mail.sender.email, own):
        mail = replace(mail, received=False)
    if mail.received:
        return mail, infer_received(mail, own, ignore)
    return mail, infer_mail(mail, own, ignore, max_recipients)


def infer_mail(mail: Mail, own: Collection[str], ignore: Patterns,
               max_recipients: int) -> list[Verdict]:
    """One verdict per distinct recipient of a sent message."""
    whole = mail_rule(mail, ignore, max_recipients)
    out: list[Verdict] = []
    seen: set[str] = set()
    for role, addresses in (("to", mail.to), ("cc", mail.cc), ("bcc", mail.bcc)):
        for addr in addresses:
            if addr.email in seen:
                continue
            seen.add(addr.email)
            out.append(Verdict(addr.email, addr.name, role, "", _person_rule(addr, own, ignore)
                               or whole))
    return out


def _person_rule(addr: Address, own: Collection[str], ignore: Patterns) -> str | None:
    if is_own(addr.email, own):
        return OWN_ADDRESS
    if pattern := ignore.match(addr.email):
        return f"automated address ({pattern})"
    return None


def meeting_rule(meeting: Meeting, own: Collection[str], max_attendees: int,
                 now: datetime) -> str | None:
    """A rule that drops the whole meeting at ``now``, or None."""
    people = _participants(meeting)
    if meeting.status == "cancelled":
        return "cancelled"
    if meeting.all_day:
        return "all-day event"
    if any(is_own(email, own) and status == "declined" for email, (_, _, status) in people.items()):
        return "you declined"
    if len(people) > max_attendees:
        return f"too many attendees ({len(people)} > {max_attendees})"
    if meeting.end > now:
        return "not ended yet"
    return None


def infer_meeting(meeting: Meeting, own: Collection[str], ignore: Patterns, max_attendees: int,
                  now: datetime) -> list[Verdict]:
    """One verdict per distinct participant (organizer and attendees) of a meeting."""
    whole = meeting_rule(meeting, own, max_attendees, now)
    out = []
    for email, (name, role, status) in _participants(meeting).items():
        rule = _person_rule(Address(email, name), own, ignore)
        if rule is None and status == "declined":
            rule = "declined"
        out.append(Verdict(email, name, role, status, rule or whole))
    return out


def _participants(meeting: Meeting) -> dict[str, tuple[str, str, str]]:
    """email -> (name, role, response); the organizer counts as accepted unless listed."""
    people: dict[str, tuple[str, str, str]] = {}
    for att in meeting.attendees:
        if att.address.email not in people:
            people[att.address.email] = (att.address.name, "attendee", att.status)
    org = meeting.organizer
    if org is not None:
        name, _, status = people.get(org.email, (org.name, "organizer", "accepted"))
        people[org.email] = (name or org.name, "organizer", status)
    return people


def learned_aliases(mails: Iterable[Mail]) -> set[str]:
    """Every From address of mail read from a sent folder is one of the user's addresses
    (never of received mail: that is other people's)."""
    return {m.sender.email for m in mails
            if m.sender is not None and m.sender.email and not m.received}


def fingerprint(settings: Settings) -> str:
    """Changes exactly when a setting that decides mail verdicts does: stored mail is judged
    again then, without reading any mailbox again."""
    data = [sorted(settings.own_addresses), list(settings.ignore), settings.max_recipients,
            settings.max_meeting_attendees, RULES]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()
