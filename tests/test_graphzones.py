"""The zone keepwarm names for an all-day event written through Graph (connectors.graphzones),
and the local Graph server refusing the names the real one refuses."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given
from hypothesis import strategies as st

from connectors.graphzones import GRAPH_IANA, all_day_zone
from connectors.outlookreminders import event_body
from daemon.model import Reminder, ReminderId
from tests.servers.microsoft import _times_refused

ZONES = sorted(available_timezones())


def midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(), tzinfo=ZoneInfo(zone))


def birthday(day: date, zone: str) -> Reminder:
    return Reminder("keepwarm-bday", ReminderId("birthday", "p@x.org", day.isoformat()),
                    "Birthday: P", "", midnight(day, zone),
                    midnight(day + timedelta(days=1), zone), all_day=True)


@given(st.sampled_from(ZONES), st.dates(date(2000, 1, 1), date(2037, 12, 31)),
       st.integers(1, 3))
def test_the_named_zone_is_listed_and_has_the_same_midnights_else_utc(
        zone: str, first: date, days: int) -> None:
    after = first + timedelta(days=days)
    named = all_day_zone(ZoneInfo(zone), first, after)
    assert named in GRAPH_IANA or named == "UTC"
    same = all(ZoneInfo(named).utcoffset(datetime.combine(d, time()))
               == ZoneInfo(zone).utcoffset(datetime.combine(d, time())) for d in (first, after))
    if zone in GRAPH_IANA:
        assert named == zone
    elif not same:  # no listed zone shares both midnights: UTC, and none could have
        assert named == "UTC"
        assert not any(all(ZoneInfo(n).utcoffset(datetime.combine(d, time()))
                           == ZoneInfo(zone).utcoffset(datetime.combine(d, time()))
                           for d in (first, after)) for n in GRAPH_IANA)


def test_a_zone_graph_does_not_list_is_written_as_one_with_the_same_rules() -> None:
    winter, summer = date(2026, 3, 4), date(2026, 7, 4)
    for zone, want in [("Europe/Berlin", "Europe/Berlin"), ("Europe/Zurich", "Europe/Berlin"),
                       ("America/Vancouver", "America/Los_Angeles"), ("UTC", "UTC"),
                       ("Pacific/Chatham", "UTC")]:
        for day in (winter, summer):
            body = event_body(birthday(day, zone))
            assert body["start"] == {"dateTime": f"{day}T00:00:00", "timeZone": want}
            assert body["end"]["timeZone"] == want
    # Toronto shares New York's rules: never a zone without summer time, such as Bogota's
    assert all_day_zone(ZoneInfo("America/Toronto"), winter, winter + timedelta(days=1)) in (
        "America/New_York", "America/Indiana/Indianapolis")


def test_the_local_graph_refuses_what_graph_refuses() -> None:
    def body(zone: str, at: str = "T00:00:00", all_day: bool = True) -> dict[str, object]:
        return {"isAllDay": all_day, "start": {"dateTime": f"2026-03-04{at}", "timeZone": zone},
                "end": {"dateTime": f"2026-03-05{at}", "timeZone": zone}}

    refused = _times_refused(body("Europe/Zurich"))
    assert refused is not None
    assert refused["error"]["code"] == "TimeZoneNotSupportedException"
    assert _times_refused(body("Europe/Berlin", "T09:00:00")) is not None  # not midnight
    for zone in ("Europe/Berlin", "UTC", "W. Europe Standard Time"):
        ok = body(zone)
        assert _times_refused(ok) is None
        assert ok["start"] == {"dateTime": "2026-03-04T00:00:00.0000000", "timeZone": "UTC"}
    assert _times_refused(body("UTC", "T09:15:00", all_day=False)) is None
