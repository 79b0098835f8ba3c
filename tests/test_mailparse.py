"""The shared mail header parser: literal cases, CPython's own test corpus, and fuzzing."""

from __future__ import annotations

import io
import pathlib
from datetime import UTC, datetime, timedelta
from email.utils import formataddr, parsedate_to_datetime

import pytest
import test.test_email
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.mailparse import (
    HEADER_CAP,
    clean_text,
    decode_words,
    parse_date,
    parse_headers,
    read_header_block,
)
from daemon.model import Address, Mail, Skipped

FALLBACK = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
CORPUS = pathlib.Path(test.test_email.__file__).parent / "data"


def parse(raw: bytes) -> Mail:
    result = parse_headers(raw, "test", FALLBACK)
    assert isinstance(result, Mail), result
    return result


def msg(*lines: str, body: str = "body\n") -> bytes:
    return ("\n".join(lines) + "\n\n" + body).encode()


def test_display_names_with_commas_are_not_split() -> None:
    m = parse(
        msg(
            "From: Me <me@example.org>",
            'To: "FooCorp, Inc." <x@foo.com>, =?utf-8?q?M=C3=BCller=2C_Hans?= <h@y.de>',
        )
    )
    assert m.to == (Address("x@foo.com", "FooCorp, Inc."), Address("h@y.de", "Müller, Hans"))
    assert m.sender == Address("me@example.org", "Me")


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("=?iso-8859-1?q?J=F6rg_Sch=E4fer?=", "Jörg Schäfer"),
        ("=?koi8-r?b?8NLP18XSy8E=?=", "Проверка"),
        ("=?gb2312?b?xOO6ww==?=", "你好"),
        ("=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=", "éé"),  # whitespace between words dropped
        ("=?utf-8?b?4o?= =?utf-8?b?gqw=?=", "€"),  # one character split across two words
        ("=?x-unknown?q?Zo=C3=AB?=", "Zoë"),  # unknown charset: best effort as UTF-8
        ("=?utf-8?q?broken", "=?utf-8?q?broken"),  # not an encoded-word: kept as is
        ("=?idna?q?x?=", "x"),  # a codec that refuses errors="replace"
    ],
)
def test_rfc2047_names_in_several_charsets(encoded: str, decoded: str) -> None:
    m = parse(msg("From: me@example.org", f"To: {encoded} <a@example.com>"))
    assert m.to == (Address("a@example.com", decoded),)


def test_repeated_recipient_headers_are_concatenated() -> None:
    m = parse(
        msg(
            "From: me@example.org",
            "To: a@example.com",
            "Cc: c@example.com",
            "TO: B@Example.COM",
            "cc: d@example.com",
            "Bcc: e@example.com",
        )
    )
    assert [a.email for a in m.to] == ["a@example.com", "b@example.com"]
    assert [a.email for a in m.cc] == ["c@example.com", "d@example.com"]
    assert [a.email for a in m.bcc] == ["e@example.com"]
    assert len(m.recipients) == 5


def test_missing_message_id_is_synthesised_stably() -> None:
    raw = msg("From: me@example.org", "To: a@example.com", "Subject: hi", "Date: bogus")
    first, second = parse(raw), parse(raw + b"different body")
    assert first.message_id == second.message_id
    assert first.message_id.endswith("@keepwarm.invalid")
    assert len(first.message_id) == 40 + len("@keepwarm.invalid")
    other = parse(msg("From: me@example.org", "To: b@example.com", "Subject: hi", "Date: bogus"))
    assert other.message_id != first.message_id


def test_message_id_and_in_reply_to_lose_brackets() -> None:
    m = parse(
        msg(
            "From: me@example.org",
            "To: a@example.com",
            "Message-ID:\n  <abc.123@example.org> ",
            "In-Reply-To: <prev@example.com> (comment)",
        )
    )
    assert m.message_id == "abc.123@example.org"
    assert m.in_reply_to == "prev@example.com"


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Tue, 14 Nov 2023 10:22:33 +0100", datetime(2023, 11, 14, 9, 22, 33, tzinfo=UTC)),
        ("14 Nov 2023 10:22:33 -0000", datetime(2023, 11, 14, 10, 22, 33, tzinfo=UTC)),
        (None, FALLBACK),
        ("yesterday-ish", FALLBACK),
        ("Thu, 01 Jan 1970 00:00:00 +0000", FALLBACK),
        ("Fri, 1 Mar 2030 10:00:00 +0000", FALLBACK),
        ("Sat, 31 Feb 2024 10:00:00 +0000", FALLBACK),
    ],
)
def test_date_parsing_and_fallback(date: str | None, expected: datetime) -> None:
    lines = ["From: me@example.org", "To: a@example.com"]
    if date is not None:
        lines.append(f"Date: {date}")
    m = parse(msg(*lines))
    assert m.date == expected
    assert m.date.tzinfo is not None


