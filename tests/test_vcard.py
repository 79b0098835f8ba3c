"""The vCard reader: the forms address books really write (Apple, Google, vCard 2.1 phones,
RFC 6350's own examples, group cards), and broken input that must never raise.

The files in tests/data/vcards/ are written for these tests in the shapes the test data of
vobject, SyncEvolution and the CardDAV servers' suites exercise (not copies of them).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import vcard
from connectors.vcarddates import read_date
from daemon.model import Card, PartialDate

DATA = Path(__file__).parent / "data" / "vcards"


def parse_file(name: str) -> vcard.Parsed:
    return vcard.parse((DATA / name).read_bytes(), name)


def one(text: str) -> Card:
    """The one card of ``text`` (LF lines; the reader takes either)."""
    parsed = vcard.parse(text.encode("utf-8"), "t.vcf")
    assert not parsed.skipped, parsed.skipped
    (card,) = parsed.cards
    return card


def card_with(*lines: str, version: str = "4.0") -> Card:
    return one("\n".join(["BEGIN:VCARD", f"VERSION:{version}", "FN:Some One", *lines,
                          "END:VCARD", ""]))


# -- what the address books write ------------------------------------------------------------
def test_apple_vcard3_omitted_years_labelled_anniversary_and_a_folded_photo() -> None:
    parsed = parse_file("apple-v3.vcf")
    johnny, joe = parsed.cards
    assert johnny.name == "Johnny Appleseed"
    assert johnny.uid == "7a1d8b2e-0c4f-4b6e-9e21-5f3c8d9a1b20"
    assert johnny.emails == ("johnny@example.com", "johnny@work.example")
    assert johnny.birthday == PartialDate(11, 22)  # X-APPLE-OMIT-YEAR=1604
    # X-ABDATE labelled Anniversary is one; the one labelled Other is not
    assert johnny.anniversary == PartialDate(6, 9, 2001)
    assert joe.birthday == PartialDate(3, 5)  # the bare year 1604, no parameter
    assert johnny.location == "apple-v3.vcf:1" and joe.location == "apple-v3.vcf:18"
    assert parsed.skipped == [] and parsed.groups == []


def test_google_vcard3_export_yearless_birthday_year_zero_and_categories() -> None:
    priya, old = parse_file("google-v3.vcf").cards
    assert priya.birthday == PartialDate(4, 12)  # --0412 inside a vCard 3.0
    assert priya.anniversary == PartialDate(9, 15, 2012)
    assert priya.emails == ("priya.raman@gmail.example",)  # one address, whatever its case
    assert priya.groups == ("myContacts", "Clients", "Book club, Tuesdays")
    assert old.birthday == PartialDate(7, 4)  # Google's year 0


def test_vcard21_quoted_printable_charset_soft_breaks_and_an_agent_card() -> None:
    (card,) = parse_file("v21-quoted-printable.vcf").cards
    assert card.name == "Jürgen Müller"  # ISO-8859-1, split by a soft line break
    assert card.emails == ("juergen@mueller.example",)  # bare 2.1 parameters
    assert card.birthday == PartialDate(1, 1, 1970)
    # the AGENT's nested card is part of the outer one, not a card of its own


def test_rfc6350_vcard4_dates_text_birthday_and_a_kind_group() -> None:
    parsed = parse_file("rfc6350-v4.vcf")
    simone, other = parsed.cards
    assert simone.birthday == PartialDate(2, 3) and simone.anniversary == PartialDate(8, 8, 2009)
    assert other.birthday is None and other.birthday_text == "circa 1800"
    (group,) = parsed.groups
    assert group.name == "Clients"
    # a member by urn:uuid and one by mailto: both get the group; CATEGORIES come first once
    assert vcard.groups_of(simone, parsed.groups) == ("Work", "Clients")
    assert vcard.groups_of(other, parsed.groups) == ("Clients",)


def test_an_apple_group_card_names_its_members_across_files() -> None:
    (group,) = parse_file("apple-group.vcf").groups
    johnny, joe = parse_file("apple-v3.vcf").cards
    assert vcard.with_groups(johnny, [group]).groups == ("Friends",)  # UID case ignored
    assert vcard.with_groups(joe, [group]) == joe


def test_a_cut_off_file_keeps_its_complete_cards() -> None:
    parsed = parse_file("truncated.vcf")
    assert [c.name for c in parsed.cards] == ["Whole Card"]
    (skip,) = parsed.skipped
    assert skip.location == "truncated.vcf:6" and "END:VCARD" in skip.reason


def test_latin1_bytes_and_nuls_are_read_not_refused() -> None:
    (card,) = parse_file("latin1-and-nul.vcf").cards
    assert card.name == "Renée François" and card.emails == ("renee@example.fr",)


def test_odd_values_notes_text_empty_cards_and_quoted_parameters() -> None:
    parsed = parse_file("odd-values.vcf")
    bad, text, quoted = parsed.cards
    assert bad.birthday is None and bad.anniversary is None
    assert bad.notes == ("BDAY 1986-02-30 is not a date", "ANNIVERSARY 2010-13-01 is not a date")
    assert text.birthday_text == "sometime in spring" and text.notes == ()
    assert quoted.name == "Quoted Colon" and quoted.emails == ("quoted@example.org",)
    (empty,) = parsed.skipped
    assert empty.location == "odd-values.vcf:13"


# -- dates --------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "params", "want"), [
    ("19860412", {}, PartialDate(4, 12, 1986)),
    ("1986-04-12", {}, PartialDate(4, 12, 1986)),
    ("1986-04-12T00:00:00Z", {}, PartialDate(4, 12, 1986)),
    ("19531015T231000Z", {}, PartialDate(10, 15, 1953)),
    ("1987-09-27T08:30:00-06:00", {}, PartialDate(9, 27, 1987)),
    ("--0412", {}, PartialDate(4, 12)),
    ("--04-12", {}, PartialDate(4, 12)),
    ("--0229", {}, PartialDate(2, 29)),  # 29 February without a year exists
    ("1604-04-12", {"X-APPLE-OMIT-YEAR": ["1604"]}, PartialDate(4, 12)),
    ("1604-04-12", {}, PartialDate(4, 12)),
    ("1972-04-12", {"X-APPLE-OMIT-YEAR": ["1972"]}, PartialDate(4, 12)),
    ("0000-04-12", {}, PartialDate(4, 12)),
    ("16040101", {}, PartialDate(1, 1)),  # Thunderbird CardBook's year-less form
    ("1963-09-21", {"VALUE": ["date"]}, PartialDate(9, 21, 1963)),
    ("2000-02-29", {}, PartialDate(2, 29, 2000)),
])
def test_every_date_form(value: str, params: dict[str, list[str]], want: PartialDate) -> None:
    assert read_date(value, params) == (want, "")


@pytest.mark.parametrize(("value", "params", "note"), [
    ("1986-02-30", {}, "is not a date"),
    ("1985-02-29", {}, "is not a date"),
    ("1986-04", {}, "is not a date"),  # vCard 4's reduced accuracy: no day to remind on
    ("--1345", {}, "is not a date"),
    ("April 12", {}, ""),  # words: text, never guessed
    ("12.04.1986", {}, ""),
    ("02-10", {"VALUE": ["date"]}, ""),  # no year and no leading dashes: text, not guessed
    ("1986-04-12", {"VALUE": ["text"]}, ""),
])
def test_what_is_not_a_date(value: str, params: dict[str, list[str]], note: str) -> None:
    assert read_date(value, params) == (None, note)


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_yearless_birthdays_in_both_versions(version: str) -> None:
    for value in ("--0412", "--04-12", "1604-04-12"):
        assert card_with(f"BDAY:{value}", version=version).birthday == PartialDate(4, 12)


def test_anniversary_forms_and_the_first_usable_date_wins() -> None:
    card = card_with("BDAY:1986-02-30", "BDAY:1986-04-12", "X-ANNIVERSARY:2010-06-01",
                     "ANNIVERSARY:2011-01-01", version="3.0")
    assert card.birthday == PartialDate(4, 12, 1986)
    assert card.anniversary == PartialDate(6, 1, 2010)
    assert card.notes == ("BDAY 1986-02-30 is not a date",)
    worded = card_with("ANNIVERSARY;VALUE=text:our first date")
    assert worded.anniversary is None and worded.notes == (
        "ANNIVERSARY 'our first date' is text, not a date",)


# -- lines, parameters, escapes -------------------------------------------------------------
def test_folding_groups_escapes_and_n_as_the_name() -> None:
    text = ("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe\\, Jr.;Jane;Q.;Dr.;\r\n"
            "item7.EMAIL;TYPE=INTERNET:jane@exa\r\n\tmple.org\r\n"
            "CATEGORIES:A\\,B,C\\\\,D\r\nCATEGORIES:E\r\nEND:VCARD\r\n")
    card = one(text)
    assert card.name == "Dr. Jane Q. Doe, Jr."
    assert card.emails == ("jane@example.org",)
    assert card.groups == ("A,B", "C\\", "D", "E")


def test_a_grouped_lowercase_card_as_ldap_exports_write_it() -> None:
    text = ("home.begin:vcard\r\nversion:3.0\r\nfn:Meister Berger\r\nn:Berger;Meister\r\n"
            "bday;value=date:1963-09-21\r\nnote:The Mayor of the great city of\r\n"
            "  Goerlitz.\\nNext line.\r\nemail;internet:MB@Goerlitz.example\r\n"
            "home.label:Hufenshlagel 1234\\n\r\n 02828 Goerlitz\r\nEND:VCARD\r\n")
    card = one(text)
    assert (card.name, card.emails, card.birthday) == (
        "Meister Berger", ("mb@goerlitz.example",), PartialDate(9, 21, 1963))


def test_n_components_are_comma_lists_and_a_trailing_equals_is_no_soft_break() -> None:
    card = one("BEGIN:VCARD\nVERSION:3.0\nN:Name;Pretty;Long,With-Hyphen;;\nEND:VCARD\n")
    assert card.name == "Pretty Long With-Hyphen Name"
    # vCard 3 has no quoted-printable: a value ending in "=" is just that
    card = one("BEGIN:VCARD\nVERSION:3.0\nFN:parserbug=\nEMAIL:p@example.org\nEND:VCARD\n")
    assert card.name == "parserbug=" and card.emails == ("p@example.org",)


def test_quoted_printable_utf8_across_a_soft_break() -> None:
    text = ("BEGIN:VCARD\nVERSION:2.1\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E9=BB=84;"
            "=E4=B8=96;;;\nFN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E9=BB=84=E4=B8=\n"
            "=96=E5=8B=87\nEMAIL;INTERNET:huang@example.cn\nEND:VCARD\n")
    assert one(text).name == "黄世勇"


def test_byte_order_marks_utf8_and_utf16() -> None:
    text = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Zoë\r\nEND:VCARD\r\n"
    for data in (b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16")):
        (card,) = vcard.parse(data, "bom.vcf").cards
        assert card.name == "Zoë"


def test_several_cards_and_junk_between_them() -> None:
    text = ("junk before\nBEGIN:VCARD\nFN:One\nEND:VCARD\n\nmore junk: here\n"
            "BEGIN:vcard\nFN:Two\nend:VCARD\nEND:VCARD\n")
    parsed = vcard.parse(text.encode(), "x.vcf")
    assert [c.name for c in parsed.cards] == ["One", "Two"] and parsed.skipped == []


def test_a_megabyte_photo_costs_little(tmp_path: Path) -> None:
    """A 1 MB PHOTO, folded the usual way and as one line: neither is joined or kept."""
    blob = "QUJD" * (1 << 18)
    folded = "\r\n ".join(blob[i:i + 74] for i in range(0, len(blob), 74))
    for photo in (folded, blob):
        data = (f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Big Photo\r\nPHOTO;ENCODING=b;TYPE=JPEG:"
                f"{photo}\r\nEMAIL:big@example.org\r\nEND:VCARD\r\n").encode()
        started = time.perf_counter()
        (card,) = vcard.parse(data, "big.vcf").cards
        assert time.perf_counter() - started < 1.0
        assert card.emails == ("big@example.org",)


# -- nothing raises --------------------------------------------------------------------------
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    parsed = vcard.parse(data, "fuzz.vcf")
    assert all(isinstance(c, Card) for c in parsed.cards)


_PIECES = st.sampled_from([
    "BEGIN:VCARD", "END:VCARD", "VERSION:2.1", "FN:A\\", "N:;;;", "EMAIL:a@b.c", "EMAIL;",
    "BDAY:--0230", "BDAY;VALUE=date:1604-02-29", "BDAY:", "KIND:group", "MEMBER:urn:uuid:",
    "X-ADDRESSBOOKSERVER-KIND:group", "CATEGORIES:\\,,,", "NOTE;ENCODING=QUOTED-PRINTABLE:=",
    "FN;CHARSET=nonsense;ENCODING=QUOTED-PRINTABLE:=E9=", " folded", "\t", "=", ";", ":",
    'EMAIL;TYPE="unclosed:x@y.z', "item1.X-ABDATE:2010-01-01", "item1.X-ABLabel:anniversary",
    "UID:x", "AGENT:", "BEGIN:VCARD\r",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30), st.sampled_from(["\n", "\r\n", "\r"]))
def test_arbitrary_vcard_shaped_lines_never_raise(pieces: list[str], eol: str) -> None:
    parsed = vcard.parse(eol.join(pieces).encode("utf-8"), "fuzz.vcf")
    for card in parsed.cards:
        assert card.birthday is None or 1 <= card.birthday.month <= 12
