"""Checking config values while reading them: each problem is one line, all are collected,
so the user fixes the file in one pass instead of one error per run.

A line is ``FILE: KEY: problem``; an unknown key also gets the line it is written on,
``FILE:LINE: KEY: problem``, the form editors and terminals jump to (vim's quickfix, Emacs'
compilation mode), and a did-you-mean, since a misspelt key is otherwise silently ignored.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import Option
from daemon.durations import duration_days, parse_duration
from daemon.tomllines import key_lines

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NUMBERS = {day: i % 7 for i, day in enumerate(WEEKDAYS + _FULL_DAYS)}
_TIME = re.compile(r"^(\d{1,2}):(\d\d)(?::(\d\d))?$")
_NOT_POSITIVE = re.compile(r"^\s*(-|0+\s*[a-z]*\s*$)")


class Checker:
    """Collects problems as ``file: key: problem`` lines while values are read; ``text`` is
    the file's TOML, for the line numbers of unknown keys (found only when one turns up)."""

    def __init__(self, path: Path, text: str = "") -> None:
        self.path = path
        self.problems: list[str] = []
        self._text = text
        self._lines: dict[str, int] | None = None
        # key -> the one table it belongs in, to say where a key written in the wrong place
        # goes (after an [[accounts]] header, every key is that account's); asked only when
        # an unknown key turns up
        self.homes: Callable[[], Mapping[str, str]] = dict

    def problem(self, key: str, text: str, locate: bool = False) -> None:
        line = self._line(key) if locate else None
        self.problems.append(f"{self.path}{f':{line}' if line else ''}: {key}: {text}")

    def _line(self, key: str) -> int | None:
        if self._lines is None:
            self._lines = key_lines(self._text)
        return self._lines.get(key)

    def unknown(self, data: Mapping[str, Any], prefix: str, allowed: Iterable[str],
                what: str = "unknown key") -> None:
        """One problem per key of ``data`` not in ``allowed``, with its line and where it
        belongs or the allowed key it was probably meant to be."""
        allowed = sorted(allowed)
        for name in sorted(set(data) - set(allowed)):
            home = self.homes().get(name)
            self.problem(f"{prefix}.{name}" if prefix else name,
                         what + (f"; it belongs in [{home}]" if home else
                                 did_you_mean(name, allowed)), locate=True)

    def table(self, data: Mapping[str, Any], key: str, allowed: set[str]) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.problem(key, f"must be a table ([{key}]), not {toml_type(type(value))} "
                              f"{value!r}")
            return {}
        self.unknown(value, key, allowed)
        return value

    def get(self, table: Mapping[str, Any], prefix: str, key: str, kind: type | tuple[type, ...],
            default: Any, convert: Callable[[Any], Any] | None = None) -> Any:
        if key not in table:
            return convert(default) if convert and default is not None else default
        value = table[key]
        if not of_type(value, kind):
            names = " or ".join(toml_type(k) for k in (kind if isinstance(kind, tuple)
                                                           else (kind,)))
            self.problem(f"{prefix}.{key}",
                         f"must be {names}, not {toml_type(type(value))} {value!r}")
            return convert(default) if convert and default is not None else default
        if convert is None:
            return value
        try:
            return convert(value)
        except (ValueError, TypeError, ZoneInfoNotFoundError) as exc:
            self.problem(f"{prefix}.{key}", str(exc) or f"invalid value {value!r}")
            return convert(default) if default is not None else None


def did_you_mean(word: str, choices: Iterable[str], known: bool = False) -> str:
    """``"; did you mean 'addresses'?"``, or the choices when none is close (and after the
    guess too, when ``known``)."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(word.lower(), choices, n=1)
    listed = f"known: {', '.join(choices)}" if choices else ""
    if close:
        return f"; did you mean {close[0]!r}?" + (f" {listed}" if known else "")
    return f"; {listed}" if listed else ""


def of_type(value: Any, kind: type | tuple[type, ...]) -> bool:
    """isinstance, except that TOML's true and false are not numbers."""
    return isinstance(value, kind) and (not isinstance(value, bool) or kind is bool or (
        isinstance(kind, tuple) and bool in kind))


TOML_TYPES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
              list: "an array", dict: "a table", date: "a date like 2026-03-02"}


def toml_type(kind: type) -> str:
    """A Python type as the TOML the user wrote it in calls it."""
    return TOML_TYPES.get(kind, kind.__name__)


def positive(value: int) -> int:
    if value < 1:
        raise ValueError(f"must be at least 1, not {value}")
    return value


