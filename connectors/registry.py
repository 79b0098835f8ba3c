"""The one place that maps an account ``type`` to its connector class.

Adding a connector means adding one line here; the core looks types up only through
this module and never imports a connector module itself.
"""

from __future__ import annotations

import importlib

from connectors.base import Connector

# type name -> "module:Class". The modules are light (connectors/base.py says why), so
# looking a class up costs no third-party import.
REGISTRY: dict[str, str] = {
    "maildir": "connectors.maildir:MaildirConnector",
    "mbox": "connectors.mbox:MboxConnector",
    "ics": "connectors.ics:IcsConnector",
    "imap": "connectors.imap:ImapConnector",
    "caldav": "connectors.caldav:CaldavConnector",
    "outlook": "connectors.outlook:OutlookConnector",
    "gmail": "connectors.gmail:GmailConnector",
    "vcf": "connectors.vcf:VcfConnector",
    "carddav": "connectors.carddav:CarddavConnector",
}


def types() -> list[str]:
    return sorted(REGISTRY)


def register(type_name: str, spec: str) -> None:
    """Add a type (``"module:Class"``) that is not the product's: the tests' in-memory one."""
    REGISTRY[type_name] = spec


def connector_class(type_name: str) -> type[Connector]:
    """The class for ``type_name``; KeyError if no connector has that type."""
    module_name, _, class_name = REGISTRY[type_name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(cls, Connector)
    return cls
