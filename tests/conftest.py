"""Fixtures for the whole suite: the real servers the network connectors are tested against
(each server's code lives in tests/servers/)."""

from tests.servers.dovecot import dovecot
from tests.servers.microsoft import microsoft
from tests.servers.radicale import radicale_server, radicale_user

__all__ = ["dovecot", "microsoft", "radicale_server", "radicale_user"]
