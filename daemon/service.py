"""`keepwarm service install`: the systemd user unit, with ExecStart for this installation."""

from __future__ import annotations

import shlex
import sys
from importlib.resources import files
from pathlib import Path

from connectors.atomic import write_atomic


def exec_start(config: Path | None) -> str:
    """This interpreter running this package: right for venvs, pipx and system installs."""
    parts = [sys.executable, "-m", "daemon.cli"]
    if config is not None:
        parts += ["--config", str(config.resolve())]
    return shlex.join(parts)


def unit_text(config: Path | None) -> str:
    template = files("daemon").joinpath("keepwarm.service").read_text(encoding="utf-8")
    return template.replace("@EXEC@", exec_start(config))


def install(config: Path | None, home: Path | None = None) -> Path:
    """Write the unit (never a half-written file) and the folders it makes writable."""
    home = home or Path.home()
    unit = home / ".config" / "systemd" / "user" / "keepwarm.service"
    unit.parent.mkdir(parents=True, exist_ok=True)
    for folder in (home / ".local" / "share" / "keepwarm", home / ".config" / "keepwarm"):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(unit, unit_text(config).encode(), mode=0o644)
    return unit
