"""Promises found in the user's own text (daemon.promisetext, daemon.timephrase): the quality
floors on the labelled set, the examples of issue 15 one by one, each time form around month
ends, leap days, DST and the year boundary, and properties over arbitrary text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.promisetext import LONGEST, find
from tests.promiselabels import NO, SENT, TZ, labelled, score

BERLIN = ZoneInfo("Europe/Berlin")


def due(sentence: str, sent: datetime = SENT, tz: timezone | ZoneInfo = TZ) -> date | None:
    """The one promise's day; fails unless ``sentence`` is exactly one promise."""
    [promise] = find(sentence, sent, tz)
    return promise.due


# -- quality -----------------------------------------------------------------------------------
def test_the_labelled_set_is_big_enough_and_mostly_negatives() -> None:
    rows = [*labelled("train.tsv"), *labelled("heldout.tsv")]
    held = list(labelled("heldout.tsv"))
    assert len(rows) >= 300
    assert sum(expected == NO for expected, _ in rows) >= len(rows) / 2
    assert len(held) >= len(rows) / 4
    assert len({sentence for _, sentence in rows}) == len(rows)  # no sentence twice


@pytest.mark.parametrize("name", ["train.tsv", "heldout.tsv"])
def test_precision_and_recall_stay_above_the_floors(name: str) -> None:
    """A wrong day counts as a false positive and a false negative both."""
    result = score(name)
    assert result.precision >= 0.90, result.misses
    assert result.recall >= 0.75, result.misses


# -- the examples ----------------------------------------------------------------------
# sent Wednesday 2026-12-02
@pytest.mark.parametrize(("sentence", "day"), [
    ("I'll call you on Tuesday", date(2026, 12, 8)),
    ("I will send the draft by Friday.", date(2026, 12, 4)),
    ("let's talk next week", date(2026, 12, 7)),
    ("I'll get back to you in January.", date(2027, 1, 4)),  # 1 January is no working day
    ("Talk after the holidays!", date(2027, 1, 7)),
    ("I'll follow up end of the month.", date(2026, 12, 31)),
    ("will ping you tomorrow", date(2026, 12, 3)),
    ("Ich melde mich nächste Woche.", date(2026, 12, 7)),
    ("I’ll call you on Wednesday.", date(2026, 12, 9)),  # never the same day; curly quote
    ("I'll call you next Thursday.", date(2026, 12, 10)),  # next week's Thursday
    ("I'll call you Thursday.", date(2026, 12, 3)),
    ("I'll send it on 12 March.", date(2027, 3, 12)),
    ("I'll send it March 12.", date(2027, 3, 12)),
    ("Ich schicke es am 12.3. zu.", date(2027, 3, 12)),
    ("I'll send it on 2027-03-12.", date(2027, 3, 12)),
    ("I'll call you in 2 weeks.", date(2026, 12, 16)),
    ("I'll call you in a few days.", date(2026, 12, 7)),  # three working days
    ("I'll confirm by EOD.", date(2026, 12, 2)),
    ("I'll call you later today.", date(2026, 12, 2)),
    ("I'll write you before Christmas.", date(2026, 12, 23)),
    ("I'll get back to you after Easter.", date(2027, 3, 30)),  # Easter Monday is 29 March
    ("I'll ping you in 5 minutes.", date(2026, 12, 2)),
    ("Ich rufe dich nachher an.", date(2026, 12, 2)),
    ("If I don't hear from you by Friday, I'll call you on Monday.", date(2026, 12, 7)),
    ("I'll call you on Tuesday if I haven't heard back.", date(2026, 12, 8)),
    ("When I'm back on Monday I'll call you.", date(2026, 12, 7)),  # the time before it
    ("Nächste Woche rufe ich Sie an.", date(2026, 12, 7)),  # German verb second
    ("I'll revert by COB tomorrow.", date(2026, 12, 3)),  # the end of that day
    ("I'll send the final version on Friday 11th.", date(2026, 12, 11)),
    ("Let me talk to Mark and get back to you by Friday.", date(2026, 12, 4)),
    ("I'll email the details tomorrow.", date(2026, 12, 3)),  # a thing, not a person
])
def test_a_commitment_with_a_time_names_its_day(sentence: str, day: date) -> None:
    assert due(sentence) == day


@pytest.mark.parametrize("sentence", [
    "Shall I call you on Tuesday?",
    "I called you Tuesday.",
    "If you like I could call.",
    "Jane will call you Tuesday.",
    "You'll hear from Bob.",
    "I won't be able to call.",
    "> I'll call you on Tuesday.",
    "I'll be on holiday until 6 January.",
    "Let me know by Friday.",
    "Talk soon!",
    "Ich habe dich am Dienstag angerufen.",
    "Vielleicht rufe ich dich morgen an.",
    "We are meeting on Tuesday.",  # arranged: the meeting is in the calendar already
    "I'll call you on Tuesday if I have time.",
    "I am going to be on leave, please call me on Monday.",
    "I'll call the plumber tomorrow.",  # someone else is called
    "I'll email HR tomorrow about it.",
    "I'll follow up with Jane on Monday.",
])
def test_what_is_not_the_users_promise_is_nothing(sentence: str) -> None:
    assert find(sentence, SENT, TZ) == []


def test_a_promise_with_no_time_is_a_note_with_no_day() -> None:
    assert due("I'll get back to you on the pricing.") is None
    assert due("Ich melde mich.") is None


def test_only_the_promises_of_a_message_come_back_cleaned() -> None:
    text = ("Hi Jane,\n\nthanks for the call. The numbers look good and I\nwill send the "
            "revised offer by\nFriday. Let me know if you have questions!\n\n"
            "> I'll call you on Tuesday.\n\nBest,\nAlex\n-- \nAlex Morgan\n"
            "I'll call you next week.\n")
    found = find(text, SENT, TZ)
    assert [(p.sentence, p.due) for p in found] == [
        ("The numbers look good and I will send the revised offer by Friday.",
         date(2026, 12, 4))]


