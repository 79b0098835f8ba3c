"""Throw-away real servers (Dovecot, Radicale) that tests and benchmarks start on loopback."""

import socket


def free_port() -> int:
    """A loopback port nobody listens on right now, for a test server to take."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
