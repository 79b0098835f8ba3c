"""The harnesses every conformance test runs against: add a connector's harness here."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from connectors import registry

SOURCE_HARNESSES = [
    "memory:MemorySourceHarness",
    "maildir:MaildirHarness",
    "mbox:MboxHarness",
    "ics:IcsSourceHarness",
    "caldav:CaldavSourceHarness",
    "imap:ImapHarness",
    "outlook:OutlookSourceHarness",
    "gmail:GmailSourceHarness",
]
CONTACT_HARNESSES = [
    "memory:MemoryContactsHarness",
    "gmail:GmailContactsHarness",
    "outlook:OutlookContactsHarness",
    "vcf:VcfContactsHarness",
    "carddav:CarddavContactsHarness",
]
CALENDAR_HARNESSES = [
    "memory:MemoryCalendarHarness",
    "ics:IcsCalendarHarness",
    "caldav:CaldavCalendarHarness",
    "outlook:OutlookCalendarHarness",
    "gmail:GmailCalendarHarness",
]


def _load(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(f"tests.conformance.harnesses.{module}"), name)


def _with(kind: str, specs: list[str]) -> list[Any]:
    out = []
    for spec in specs:
        cls = _load(spec)
        caps = registry.connector_class(cls.type)
        wanted = {"mail": caps.reads_mail, "meetings": caps.reads_meetings,
                  "calendar": caps.writes_reminders, "contacts": caps.reads_contacts}
        if wanted[kind]:
            out.append(pytest.param(cls, id=spec.partition(":")[2]))
    return out


@pytest.fixture(params=_with("mail", SOURCE_HARNESSES))
def mail_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return request.param(tmp_path)


@pytest.fixture(params=_with("meetings", SOURCE_HARNESSES))
def meeting_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return request.param(tmp_path)


@pytest.fixture(params=_with("calendar", CALENDAR_HARNESSES))
def calendar_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return request.param(tmp_path)


@pytest.fixture(params=_with("contacts", CONTACT_HARNESSES))
def contacts_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return request.param(tmp_path)
