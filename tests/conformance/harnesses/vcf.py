"""Conformance harness for the vcf connector: a vdir folder, one .vcf file per card, written
as vdirsyncer writes them (a temporary file renamed over the card's file)."""

from __future__ import annotations

import os
from pathlib import Path

from daemon.model import AccountConfig, Card
from tests.conformance.harnesses.vcard import to_vcard


class VcfContactsHarness:
    type = "vcf"
    unsupported: frozenset[str] = frozenset({"starred"})

    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "contacts"
        self.folder.mkdir()

    def account(self) -> AccountConfig:
        return AccountConfig(name="vcards", type="vcf", options={"path": str(self.folder)})

    def put_card(self, card: Card) -> str:
        name = f"{card.card_id}.vcf"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(to_vcard(card, f"uid-{card.card_id}"))
        os.replace(tmp, self.folder / name)
        return name

    def remove_card(self, handle: str) -> None:
        (self.folder / f"{handle}.vcf").unlink()

    def expire_cursor(self) -> None:
        """A folder has no cursor that can expire."""
