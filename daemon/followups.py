"""Follow-ups on unanswered mail: which of the user's messages still wait for a reply, how
often the user has asked, and when to ask again.

Pure: the stored messages of both directions (``Store.thread_mail``), the user's addresses,
the settings, the messages the user marked done, the contacts (for their tags, steering and
names) and the time go in; one ``Awaiting`` per thread that waits comes out. Most people never
follow up (48% never do, 73% stop after the second message), so this is the reminder that
pays: it only ever nags about the user's own unanswered effort.

Threads are the connected parts of the graph Message-ID - In-Reply-To/References - the
service's thread id, so a reply that kept only In-Reply-To (Outlook strips References) or only
the thread id still finds its thread.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from urllib.parse import quote

from daemon import cadence, inference
from daemon.model import Awaiting, ContactFacts, Mail, Settings

# a reply in the thread dated this much before the message it answers still answers it:
# senders' clocks and time zones are wrong by minutes to hours
SKEW = timedelta(days=1)
# a colleague's reply counts for a recipient at the same domain, but not at these: two
# strangers at gmail.com are not colleagues
FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.de", "yahoo.fr",
    "ymail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "hotmail.de", "hotmail.fr",
    "live.com", "live.de", "live.fr", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com",
    "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "gmx.com", "web.de", "t-online.de", "freenet.de",
    "posteo.de", "mailbox.org", "orange.fr", "free.fr", "laposte.net", "wanadoo.fr",
    "libero.it", "proton.me", "protonmail.com", "pm.me", "tutanota.com", "fastmail.com",
    "zoho.com", "yandex.ru", "mail.ru", "qq.com", "163.com", "126.com",
})


# what ``quote(..., safe="@")`` leaves as it is
_PLAIN = re.compile(r"[A-Za-z0-9_.~@-]*")


def domain(email: str) -> str:
    return email.rpartition("@")[2]


@lru_cache(maxsize=4096)
def add_working_days(day: date, n: int, working_days: Collection[int]) -> date:
    """The ``n``-th working day after ``day`` ("3d" is three working days); remembered, as
    thousands of threads share a few dozen days."""
    for _ in range(n):
        day += timedelta(days=1)
        while day.weekday() not in working_days:
            day += timedelta(days=1)
    return day


def threads(mails: Sequence[Mail], holding: Collection[str] | None = None
            ) -> list[list[Mail]]:
    """The messages grouped by thread, each group in the order given (union-find); with
    ``holding``, only the threads holding one of those Message-IDs."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        root = node
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while node != root:
            parent[node], node = root, parent[node]
        return root

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    # a message that names no other is in a thread of its own unless another names it;
    # most received mail is such, and stays out of the union-find
    for m in mails:
        if m.in_reply_to or m.references or m.thread:
            node = "m:" + m.message_id
            for ref in (m.in_reply_to, *m.references):
                if ref:
                    union(node, "m:" + ref)
            if m.thread:
                union(node, "t:" + m.thread)

    def root(node: str) -> str:
        return find(node) if node in parent else node

    groups: dict[str, list[Mail]] = {}
    if holding is None:
        for m in mails:
            groups.setdefault(root("m:" + m.message_id), []).append(m)
        return list(groups.values())
    groups = {root("m:" + mid): [] for mid in holding}
    for m in mails:
        group = groups.get(root("m:" + m.message_id))
        if group is not None:
            group.append(m)
    return [g for g in groups.values() if g]


class _Heard:
    """When each person (and each company domain) last wrote to the user: received messages
    a person wrote, not automatic ones (``inference.received_rule``). Whether someone wrote
    after a time needs only their latest message."""

    def __init__(self, written: Iterable[Mail], own_domains: Collection[str]) -> None:
        self.by_sender: dict[str, datetime] = {}
        self.by_domain: dict[str, datetime] = {}
        self.own_domains = own_domains
        by_sender = self.by_sender
        for m in written:
            email = m.sender.email if m.sender else ""
            if email not in by_sender or by_sender[email] < m.date:
                by_sender[email] = m.date
        for email, latest in by_sender.items():
            if self.company(email):
                d = domain(email)
                if d not in self.by_domain or self.by_domain[d] < latest:
                    self.by_domain[d] = latest

    def company(self, email: str) -> bool:
        d = domain(email)
        return d not in FREE_MAIL and d not in self.own_domains

    def since(self, person: str, when: datetime) -> bool:
        """Whether ``person`` or a colleague at their company wrote after ``when``."""
        latest = self.by_sender.get(person)
        if latest is not None and latest > when:
            return True
        latest = self.by_domain.get(domain(person)) if self.company(person) else None
        return latest is not None and latest > when