def test_a_fallback_is_checked_like_a_date_header() -> None:
    """Never before 1980, never after now + 2 days, whichever it came from: a header date
    then wins if it is good, else the message is skipped with the reason."""
    now = datetime(2026, 3, 20, tzinfo=UTC)
    future, ancient = datetime(2030, 3, 17, tzinfo=UTC), datetime(1975, 1, 1, tzinfo=UTC)
    bare = msg("From: me@example.org", "To: a@example.com")
    assert parse_headers(bare, "t", future, now) == Skipped(
        "t", "no usable date (no Date header, delivery time 2030-03-17): a date must lie "
             "between 1980 and now + 2 days")
    assert isinstance(parse_headers(bare, "t", ancient, now), Skipped)
    assert isinstance(parse_headers(bare, "t", None, now), Skipped)
    good = msg("From: me@example.org", "To: a@example.com", "Date: Thu, 19 Mar 2026 10:00 +0000")
    for fallback in (future, ancient, None):
        result = parse_headers(good, "t", fallback, now)
        assert isinstance(result, Mail)
        assert result.date == datetime(2026, 3, 19, 10, 0, tzinfo=UTC)
    late = msg("From: me@example.org", "To: a@example.com", "Date: Mon, 23 Mar 2026 10:00 +0000")
    assert parse_headers(late, "t", future, now) == Skipped(
        "t", "no usable date (Date 'Mon, 23 Mar 2026 10:00 +0000', delivery time 2030-03-17): "
             "a date must lie between 1980 and now + 2 days")


def test_naive_fallback_is_taken_as_utc() -> None:
    result = parse_headers(msg("To: a@example.com"), "t", datetime(2024, 1, 1))
    assert isinstance(result, Mail)
    assert result.date == datetime(2024, 1, 1, tzinfo=UTC)


def test_one_megabyte_header_is_capped_and_still_parsed(caplog: pytest.LogCaptureFixture) -> None:
    raw = b"From: me@example.org\nTo: a@example.com\nX-Junk: " + b"x" * (1024 * 1024) + b"\n"
    assert parse(raw).to == (Address("a@example.com"),)
    assert "header block longer than" in caplog.text and "test" in caplog.text
    # the recipients lie past the cap: never seen, so the message is skipped
    late = b"X-Junk: " + b"x" * (1024 * 1024) + b"\nTo: a@example.com\n\n"
    assert isinstance(parse_headers(late, "late", FALLBACK), Skipped)


def test_crlf_and_lf_give_the_same_result() -> None:
    lines = [
        "From: Me <me@example.org>",
        "To: a@example.com,",
        "\tBob <b@example.com>",
        "Subject: folded",
        " subject",
        "Date: Tue, 14 Nov 2023 10:22:33 +0100",
    ]
    lf = parse(("\n".join(lines) + "\n\nTo: body@example.com\n").encode())
    crlf = parse(("\r\n".join(lines) + "\r\n\r\nTo: body@example.com\r\n").encode())
    assert lf == crlf
    assert lf.subject == "folded subject"
    assert lf.to == (Address("a@example.com"), Address("b@example.com", "Bob"))


def test_raw_8bit_latin1_header() -> None:
    m = parse(
        b"From: J\xf6rg <j@example.de>\nTo: Fran\xe7ois <f@example.fr>\nSubject: Gr\xfc\xdfe\n\n"
    )
    assert m.sender == Address("j@example.de", "Jörg")
    assert m.to == (Address("f@example.fr", "François"),)
    assert m.subject == "Grüße"


def test_raw_utf8_header() -> None:
    m = parse("From: me@example.org\nTo: Zoë <z@example.com>\nSubject: café\n\n".encode())
    assert m.to == (Address("z@example.com", "Zoë"),)
    assert m.subject == "café"


