"""Warm the page cache for the files a backfill is about to read, from a helper process.

On a cold disk, reading 100,000 small message files one after another spends a third of its
time waiting: even ``posix_fadvise(WILLNEED)`` blocks for the I/O of a small file. A thread
cannot take that wait off our hands (each of its system calls has to win the interpreter
lock back from the parser, so it gets a turn every few milliseconds), but a second process
can: it runs on the other core, touching each file a few thousand files ahead of the
parser, and the parser finds them in memory. Measured on the reference VM: cold backfill
of 100,000 messages 24 s -> 18 s. The helper is a tiny child interpreter fed paths through
a pipe; it only asks the kernel to read (it never sees message contents), exits when the
pipe closes (so it never outlives us, not even a SIGKILL), and losing it costs nothing but
speed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Sequence

log = logging.getLogger(__name__)

MIN_FILES = 1000  # below this the helper's start-up (~20 ms) is not worth it
LEAD = 4096  # how many files ahead of the reader the helper may be
_CHUNK = 256  # paths handed over per write
_PIPE_BYTES = 60_000  # stay under the pipe's 64 KiB, so writes never block

# The helper's whole program. It reads the first 64 KiB hint of each file (headers only).
_CHILD = """
import os, sys
hint = getattr(os, "posix_fadvise", None)
for line in sys.stdin.buffer:
    try:
        fd = os.open(line[:-1], os.O_RDONLY)
    except OSError:
        continue
    try:
        if hint:
            hint(fd, 0, 65536, os.POSIX_FADV_WILLNEED)
        else:
            os.pread(fd, 16384, 0)
    except OSError:
        pass
    os.close(fd)
"""


class ReadAhead:
    """Touches ``paths`` in order, up to LEAD files ahead of what ``advance`` says is read."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = paths
        self.sent = 0
        self.pending = b""
        self.child: subprocess.Popen[bytes] | None = None
        if len(paths) < MIN_FILES:
            return
        try:
            self.child = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _CHILD], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
        except OSError as e:
            log.debug("no read-ahead helper (%s); reading without it", e)
            return
        assert self.child.stdin is not None
        os.set_blocking(self.child.stdin.fileno(), False)
        self.advance(0)

    def advance(self, done: int) -> None:
        """The reader has read ``done`` files: hand over more paths, never blocking."""
        child = self.child
        if child is None or child.stdin is None:
            return
        limit = min(len(self.paths), done + LEAD)
        while self.sent < limit and len(self.pending) < _PIPE_BYTES:
            stop = min(limit, self.sent + _CHUNK)
            self.pending += b"".join(os.fsencode(p) + b"\n" for p in self.paths[self.sent:stop])
            self.sent = stop
        if not self.pending:
            return
        try:
            written = os.write(child.stdin.fileno(), self.pending)
        except BlockingIOError:  # the helper is behind: it gets these later
            return
        except OSError:  # the helper died: go on without it
            self.close()
            return
        self.pending = self.pending[written:]

    def close(self) -> None:
        child, self.child = self.child, None
        if child is None:
            return
        if child.stdin is not None:
            with contextlib.suppress(OSError):  # a dead helper's pipe
                child.stdin.close()
        child.kill()  # it holds nothing worth finishing
        child.wait()
