"""What every command needs: the config file, the config and store opened, the day."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path

from daemon import steering
from daemon.config import Config, default_config_path, load, permission_warnings
from daemon.durations import duration_days, parse_duration
from daemon.errors import UsageError
from daemon.store import Store

log = logging.getLogger("keepwarm")

# how a command module adds its subcommand: name, help, function → its parser
Add = Callable[[str, str, Callable[[argparse.Namespace], int]], argparse.ArgumentParser]


def as_of(args: argparse.Namespace, cfg: Config) -> datetime:
    """``now`` for a command: the real time, or the end of the --as-of day."""
    if getattr(args, "as_of", None):
        try:
            day = date.fromisoformat(args.as_of)
        except ValueError:
            raise UsageError(f"--as-of {args.as_of!r} is not a date like 2026-03-02") from None
        return datetime.combine(day, time(23, 59, 59), tzinfo=cfg.settings.tz)
    return datetime.now(cfg.settings.tz)


def config_path(args: argparse.Namespace) -> Path:
    """--config wins, then $KEEPWARM_CONFIG, then the XDG config folder."""
    return Path(args.config).expanduser() if args.config else default_config_path()


def open_all(args: argparse.Namespace, repair: bool = False) -> tuple[Config, Store]:
    """The config and the store with the user's steering; ``repair`` (sync) rebuilds a
    damaged store instead of refusing it."""
    cfg = load(config_path(args))
    for warning in permission_warnings(cfg):
        log.warning("%s", warning)
    args.store_path = cfg.store_path  # for a store fault anywhere later (``main``)
    return cfg, steering.open_store(cfg.store_path, repair=repair)


def days(text: str) -> int:
    """A duration argument in days, or a one-line usage error."""
    try:
        parse_duration(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return duration_days(text)
