"""The sd_notify protocol, spoken directly (a datagram to $NOTIFY_SOCKET): READY, STATUS,
WATCHDOG and STOPPING. Without $NOTIFY_SOCKET every call does nothing."""

from __future__ import annotations

import contextlib
import os
import socket


class Notifier:
    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace
            address = "\0" + address[1:]
        self.address = address
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        # ping twice per watchdog period, as systemd advises
        self.watchdog_every = int(usec) / 2e6 if usec.isdigit() and mine else None

    def send(self, *fields: str) -> None:
        if not self.address:
            return
        # Never block on it: a full queue or a vanished listener must not stall the daemon.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock, \
                contextlib.suppress(OSError):
            sock.setblocking(False)
            sock.sendto("\n".join(fields).encode(), self.address)

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")
