"""Crash-safe file replacement, shared by every connector and the core.

A reader sees either the old file or the new one, never a torn mix: the data goes to a
temporary file in the same directory (same filesystem, so the rename is atomic), is
fsynced, and replaces the target with ``os.replace``; the directory is fsynced after so
the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically; the file gets permission bits ``mode``."""
    path = Path(path)
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            # Set the mode before any byte is written so secrets are never briefly readable.
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(directory)


def read_only(path: Path) -> bool:
    """True when ``path`` exists and may not be written: no write bit at all (``chmod 444``,
    which root's own writes would ignore), or not writable by this user. ``write_atomic``
    would replace such a file all the same (the rename needs only the folder's permission),
    so a caller that must respect the user's choice asks this first, as vim does."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    return not mode & 0o222 or not os.access(path, os.W_OK)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable; some platforms cannot open directories, which is fine."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
