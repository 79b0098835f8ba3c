"""Calendar files as people really have them, read from the test data icalendar and
recurring-ical-events ship: a byte-order mark, concatenated VCALENDARs, a file cut off
before END:VCALENDAR, and a calendar broken in part, whose good events are kept and whose
broken parts are skipped one by one, by the .ics source, the .ics writer and CalDAV alike."""

from __future__ import annotations

import logging
import shutil
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from connectors import icalmap, icsfile
from connectors.ics import IcsConnector
from daemon import sync
from daemon.errors import CalendarError
from daemon.model import AccountConfig, Create, Delete, FetchContext, Meeting, Settings, Skipped
from daemon.store import Store
from tests.test_ics import ics, reminder, vevent

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
# the test data's meetings are from 2003 on
CTX = FetchContext(now=NOW, tz=BERLIN, window_start=datetime(2000, 1, 1, tzinfo=UTC),
                   window_end=NOW + timedelta(days=14))
ICALENDAR_DATA = Path(icalendar.__file__).parent / "tests" / "calendars"
SHIPPED = sorted([*Path(icalendar.__file__).parent.glob("tests/**/*.ics"),
                  *Path(recurring_ical_events.__file__).parent.glob("test/**/*.ics")])


def connector(path: Path) -> IcsConnector:
    return IcsConnector(AccountConfig(name="cal", type="ics", options={"path": str(path)}))


def read(path: Path) -> tuple[dict[str, Meeting], dict[str, str]]:
    """(meeting id -> meeting, skipped location -> reason) of one fetch."""
    observations = [o for b in connector(path).fetch(None, CTX) for o in b.observations]
    return ({o.meeting_id: o for o in observations if isinstance(o, Meeting)},
            {o.location: o.reason for o in observations if isinstance(o, Skipped)})


def copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copy(ICALENDAR_DATA / name, tmp_path / name))


def test_every_shipped_test_calendar_is_read_and_cut_back_into_its_bytes() -> None:
    """The 11 of them that were 'not a readable iCalendar file' are read now; the deliberately
    broken ones come out as Skipped parts, never as an error for the whole account."""
    assert len(SHIPPED) >= 250, "the test data of icalendar / recurring-ical-events moved"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # icalendar warns about the vendor TZIDs it guesses
        for path in SHIPPED:
            data = path.read_bytes()
            assert icsfile.split(data).to_bytes() == data, path.name
            read(path)  # raises for a file the source refuses


def test_a_byte_order_mark_is_read_kept_and_written_after(tmp_path: Path) -> None:
    path = copy("bom_calendar.ics", tmp_path)
    original = path.read_bytes()
    assert original.startswith(b"\xef\xbb\xbfBEGIN:VCALENDAR")
    batches = list(connector(path).fetch(None, CTX))
    assert [(list(b.observations), b.snapshot, b.last) for b in batches] == [([], True, True)]
    conn = connector(path)
    conn.apply([Create(reminder("kw-a"))])
    assert path.read_bytes().startswith(original[:-len(b"END:VCALENDAR\r\n")])
    assert [r.uid for r in conn.list_reminders()] == ["kw-a"]
    conn.apply([Delete(conn.list_reminders()[0])])
    assert path.read_bytes() == original


def test_concatenated_calendars_are_all_read(tmp_path: Path) -> None:
    """Two VCALENDARs in one file, as icalendar reads them with ``multiple=True``; the
    Mozilla one also folds across blank lines."""
    meetings, skipped = read(ICALENDAR_DATA / "multiple_calendar_components.ics")
    assert {m: (v.summary, v.start.date().isoformat()) for m, v in meetings.items()} == {
        "956630271": ("Christmas Day", "2003-12-25"),
        "911737808": ("Boxing Day", "2003-05-01"),
        "wh4t3v3r": ("Christmas again!", "2003-12-25"),
    }
    assert skipped == {}
    meetings, skipped = read(ICALENDAR_DATA / "issue_1050_multiple_calendars.ics")
    assert skipped == {"ics:issue_1050_multiple_calendars.ics#event1@example.com":
                       "event has no DTSTART",
                       "ics:issue_1050_multiple_calendars.ics#event2@example.com":
                       "event has no DTSTART"}
    path = copy("multiple_calendar_components.ics", tmp_path)
    original = path.read_bytes()
    conn = connector(path)
    conn.apply([Create(reminder("kw-a"))])
    assert set(read(path)[0]) == {"956630271", "911737808", "wh4t3v3r"}  # ours is no meeting
    conn.apply([Delete(conn.list_reminders()[0])])
    assert path.read_bytes() == original


@pytest.mark.parametrize(("name", "events"), [("small_bad_calendar.ics", 1),
                                              ("big_bad_calendar.ics", 20),
                                              ("pr_480_summary_with_colon.ics", 2)])