def test_a_long_sentence_is_cut_at_a_word() -> None:
    sentence = "I'll call you on Tuesday about " + "the very long agenda " * 20 + "we drafted."
    [promise] = find(sentence, SENT, TZ)
    assert len(promise.sentence) <= LONGEST
    assert promise.sentence.endswith("agenda…")
    assert promise.due == date(2026, 12, 8)


# -- resolution around edges -------------------------------------------------------------------
def at(day: str, hour: int = 10, tz: timezone | ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=tz)


@pytest.mark.parametrize(("sentence", "sent", "day"), [
    # month ends: the last working day, never one already past
    ("I'll call you at the end of the month.", at("2027-01-29"), date(2027, 1, 29)),
    ("I'll call you at the end of the month.", at("2027-01-30"), date(2027, 2, 26)),
    ("I'll call you in a month.", at("2027-01-31"), date(2027, 2, 28)),
    ("I'll call you next month.", at("2027-01-31"), date(2027, 2, 1)),
    # leap days
    ("I'll call you tomorrow.", at("2028-02-28"), date(2028, 2, 29)),
    ("I'll call you in a month.", at("2028-01-31"), date(2028, 2, 29)),
    ("I'll call you at the end of the month.", at("2028-02-10"), date(2028, 2, 29)),
    ("I'll call you on 29 February.", at("2026-12-02"), date(2028, 2, 29)),
    ("I'll call you on 29 February 2027.", at("2026-12-02"), None),  # no such day
    # the year boundary
    ("I'll call you tomorrow.", at("2026-12-31"), date(2027, 1, 1)),
    ("Let's talk next week.", at("2026-12-31"), date(2027, 1, 4)),
    ("I'll get back to you in January.", at("2026-12-31"), date(2027, 1, 4)),
    ("I'll get back to you in January.", at("2027-01-05"), date(2027, 1, 6)),
    ("Talk after the holidays.", at("2027-01-05"), date(2027, 1, 7)),
    ("Talk after the holidays.", at("2027-07-05"), date(2027, 9, 1)),  # summer holidays
    ("I'll send it on 3 January.", at("2026-12-02"), date(2027, 1, 3)),
    ("I'll send it on 2 December.", at("2026-12-02"), date(2026, 12, 2)),  # today counts
    ("I'll send it on 1 December.", at("2026-12-02"), None),  # looks back, not a year on
    ("I'll answer your mail of 30 November by Friday.", at("2026-12-02"), date(2026, 12, 4)),
    ("I'll send it on 1 March.", at("2026-12-02"), date(2027, 3, 1)),
    ("I'll send it on 2026-11-30.", at("2026-12-02"), None),  # a written day already past
    ("I'll send the notes for Jan tomorrow.", at("2026-12-02"), date(2026, 12, 3)),  # a name
    ("I'll call you the following week.", at("2026-12-02"), date(2026, 12, 7)),
    ("I'll call you after Christmas.", at("2026-11-10"), date(2026, 12, 28)),
    ("I'll call you after Christmas.", at("2026-12-29"), date(2026, 12, 30)),
    ("I'll call you on Friday.", at("2026-12-04"), date(2026, 12, 11)),  # sent on a Friday
    ("I'll call you on Monday.", at("2026-12-06"), date(2026, 12, 7)),  # sent on a Sunday
])
def test_each_form_resolves_around_the_edges(sentence: str, sent: datetime,
                                            day: date | None) -> None:
    assert due(sentence, sent, BERLIN) == day


def test_days_are_counted_in_the_users_zone_across_dst() -> None:
    """Berlin leaves summer time at 03:00 on Sunday 2026-10-25; 22:30 UTC on Saturday is
    already Sunday there, and "tomorrow" is Monday."""
    sent = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)
    assert due("I'll call you tomorrow.", sent, BERLIN) == date(2026, 10, 26)
    assert due("I'll call you tomorrow.", sent, UTC) == date(2026, 10, 25)
    spring = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 01:30 CET, half an hour before
    assert due("Let's talk next week.", spring, BERLIN) == date(2026, 3, 30)
    new_york = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # still 2 December in New York
    assert due("I'll call you tomorrow.", new_york, ZoneInfo("America/New_York")) == date(
        2026, 12, 3)


# -- properties --------------------------------------------------------------------------------
_WORDS = st.sampled_from([
    "I'll", "call", "you", "on", "Tuesday", "next", "week", "let's", "talk", "by", "Friday",
    "12.3.", "2027-02-29", "31 February", "end", "of", "the", "month", "in", "January", "?",
    "not", ">", "\n", "Ich", "melde", "mich", "nächste", "Woche", ".", "tomorrow", "29",
    "after", "holidays", "a", "few", "days", "99", "weeks", "May", "-- ", "Easter", "1st",
])
_ZONES = st.sampled_from([UTC, BERLIN, ZoneInfo("Pacific/Kiritimati"),
                          ZoneInfo("America/New_York"), timezone(timedelta(hours=-12))])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), st.lists(_WORDS, max_size=60).map(" ".join)),
       st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.just(UTC)), _ZONES)
def test_any_text_never_raises_and_no_day_is_before_the_message(
        text: str, sent: datetime, tz: ZoneInfo) -> None:
    today = sent.astimezone(tz).date()
    for promise in find(text, sent, tz):
        assert promise.due is None or promise.due >= today
        assert 0 < len(promise.sentence) <= LONGEST
        assert "\n" not in promise.sentence
