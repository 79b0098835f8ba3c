"""Fixtures for the whole suite: the real servers the network connectors are tested against
(each server's code lives in tests/servers/), and the in-memory reference connector, which
is the tests' own account type, not the product's."""

from connectors import registry
from tests.servers.dovecot import dovecot
from tests.servers.google import google_user
from tests.servers.microsoft import microsoft
from tests.servers.radicale import radicale_server, radicale_user

registry.register("memory", "connectors.memory:MemoryConnector")
registry.register("memory-oauth", "connectors.memory:OAuthMemoryConnector")

__all__ = ["dovecot", "google_user", "microsoft", "radicale_server", "radicale_user"]
