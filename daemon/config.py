"""Loading and checking the TOML config: every problem reported at once, one line each."""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from connectors import registry
from connectors.base import Connector
from daemon.configcheck import Checker as _Checker  # named as before the split
from daemon.configcheck import (
    address,
    address_list,
    alarm,
    days,
    days_ahead,
    days_list,
    did_you_mean,
    duration,
    duration_up_to,
    hours,
    option_check,
    positive,
    str_list,
    style,
    time_of_day,
    timezone,
    weekdays,
)
from daemon.configcheck import toml_type as toml_type  # where daemon.steering finds it
from daemon.errors import ConfigError
from daemon.model import DEFAULT_IGNORE, AccountConfig, CadenceRule, Settings

APP = "keepwarm"


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


def _resolve(path_text: str, base: Path) -> str:
    p = Path(path_text).expanduser()
    return str(p if p.is_absolute() else (base / p))


def load(path: Path) -> Config:
    """Read and check ``path``; ConfigError lists every problem found."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # Windows editors may start with a BOM
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found; create one with `keepwarm init`"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([syntax_error(path, exc)]) from None
    return parse(data, path, _Checker(path, text))


def syntax_error(path: Path, exc: tomllib.TOMLDecodeError) -> str:
    """``FILE:LINE:COLUMN: not valid TOML: what`` (tomllib puts the place at the end)."""
    m = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", str(exc))
    if not m:
        return f"{path}: not valid TOML: {exc}"
    return f"{path}:{m.group(2)}:{m.group(3)}: not valid TOML: {m.group(1)}"


TABLES = {
    "identity": {"addresses", "timezone"},
    "store": {"path", "state_dir"},
    "filters": {"ignore", "max_recipients", "max_meeting_attendees"},
    "cadence": {"default", "new_relationship", "min_touchpoints", "forget_after", "rules",
                "two_way", "learn", "learn_floor"},
    "reminders": {"calendar", "time", "duration", "max_per_day", "working_days", "horizon",
                  "include_subject", "include_notes", "alarm", "hours", "style"},
    "daemon": {"max_backoff"},
    "followup": {"after", "window", "max_recipients", "replies"},
    "birthdays": {"enabled", "lead", "anniversaries"},
    "thanks": {"after_meetings", "gap", "within"},
}


def parse(data: Mapping[str, Any], path: Path, chk: _Checker | None = None) -> Config:
    """Check already-parsed TOML data (``path`` names the file in messages)."""
    chk = chk or _Checker(path)
    chk.homes = _homes
    base = path.parent
    chk.unknown(data, "", [*TABLES, "accounts"], "unknown section")
    t = {name: chk.table(data, name, keys) for name, keys in TABLES.items()}
    store_path = chk.get(t["store"], "store", "path", str, None)
    state_dir = chk.get(t["store"], "store", "state_dir", str, None)
    max_backoff = chk.get(t["daemon"], "daemon", "max_backoff", str, "1h", duration)
    calendar = chk.get(t["reminders"], "reminders", "calendar", str, "")
    state_path = Path(_resolve(state_dir, base)) if state_dir else default_state_dir()
    accounts = _accounts(data, chk, base, calendar, state_path)
    settings = _settings(t, chk, accounts, calendar)
    _check_calendar(chk, calendar, accounts, data)
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
    addresses = chk.get(ident, "identity", "addresses", list, [], address_list)
    tz = chk.get(ident, "identity", "timezone", str, None, timezone) or system_timezone()
    return Settings(
        own_addresses=frozenset(addresses)
        | frozenset(a.address for a in accounts if a.address),
        tz=tz,
        ignore=DEFAULT_IGNORE + tuple(p.lower() for p in
                                      chk.get(filt, "filters", "ignore", list, [], str_list)),
        max_recipients=chk.get(filt, "filters", "max_recipients", int, 15, positive),
        max_meeting_attendees=chk.get(filt, "filters", "max_meeting_attendees", int, 12,
                                      positive),
        default_days=chk.get(cad, "cadence", "default", str, "90d", days),
        new_relationship_days=chk.get(cad, "cadence", "new_relationship", list,
                                      ["14d", "30d"], days_list),
        min_touchpoints=chk.get(cad, "cadence", "min_touchpoints", int, 2, positive),
        forget_after_days=chk.get(cad, "cadence", "forget_after", str, "3y", days),
        two_way=chk.get(cad, "cadence", "two_way", bool, False),
        learn=chk.get(cad, "cadence", "learn", bool, True),
        learn_floor_days=chk.get(cad, "cadence", "learn_floor", str, "7d", days),
        rules=_cadence_rules(cad, chk),
        reminders_calendar=calendar,
        reminder_time=chk.get(rem, "reminders", "time", str, "09:30", time_of_day),
        reminder_duration=chk.get(rem, "reminders", "duration", str, "15min",
                                  duration_up_to("1d")),  # an event, not a holiday
        max_per_day=chk.get(rem, "reminders", "max_per_day", int, 5, positive),
        working_days=chk.get(rem, "reminders", "working_days", list,
                             ["mon", "tue", "wed", "thu", "fri"], weekdays),
        horizon_days=chk.get(rem, "reminders", "horizon", str, "14d", days),
        include_subject=chk.get(rem, "reminders", "include_subject", bool, True),
        include_notes=chk.get(rem, "reminders", "include_notes", bool, True),
        reminder_alarm=chk.get(rem, "reminders", "alarm", str, "none", alarm),
        reminder_hours=chk.get(rem, "reminders", "hours", str, "09:00-17:00", hours),
        reminder_style=chk.get(rem, "reminders", "style", str, "each", style),
        **_followup(t["followup"], chk),
        **_birthdays(t["birthdays"], chk),
        **_thanks(t["thanks"], chk),
    )


def _followup(fol: Mapping[str, Any], chk: _Checker) -> dict[str, Any]:
    """[followup]: the steps (``after = []`` turns follow-ups off), the window, the limit."""
    return {
        "followup_after": chk.get(fol, "followup", "after", list, ["3d", "7d", "14d"],
                                  days_list),
        "followup_window_days": chk.get(fol, "followup", "window", str, "60d", days),
        "followup_max_recipients": chk.get(fol, "followup", "max_recipients", int, 3,
                                           positive),
        "followup_replies": chk.get(fol, "followup", "replies", bool, True),
    }


def _birthdays(bd: Mapping[str, Any], chk: _Checker) -> dict[str, Any]:
    """[birthdays]: all-day reminders of the address book's birthdays and anniversaries,
    on the day or ``lead`` ahead (a cadence rule's ``birthday_lead`` wins for its people)."""
    return {
        "birthdays": chk.get(bd, "birthdays", "enabled", bool, True),
        "birthday_lead_days": chk.get(bd, "birthdays", "lead", str, "0d", days_ahead),
        "anniversaries": chk.get(bd, "birthdays", "anniversaries", bool, True),
    }


def _thanks(th: Mapping[str, Any], chk: _Checker) -> dict[str, Any]:
    """[thanks]: a thank-you reminder after a first meeting (a rule's ``thanks`` wins for
    its people), what makes a meeting a first again, and how long one waits to be written."""
    return {
        "thanks_after_meetings": chk.get(th, "thanks", "after_meetings", bool, True),
        "thanks_gap_days": chk.get(th, "thanks", "gap", str, "60d", days),
        "thanks_within_days": chk.get(th, "thanks", "within", str, "3d", days),
    }


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
        chk.unknown(rule, key, ["match", "every", *_RULE_PARTS])
        match = chk.get(rule, key, "match", str, None)
        every = chk.get(rule, key, "every", str, None, days)
        followup = chk.get(rule, key, "followup", list, None, days_list)
        lead = chk.get(rule, key, "birthday_lead", str, None, days_ahead)
        thanks = chk.get(rule, key, "thanks", bool, None)
        if match is None or (every is None and followup is None and lead is None
                             and thanks is None):
            if "match" not in rule or not {"every", *_RULE_PARTS} & set(rule):
                chk.problem(key, "needs 'match'" if _RULE_PARTS & set(rule)
                            else "needs both 'match' and 'every'")
            continue
        # a tag keeps the case it is shown in (an address book's group:Clients); it
        # matches in any case, as addresses and domains do
        shown = match if match.startswith("tag:") else match.lower()
        rules.append(CadenceRule(shown, every, followup, lead, thanks))
    return tuple(rules)


# what a rule may set besides (or instead of) ``every``
_RULE_PARTS = {"followup", "birthday_lead", "thanks"}


def _check_calendar(chk: _Checker, calendar: str, accounts: list[AccountConfig],
                    data: Mapping[str, Any]) -> None:
    """[reminders] calendar must name an account that can hold reminders. An account with
    a wrong type is left out of ``accounts``; its name is not then called unknown here, as
    its own line says what is wrong."""
    if not calendar:
        return
    target = next((a for a in accounts if a.name == calendar), None)
    if target is None:
        raw = data.get("accounts")
        named = [a["name"] for a in (raw if isinstance(raw, list) else [])
                 if isinstance(a, dict) and isinstance(a.get("name"), str)]
        if calendar not in named:
            chk.problem("reminders.calendar",
                        f"no account is named {calendar!r}" + did_you_mean(calendar, named))
    elif not registry.connector_class(target.type).writes_reminders:
        writers = [t for t in registry.types() if registry.connector_class(t).writes_reminders]
        chk.problem("reminders.calendar",
                    f"account {calendar!r} is of type {target.type!r}, which cannot hold "
                    f"reminders; name an account of type {', '.join(writers)}, or set "
                    'calendar = "" for none')


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


COMMON_ACCOUNT_KEYS = {"name", "type", "address", "poll_interval"}


def _homes() -> dict[str, str]:
    """A key of exactly one table -> that table; not a key some account type takes (an imap
    account's ``path`` is a mistake of another kind)."""
    account_keys = COMMON_ACCOUNT_KEYS.union(*(registry.connector_class(t).options
                                               for t in registry.types()))
    return {key: table for table, keys in TABLES.items() for key in keys
            if key not in account_keys and sum(key in other for other in TABLES.values()) == 1}


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
        own = chk.get(acc, key, "address", str, "", address)
        poll = chk.get(acc, key, "poll_interval", str, None, duration)
        options = _options(chk, key, acc, cls, base)
        if name:
            out.append(AccountConfig(name=name, type=cls.type,
                                     address=own, options=options,
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
                    f"unknown account type {type_name!r}"
                    + did_you_mean(type_name, registry.types(), known=True))
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
    chk.unknown(acc, key, COMMON_ACCOUNT_KEYS | set(cls.options),
                f"unknown key for type {cls.type!r}")
    options: dict[str, Any] = {}
    valid: dict[str, Any] = {}
    for name, opt in cls.options.items():
        before = len(chk.problems)
        if opt.required and acc.get(name) in (None, ""):
            chk.problem(f"{key}.{name}", f"missing: required for type {cls.type!r}"
                        + (f"; {opt.help}" if opt.help else ""))
            value = opt.default
        else:
            value = chk.get(acc, key, name, opt.type, opt.default, option_check(opt))
            if opt.is_path and value:  # a path, or a list of them (maildir's received)
                value = ([_resolve(v, base) for v in value] if isinstance(value, list)
                         else _resolve(value, base))
        options[name] = value
        if len(chk.problems) == before:
            valid[name] = value
    for name, problem in cls.check_options(valid):
        chk.problem(f"{key}.{name}" if name else key, problem)
    return options