def test_a_file_cut_off_before_end_vcalendar_is_read(name: str, events: int,
                                                     tmp_path: Path) -> None:
    """Its events are whole (these have no DTSTART, so each is one Skipped, not an error);
    the writer closes the calendar when it adds its own."""
    _, skipped = read(ICALENDAR_DATA / name)
    assert skipped == {f"ics:{name}#event-{n}": "event has no DTSTART" for n in range(events)}
    path = copy(name, tmp_path)
    original = path.read_bytes()
    conn = connector(path)
    conn.apply([Create(reminder("kw-a"))])
    data = path.read_bytes()
    assert data.startswith(original) and data.endswith(b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    assert [r.uid for r in conn.list_reminders()] == ["kw-a"]
    assert len(read(path)[1]) == events


def test_a_calendar_broken_in_part_keeps_what_parses(tmp_path: Path) -> None:
    _, skipped = read(ICALENDAR_DATA / "issue_104_broken_calendar.ics")
    assert skipped == {"ics:issue_104_broken_calendar.ics#line-13": "unreadable line 'X'",
                       "ics:issue_104_broken_calendar.ics#event-0": "event has no UID"}
    _, skipped = read(ICALENDAR_DATA / "parsing_error_in_UTC_offset.ics")
    assert skipped == {"ics:parsing_error_in_UTC_offset.ics#line-2":
                       "unreadable VTIMEZONE: Offset must be less than 24 hours, was +5744"}
    path = tmp_path / "cal.ics"
    path.write_bytes(ics(
        vevent("UID:good1", "DTSTART:20260310T090000Z"),
        "BEGIN:VTIMEZONE\r\nTZID:Mars/Olympus\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
        "TZOFFSETFROM:+9999\r\nTZOFFSETTO:+9999\r\nEND:STANDARD\r\nEND:VTIMEZONE",
        "this line is no iCalendar",
        "BEGIN:VEVENT\r\nUID:cut\r\nDTSTART:20260311T090000Z",  # its END:VEVENT is missing
        vevent("UID:good2", "DTSTART;TZID=Europe/Berlin:20260312T090000"),
    ))
    meetings, skipped = read(path)
    assert sorted(meetings) == ["good1", "good2"]
    assert meetings["good2"].start == datetime(2026, 3, 12, 8, 0, tzinfo=UTC)
    assert skipped == {
        "ics:cal.ics#line-8": "unreadable VTIMEZONE: Offset must be less than 24 hours, "
                              "was +9999",
        "ics:cal.ics#line-16": "unreadable line 'this line is no iCalendar'",
        "ics:cal.ics#cut": "'VEVENT' cut off: its END line is missing",
    }


def test_the_writer_refuses_a_file_with_a_component_cut_off_and_keeps_other_damage(
        tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    cut = ics(vevent("UID:a", "DTSTART:20260310T090000Z"), "BEGIN:VEVENT\r\nUID:cut",
              vevent("UID:b", "DTSTART:20260310T090000Z"))
    path.write_bytes(cut)
    with pytest.raises(CalendarError, match=r"\(the 'VEVENT' at line 8 has no END line\); fix the"):
        connector(path).apply([Create(reminder("kw-a"))])
    assert path.read_bytes() == cut
    path = copy("issue_104_broken_calendar.ics", tmp_path)
    original = path.read_bytes()
    conn = connector(path)
    conn.apply([Create(reminder("kw-a"))])
    assert b"END:VEVENT\r\nX\r\n" in path.read_bytes()  # the stray line stays where it was
    conn.apply([Delete(conn.list_reminders()[0])])
    assert path.read_bytes() == original


def test_skipped_parts_are_counted_and_logged_by_the_sync(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = copy("issue_104_broken_calendar.ics", tmp_path)
    account = AccountConfig(name="cal", type="ics", options={"path": str(path)})
    store = Store(tmp_path / "kw.db")
    with caplog.at_level(logging.WARNING, logger="daemon.sync"):
        report = sync.pull_one(store, account, Settings(tz=BERLIN), NOW)
    assert report.error is None and report.skipped == 2
    assert len([row for row in store.skipped() if row[0] == "cal"]) == 2
    assert "cal: skipped ics:issue_104_broken_calendar.ics#line-13: unreadable line 'X'" in (
        caplog.text)


def test_a_caldav_object_broken_in_part_keeps_its_event() -> None:
    """CalDAV objects go through the same reader: a bad VTIMEZONE costs only itself."""
    text = ("\ufeff" + ics(
        "BEGIN:VTIMEZONE\r\nTZID:Bad\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
        "TZOFFSETFROM:+9999\r\nTZOFFSETTO:+9999\r\nEND:STANDARD\r\nEND:VTIMEZONE",
        vevent("UID:ok", "DTSTART:20260310T090000Z", "DTEND:20260310T100000Z"),
    ).decode())
    got = list(icalmap.object_meetings(text, "caldav:acct/Work", "/dav/work/ok.ics", CTX))
    assert [o.meeting_id for o in got if isinstance(o, Meeting)] == ["ok"]
    assert [o for o in got if isinstance(o, Skipped)] == [Skipped(
        "caldav:acct/Work/ok.ics#line-4",
        "unreadable VTIMEZONE: Offset must be less than 24 hours, was +9999")]
    broken = list(icalmap.object_meetings("no calendar", "caldav:acct/Work", "/x.ics", CTX))
    assert broken == [Skipped("caldav:acct/Work/x.ics",
                              "unreadable iCalendar object: no BEGIN:VCALENDAR line")]
