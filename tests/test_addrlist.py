"""Address lists split the same on every Python: each well-formed item as the standard
library reads it, each malformed one dropped on its own (CVE-2023-27043 made the stdlib drop
the whole header instead, on 3.13 and on later 3.11 and 3.12 patch releases)."""

from __future__ import annotations

import inspect
from email.utils import getaddresses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.addrlist import pairs, slow_pairs
from connectors.mailparse import parse_addresses

STRICT_STDLIB = "strict" in inspect.signature(getaddresses).parameters


def stdlib(value: str) -> list[tuple[str, str]]:
    """How the standard library reads a well-formed list: its parser from before the fix,
    kept as ``strict=False`` (the strict one refuses some well-formed lists, such as a comma
    in a comment)."""
    found = getaddresses([value], strict=False) if STRICT_STDLIB else getaddresses([value])
    return [(name, address) for name, address in found if address]


def emails(found: list[tuple[str, str]]) -> list[str]:
    """The addresses keepwarm keeps of some pairs (valid ones, lower-cased)."""
    return [a.email for a in parse_addresses([", ".join(f"<{a}>" for _, a in found)])]


@pytest.mark.parametrize(("value", "expected"), [
    # one malformed item next to good ones: only it is lost
    ('"unclosed, good@example.com', [("", "good@example.com")]),
    ("bad@@example.com, Ann <ann@example.com>", [("Ann", "ann@example.com")]),
    ("alice@example.org)<bob@example.org>, c@example.com", [("", "c@example.com")]),
    ("Name <a@example.com> junk, c@example.com", [("", "c@example.com")]),
    ("<a@example.com> Name, (open comment, c@example.com", [("", "c@example.com")]),
    ("a@b@example.com, foo@example.com>, c@example.com:, d@example.com",
     [("", "d@example.com")]),
    # forms mailers write that are not RFC 5322, where what was meant is clear
    ("a@example.com; b@example.com", [("", "a@example.com"), ("", "b@example.com")]),
    ("team: a@example.com, b@example.com", [("", "a@example.com"), ("", "b@example.com")]),
    ("a@example.com <b@example.com>", [("a@example.com", "b@example.com")]),
    ("Foo Bar <foo@example.com", [("Foo Bar", "foo@example.com")]),
    # what the standard library reads, read alike
    ("undisclosed-recipients:;, x@example.com", [("", "x@example.com")]),
    ("bbb@ddd.com (John X. Doe)", [("John X. Doe", "bbb@ddd.com")]),
    ("John (the man) Doe <j@x.com>", [("John Doe (the man)", "j@x.com")]),
    ('"a\\"b" <q@x.com>, <@route.example:r@x.com>', [('a"b', "q@x.com"), ("", "r@x.com")]),
    ("a . b@x.com, a@ b .com, <>, Name <>, root", [("", "a.b@x.com"), ("", "a@b.com")]),
])
def test_each_item_is_judged_on_its_own(value: str, expected: list[tuple[str, str]]) -> None:
    assert pairs(value) == expected


_ATOM = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
_EMAIL = st.builds(lambda local, host, tld: f"{local}@{host}.{tld}", _ATOM, _ATOM,
                   st.sampled_from(["com", "org", "de"]))
_WORDS = st.text(st.sampled_from(list("ab  \t.=?_é")), max_size=12)
_COMMENT = st.text(st.sampled_from(list("ab .,:;<>@é")), max_size=8).map(lambda c: f"({c})")
_ITEM = st.one_of(
    _EMAIL,
    st.builds(lambda n, e: f"{n} <{e}>", _WORDS, _EMAIL),
    st.builds(lambda n, e: f'"{n}"<{e}>', st.text(st.sampled_from(list("ab ,.<>@;:()é")),
                                                  max_size=12), _EMAIL),
)
# well-formed, but beyond the fast path: comments, groups, routes, quoted pairs
_RICH_ITEM = st.one_of(
    _ITEM,
    st.builds(lambda e, c: f"{e} {c}", _EMAIL, _COMMENT),
    st.builds(lambda c, n, e: f"{c} {n} <{e}>", _COMMENT, _ATOM, _EMAIL),
    st.builds(lambda n, e: f"{n}: {e};", _ATOM, st.lists(_EMAIL, max_size=3).map(", ".join)),
    st.builds(lambda n, e: f'"{n}\\"" <@relay.example:{e}>', _ATOM, _EMAIL),
)
# (a stray opening quote or parenthesis is left out: it pairs with the next closing one, as
# any reader would pair them, and swallows what lies between)
_MALFORMED = st.sampled_from([
    "bad@@example.com", "a b@example.com", "@example.com",
    "alice@example.org)<bob@example.org>", "x@example.com>", "<y@example.com> trailing",
    "Name <z@example.com> extra", "a@b@example.com", "[1.2.3.4]@example.com",
    "w@example.com:", "root", "user@localhost", "<>", "undisclosed-recipients:;",
])
_PADDING = st.sampled_from(["", " ", "  ", "\t"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_ITEM, _PADDING), max_size=5))
def test_the_fast_path_agrees_with_the_stdlib_on_plain_lists(
        items: list[tuple[str, str]]) -> None:
    value = ",".join(pad + item + pad for item, pad in items)
    assert pairs(value) == stdlib(value)
    assert slow_pairs(value) == stdlib(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(_RICH_ITEM, max_size=5))
def test_well_formed_lists_read_as_the_stdlib_reads_them(items: list[str]) -> None:
    value = ", ".join(items)
    assert emails(pairs(value)) == emails(stdlib(value))
    if "(" not in value:  # the stdlib repeats a comment inside an address in the name
        assert pairs(value) == stdlib(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_RICH_ITEM.map(lambda i: (i, True)),
                          _MALFORMED.map(lambda i: (i, False))), max_size=8))
def test_good_items_are_kept_and_bad_ones_dropped_nothing_else(
        items: list[tuple[str, bool]]) -> None:
    value = ", ".join(item for item, _ in items)
    good = ", ".join(item for item, ok in items if ok)
    assert emails(pairs(value)) == emails(slow_pairs(good))


_VALUE_CHARS = st.sampled_from(list(' \t"\\<>@,;:()[].=?_aAbBzZ09é'))


@settings(max_examples=500, deadline=None)
@given(st.text(_VALUE_CHARS, max_size=60))
def test_the_fast_path_agrees_with_the_tokenizer_on_anything(value: str) -> None:
    assert pairs(value) == slow_pairs(value)


@pytest.mark.skipif(not STRICT_STDLIB, reason="this Python's getaddresses has no strict mode")
@settings(max_examples=500, deadline=None)
@given(st.text(_VALUE_CHARS, max_size=60))
def test_never_an_address_the_strict_stdlib_would_not_give(value: str) -> None:
    """Where the stdlib's strict parser accepts a header, every address read here is one it
    reads too, in its order (it also accepts a few malformed items that are dropped here)."""
    strict = getaddresses([value])
    if strict != [("", "")]:
        ours = emails(pairs(value))
        assert [e for e in emails(strict) if e in ours] == ours
