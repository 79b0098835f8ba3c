"""Fixtures for the whole suite: the real servers the network connectors are tested against
(each server's code lives in tests/servers/)."""

from tests.servers.radicale import radicale_server, radicale_user

__all__ = ["radicale_server", "radicale_user"]
