"""The optional extras of this installation, and the one command that adds packages to it.

keepwarm is installed from a clone, so `pip install keepwarm[google]` would fetch some other
package from PyPI: the command names the packages themselves, for the Python that runs
keepwarm now (`pipx inject` when that is a pipx venv, since pipx owns those).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path


def missing(modules: Sequence[str]) -> list[str]:
    """Those of ``modules`` this Python cannot import, found without importing them: the
    config checks this at every command, and the Google client alone takes half a second."""
    absent = []
    for module in modules:
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package missing, or a broken one
            found = False
        if not found:
            absent.append(module)
    return absent


def requirements(extra: str, fallback: Sequence[str]) -> list[str]:
    """The extra's requirements as pyproject.toml declares them, read from the installed
    metadata; ``fallback`` when keepwarm runs from a source tree that was never installed."""
    try:
        declared = metadata.requires("keepwarm") or []
    except metadata.PackageNotFoundError:
        return list(fallback)
    marker = f'extra == "{extra}"'
    found = [req.partition(";")[0].strip() for req in declared
             if marker in req.partition(";")[2].replace("'", '"')]
    return found or list(fallback)


def install_command(packages: Sequence[str]) -> str:
    """The shell command that installs ``packages`` where keepwarm runs now."""
    words = " ".join(shlex.quote(p) for p in packages)
    prefix = Path(sys.prefix)
    if _is_pipx_venv(prefix):
        return f"pipx inject {shlex.quote(prefix.name)} {words}"
    return f"{shlex.quote(sys.executable)} -m pip install {words}"


def _is_pipx_venv(prefix: Path) -> bool:
    """pipx keeps each app in ``<PIPX_HOME>/venvs/<app>``; PIPX_HOME defaults to a folder
    named pipx (~/.local/share/pipx, formerly ~/.local/pipx)."""
    if prefix.parent.name != "venvs":
        return False
    home = prefix.parent.parent
    given = os.environ.get("PIPX_HOME", "")
    return home.name in ("pipx", ".pipx") or (given != "" and Path(given).expanduser() == home)
