"""Loading and checking the TOML config: every problem reported at once, one line each."""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, time, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from connectors import registry
from connectors.base import Connector, Option
from daemon.durations import duration_days, parse_duration
from daemon.errors import ConfigError
from daemon.model import DEFAULT_IGNORE, AccountConfig, CadenceRule, Settings

APP = "keepwarm"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

@dataclass(frozen=True)
class Config:
    path: Path
    settings: Settings
    store_path: Path
    state_dir: Path
    accounts: tuple[AccountConfig, ...] = field(default_factory=tuple)
    max_backoff: float = 3600.0  # seconds: the longest wait before retrying a failing account

    def account(self, name: str) -> AccountConfig | None:
        return next((a for a in self.accounts if a.name == name), None)


def default_config_path() -> Path:
    """--config wins, then $KEEPWARM_CONFIG, then the XDG config dir (resolved by the caller)."""
    env = os.environ.get("KEEPWARM_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def default_store_path() -> Path:
    return Path(platformdirs.user_data_dir(APP)) / "keepwarm.db"


def default_state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP))


def system_timezone() -> tzinfo:
    """$TZ, else /etc/localtime's zone name, else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(IndexError, OSError):
        candidates.append(str(Path("/etc/localtime").resolve()).split("zoneinfo/", 1)[1])
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


class _Checker:
    """Collects problems as ``file: key: problem`` lines while reading values."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{self.path}: {key}: {text}")

    def table(self, data: Mapping[str, Any], key: str, allowed: set[str]) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.problem(key, f"must be a table, not {type(value).__name__}")
            return {}
        for unknown in sorted(set(value) - allowed):
            self.problem(f"{key}.{unknown}", "unknown key")
        return value

    def get(self, table: Mapping[str, Any], prefix: str, key: str, kind: type | tuple[type, ...],
            default: Any, convert: Callable[[Any], Any] | None = None) -> Any:
        if key not in table:
            return convert(default) if convert and default is not None else default
        value = table[key]
        if not _of_type(value, kind):
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


def _of_type(value: Any, kind: type | tuple[type, ...]) -> bool:
    """isinstance, except that TOML's true and false are not numbers."""
    return isinstance(value, kind) and (not isinstance(value, bool) or kind is bool or (
        isinstance(kind, tuple) and bool in kind))


TOML_TYPES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
              list: "an array", dict: "a table", date: "a date like 2026-03-02"}


def toml_type(kind: type) -> str:
    """A Python type as the TOML the user wrote it in calls it."""
    return TOML_TYPES.get(kind, kind.__name__)


def _positive(value: int) -> int:
    if value < 1:
        raise ValueError(f"must be at least 1, not {value}")
    return value


def _time_of_day(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day like '09:30'") from None


def _timezone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a known time zone (e.g. 'Europe/Berlin')") from None


def _weekdays(days: list[Any]) -> frozenset[int]:
    bad = [d for d in days if not isinstance(d, str) or d.lower()[:3] not in WEEKDAYS]
    if bad or not days:
        raise ValueError(f"must be a non-empty list of {', '.join(WEEKDAYS)}; bad: {bad}")
    return frozenset(WEEKDAYS.index(d.lower()[:3]) for d in days)


def _str_list(values: list[Any]) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in values):
        raise ValueError("must be an array of strings")
    return tuple(values)


def _resolve(path_text: str, base: Path) -> str:
    p = Path(path_text).expanduser()
    return str(p if p.is_absolute() else (base / p))