def duration_up_to(longest: str) -> Callable[[str], timedelta]:
    """A check of a config duration: longer than zero and at most ``longest``."""
    limit = parse_duration(longest)
    example = "'30d'" if limit > timedelta(days=1) else "'15min'"  # what this key would take

    def check(text: str) -> timedelta:
        if isinstance(text, str) and _NOT_POSITIVE.match(text):
            raise ValueError(f"must be longer than zero, like {example}, not {text!r}")
        try:
            value = parse_duration(text)
        except OverflowError:  # more seconds than timedelta holds
            value = limit * 2
        if value > limit:
            raise ValueError(f"must be at most {longest}, not {text!r}")
        return value

    return check


# any longer is a typo: no interval, horizon or wait in keepwarm is meant to be decades
duration = duration_up_to("10y")


def days(text: str) -> int:
    """A config duration in whole days (see ``duration_days``)."""
    duration(text)
    return duration_days(text)


def days_ahead(text: str) -> int:
    """How far ahead to remind, in whole days: ``"0d"`` (on the day) up to a year."""
    if isinstance(text, str) and re.fullmatch(r"\s*0+\s*(s|min|h|d|w|y)?\s*", text):
        return 0
    duration_up_to("1y")(text)
    return duration_days(text)


def days_list(values: list[Any]) -> tuple[int, ...]:
    return tuple(days(v) for v in values)


def time_of_day(text: str) -> time:
    """``"09:30"`` (or ``"9:30"``, ``"09:30:00"``); a clock time, never one with a zone."""
    m = _TIME.match(text)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3) or 0) > 59:
        raise ValueError(f"{text!r} is not a time of day like '09:30' (00:00 to 23:59)")
    return time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def timezone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a known time zone (e.g. 'Europe/Berlin')") from None


def weekdays(names: list[Any]) -> frozenset[int]:
    """Day names as people write them: ``mon`` or ``monday``, in any case."""
    bad = [n for n in names if not isinstance(n, str) or n.lower() not in _DAY_NUMBERS]
    allowed = f"{', '.join(WEEKDAYS)} (or in full: monday, ...)"
    if bad:
        raise ValueError(f"{', '.join(map(repr, bad))} "
                         f"{'is not a day' if len(bad) == 1 else 'are not days'}; "
                         f"days are {allowed}")
    if not names:
        raise ValueError(f"must name at least one day: {allowed}")
    return frozenset(_DAY_NUMBERS[n.lower()] for n in names)


def str_list(values: list[Any]) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in values):
        raise ValueError("must be an array of strings")
    return tuple(values)


def address(text: str) -> str:
    """A bare e-mail address, lower case: one that is not would never match any mail."""
    local, at, domain = text.strip().rpartition("@")
    if text and not (local and at and domain and not any(c in text.strip() for c in " <>,;")):
        raise ValueError(f"{text!r} is not an e-mail address like 'me@example.com'")
    return text.strip().lower()


def address_list(values: list[Any]) -> tuple[str, ...]:
    return tuple(address(v) for v in str_list(values))


def option_check(opt: Option) -> Callable[[Any], Any]:
    """What ``opt`` says beyond the type: its choices, its items' type, its own check."""

    def check(value: Any) -> Any:
        if opt.choices and value not in opt.choices:
            raise ValueError(f"must be one of {', '.join(map(repr, opt.choices))}, "
                             f"not {value!r}")
        if opt.item is not None and not all(of_type(v, opt.item) for v in value):
            raise ValueError(f"must be an array of which each item is "
                             f"{toml_type(opt.item)}, not {value!r}")
        if opt.check is not None:
            opt.check(value)
        return value

    return check


def alarm(text: str) -> timedelta | None:
    """``[reminders] alarm``: "none" (no alarm), or how long before the reminder a calendar
    pops it up, at most a day ("10min")."""
    if text.strip().lower() == "none":
        return None
    try:
        value = _ALARM_LIMIT(text)
    except ValueError as exc:
        raise ValueError(f'{exc}; or "none" for no alarm') from None
    if value % timedelta(minutes=1):
        raise ValueError(f"must be whole minutes (calendars count no seconds), not {text!r}")
    return value


_ALARM_LIMIT = duration_up_to("1d")


def hours(text: str) -> tuple[time, time]:
    """``"09:00-17:00"``: the part of a working day a reminder may move into when a meeting
    is at ``time``; the end is later than the start (no day spans midnight)."""
    start, dash, end = text.partition("-")
    if not dash:
        raise ValueError(f"{text!r} is not a span of hours like '09:00-17:00'")
    first, last = time_of_day(start.strip()), time_of_day(end.strip())
    if last <= first:
        raise ValueError(f"{text!r} ends before it starts; write it like '09:00-17:00'")
    return first, last


def style(text: str) -> str:
    """``each`` (an event per reminder) or ``digest`` (one a day)."""
    if text not in ("each", "digest"):
        raise ValueError(f"{text!r} is not a style; use \"each\" or \"digest\"")
    return text