def test_control_characters_are_stripped() -> None:
    m = parse(
        msg(
            "From: me@example.org",
            'To: "Ev\x00il\x7f \u202eName" <e@example.com>',
            "Subject: =?utf-8?q?a=01b=C2=85c=09d?=  ",
            "Precedence:  BULK ",
            "Auto-Submitted: Auto-Replied",
        )
    )
    assert m.to == (Address("e@example.com", "Evil Name"),)
    assert m.subject == "abc d"
    assert m.precedence == "bulk"
    assert m.auto_submitted == "auto-replied"


def test_subject_is_capped() -> None:
    m = parse(msg("From: me@example.org", "Subject: " + "s" * 2000))
    assert m.subject == "s" * 500


def test_garbage_addresses_are_dropped() -> None:
    m = parse(
        msg(
            "From: me@example.org",
            "To: undisclosed-recipients:;, root, user@localhost, x@y, <>, @example.com,"
            " good@Example.COM, bad@@example.com, a b@example.com",
        )
    )
    assert m.to == (Address("good@example.com"),)


def test_one_malformed_address_costs_only_itself_on_every_python() -> None:
    """Python 3.13's getaddresses (and later 3.11/3.12 patch releases) returns nothing for a
    header with one malformed address; the older one made addresses of its pieces."""
    m = parse(
        msg(
            "From: Me <me@example.org>",
            'To: "unclosed, good@example.com, alice@example.org)<bob@example.org>,'
            " Ann <ann@example.com>",
            "Cc: c@example.com; d@example.com, team: e@example.com, f@example.com",
            "Bcc: x@example.com (a, comment), Name <n@example.com> junk, y@example.com",
        )
    )
    assert [a.email for a in m.to] == ["good@example.com", "ann@example.com"]
    assert [a.email for a in m.cc] == ["c@example.com", "d@example.com", "e@example.com",
                                       "f@example.com"]
    assert [(a.email, a.name) for a in m.bcc] == [("x@example.com", "a, comment"),
                                                   ("y@example.com", "")]


def test_a_sender_without_recipients_is_still_mail() -> None:
    m = parse(msg("From: Me <me@example.org>", "Subject: note to self"))
    assert m.sender == Address("me@example.org", "Me")
    assert m.recipients == ()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "no header block"),
        (b"\x00\x01\xff\xfe binary junk \x89PNG\r\n\x1a\n", "no header block"),
        (b"\n\nTo: a@example.com\n", "no header block"),
        (b"Subject: hi\nTo: nobody\n\n", "no sender and no recipient addresses"),
    ],
)
def test_nothing_usable_is_skipped(raw: bytes, reason: str) -> None:
    assert parse_headers(raw, "loc", FALLBACK) == Skipped("loc", reason)


def test_list_headers_are_kept() -> None:
    m = parse(
        msg(
            "From: me@example.org",
            "To: list@lists.example.org",
            "List-Id: Example <list.example.org>",
            "List-Unsubscribe: <mailto:leave@example.org>",
        )
    )
    assert m.list_id == "Example <list.example.org>"
    assert m.list_unsubscribe == "<mailto:leave@example.org>"


def test_references_keep_the_last_twenty_ids_normalised() -> None:
    chain = " ".join(f"<id{i}@example.org>" for i in range(30))
    m = parse(msg("From: a@example.org", "To: b@example.org",
                  f"References: {chain}\n\t< folded@example.org >  junk <>"))
    assert m.references == (*(f"id{i}@example.org" for i in range(11, 30)),
                            "folded@example.org")
    assert parse(msg("From: a@example.org", "To: b@example.org")).references == ()
    assert parse(msg("From: a@example.org", "To: b@example.org",
                     "References: not an id")).references == ()


@pytest.mark.parametrize("header", ["X-Autoreply: yes", "X-Autorespond: ok",
                                    "x-autoresponder:", "X-AUTOREPLY:\ttrue"])
def test_any_autoresponder_header_marks_an_autoreply(header: str) -> None:
    assert parse(msg("From: a@example.org", "To: b@example.org", header)).autoreply
    assert not parse(msg("From: a@example.org", "To: b@example.org",
                         "X-Autoreplied-To: c@example.org")).autoreply


