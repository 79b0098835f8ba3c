"""The new text of a sent message (connectors.bodytext), on the shapes real mail clients
write: Gmail, Outlook, Apple Mail and Thunderbird replies, HTML only, quoted-printable,
base64, Latin-1, forwards, attachments; and Gmail's and Graph's JSON forms of a body."""

from __future__ import annotations

import base64
from email.charset import QP, Charset
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.bodytext import BODY_CAP, item_body_text, message_text, new_text, payload_text

HEAD = ("From: Me <me@example.com>\nTo: Jane Doe <jane@example.org>\n"
        "Date: Wed, 02 Dec 2026 10:00:00 +0100\nMessage-ID: <a@example.com>\nSubject: Re: Q3\n")


def alternative(plain: str, html: str) -> bytes:
    """multipart/alternative of a plain and an HTML part, quoted-printable, as most clients
    send a reply."""
    qp = Charset("utf-8")
    qp.body_encoding = QP
    msg = MIMEMultipart("alternative")
    for text, sub in ((plain, "plain"), (html, "html")):
        part = MIMEText(text, sub, qp)  # type: ignore[arg-type]  # a Charset works too
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        msg.attach(part)
    return HEAD.encode() + msg.as_bytes()


GMAIL_PLAIN = """Hi Jane,

thanks for the numbers. I'll call you on Tuesday to go through them.

Best,
Me

On Mon, Nov 30, 2026 at 4:12 PM Jane Doe <jane@example.org>
wrote:

> Here are the Q3 numbers. Can you call me next week?
> SENTINELQUOTE
"""
GMAIL_HTML = """<div dir="ltr">Hi Jane,<div><br></div><div>thanks for the numbers. I'll call
you on Tuesday to go through them.</div><div><br></div><div>Best,</div><div>Me</div></div>
<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Nov 30, 2026 at
4:12 PM Jane Doe &lt;<a href="mailto:jane@example.org">jane@example.org</a>&gt; wrote:<br>
</div><blockquote class="gmail_quote">Here are the Q3 numbers. SENTINELQUOTE</blockquote>
</div>"""


def test_a_gmail_reply_keeps_only_what_i_wrote_in_either_part() -> None:
    text = message_text(alternative(GMAIL_PLAIN, GMAIL_HTML))
    assert "I'll call you on Tuesday to go through them." in text
    assert "SENTINELQUOTE" not in text and "Can you call me" not in text
    assert "wrote" not in text
    html_only = HEAD.encode() + MIMEText(GMAIL_HTML, "html", "utf-8").as_bytes()
    from_html = message_text(html_only)
    assert "I'll call you on Tuesday" in " ".join(from_html.split())
    assert "SENTINELQUOTE" not in from_html and "wrote" not in from_html


OUTLOOK_PLAIN = """Hello Jane,

I will send the draft by Friday.

Kind regards
Me

________________________________
From: Jane Doe <jane@example.org>
Sent: Monday, November 30, 2026 16:12
To: Me <me@example.com>
Subject: Q3

Please send the draft. SENTINELQUOTE
"""
OUTLOOK_HTML = """<html><head><style>p {margin:0}</style></head><body>
<div class="elementToProof">Hello Jane,</div><div>I will send the draft by Friday.</div>
<div id="Signature"><p>Kind regards<br>Me, Head of Everything</p></div>
<div id="appendonsend"></div><hr style="display:inline-block;width:98%">
<div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Jane Doe &lt;jane@example.org&gt;<br>
<b>Sent:</b> Monday, November 30, 2026 16:12</div>
<div>Please send the draft. SENTINELQUOTE</div></body></html>"""


def test_an_outlook_reply_stops_at_its_reply_header() -> None:
    text = message_text(alternative(OUTLOOK_PLAIN, OUTLOOK_HTML))
    assert "I will send the draft by Friday." in text
    assert "SENTINELQUOTE" not in text and "From:" not in text
    html = message_text(HEAD.encode() + MIMEText(OUTLOOK_HTML, "html", "utf-8").as_bytes())
    assert html.splitlines() == ["Hello Jane,", "I will send the draft by Friday."]


