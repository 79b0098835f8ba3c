"""Where the command line's words go: stdout for results, stderr for complaints; and how
they survive where they land. An ASCII-only stdout (a cron job, LC_ALL=POSIX) gets "Jose
Muller" and an ASCII table instead of a UnicodeEncodeError; a pipe gets tab-separated lines
and no colours; NO_COLOR gets no escape codes at all."""

from __future__ import annotations

import codecs
import io
import json
import os
import sys
import unicodedata
from typing import Any, Literal

from rich.console import Console

from daemon import tables

# what NFKD cannot take apart into ASCII, in the words keepwarm itself prints
_ASCII = {"✓": "+", "✗": "x", "—": "-", "–": "-", "…": "...", "→": "->", "“": '"',
          "”": '"', "‘": "'", "’": "'", "×": "x", "±": "+/-", "≥": ">="}


def _degrade(exc: UnicodeError) -> tuple[str, int]:
    """An encoding error handler: each character the stream cannot take becomes its ASCII
    letters (é → e), a known stand-in (✓ → +), or '?'."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start:exc.end]
    return "".join(_ASCII.get(ch) or unicodedata.normalize("NFKD", ch).encode(
        "ascii", "ignore").decode() or "?" for ch in text), exc.end


codecs.register_error("keepwarm-ascii", _degrade)


def encodes(stream: Any, text: str = "é─▁") -> bool:
    """Whether ``stream`` can show ``text`` as it is."""
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


for _stream in (sys.stdout, sys.stderr):
    if isinstance(_stream, io.TextIOWrapper) and not encodes(_stream):
        _stream.reconfigure(errors="keepwarm-ascii")

# Piped output keeps one row per line, so it can be grepped; $COLUMNS still wins (with
# FORCE_COLOR, a table for a pipe). NO_COLOR means no escape codes at all, not only colours.
_COLOURS: Literal["auto"] | None = None if os.environ.get("NO_COLOR") else "auto"


def _width(stream: Any) -> int | None:
    return None if stream.isatty() or os.environ.get("COLUMNS", "").isdigit() else 200


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Raise it, for `main` to end as it does after a plain print (rich would exit 1,
        which keepwarm means for a failed account)."""
        self.quiet = True
        raise BrokenPipeError


out = _Console(highlight=False, width=_width(sys.stdout), color_system=_COLOURS)
err = _Console(stderr=True, highlight=False, width=_width(sys.stderr), color_system=_COLOURS)


def complain(text: str) -> None:
    """One line on stderr, never folded (a terminal wraps it; a log keeps it whole)."""
    err.print(text, markup=False, soft_wrap=True)


def say(text: str, style: str | None = None, wrap: bool = False) -> None:
    """Print plain text: names and subjects from mail must never be read as markup. A line
    is left whole for the terminal to wrap (URLs must stay whole), or with ``wrap`` folded
    at spaces to the terminal's width (so an address stays on one line)."""
    out.print(text, style=style, markup=False, soft_wrap=not wrap)


def fancy(console: Console = out) -> bool:
    """Whether ``console`` can show blocks and box drawing (else ASCII stand-ins)."""
    return encodes(console.file)


def show(grid: tables.Grid, console: Console = out) -> None:
    """A table on a terminal; tab-separated lines with a header row anywhere else."""
    if console.is_terminal:
        console.print(tables.table(grid, console.width, ascii=not fancy(console)))
    else:
        for line in tables.tsv(grid):
            print(line, file=console.file)


def hang_up() -> None:
    """After a reader closed the pipe (`keepwarm lapsed | head`): send the rest of stdout,
    and Python's flush at exit, to /dev/null instead of a BrokenPipeError traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def emit_json(data: object) -> None:
    """JSON on stdout: UTF-8 as is where the stream takes it, \\u escapes where it cannot
    (never degraded to ASCII letters: a program reads this)."""
    print(json.dumps(data, indent=2, ensure_ascii=not encodes(sys.stdout, "é…")))