@pytest.mark.parametrize(("content_type", "report"), [
    ('multipart/report; report-type="delivery-status"; boundary=x', True),
    ("Multipart/Report;\n report-type=disposition-notification", True),
    ("multipart/mixed; boundary=report", False),
    ("text/plain; charset=multipart/report", False),
])
def test_multipart_report_marks_a_bounce_or_a_receipt(content_type: str, report: bool) -> None:
    m = parse(msg("From: mailer-daemon@example.org", "To: b@example.org",
                  f"Content-Type: {content_type}"))
    assert m.report is report


def test_received_is_the_callers_word_and_nothing_else_is_guessed() -> None:
    raw = msg("From: a@example.org", "To: b@example.org")
    assert parse(raw).received is False
    m = parse_headers(raw, "inbox", FALLBACK, received=True)
    assert isinstance(m, Mail) and m.received and (m.thread, m.link) == ("", "")


def test_clean_text() -> None:
    assert clean_text('  "Alice  Example"  ') == "Alice Example"
    assert clean_text("'Bob'") == "Bob"
    assert clean_text("O'Brien") == "O'Brien"
    assert clean_text("a\tb\r\nc\x00\x9b") == "a b c"
    assert clean_text("") == ""


def test_decode_words_keeps_plain_text_around_words() -> None:
    assert decode_words("Re: =?utf-8?q?caf=C3=A9?= now") == "Re: café now"


class _CountingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.returned = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.returned += len(data)
        return data


def test_read_header_block_stops_at_the_blank_line() -> None:
    header = b"From: me@example.org\r\nTo: a@example.com\r\n\r\n"
    f = _CountingReader(header + b"x" * (50 * 1024 * 1024))
    assert read_header_block(f) == header
    assert f.returned <= 64 * 1024


def test_read_header_block_caps_a_header_without_end() -> None:
    f = _CountingReader(b"X: " + b"y" * (5 * HEADER_CAP))
    block = read_header_block(f)
    assert len(block) == HEADER_CAP + 1
    assert f.returned < 2 * HEADER_CAP


def test_read_header_block_of_a_header_only_file() -> None:
    assert read_header_block(io.BytesIO(b"To: a@example.com\n")) == b"To: a@example.com\n"


# -- CPython's own email test corpus ----------------------------------------------------


def test_every_cpython_test_message_parses_without_raising() -> None:
    files = sorted(CORPUS.glob("msg_*.txt"))
    assert len(files) > 40
    for path in files:
        result = parse_headers(path.read_bytes(), path.name, FALLBACK)
        assert isinstance(result, Mail | Skipped)
        assert result.location == path.name


def corpus(name: str) -> Mail | Skipped:
    return parse_headers((CORPUS / name).read_bytes(), name, FALLBACK)


def test_corpus_msg_20_repeated_cc() -> None:
    m = corpus("msg_20.txt")
    assert isinstance(m, Mail)
    assert m.sender == Address("bbb@ddd.com", "John X. Doe")  # name from a (comment)
    assert m.to == (Address("bbb@zzz.org"),)
    assert [a.email for a in m.cc] == ["ccc@zzz.org", "ddd@zzz.org", "eee@zzz.org"]
    assert m.message_id == "15090.61304.110929.45684@aaa.zzz.org"
    assert m.date == datetime(2001, 5, 4, 18, 5, 44, tzinfo=UTC)


def test_corpus_msg_25_two_to_headers_after_a_from_line() -> None:
    m = corpus("msg_25.txt")
    assert isinstance(m, Mail)
    assert [a.email for a in m.to] == [
        "linuxuser-admin@www.linux.org.uk",
        "postmaster@zinfandel.lacita.com",
    ]
    assert m.auto_submitted == "auto-generated (failure)"


def test_corpus_msg_02_stops_at_the_header_block() -> None:
    m = corpus("msg_02.txt")  # the digest's parts have their own To: lines in the body
    assert isinstance(m, Mail)
    assert m.to == (Address("ppp@zzz.org"),)
    assert m.subject == "Ppp digest, Vol 1 #2 - 5 msgs"


def test_corpus_msg_27_folded_subject_and_commented_names() -> None:
    m = corpus("msg_27.txt")
    assert isinstance(m, Mail)
    assert m.to == (Address("bperson@dom.ain", "Barney P. Erson"),)
    assert m.subject.startswith("bug demonstration 1234567891") and m.subject.endswith(" more text")


