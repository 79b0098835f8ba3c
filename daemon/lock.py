"""Locks on files in the state dir that name their holder (flock: released on death).

`run.lock`: one `keepwarm run` per store, held for its lifetime. `cycle.lock`: held for one
sync cycle, by the daemon and by `keepwarm sync`, so a manual sync waits for the daemon's cycle
instead of racing it. Read-only commands take neither.
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

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    pid = self.holder()
                    who = f"process {pid}" if pid else "another process"
                    raise LockedError(f"{self.what} as {who} (lock {self.path})") from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self.fd = fd

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