def test_an_outlook_plain_reply_header_without_a_rule_and_in_german() -> None:
    english = "Let's talk next week.\n\nFrom: Jane <jane@example.org>\nSent: Mon\n\nold\n"
    german = ("Ich melde mich nächste Woche.\n\nVon: Jane <jane@example.org>\n"
              "Gesendet: Montag, 30. November 2026 16:12\nAn: Me\n\nalt\n")
    assert new_text(english) == "Let's talk next week."
    assert new_text(german) == "Ich melde mich nächste Woche."
    # a line that merely starts with "From:" is text of mine
    assert new_text("From: the team, thanks!\nI'll call.") == "From: the team, thanks!\nI'll call."


APPLE_PLAIN = """I'll get back to you in January.

Sent from my iPhone

> On 30. Nov 2026, at 16:12, Jane Doe <jane@example.org> wrote:
>
> SENTINELQUOTE
"""
APPLE_HTML = """<html><body dir="auto"><div>I'll get back to you in January.</div><div><br>
</div><div>Sent from my iPhone</div><div><br><blockquote type="cite">On 30. Nov 2026, at
16:12, Jane Doe &lt;jane@example.org&gt; wrote:<br><br></blockquote></div>
<blockquote type="cite"><div>SENTINELQUOTE</div></blockquote></body></html>"""


def test_an_apple_mail_reply_drops_the_cited_blockquotes() -> None:
    assert message_text(alternative(APPLE_PLAIN, APPLE_HTML)).splitlines() == [
        "I'll get back to you in January.", "", "Sent from my iPhone"]
    html = message_text(HEAD.encode() + MIMEText(APPLE_HTML, "html", "utf-8").as_bytes())
    assert "SENTINELQUOTE" not in html and "wrote" not in html
    assert "I'll get back to you in January." in html


THUNDERBIRD = """Hi Jane,

talk after the holidays!

--\x20
Me
Example Ltd, +49 30 123456 SENTINELSIG

On 30.11.26 16:12, Jane Doe wrote:
> SENTINELQUOTE
"""
THUNDERBIRD_HTML = """<html><body><p>Hi Jane,</p><p>talk after the holidays!</p>
<div class="moz-signature">-- <br>Me SENTINELSIG</div>
<div class="moz-cite-prefix">On 30.11.26 16:12, Jane Doe wrote:<br></div>
<blockquote type="cite">SENTINELQUOTE</blockquote></body></html>"""


def test_a_thunderbird_reply_loses_its_signature_and_quote() -> None:
    assert message_text(HEAD.encode() + MIMEText(THUNDERBIRD, "plain", "utf-8").as_bytes()
                        ).splitlines() == ["Hi Jane,", "", "talk after the holidays!"]
    html = message_text(HEAD.encode() + MIMEText(THUNDERBIRD_HTML, "html", "utf-8").as_bytes())
    assert [line for line in html.splitlines() if line] == ["Hi Jane,",
                                                            "talk after the holidays!"]


def test_a_german_attribution_on_one_line_or_wrapped() -> None:
    one = ("Ich rufe Sie am Dienstag an.\n\nAm 30.11.2026 um 16:12 schrieb Jane Doe "
           "<j@x.org>:\n> alt")
    two = ("Ich rufe Sie am Dienstag an.\n\nAm Mo., 30. Nov. 2026 um 16:12 Uhr schrieb Jane\n"
           "Doe <j@x.org>:\n\nalt ohne Zitatzeichen")
    assert new_text(one) == new_text(two) == "Ich rufe Sie am Dienstag an."


def test_a_sentence_that_starts_with_on_is_kept() -> None:
    text = "On Tuesday I'll call you.\nOn the whole it went well."
    assert new_text(text) == text


@pytest.mark.parametrize("marker", [
    "---------- Forwarded message ---------", "Begin forwarded message:",
    "-------- Forwarded Message --------", "-----Original Message-----",
    "---------- Weitergeleitete Nachricht ----------"])
def test_a_forwarded_part_is_cut(marker: str) -> None:
    assert new_text(f"FYI, I'll call you tomorrow.\n\n{marker}\nFrom: x\nSENTINEL") == (
        "FYI, I'll call you tomorrow.")