class _Judge:
    """What one call of ``awaiting`` knows: who the user is, who wrote, what is done."""

    def __init__(self, mails: Iterable[Mail], own: Collection[str], settings: Settings,
                 done: Collection[str], contacts: Iterable[ContactFacts]) -> None:
        self.own, self.settings, self.done = frozenset(own), settings, done
        self.ignore = inference.compiled(settings.ignore)
        self.people = {e: f for f in contacts for e in f.emails}
        mails = list(mails)
        mine = [m for m in mails if m.sender is not None and m.sender.email in self.own]
        self.mine_ids = {m.message_id for m in mine}
        # what a person wrote, and the user's own, by date: automatic mail answers nothing,
        # and leaving it out of the threads leaves most mail out
        self.people_mail = sorted(
            (m for m in self._may_answer(mails, mine) if m.message_id in self.mine_ids
             or inference.received_rule(m, self.own, self.ignore) is None),
            key=attrgetter("date", "message_id"))
        self.written = {m.message_id for m in self.people_mail} - self.mine_ids
        self.heard = _Heard((m for m in self.people_mail if m.message_id in self.written),
                            {domain(e) for e in self.own})
        self._recipients: dict[str, tuple[str, ...]] = {}
        self._steps: dict[str, tuple[int, ...]] = {}

    def _may_answer(self, mails: Sequence[Mail], mine: Sequence[Mail]) -> Iterator[Mail]:
        """The user's messages and the received ones that could answer them: in a thread
        (naming another message, or named by another), or from someone the user wrote to
        or their domain. Most received mail is neither, and is not judged at all."""
        asked = {a.email for m in mine for a in m.recipients}
        domains = {domain(e) for e in asked}
        named = {m.in_reply_to for m in mails}.union(*(m.references for m in mails))
        for m in mails:
            email = m.sender.email if m.sender is not None else ""
            if (m.in_reply_to or m.references or m.thread or m.message_id in named
                    or m.message_id in self.mine_ids or email in asked
                    or email.rpartition("@")[2] in domains):
                yield m

    def recipients(self, m: Mail) -> tuple[str, ...]:
        """The people a message went to: not the user, not an automated address."""
        found = self._recipients.get(m.message_id)
        if found is None:
            found = self._recipients[m.message_id] = tuple(dict.fromkeys(
                a.email for a in m.recipients
                if not inference.is_own(a.email, self.own) and self.ignore.match(a.email) is None))
        return found

    def answered(self, m: Mail, thread: Sequence[Mail]) -> bool:
        """A person's message in the thread answers ``m`` when it refers to ``m`` (whatever
        its date says), or is later (clock skew allowed) and is not what ``m`` replied to;
        outside the thread, any message from a recipient or a colleague after ``m``."""
        answered_by = {m.in_reply_to, *m.references}
        for r in thread:
            if r.message_id not in self.written:
                continue
            if m.message_id == r.in_reply_to or m.message_id in r.references:
                return True
            if r.message_id not in answered_by and r.date > m.date - SKEW:
                return True
        return any(self.heard.since(p, m.date) for p in self.recipients(m))

    def answers_a_person(self, m: Mail) -> bool:
        """Whether ``m`` replies to a message a person wrote (not one of the user's)."""
        return m.in_reply_to in self.written or (
            not m.in_reply_to and bool(m.references) and m.references[-1] in self.written)

    def steps(self, person: str) -> tuple[int, ...]:
        """The follow-up steps for a person: the first rule carrying ``followup`` that
        matches them (their addresses or tags), else ``[followup] after``."""
        found = self._steps.get(person)
        if found is None:
            found = self._steps[person] = self._rule_steps(person)
        return found

    def _rule_steps(self, person: str) -> tuple[int, ...]:
        facts = self.people.get(person)
        emails, tags = (facts.emails, facts.tags) if facts else ((person,), frozenset())
        for rule in self.settings.rules:
            if rule.followup is not None and cadence.rule_matches(rule, emails, tags):
                return rule.followup
        return self.settings.followup_after

    def thread(self, thread: Sequence[Mail], now: datetime) -> Awaiting | None:
        """What the thread waits for, if anything: the user's messages at its end that no
        one answered, in a row (the count is the attempt)."""
        s = self.settings
        mine = [m for m in thread if m.message_id in self.mine_ids]
        if mine[-1].date < now - timedelta(days=s.followup_window_days):
            return None  # the streak would end with it: too old, whatever answered it
        streak: list[Mail] = []
        for m in reversed(mine):
            if m.message_id in self.done or self.answered(m, thread):
                break
            streak.insert(0, m)
        if not streak or (not s.followup_replies and self.answers_a_person(streak[0])):
            return None
        latest = streak[-1]
        people = self.recipients(latest)
        if (not people or len(people) > s.followup_max_recipients
                or inference.mail_rule(latest, self.ignore, len(latest.recipients)) is not None):
            return None
        facts = self.people.get(people[0])
        steps = self.steps(people[0])
        if not steps or (facts is not None and facts.ignored):
            return None
        return self.describe(thread, streak, people, facts, steps)

    def describe(self, thread: Sequence[Mail], streak: Sequence[Mail], people: Sequence[str],
                 facts: ContactFacts | None, steps: Sequence[int]) -> Awaiting:
        latest, attempt = streak[-1], len(streak)
        person = people[0]
        name = (facts.name if facts else "") or next(
            (a.name for a in latest.recipients if a.email == person and a.name), person)
        due = (add_working_days(cadence.local_date(latest.date, self.settings.tz),
                                steps[attempt - 1], self.settings.working_days)
               if attempt <= len(steps) else None)
        return Awaiting(
            email=person, name=name, subject=latest.subject, message_id=latest.message_id,
            thread=thread_key(thread, streak[0]), sent=tuple(m.date for m in streak),
            attempt=attempt, next_followup=due, state="waiting" if due else "gone_quiet",
            link=link(latest, person), contact=facts.key if facts else person,
            message_ids=tuple(m.message_id for m in streak), recipients=tuple(people))


