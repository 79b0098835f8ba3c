"""Where the command line's words go: stdout for results, stderr for complaints."""

from __future__ import annotations

import sys

from rich.console import Console

# Piped output keeps one row per line, so it can be grepped.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)


def complain(text: str) -> None:
    """One line on stderr, never folded (a terminal wraps it; a log keeps it whole)."""
    err.print(text, markup=False, soft_wrap=True)


def say(text: str, style: str | None = None) -> None:
    """Print plain text: names and subjects from mail must never be read as markup."""
    out.print(text, style=style, markup=False, soft_wrap=True)  # URLs must stay whole