def test_base64_and_latin1_bodies_are_decoded() -> None:
    latin = MIMEText("Ich melde mich nächste Woche, Grüße", "plain", "iso-8859-1")
    assert latin["Content-Transfer-Encoding"] == "quoted-printable"
    assert message_text(HEAD.encode() + latin.as_bytes()) == (
        "Ich melde mich nächste Woche, Grüße")
    b64 = MIMEText("I'll call you on Tuesday – promise.", "plain", "utf-8")
    assert b64["Content-Transfer-Encoding"] == "base64"
    assert message_text(HEAD.encode() + b64.as_bytes()) == "I'll call you on Tuesday – promise."
    raw8 = (HEAD + "Content-Type: text/plain; charset=iso-8859-1\n"
            "Content-Transfer-Encoding: 8bit\n\n").encode() + "Grüße, bis Montag".encode("latin-1")
    assert message_text(raw8) == "Grüße, bis Montag"
    wrong = (HEAD + "Content-Type: text/plain; charset=x-unknown\n\n").encode() + "é".encode()
    assert message_text(wrong) == "é"


def test_a_plain_message_without_mime_headers_and_with_crlf() -> None:
    raw = (HEAD + "\nI'll call you on Tuesday.\n\n-- \nMe\n").replace("\n", "\r\n").encode()
    assert message_text(raw) == "I'll call you on Tuesday."


def test_attachments_and_forwarded_messages_are_never_read() -> None:
    outer = MIMEMultipart("mixed")
    outer.attach(MIMEText("See the attached notes; I'll call you Friday.", "plain", "utf-8"))
    note = MIMEText("SENTINEL attached text", "plain", "utf-8")
    note.add_header("Content-Disposition", "attachment", filename="notes.txt")
    outer.attach(note)
    outer.attach(MIMEApplication(b"%PDF SENTINEL", "pdf"))
    inner = EmailMessage()
    inner.set_content("SENTINEL forwarded")
    outer.attach(MIMEMessage(inner))
    assert message_text(HEAD.encode() + outer.as_bytes()) == (
        "See the attached notes; I'll call you Friday.")
    only_attachment = MIMEMultipart("mixed")
    only_attachment.attach(note)
    assert message_text(HEAD.encode() + only_attachment.as_bytes()) == ""


