"""What `keepwarm notes`, `keepwarm referrals` and `keepwarm show` say of notes and
referrals, as lines for a person and as JSON (keys listed in the README). Pure: the
commands hand over the notes, the referrals and who an address is."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import tzinfo
from typing import Any

from daemon.model import Note, Referral

# an address -> (the key of the contact holding it, that contact's name)
Who = Callable[[str], tuple[str, str]]


def day(note: Note, tz: tzinfo) -> str:
    """The day a note was written, where the user is."""
    return note.made.astimezone(tz).date().isoformat()


def dated(note: Note, tz: tzinfo) -> str:
    """``(2026-12-01): text``, the text on one line whatever was typed: how `show` and a
    reminder's description give a note."""
    return f"({day(note, tz)}): {' '.join(note.text.split())}"


def notes_json(notes: Sequence[Note], tz: tzinfo) -> list[dict[str, str]]:
    """``keepwarm notes --json``, ``show --json``'s ``notes``: oldest first."""
    return [{"date": day(n, tz), "text": n.text} for n in notes]


def note_lines(notes: Sequence[Note], tz: tzinfo) -> list[str]:
    """`show`'s lines of a person's notes, numbered as `keepwarm notes` numbers them."""
    return [f"note {i} {dated(n, tz)}" for i, n in enumerate(notes, 1)]


def _person(email: str, when: str, who: Who) -> dict[str, str]:
    return {"email": email, "name": who(email)[1], "date": when}


def of_person(emails: Collection[str], referrals: Sequence[Referral], who: Who
              ) -> dict[str, list[dict[str, str]]]:
    """``show --json``'s ``referred_by`` (who referred this person) and ``referred`` (whom
    this person referred), each ``{email, name, date}``, by day."""
    return {"referred_by": [_person(r.source, r.day.isoformat(), who)
                            for r in referrals if r.referred in emails],
            "referred": [_person(r.referred, r.day.isoformat(), who)
                         for r in referrals if r.source in emails]}


def referral_lines(about: dict[str, list[dict[str, str]]]) -> list[str]:
    """`show`'s lines: "referred by Sam Source <sam@x> on 2026-11-02", "referred: ..."."""
    lines = [f"referred by {p['name']} <{p['email']}> on {p['date']}"
             if p["name"] != p["email"] else f"referred by {p['email']} on {p['date']}"
             for p in about["referred_by"]]
    if about["referred"]:
        lines.append("referred: " + ", ".join(f"{p['name']} ({p['date']})"
                                              for p in about["referred"]))
    return lines


def by_source(referrals: Sequence[Referral], who: Who) -> list[dict[str, Any]]:
    """``keepwarm referrals --json``: each source (the contact holding its address) with the
    people it referred, by day; most referrals first, then by name."""
    groups: dict[str, list[Referral]] = {}
    for r in referrals:
        groups.setdefault(who(r.source)[0], []).append(r)
    out = [{"source": key, "name": who(key)[1],
            "referred": [_person(r.referred, r.day.isoformat(), who)
                         for r in sorted(rs, key=lambda r: (r.day, r.referred))]}
           for key, rs in groups.items()]
    return sorted(out, key=lambda s: (-len(s["referred"]), s["name"].casefold(), s["source"]))
