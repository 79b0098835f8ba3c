"""Conformance harness for the carddav connector, against the session's real Radicale: a
fresh user with one address book "Contacts", each card one vCard 4.0 object PUT over plain
HTTP (tests.servers.radicale), never through keepwarm's DAV code."""

from __future__ import annotations

import json
from pathlib import Path

from daemon.model import AccountConfig, Card
from tests.conformance.harnesses.vcard import to_vcard
from tests.servers import radicale

FORGOTTEN = "http://radicale.org/ns/sync/" + "0" * 64  # a token Radicale never gave


class CarddavContactsHarness:
    type = "carddav"
    unsupported: frozenset[str] = frozenset({"starred"})

    def __init__(self, tmp_path: Path) -> None:
        self.user = radicale.shared().add_user()
        self.book = self.user.make_addressbook("Contacts")
        self.state = tmp_path / "state"
        self.state.mkdir()

    def account(self) -> AccountConfig:
        account = self.user.card_account()
        return AccountConfig(account.name, account.type, options=account.options,
                             state_dir=str(self.state))

    def _url(self, handle: str) -> str:
        return f"{self.book}{handle}.vcf"

    def put_card(self, card: Card) -> str:
        self.user.put_card(self._url(card.card_id), to_vcard(card, f"uid-{card.card_id}"))
        return f"/{self.user.name}/{self.book.rstrip('/').rsplit('/', 1)[-1]}/" \
               f"{card.card_id}.vcf"

    def remove_card(self, handle: str) -> None:
        self.user.delete(self._url(handle))

    def expire_cursor(self) -> None:
        """The saved copies now stand at a sync-token Radicale never gave: as one it forgot."""
        for path in self.state.glob("*.carddav/*.json"):
            data = json.loads(path.read_text())
            data["token"] = FORGOTTEN
            path.write_text(json.dumps(data))
