"""Durations in config and on the command line: ``<n><unit>`` with s, min, h, d, w or y."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_RE = re.compile(r"^\s*(\d+)\s*(s|min|h|d|w|y)\s*$")


def parse_duration(text: str) -> timedelta:
    """``"30d"`` -> 30 days. ValueError with the accepted forms for anything else."""
    m = _RE.match(text) if isinstance(text, str) else None
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like '30d', '2w', '15min' "
                         "(units: s min h d w y)")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def duration_days(text: str) -> int:
    """A cadence interval in whole days (rounded up: '36h' is 2 days)."""
    seconds = parse_duration(text).total_seconds()
    return max(1, -(-int(seconds) // 86400))
