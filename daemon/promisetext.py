"""Promises in the user's own words: the sentences of a sent message's new text in which the
user commits to the next contact with a time ("I'll call you on Tuesday", "let's talk next
week", "Ich melde mich nächste Woche"), and the day each one names.

Commitment first, time second: a sentence counts only when the user (I, we, let's, a
subjectless "Will ping you") commits to a contact verb (call, send, get back, follow up ...),
with no question mark, no negation or hedge before the verb and no condition in front of it;
only then is its time phrase read (``daemon.timephrase``), so ordinary words never become
dates. Pure and never raises: a connector calls ``find`` on every body it reads, and only
what it returns leaves the connector (``PromiseText``), never the body.
"""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo

from daemon import timephrase
from daemon.model import PromiseText

LONGEST = 200  # characters of a sentence kept
_F = re.IGNORECASE

# English: the first person committing, then (within a few words) a contact verb
_SUBJECT = (r"\b(?:i|we)(?:'ll|\s+will|\s+shall|'m going to|\s+am going to|'re going to|"
            r"\s+are going to|'m gonna|\s+plan to|\s+intend to|\s+aim to|\s+promise to|"
            r"'ll make sure to|\s+will make sure to)\b|\blet(?:'s|\s+us|\s+me)\b")
_ASIDE = r"(?:[\w'-]+,?\s+){0,7}?"
# a third person as the object: "call the plumber", "email HR", "talk to Mark" are not
# promises to whoever the message goes to (a weekday, a month or EOD is no person)
_PERSON = rf"(?!(?:{timephrase.WEEKDAY}|{timephrase.MONTH}|EOD|COB|EOW|ASAP|OK|I)\b)"
_THIRD = rf"(?!\s+(?:to\s+|with\s+)?(?:him|her|them|{_PERSON}(?-i:[A-Z])[\w-]*)\b)"
_VERB = (r"(?:(?:call|ring|phone|ping|text|contact|meet)\b(?!\s+(?:the|my|our|his|their|its)\b)|"
         r"(?:e-?mail|mail|write|send|get back|get in touch|be in touch|"
         r"be back in touch|follow(?:ing)?[- ]up|reach out|touch base|circle back|"
         r"loop back|check in|check back|update you|let you know|report back|drop you|"
         r"shoot you|give you (?:a|an|my)\b|message|come back to you|revert|share|"
         r"forward|deliver|talk|speak|chat|catch up|sync|reconnect|connect|confirm|"
         r"reply|respond|answer|fill you in|brief you|return your|submit|pass on|"
         r"provide|have (?:[\w'-]+ ){0,3}(?:to|over to|back to|for) you|get you|"
         r"get (?:[\w'-]+ ){0,3}(?:to|over to|back to) you|pick (?:this|it|that) up|"
         r"reconvene|regroup|discuss|set up (?:a|the) (?:call|meeting|chat)|"
         r"schedule (?:a|the) (?:call|meeting|chat)|book (?:a|the) (?:call|meeting)|"
         r"find a time|get together|keep you posted|hear from|"
         rf"(?:come|swing|drop|stop|pop) (?:by|over|round|in))\b){_THIRD}(?!\s+me\b)")
ENGLISH = re.compile(rf"(?:{_SUBJECT})\s+(?P<gap>{_ASIDE})(?P<verb>{_VERB})", _F)
# a fragment that starts the sentence: "Will ping you tomorrow", "Talk next week"
_OPENER = r"^(?:(?:and|so|ok|okay|then|anyway|great|sure|thanks|perfect|cool|right)[,!.]?\s+)*"
FRAGMENT = re.compile(rf"{_OPENER}(?:will|shall|gonna)\s+(?P<gap>{_ASIDE})(?P<verb>{_VERB})"
                      rf"|{_OPENER}(?:talk|speak|chat|catch up|call you|ping you|"
                      rf"email you|back to you|more|circling back|touching base|"
                      rf"following up)\b", _F)
# "I'm calling you on Tuesday": present for future, a promise only with a time
PROGRESSIVE = re.compile(r"\b(?:i|we)(?:'m|\s+am|'re|\s+are)\s+(?P<gap>(?:also\s+|just\s+)?)"
                         r"(?P<verb>calling|ringing|phoning|texting|pinging|"
                         r"sending(?! this| you this)|getting back to you|"
                         r"coming (?:by|over|round))\b", _F)