def load(path: Path) -> Config:
    """Read and check ``path``; ConfigError lists every problem found."""
    chk = _Checker(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found; create one with `keepwarm init`"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse(data, path, chk)


TABLES = {
    "identity": {"addresses", "timezone"},
    "store": {"path", "state_dir"},
    "filters": {"ignore", "max_recipients", "max_meeting_attendees"},
    "cadence": {"default", "new_relationship", "min_touchpoints", "forget_after", "rules"},
    "reminders": {"calendar", "time", "duration", "max_per_day", "working_days", "horizon"},
    "daemon": {"max_backoff"},
}


def parse(data: Mapping[str, Any], path: Path, chk: _Checker | None = None) -> Config:
    """Check already-parsed TOML data (``path`` names the file in messages)."""
    chk = chk or _Checker(path)
    base = path.parent
    for unknown in sorted(set(data) - set(TABLES) - {"accounts"}):
        chk.problem(unknown, "unknown section")
    t = {name: chk.table(data, name, keys) for name, keys in TABLES.items()}
    store_path = chk.get(t["store"], "store", "path", str, None)
    state_dir = chk.get(t["store"], "store", "state_dir", str, None)
    max_backoff = chk.get(t["daemon"], "daemon", "max_backoff", str, "1h", parse_duration)
    calendar = chk.get(t["reminders"], "reminders", "calendar", str, "")
    state_path = Path(_resolve(state_dir, base)) if state_dir else default_state_dir()
    accounts = _accounts(data, chk, base, calendar, state_path)
    settings = _settings(t, chk, accounts, calendar)
    _check_calendar(chk, calendar, accounts)
    if chk.problems:
        raise ConfigError(chk.problems)
    return Config(
        path=path,
        settings=settings,
        store_path=Path(_resolve(store_path, base)) if store_path else default_store_path(),
        state_dir=state_path,
        accounts=tuple(accounts),
        max_backoff=max_backoff.total_seconds(),
    )


def _settings(t: Mapping[str, Mapping[str, Any]], chk: _Checker,
              accounts: list[AccountConfig], calendar: str) -> Settings:
    """The core's settings from [identity], [filters], [cadence] and [reminders]."""
    ident, filt, cad, rem = t["identity"], t["filters"], t["cadence"], t["reminders"]
    addresses = chk.get(ident, "identity", "addresses", list, [], _str_list)
    tz = chk.get(ident, "identity", "timezone", str, None, _timezone) or system_timezone()
    return Settings(
        own_addresses=frozenset(a.strip().lower() for a in addresses)
        | frozenset(a.address for a in accounts if a.address),
        tz=tz,
        ignore=DEFAULT_IGNORE + tuple(p.lower() for p in
                                      chk.get(filt, "filters", "ignore", list, [], _str_list)),
        max_recipients=chk.get(filt, "filters", "max_recipients", int, 15, _positive),
        max_meeting_attendees=chk.get(filt, "filters", "max_meeting_attendees", int, 12,
                                      _positive),
        default_days=chk.get(cad, "cadence", "default", str, "90d", duration_days),
        new_relationship_days=tuple(duration_days(d) for d in chk.get(
            cad, "cadence", "new_relationship", list, ["14d", "30d"], _duration_list)),
        min_touchpoints=chk.get(cad, "cadence", "min_touchpoints", int, 2, _positive),
        forget_after_days=chk.get(cad, "cadence", "forget_after", str, "3y", duration_days),
        rules=_cadence_rules(cad, chk),
        reminders_calendar=calendar,
        reminder_time=chk.get(rem, "reminders", "time", str, "09:30", _time_of_day),
        reminder_duration=chk.get(rem, "reminders", "duration", str, "15min", parse_duration),
        max_per_day=chk.get(rem, "reminders", "max_per_day", int, 5, _positive),
        working_days=chk.get(rem, "reminders", "working_days", list,
                             ["mon", "tue", "wed", "thu", "fri"], _weekdays),
        horizon_days=chk.get(rem, "reminders", "horizon", str, "14d", duration_days),
    )


def _cadence_rules(cad: Mapping[str, Any], chk: _Checker) -> tuple[CadenceRule, ...]:
    rules: list[CadenceRule] = []
    raw_rules = cad.get("rules", [])
    if not isinstance(raw_rules, list):
        chk.problem("cadence.rules", "must be an array of tables ([[cadence.rules]])")
        raw_rules = []
    for i, rule in enumerate(raw_rules):
        key = f"cadence.rules[{i}]"
        if not isinstance(rule, dict):
            chk.problem(key, "must be a table with 'match' and 'every'")
            continue
        for unknown in sorted(set(rule) - {"match", "every"}):
            chk.problem(f"{key}.{unknown}", "unknown key")
        match = chk.get(rule, key, "match", str, None)
        every = chk.get(rule, key, "every", str, None, duration_days)
        if match is None or every is None:
            if "match" not in rule or "every" not in rule:
                chk.problem(key, "needs both 'match' and 'every'")
            continue
        rules.append(CadenceRule(match.lower(), every))
    return tuple(rules)


def _check_calendar(chk: _Checker, calendar: str, accounts: list[AccountConfig]) -> None:
    """[reminders] calendar must name an account that can hold reminders."""
    if not calendar:
        return
    target = next((a for a in accounts if a.name == calendar), None)
    if target is None:
        chk.problem("reminders.calendar", f"no account is named {calendar!r}")
    elif not registry.connector_class(target.type).writes_reminders:
        chk.problem("reminders.calendar",
                    f"account {calendar!r} is of type {target.type!r}, which cannot hold "
                    "reminders")


def permission_warnings(cfg: Config) -> list[str]:
    """Files with secrets that other users can read, and passwords written into the config."""
    out = []
    for account in cfg.accounts:
        cls = registry.connector_class(account.type)
        for name, opt in cls.options.items():
            value = account.options.get(name)
            if not (opt.secret and value):
                continue
            path = Path(str(value))
            if path.exists() and path.stat().st_mode & 0o077:
                out.append(f"{path} (accounts[{account.name}].{name}) holds a secret and other "
                           f"users can read it: chmod 600 {path}")
        command = str(account.options.get("password_command") or "")
        if command.split(" ", 1)[0] in ("echo", "printf") and cfg.path.exists() and (
                cfg.path.stat().st_mode & 0o044):
            out.append(f"{cfg.path} holds the password of accounts[{account.name}] in "
                       "password_command and other users can read it: chmod 600 "
                       f"{cfg.path}, or better use `pass`, `secret-tool` or keyring = true")
    return out


def _duration_list(values: list[Any]) -> list[str]:
    for v in values:
        parse_duration(v)
    return values


COMMON_ACCOUNT_KEYS = {"name", "type", "address", "poll_interval"}


def _accounts(data: Mapping[str, Any], chk: _Checker, base: Path,
              calendar: str, state_dir: Path) -> list[AccountConfig]:
    """Every [[accounts]] table checked against its connector's option declarations."""
    raw = data.get("accounts", [])
    if not isinstance(raw, list):
        chk.problem("accounts", "must be an array of tables ([[accounts]])")
        return []
    out: list[AccountConfig] = []
    seen: set[str] = set()
    for i, acc in enumerate(raw):
        key = f"accounts[{i}]"
        if not isinstance(acc, dict):
            chk.problem(key, "must be a table")
            continue
        name = _account_name(chk, key, acc, seen)
        cls = _account_class(chk, key, acc)
        if cls is None:
            continue
        address = chk.get(acc, key, "address", str, "")
        poll = chk.get(acc, key, "poll_interval", str, None, parse_duration)
        options = _options(chk, key, acc, cls, base)
        if name:
            out.append(AccountConfig(name=name, type=cls.type,
                                     address=address.strip().lower(), options=options,
                                     holds_reminders=name == calendar,
                                     state_dir=str(state_dir),
                                     poll_interval=poll.total_seconds() if poll else None))
    return out


def _account_name(chk: _Checker, key: str, acc: Mapping[str, Any], seen: set[str]) -> str | None:
    name: str | None = chk.get(acc, key, "name", str, None)
    if not name:
        chk.problem(f"{key}.name", "missing: every account needs a unique name")
    elif name in seen:
        chk.problem(f"{key}.name", f"{name!r} is used by another account")
    else:
        seen.add(name)
    return name


def _account_class(chk: _Checker, key: str, acc: Mapping[str, Any]) -> type[Connector] | None:
    type_name = chk.get(acc, key, "type", str, None)
    if not type_name:
        chk.problem(f"{key}.type", f"missing: one of {', '.join(registry.types())}")
        return None
    if type_name not in registry.REGISTRY:
        chk.problem(f"{key}.type",
                    f"unknown account type {type_name!r}; known: {', '.join(registry.types())}")
        return None
    cls = registry.connector_class(type_name)
    if needs := cls.missing_extra():  # a gmail account without keepwarm[google]
        chk.problem(f"{key}.type", needs)
    return cls


def _options(chk: _Checker, key: str, acc: Mapping[str, Any], cls: type[Connector],
             base: Path) -> dict[str, Any]:
    """The connector's options, each checked by its declaration, defaults filled in; then
    the connector's rules across options, over the values that passed (a wrong one is said
    once, by its own check)."""
    for unknown in sorted(set(acc) - COMMON_ACCOUNT_KEYS - set(cls.options)):
        chk.problem(f"{key}.{unknown}", f"unknown key for type {cls.type!r}")
    options: dict[str, Any] = {}
    valid: dict[str, Any] = {}
    for name, opt in cls.options.items():
        before = len(chk.problems)
        if opt.required and acc.get(name) in (None, ""):
            chk.problem(f"{key}.{name}", f"missing: required for type {cls.type!r}"
                        + (f"; {opt.help}" if opt.help else ""))
            value = opt.default
        else:
            value = chk.get(acc, key, name, opt.type, opt.default, _option_check(opt))
            value = _resolve(value, base) if opt.is_path and value else value
        options[name] = value
        if len(chk.problems) == before:
            valid[name] = value
    for name, problem in cls.check_options(valid):
        chk.problem(f"{key}.{name}" if name else key, problem)
    return options


def _option_check(opt: Option) -> Callable[[Any], Any]:
    """What ``opt`` says beyond the type: its choices, its items' type, its own check."""

    def check(value: Any) -> Any:
        if opt.choices and value not in opt.choices:
            raise ValueError(f"must be one of {', '.join(map(repr, opt.choices))}, "
                             f"not {value!r}")
        if opt.item is not None and not all(_of_type(v, opt.item) for v in value):
            raise ValueError(f"must be an array of which each item is "
                             f"{toml_type(opt.item)}, not {value!r}")
        if opt.check is not None:
            opt.check(value)
        return value

    return check
