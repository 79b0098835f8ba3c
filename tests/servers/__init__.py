"""Throw-away real servers (Dovecot, Radicale) that tests and benchmarks start on loopback."""