HEAR = re.compile(r"\byou(?:'ll|\s+will|\s+can expect to|\s+should)\s+hear\s+(?:back\s+)?"
                  r"from\s+(?:me|us)\b|\bexpect\s+(?:a|an|my|to hear)\b[^.]{0,30}?"
                  r"\bfrom\s+(?:me|us)\b", _F)
# German: ich/wir next to a finite contact verb, either order (verb second)
_DE_VERB = (r"(?:melde|meld|rufe|ruf|schicke|schick|sende|schreibe|schreib|maile|gebe|geb|"
            r"sage|sag|komme|komm|lasse|lass|leite|werde|werden|melden|rufen|schicken|"
            r"senden|schreiben|sprechen|telefonieren|hören|treffen|reden|kommen|geben)")
GERMAN = re.compile(rf"\b(?:ich|wir)\s+(?:\w+\s+)??{_DE_VERB}\b|\b{_DE_VERB}\s+(?:ich|wir)\b|"
                    r"\blass(?:t|en sie)?\s+uns\b|\b(?:du|sie|ihr)\s+(?:hörst|hören|hört)\b"
                    r".{0,40}?\bvon\s+(?:mir|uns)\b|\b(?:hörst du|hören sie|hört ihr)\b"
                    r".{0,40}?\bvon\s+(?:mir|uns)\b", _F)
# what a German finite verb needs elsewhere in the sentence to be about getting in touch
_DE_CONTACT = re.compile(r"\b(?:melde|meld|melden|rufe|ruf|rufen|schicke|schick|schicken|"
                         r"sende|senden|schreibe|schreib|schreiben|maile|mailen|"
                         r"anrufen|zurückmelden|zurückrufen|bescheid|zukommen|weiterleiten|"
                         r"durchgeben|sprechen|telefonieren|treffen|reden|zurück|von mir|"
                         r"von uns|auf (?:sie|dich|euch) zu|uns hören|hören uns)\b", _F)

NEGATION = re.compile(r"\b(?:not|never|no longer|unable|please|nicht|nie|kein\w*)\b|n't\b",
                      _F)
HEDGE = re.compile(r"\b(?:maybe|perhaps|possibly|probably|hopefully|might|(?-i:may)|could|would|"
                   r"should|vielleicht|eventuell|evtl|möglicherweise|wahrscheinlich|"
                   r"würde|könnte|sollte|hoffentlich)\b", _F)
CONDITION = re.compile(r"\b(?:if|unless|in case|once you|when you|as soon as|provided|"
                       r"assuming|wenn|falls|sofern|sobald|ob)\b", _F)
# after the promise, only a true condition undoes it: "... as soon as I'm back" still holds
CONDITION_AFTER = re.compile(r"\b(?:if|unless|in case|provided|assuming|falls|sofern)\b", _F)
# a condition after the promise that keeps it: "... if I haven't heard from you"
FALLBACK = re.compile(r"\b(?:if|unless|falls|wenn|sofern)\b[^.]{0,40}?\b(?:hear|heard|"
                      r"reply|replied|answer|answered|respond|responded|höre|antwort\w*|"
                      r"gemeldet|meldest|melden)\b", _F)
QUESTION = re.compile(r"^\s*(?:shall|should|can|could|may|would|do|does|"
                      r"did|will you|are you|is it|soll|sollen|kann|können|darf)\b", _F)
REPORTED = re.compile(r"\b(?:said|told|promised|wrote|mentioned|thought|meant|was going to|"
                      r"were going to|had planned|hatte|habe|hat|sagte|versprochen)\b", _F)
# where a sentence ends: not before a lower-case word or a number, nor after a number's
# full stop ("e.g. the", "am 12. März", "12.3. an")
_END = re.compile(r"(?<=[.!?:;])(?<!\d\.)\s+(?=[^\d\sa-zäöüß])")
# every pattern but FRAGMENT needs one of these words: most sentences are let go after one
# search (speed: bench/promises.py), and the slow German one runs only on a German pronoun
_ENGLISH_HINT = re.compile(r"\b(?:i|we)(?:'ll|'m|'re|\s+(?:will|shall|am|are|plan|intend|aim|"
                           r"promise))\b|\blet(?:'s|\s+us|\s+me)\b|\bfrom\s+(?:me|us)\b", _F)
