"""The time zone keepwarm names when it writes an all-day event through Graph.

Graph takes an all-day event as midnight to midnight in a named zone, and Outlook shows it
on the days of that zone: written in UTC, a birthday in Berlin would start at 01:00 and
spill into the next day. But Graph's create and update accept Windows zone names and only
the IANA names its documentation lists ("Additional time zones" of the dateTimeTimeZone
resource); any other name is a 400 ``TimeZoneNotSupportedException``. So the user's own
IANA zone is named when Graph lists it, else a listed zone with the same UTC offset at
both of the event's midnights (Europe/Zurich is written as Europe/Berlin: the same
instants), else UTC (a zone no listed one matches, such as Pacific/Chatham's +12:45).
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

# Graph's "Additional time zones" (learn.microsoft.com, graph/api/resources/datetimetimezone)
GRAPH_IANA = frozenset((
    "Etc/GMT+12", "Etc/GMT+11", "Pacific/Honolulu", "America/Anchorage",
    "America/Santa_Isabel", "America/Los_Angeles", "America/Phoenix", "America/Chihuahua",
    "America/Denver", "America/Guatemala", "America/Chicago", "America/Mexico_City",
    "America/Regina", "America/Bogota", "America/New_York", "America/Indiana/Indianapolis",
    "America/Caracas", "America/Asuncion", "America/Halifax", "America/Cuiaba",
    "America/La_Paz", "America/Santiago", "America/St_Johns", "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires", "America/Cayenne", "America/Godthab",
    "America/Montevideo", "America/Bahia", "Etc/GMT+2", "Atlantic/Azores",
    "Atlantic/Cape_Verde", "Africa/Casablanca", "Etc/GMT", "Europe/London",
    "Atlantic/Reykjavik", "Europe/Berlin", "Europe/Budapest", "Europe/Paris", "Europe/Warsaw",
    "Africa/Lagos", "Africa/Windhoek", "Europe/Bucharest", "Asia/Beirut", "Africa/Cairo",
    "Asia/Damascus", "Africa/Johannesburg", "Europe/Kiev", "Europe/Istanbul", "Asia/Jerusalem",
    "Asia/Amman", "Asia/Baghdad", "Europe/Kaliningrad", "Asia/Riyadh", "Africa/Nairobi",
    "Asia/Tehran", "Asia/Dubai", "Asia/Baku", "Europe/Moscow", "Indian/Mauritius",
    "Asia/Tbilisi", "Asia/Yerevan", "Asia/Kabul", "Asia/Karachi", "Asia/Tashkent",
    "Asia/Kolkata", "Asia/Colombo", "Asia/Kathmandu", "Asia/Almaty", "Asia/Dhaka",
    "Asia/Yekaterinburg", "Asia/Rangoon", "Asia/Bangkok", "Asia/Novosibirsk", "Asia/Shanghai",
    "Asia/Krasnoyarsk", "Asia/Singapore", "Australia/Perth", "Asia/Taipei", "Asia/Ulaanbaatar",
    "Asia/Irkutsk", "Asia/Tokyo", "Asia/Seoul", "Australia/Adelaide", "Australia/Darwin",
    "Australia/Brisbane", "Australia/Sydney", "Pacific/Port_Moresby", "Australia/Hobart",
    "Asia/Yakutsk", "Pacific/Guadalcanal", "Asia/Vladivostok", "Pacific/Auckland",
    "Etc/GMT-12", "Pacific/Fiji", "Asia/Magadan", "Pacific/Tongatapu", "Pacific/Apia",
    "Pacific/Kiritimati",
))


def all_day_zone(tz: tzinfo, first: date, after: date) -> str:
    """The zone to name for an all-day event from ``first`` up to ``after`` (exclusive) in
    the user's ``tz``; see the module docstring."""
    key = str(getattr(tz, "key", ""))
    if key in GRAPH_IANA or key == "UTC":
        return key
    return _same_offsets(key, _offsets(tz, first, after), _offsets(tz, *_seasons(first)),
                         first, after)


@functools.cache
def _same_offsets(key: str, want: tuple[object, ...], seasons: tuple[object, ...],
                  first: date, after: date) -> str:
    """A listed zone (or UTC) with the offsets ``want`` at both midnights; of those, one with
    the user's summer and winter offsets too (America/Toronto: New York, not Bogota), then
    one of the user's region, then by name: the same every time, so nothing is rewritten."""
    region = key.partition("/")[0]
    fits = [name for name in ("UTC", *GRAPH_IANA)
            if _offsets(ZoneInfo(name), first, after) == want]
    return min(fits, key=lambda n: (_offsets(ZoneInfo(n), *_seasons(first)) != seasons,
                                    n.partition("/")[0] != region, n), default="UTC")


def _seasons(day: date) -> tuple[date, date]:
    """Midwinter and midsummer of ``day``'s year, to compare two zones' rules."""
    return date(day.year, 1, 15), date(day.year, 7, 15)


def _offsets(tz: tzinfo, *days: date) -> tuple[object, ...]:
    return tuple(tz.utcoffset(datetime.combine(day, time())) for day in days)