def test_only_the_first_64_kib_of_a_body_are_looked_at() -> None:
    filler = ("x" * 79 + "\n") * (BODY_CAP // 80 + 10)
    raw = (HEAD + "\n" + filler + "SENTINEL late promise: I'll call you Tuesday.\n").encode()
    text = message_text(raw)
    assert "SENTINEL" not in text and len(text) <= BODY_CAP


def test_garbage_gives_no_text_and_never_raises() -> None:
    assert message_text(b"") == ""
    assert message_text(b"\x00\xff\xfe garbage\n\n\x00\x00") is not None
    assert message_text(HEAD.encode() + b"Content-Type: multipart/mixed; boundary=x\n\n--x\n"
                        ) == ""
    assert item_body_text(None) == "" and payload_text({}) == ""


# -- Gmail's payload and Graph's uniqueBody --------------------------------------------------
def b64url(text: str, charset: str = "utf-8") -> str:
    return base64.urlsafe_b64encode(text.encode(charset)).decode().rstrip("=")


def gmail_part(mime: str, text: str, charset: str = "UTF-8", **extra: Any) -> dict[str, Any]:
    return {"mimeType": mime, "filename": "", "body": {"data": b64url(text, charset)},
            "headers": [{"name": "Content-Type", "value": f'{mime}; charset="{charset}"'}],
            **extra}


def test_a_gmail_payload_prefers_its_plain_part_and_skips_attachments() -> None:
    payload = {"mimeType": "multipart/mixed", "headers": [], "parts": [
        {"mimeType": "multipart/alternative", "parts": [
            gmail_part("text/plain", GMAIL_PLAIN), gmail_part("text/html", GMAIL_HTML)]},
        {**gmail_part("text/plain", "SENTINEL"), "filename": "notes.txt"}]}
    text = payload_text(payload)
    assert "I'll call you on Tuesday to go through them." in text
    assert "SENTINEL" not in text
    html_only = {"mimeType": "multipart/alternative", "parts": [
        gmail_part("text/html", GMAIL_HTML)]}
    assert "I'll call you on Tuesday" in " ".join(payload_text(html_only).split())
    latin = gmail_part("text/plain", "Bis nächste Woche!", "ISO-8859-1")
    assert payload_text(latin) == "Bis nächste Woche!"


def test_graph_unique_body_as_html_or_text() -> None:
    html = {"contentType": "html", "content": "<html><body><div>I'll call you on Tuesday."
            "</div><div id=\"Signature\">Me SENTINEL</div></body></html>"}
    assert item_body_text(html) == "I'll call you on Tuesday."
    text = {"contentType": "text", "content": "I'll call you on Tuesday.\r\n\r\n-- \r\nMe"}
    assert item_body_text(text) == "I'll call you on Tuesday."


def test_html_keeps_the_space_between_inline_elements() -> None:
    from connectors.bodytext import html_text

    assert html_text("<p><b>I'll</b> <i>call</i> you&nbsp;Tuesday.</p><p>Me</p>").strip() == (
        "I'll call you Tuesday.\nMe")


# -- the MIME walker on hand-written edges ---------------------------------------------------
def test_boundaries_quoted_or_bare_nested_with_crlf_and_without_a_closing_line() -> None:
    raw = (HEAD + 'Content-Type: multipart/mixed;\n boundary="outer b"\n\npreamble\n'
           "--outer b\nContent-Type: multipart/alternative; boundary=inner\n\n"
           "--inner\nContent-Type: text/html\n\n<p>html SENTINEL</p>\n"
           "--inner\nContent-Type: text/plain; charset=utf-8\n"
           "Content-Transfer-Encoding: base64\n\n"
           "SSdsbCBjYWxsIHlvdSBvbiBUdWVzZGF5Lg\n"  # base64 without its padding
           "--inner--\n--outer b\nContent-Type: text/plain\n\nSENTINEL second part\n")
    assert message_text(raw.replace("\n", "\r\n").encode()) == "I'll call you on Tuesday."
    assert message_text(raw.encode()) == "I'll call you on Tuesday."


def test_a_multipart_without_a_boundary_or_a_broken_encoding_gives_nothing() -> None:
    assert message_text((HEAD + "Content-Type: multipart/mixed\n\nSENTINEL\n").encode()) == ""
    broken = (HEAD + "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
              "!!!not base64 at all!!!\n").encode()
    assert "SENTINEL" not in message_text(broken)


def test_an_html_part_comes_only_when_there_is_no_plain_one() -> None:
    raw = (HEAD + "Content-Type: multipart/alternative; boundary=x\n\n"
           "--x\nContent-Type: text/html; charset=iso-8859-1\n"
           "Content-Transfer-Encoding: quoted-printable\n\n"
           "<div>Bis n=E4chste Woche!</div><div class=3D\"gmail_quote\">SENTINEL</div>\n"
           "--x--\n").encode()
    assert message_text(raw) == "Bis nächste Woche!"


# -- never raises, never invents ---------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_give_text_and_never_raise(data: bytes) -> None:
    assert isinstance(message_text(HEAD.encode() + b"\n" + data), str)
    assert isinstance(message_text(data), str)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_the_new_text_is_lines_of_the_text_and_holds_no_quoted_line(text: str) -> None:
    from connectors.bodytext import html_text

    got = new_text(text)
    written = {line.translate({0xA0: 32, 0x202F: 32, 0x2007: 32}).strip()
               for line in text.replace("\r", "").split("\n")}
    assert {line.strip() for line in got.split("\n")} - {""} <= written
    assert not any(line.lstrip().startswith(">") for line in got.split("\n"))
    assert isinstance(html_text(text), str)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda kids: st.lists(kids, max_size=3)
                    | st.dictionaries(st.sampled_from(
                        ["mimeType", "parts", "body", "data", "headers", "filename", "name",
                         "value", "contentType", "content"]), kids, max_size=4),
                    max_leaves=12))
def test_any_json_gives_text_and_never_raises(value: Any) -> None:
    assert isinstance(payload_text(value if isinstance(value, dict) else {}), str)
    assert isinstance(item_body_text(value), str)