def test_corpus_skips() -> None:
    assert corpus("msg_19.txt") == Skipped("msg_19.txt", "no header block")
    assert corpus("msg_11.txt") == Skipped("msg_11.txt", "no sender and no recipient addresses")


# -- fuzzing ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    assert isinstance(parse_headers(raw, "fuzz", FALLBACK), Mail | Skipped)


_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Cc",
        "Bcc",
        "Date",
        "Message-ID",
        "Subject",
        "List-Id",
        "In-Reply-To",
        "Precedence",
        "X-Other",
    ]
)
_HEADER_LINE = st.tuples(_NAMES, st.text(max_size=80)).map(lambda t: f"{t[0]}: {t[1]}")


@settings(max_examples=300, deadline=None)
@given(st.lists(_HEADER_LINE, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_arbitrary_header_like_text_never_raises(lines: list[str], eol: str) -> None:
    raw = (eol.join(lines) + eol + eol).encode("utf-8", "surrogatepass")
    assert isinstance(parse_headers(raw, "fuzz", FALLBACK), Mail | Skipped)


_ATOM = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
_EMAIL = st.builds(
    lambda local, host, tld: f"{local}@{host}.{tld}",
    _ATOM,
    _ATOM,
    st.sampled_from(["com", "org", "de"]),
)
_DISPLAY = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp")), max_size=20
).map(clean_text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_DISPLAY, _EMAIL), min_size=1, max_size=6), st.sampled_from(["To", "Cc"]))
def test_generated_messages_round_trip_their_recipients(
    people: list[tuple[str, str]], field: str
) -> None:
    value = ",\r\n ".join(formataddr((name, email), charset="utf-8") for name, email in people)
    raw = f"From: me@example.org\r\n{field}: {value}\r\nSubject: x\r\n\r\nbody".encode()
    m = parse(raw)
    got = m.to if field == "To" else m.cc
    assert [(a.name, a.email) for a in got] == people


def test_future_limit_is_two_days_after_fallback() -> None:
    inside = FALLBACK + timedelta(days=1)
    m = parse(msg("To: a@example.com", f"Date: {inside.strftime('%a, %d %b %Y %H:%M:%S +0000')}"))
    assert m.date == inside


def _stdlib_date(value: str) -> datetime | str:
    try:
        return parsedate_to_datetime(value)
    except Exception as exc:  # the outcome to compare, whatever it is
        return type(exc).__name__


_DATE_LIKE = st.builds(
    lambda wd, d, mon, y, h, mi, sec, sign, zh, zm, tail: (
        f"{wd}{d} {mon} {y} {h:02d}:{mi:02d}{sec} {sign}{zh:02d}{zm:02d}{tail}"),
    st.sampled_from(["", "Mon, ", "Sun,  ", "Xyz,"]), st.integers(0, 32),
    st.sampled_from(["Jan", "feb", "MAR", "Dec", "Foo"]), st.integers(1000, 9999),
    st.integers(0, 25), st.integers(0, 61), st.sampled_from(["", ":00", ":59", ":60", ":7"]),
    st.sampled_from(["+", "-"]), st.integers(0, 30), st.integers(0, 99),
    st.sampled_from(["", " (CET)", " (x) y", "  "]))


@settings(max_examples=400)
@given(st.one_of(_DATE_LIKE, st.text(max_size=40)))
def test_the_fast_date_path_agrees_with_the_stdlib(value: str) -> None:
    try:
        ours: datetime | str = parse_date(value)
    except Exception as exc:
        ours = type(exc).__name__
    theirs = _stdlib_date(value)
    if isinstance(theirs, str):
        assert isinstance(ours, str)
    else:
        assert ours == theirs and ours.utcoffset() == theirs.utcoffset()


def test_the_fast_date_path_reads_the_common_forms() -> None:
    assert parse_date("Mon, 2 Nov 2026 09:05:00 +0100") == datetime(
        2026, 11, 2, 8, 5, tzinfo=UTC)
    assert parse_date("2 Nov 2026 09:05 -0000").tzinfo is None  # -0000: zone unknown
    assert parse_date("Mon, 2 Nov 2026 09:05:00 GMT") == datetime(2026, 11, 2, 9, 5, tzinfo=UTC)
