"""Shell completion scripts and the man page, generated from the one argparse parser, so
neither can drift from what `keepwarm --help` says.

Completion comes from shtab (bash, zsh and fish, all from the same parser); the man page from
argparse-manpage. Both are small, maintained, and have no dependencies of their own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version

SHELLS = ("bash", "zsh", "fish")
FILE_METAVAR = "FILE"  # an option with this metavar completes as a path


def keepwarm_version() -> str:
    """The installed distribution's version: pyproject.toml says it once."""
    try:
        return version("keepwarm")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


class VersionAction(argparse.Action):
    """`--version`: looks the version up only when asked (the lookup reads the installed
    metadata, which every other command would pay for at start)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        sys.stdout.write(f"keepwarm {keepwarm_version()}\n")
        parser.exit()


def actions(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    """Every action of ``parser`` and of its subcommands, with the command line it belongs
    to ("keepwarm sync"): what completion, the man page and the help test walk."""
    for action in parser._actions:
        yield parser.prog, action
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share a parser
                yield from actions(sub)


def completion(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell``; options that take a FILE complete as paths."""
    import shtab

    for _, action in actions(parser):
        if action.metavar == FILE_METAVAR:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
    script: str = shtab.complete(parser, shell=shell)
    return script


# what a man page has beyond the options (roff): where keepwarm looks, as the README says
ENVIRONMENT = r""".TP
.B KEEPWARM_CONFIG
the config file, unless \-\-config names one
.TP
.B XDG_CONFIG_HOME\fR, \fBXDG_DATA_HOME\fR, \fBXDG_STATE_HOME
the folders of the config, of the store and reminders file, and of the state
(default ~/.config, ~/.local/share and ~/.local/state)
"""
FILES = r""".TP
.I $XDG_CONFIG_HOME/keepwarm/config.toml
the config; keepwarm init writes a starter one
.TP
.I $XDG_DATA_HOME/keepwarm/keepwarm.db
the store, with steering.toml beside it: what you told keepwarm
.TP
.I $XDG_DATA_HOME/keepwarm/followups.ics
the reminders file of the starter config
"""


def manpage(parser: argparse.ArgumentParser, summary: str) -> str:
    """The roff man page, section 1, for every command and option."""
    from argparse_manpage.manpage import Manpage

    page = Manpage(parser)
    page.source = f"keepwarm {keepwarm_version()}"
    page.manual = "keepwarm manual"
    page.description = summary
    page.add_section("environment", "=", ENVIRONMENT)
    page.add_section("files", "=", FILES)
    return str(page)
