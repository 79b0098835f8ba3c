"""Logging to stderr, one line per event; with syslog priority prefixes (<3>, <4>, ...) when
stderr is the journal ($JOURNAL_STREAM names it), so journald keeps each line's level."""

from __future__ import annotations

import logging
import os
import sys

_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6,
             logging.DEBUG: 7}


def stderr_is_journal() -> bool:
    stream = os.environ.get("JOURNAL_STREAM", "")
    if ":" not in stream:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    dev, _, ino = stream.partition(":")
    return f"{st.st_dev}:{st.st_ino}" == f"{dev}:{ino}"


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record).replace("\n", " | ")
        return f"<{_PRIORITY.get(record.levelno, 6)}>{line}"


class _Lower(logging.Formatter):
    """``keepwarm: warning: work: ...``: the level as a person reads it, the account first in
    the message, never the Python module (it means nothing to a user)."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        level = record.levelname.lower()
        return f"keepwarm: {line}" if level == "info" else f"keepwarm: {level}: {line}"


def _not_in_summary(record: logging.LogRecord) -> bool:
    return not getattr(record, "in_summary", False)


def setup(level: str) -> None:
    """Configure the root logger once (the CLI calls it before anything logs)."""
    handler = logging.StreamHandler(sys.stderr)
    if stderr_is_journal():
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(_Lower("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def summary_follows() -> None:
    """The command prints a summary of its own (``keepwarm sync``): a log line marked
    ``extra={"in_summary": True}`` would say the same thing twice, so it is left out here.
    The daemon, which prints no summary, logs it."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(_not_in_summary)
