"""Locks on files in the state dir that name their holder (flock: released on death).

`run.lock`: one `keepwarm run` per store, held for its lifetime. `cycle.lock`: held for one
sync cycle, by the daemon and by `keepwarm sync`, so a manual sync waits for the daemon's cycle
instead of racing it, and the daemon waits, however long, for a manual sync (it tries the lock
with `try_acquire` between its own beats). Read-only commands take neither.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from daemon.errors import KeepwarmError


class LockedError(KeepwarmError):
    """Another keepwarm process writes to this store."""


def _span(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def ensure_state_dir(path: Path) -> Path:
    """Create the state dir private (0700) and tighten it if it was created looser."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


class InstanceLock:
    """``with InstanceLock(state_dir, wait=...)``: exclusive, released on exit or death."""

    def __init__(self, state_dir: Path, name: str = "run.lock", wait: float = 0.0,
                 what: str = "keepwarm is already running") -> None:
        self.path = ensure_state_dir(state_dir) / name
        self.wait = wait
        self.what = what
        self.fd = -1

    def holder(self) -> int | None:
        """The pid written by the process holding the lock, if any."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False, holding nothing, if another process has it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self.fd = fd
        return True

    def acquire(self) -> None:
        """Take the lock, waiting up to ``wait`` seconds; LockedError names the holder."""
        deadline = time.monotonic() + self.wait
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                pid = self.holder()
                who = f"process {pid}" if pid else "another process"
                after = (f" and is still busy after {_span(self.wait)}: try again when it has "
                         "finished") if self.wait else ""
                raise LockedError(f"{self.what} as {who} (lock {self.path}){after}")
            time.sleep(0.2)

    def release(self) -> None:
        if self.fd >= 0:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