def thread_key(thread: Sequence[Mail], first: Mail) -> str:
    """Stable while the thread lives: the service's thread id, else the root its first
    unanswered message names (References' first id), else that message's own id."""
    return next((m.thread for m in thread if m.thread), "") or (
        first.references[0] if first.references else first.in_reply_to or first.message_id)


def link(m: Mail, person: str) -> str:
    """What opens the thread: the service's own link (Graph's webLink), Gmail's web link by
    thread id (a Gmail thread id is 16 hex digits), else a reply by mailto: (RFC 6068)."""
    if m.link:
        return m.link
    if len(m.thread) == 16 and all(c in "0123456789abcdef" for c in m.thread):
        return f"https://mail.google.com/mail/#all/{m.thread}"
    subject = m.subject if m.subject[:3].lower() == "re:" else f"Re: {m.subject}"
    return (f"mailto:{_escaped(person)}?subject={quote(subject, safe='')}"
            f"&In-Reply-To=%3C{_escaped(m.message_id)}%3E")


def _escaped(text: str) -> str:
    """``quote(text, safe="@")``, without its cost for the addresses and ids that need none."""
    return text if _PLAIN.fullmatch(text) else quote(text, safe="@")


def awaiting(mails: Iterable[Mail], own: Collection[str], settings: Settings,
             done: Collection[str], now: datetime,
             contacts: Iterable[ContactFacts] = ()) -> list[Awaiting]:
    """Every thread waiting for a reply as of ``now`` (later messages are not seen yet),
    gone quiet ones included, by next follow-up (gone quiet last), then name."""
    judge = _Judge((m for m in mails if m.date <= now), own, settings, done, contacts)
    found = (judge.thread(t, now) for t in threads(judge.people_mail, judge.mine_ids))
    return sorted((a for a in found if a is not None),
                  key=lambda a: (a.next_followup or date.max, a.name.lower(), a.thread))
