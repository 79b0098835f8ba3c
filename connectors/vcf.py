"""A local address book of vCards: a vdir folder of ``.vcf`` files (vdirsyncer, khard,
one card per file) or one ``.vcf`` file holding many (an export). Read-only.

``path`` names either. A folder is read flat, as vdirsyncer writes it and khard reads it:
every regular file ending in ``.vcf`` (any case) directly in it, hidden files (``.*``, the
temporary files of sync tools) and sub-folders left out. A folder holding no card but
sub-folders that do is vdirsyncer's folder of address books: refused with their names. A
file's cards are named by its file name, ``name.vcf#2`` for the second when it holds
several. One file is read as one unit; its cards are named by their UID (the file is an
export that is rewritten whole, so a card's place in it means nothing), by their place
``#n`` when they have none.

A file is read again only when its modification time, size or inode changed (a sync tool
replaces a file by renaming a new one over it: a new inode), so an idle read costs one
``stat`` per file; how the changes are reckoned is ``connectors.cardsync``. A file that
cannot be read is skipped with its reason and tried again at the next sync.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from connectors import cardsync, vcard
from connectors.base import Connector, Option
from daemon.errors import SourceError
from daemon.model import JSON, AccountConfig, Batch, CardBatch, FetchContext, Skipped

MAX_FILE = 64 * 1024 * 1024  # a .vcf bigger than this is no address book (a disk image ...)


class VcfConnector(Connector):
    """A folder of .vcf files or one .vcf file: an address book, nothing else."""

    type = "vcf"
    reads_contacts = True
    options: ClassVar[dict[str, Option]] = {
        "path": Option(str, required=True, is_path=True,
                       help="a folder of .vcf files (vdirsyncer, khard) or one .vcf file"),
    }

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        self.path = Path(self.account.options["path"]).expanduser()

    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        """An address book holds no mail and no meetings (never called: no flag says so)."""
        return iter(())

    def _fetch_cards(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[CardBatch]:
        try:
            is_folder = self.path.is_dir()
            markers = self._folder_markers() if is_folder else self._file_marker()
        except OSError as exc:
            raise SourceError(f"cannot read the address book {self.path} "
                              f"(accounts[{self.name}].path): {exc.strerror or exc}") from None
        return cardsync.changes(cursor, markers, self._read_file if is_folder else self._read_all,
                                ctx, self.name, f"the address book {self.path}")

    def _folder_markers(self) -> dict[str, str]:
        """file name -> marker of each .vcf file in the folder."""
        out = {}
        folders = []
        with os.scandir(self.path) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.name.lower().endswith(".vcf") and entry.is_file():
                        out[entry.name] = _marker(entry.stat())
                    elif entry.is_dir():
                        folders.append(entry.name)
                except OSError:
                    out[entry.name] = "unreadable"  # read() says why, and it is tried again
        if not out:
            self._not_the_parent(sorted(folders))
        return out

    def _not_the_parent(self, folders: list[str]) -> None:
        """A folder without cards whose sub-folders hold some is vdirsyncer's folder of
        address books, not one of them: say which to name, rather than read nothing."""
        books = [f for f in folders if any(p.suffix.lower() == ".vcf"
                                           for p in (self.path / f).iterdir())]
        if books:
            raise SourceError(
                f"{self.path} holds no .vcf files, but its folders {', '.join(books)} do; "
                f"set accounts[{self.name}].path to one of them (an account for each)")

    def _file_marker(self) -> dict[str, str]:
        try:
            return {self.path.name: _marker(self.path.stat())}
        except FileNotFoundError:
            raise SourceError(f"no address book at {self.path}: no such file or folder; "
                              f"fix accounts[{self.name}].path") from None

    def _read_file(self, name: str) -> cardsync.Unit:
        """One file of the folder, its cards named after it."""
        unit = self._parse(self.path / name, name)
        return cardsync.Unit(cardsync.numbered(name, unit.cards), unit.groups, unit.skipped,
                             unit.ok)

    def _read_all(self, name: str) -> cardsync.Unit:
        """The one file, its cards named by UID."""
        unit = self._parse(self.path, name)
        return cardsync.Unit(cardsync.by_uid(unit.cards), unit.groups, unit.skipped, unit.ok)

    def _parse(self, path: Path, name: str) -> cardsync.Unit:
        where = f"vcf:{self.name}/{name}"
        try:
            with path.open("rb") as f:
                data = f.read(MAX_FILE + 1)
        except OSError as exc:
            return cardsync.Unit(skipped=[Skipped(where, f"cannot read: {exc.strerror or exc}")],
                                 ok=False)
        if len(data) > MAX_FILE:
            return cardsync.Unit(skipped=[Skipped(where, f"larger than {MAX_FILE >> 20} MB: "
                                                         "not read")])
        parsed = vcard.parse(data, where)
        if not (parsed.cards or parsed.groups or parsed.skipped) and data.strip():
            # a .vcf that holds something but no card: say so, as for a broken card
            return cardsync.Unit(skipped=[Skipped(where, "no vCard in the file (no "
                                                         "BEGIN:VCARD line)")])
        return cardsync.Unit(parsed.cards, parsed.groups, parsed.skipped)


def _marker(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"