_GERMAN_HINT = re.compile(r"\b(?:ich|wir|uns|mir)\b", _F)
_CLAUSE = re.compile(r"[,;:]\s+|\s+(?:but|aber|and|und)\s+", _F)
_QUOTES = (("’", "'"), ("‘", "'"), ("`", "'"), ("´", "'"), ("\u00a0", " "))


def sentences(text: str) -> list[str]:
    """The text's sentences, quoted lines ('>') and anything after a signature marker
    ('-- ') left out; the hard-wrapped lines of a paragraph joined."""
    paragraphs: list[list[str]] = [[]]
    for odd, plain in _QUOTES:  # str.replace is many times faster than str.translate
        text = text.replace(odd, plain)
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "--":
            break
        if not stripped:
            paragraphs.append([])
        elif not stripped.startswith(">"):
            paragraphs[-1].append(stripped)
    return [s for lines in paragraphs if lines for s in _END.split(" ".join(lines))]


def clean(sentence: str) -> str:
    """One line, at most ``LONGEST`` characters, cut at a word."""
    flat = " ".join(sentence.split())
    if len(flat) <= LONGEST:
        return flat
    cut = flat[:LONGEST - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def commitment(sentence: str) -> re.Match[str] | None:
    """The user's commitment to the next contact in ``sentence``, or None."""
    if sentence.rstrip(" \"')]").endswith("?") or QUESTION.match(sentence):
        return None
    patterns = [ENGLISH, FRAGMENT, PROGRESSIVE, HEAR] if _ENGLISH_HINT.search(sentence) else [
        FRAGMENT]
    if _GERMAN_HINT.search(sentence):
        patterns.append(GERMAN)
    for pattern in patterns:
        m = pattern.search(sentence)
        if m is not None and _sound(sentence, m):
            return m
    return None


def _sound(sentence: str, m: re.Match[str]) -> bool:
    """Whether the match is a promise: nothing before it that makes it an offer, a report
    or a condition, nothing between subject and verb that negates or hedges it."""
    before, after = sentence[:m.start()], sentence[m.end():]
    clause = _CLAUSE.split(before)[-1]
    gap = m.groupdict().get("gap") or ""
    if NEGATION.search(gap) or HEDGE.search(gap):
        return False
    if CONDITION.search(before) and not FALLBACK.search(before):
        return False
    if HEDGE.search(clause) or REPORTED.search(clause) or NEGATION.search(clause):
        return False
    if CONDITION_AFTER.search(after) and not FALLBACK.search(after):
        return False
    if m.re is GERMAN:
        return not NEGATION.search(after) and not HEDGE.search(after) and bool(
            _DE_CONTACT.search(sentence, m.start()))
    return True


def find(text: str, sent: datetime, tz: tzinfo) -> list[PromiseText]:
    """The commitment sentences of ``text`` (the new text of one sent message) with the day
    each names, resolved against ``sent`` in ``tz``; ``due`` None for a promise with no
    time. A fragment or a present tense with no time ("Talk soon", "I'm sending the file")
    is a sign-off or a report, not a promise."""
    try:
        today = sent.astimezone(tz).date()
    except (ValueError, OverflowError):  # a Date at the edge of what datetime holds
        return []
    found: list[PromiseText] = []
    for sentence in sentences(text):
        promise = _promise(sentence, today)
        if promise is not None and promise not in found:
            found.append(promise)
    return found


def _promise(sentence: str, today: date) -> PromiseText | None:
    m = commitment(sentence)
    if m is None:
        return None
    named, due = timephrase.find(sentence[m.start():], today)
    if not named:
        named, due = timephrase.find(sentence[:m.start()], today)
    if not named and m.re in (FRAGMENT, PROGRESSIVE):
        return None
    if due is not None and due < today:
        due = None
    return PromiseText(clean(sentence), due)
