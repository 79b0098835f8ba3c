"""Setting keepwarm up on this machine, in the XDG base directories: the starter config
(`keepwarm init`) and the systemd user unit (`keepwarm service install`).

The unit is made from the loaded config: ExecStart runs this installation on that config
file, ReadWritePaths= lists the folders that config has keepwarm write in (everything else
is read-only under ProtectSystem=strict), and the unit pins the XDG data and state homes the
install saw, so the daemon resolves a default store or state folder exactly where the CLI
does, whatever environment the systemd user manager has.
"""

from __future__ import annotations

import json
import os
import re
import sys
from importlib.resources import files
from pathlib import Path

import platformdirs

from connectors import registry
from connectors.atomic import write_atomic
from daemon.config import Config, default_state_dir, default_store_path
from daemon.errors import ConfigError, UsageError
from daemon.lock import ensure_state_dir

QUOTED = frozenset(" \t\"'\\")  # characters that make systemd split or unquote a word


# -- the starter config -----------------------------------------------------------------
def toml_path(path: Path) -> str:
    """A TOML string naming ``path``, with ``~`` for the home folder."""
    home = Path.home()
    text = f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)
    return json.dumps(text).replace("\x7f", "\\u007f")  # TOML escapes DEL, JSON does not


def starter_text() -> str:
    """The starter config (also the example config: every key with its default), naming the
    store, the state folder and the reminders file where the XDG base directories put them
    now (``$XDG_DATA_HOME``, ``$XDG_STATE_HOME``), so the config says where the data is
    whatever environment later reads it."""
    store = default_store_path()
    text = files("daemon").joinpath("starter.toml").read_text(encoding="utf-8")
    for example, value in (
            ('# path = "~/.local/share/keepwarm/keepwarm.db"', f"path = {toml_path(store)}"),
            ('# state_dir = "~/.local/state/keepwarm"',
             f"state_dir = {toml_path(default_state_dir())}"),
            ('path = "~/.local/share/keepwarm/followups.ics"',
             f"path = {toml_path(store.parent / 'followups.ics')}")):
        assert text.count(example) == 1, example  # the example config and this agree
        text = text.replace(example, value)
    return text


def write_starter(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, starter_text().encode(), mode=0o600)


# -- the systemd unit -------------------------------------------------------------------
def systemd_word(text: str, *, argument: bool = False) -> str:
    """``text`` as one word of a unit file setting (systemd.syntax(7), systemd.service(5)):
    ``%`` doubled (else a specifier), in an ExecStart= argument ``$`` too (else a variable;
    not in the program's path, which systemd takes as it is), and double-quoted, ``\\`` and
    ``"`` escaped, when it holds a space, a quote or a backslash."""
    if any(ord(c) < 32 or c == "\x7f" for c in text):
        raise UsageError(f"{text!r} holds a control character, which a systemd unit cannot "
                         "name: rename it, or run `keepwarm run` without the service")
    text = text.replace("%", "%%")
    if argument:
        text = text.replace("$", "$$")
    if not QUOTED & set(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def writable_folders(cfg: Config) -> list[Path]:
    """The folders keepwarm writes in under this config: the store's (SQLite adds its -wal
    and -shm files beside it), the state folder (locks, CalDAV copies, default token files),
    and the folder of each file an account keeps: the reminders calendar's and every secret
    file's (sign-in tokens). Files are replaced by a rename, so it is their folder that must
    be writable. A folder inside another listed one is left out."""
    folders = {cfg.store_path.parent, cfg.state_dir}
    for account in cfg.accounts:
        for name, opt in registry.connector_class(account.type).options.items():
            value = account.options.get(name)
            if value and opt.is_path and (opt.secret or account.holds_reminders):
                folders.add(Path(str(value)).expanduser().parent)
    found = {Path(os.path.abspath(f)) for f in folders}
    return sorted(f for f in found if not any(p in found for p in f.parents))


def exec_start(config: Path) -> str:
    """This interpreter running this package on ``config``: right for venvs, pipx and system
    installs, and the config is named even when it is the default, which the systemd user
    manager (without the shell's $XDG_CONFIG_HOME or $KEEPWARM_CONFIG) might find elsewhere."""
    if set(sys.executable) & set("\"'\\"):
        raise UsageError(f"systemd runs no program whose path holds a quote or a backslash, "
                         f"as {sys.executable!r} does: install keepwarm in another folder")
    args = ["-m", "daemon.cli", "--config", os.path.abspath(config)]
    return " ".join([systemd_word(sys.executable), *(systemd_word(a, argument=True)
                                                     for a in args)])


def unit_text(cfg: Config, folders: list[Path]) -> str:
    homes = {"XDG_DATA_HOME": platformdirs.user_data_dir(),
             "XDG_STATE_HOME": platformdirs.user_state_dir()}
    values = {"EXEC": exec_start(cfg.path),
              "WRITABLE": " ".join(systemd_word(str(f)) for f in folders),
              "XDG": " ".join(systemd_word(f"{k}={v}") for k, v in homes.items())}
    template = files("daemon").joinpath("keepwarm.service").read_text(encoding="utf-8")
    return re.sub(r"@([A-Z]+)@", lambda m: values[m.group(1)], template)


def unit_path() -> Path:
    """Where systemd reads the user's own units: $XDG_CONFIG_HOME/systemd/user when that is
    set, else ~/.config/systemd/user."""
    return Path(platformdirs.user_config_dir()) / "systemd" / "user" / "keepwarm.service"


def install(cfg: Config) -> tuple[Path, list[Path]]:
    """Write the unit (never a half-written file) and create the folders it makes writable:
    systemd refuses to start a unit whose ReadWritePaths= folder is missing, which says at
    once what is wrong, where a folder skipped with ``-`` would leave keepwarm failing every
    write there on a read-only file system."""
    folders = writable_folders(cfg)
    text = unit_text(cfg, folders)  # a path the unit cannot name stops here, before any write
    unit = unit_path()
    try:
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        ensure_state_dir(cfg.state_dir)
    except OSError as exc:
        raise ConfigError([f"{cfg.path}: cannot create the folder {exc.filename}: "
                           f"{exc.strerror}; create it, or name another one"]) from None
    try:
        unit.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(unit, text.encode(), mode=0o644)
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or unit}: {exc.strerror}; make "
                         f"{unit.parent} writable") from None
    return unit, folders
