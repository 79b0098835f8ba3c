"""A CardDAV account (Fastmail, iCloud, Nextcloud, Radicale ...): the user's address books,
read-only.

The same requests and copies as a CalDAV account (``connectors.davlogin``, ``dav``,
``davcache``), of the address-book kind: one PROPFIND lists the address books in the home
set with their RFC 6578 sync-tokens (and getctags); a book whose token equals its copy's
costs nothing more; else sync-collection from the copy's token lists the changed hrefs and
addressbook-multiget (RFC 6352 section 8.7) fetches only those, ``davcache.CHUNK`` per
request. A server without sync-collection is read by ETags (a Depth 1 PROPFIND), skipped
while the getctag is unchanged. A token the server forgot is read once from scratch, never
in a loop. The home set is found once (current-user-principal, addressbook-home-set) and kept
in the cursor, so an idle sync is that one PROPFIND, whatever the number of books.

Which cards changed is reckoned from the copies by ``connectors.cardsync``: each object's
marker is a hash of its text, so an object the server re-sends unchanged (after a forgotten
token) is not reported again. A card is named by its href (``#n`` after it for an object
holding several cards, which RFC 6352 forbids and some servers hold anyway).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from connectors import cardsync, checks, vcard
from connectors.base import Connector, Option
from connectors.caldav import same_name
from connectors.davlogin import DavLogin, login_options
from connectors.davtypes import ADDRESS_BOOKS
from connectors.retry import RETRY_OPTIONS
from daemon.errors import SourceError
from daemon.model import JSON, AccountConfig, Batch, CardBatch, FetchContext

if TYPE_CHECKING:
    from connectors.davtypes import Collection


class CarddavConnector(DavLogin, Connector):
    """One CardDAV login: its address books, nothing else."""

    type = "carddav"
    reads_contacts = True
    dav_kind = ADDRESS_BOOKS
    options: ClassVar[dict[str, Option]] = {
        **login_options("CardDAV"),
        "addressbooks": Option(list, default=[], item=str, check=checks.names,
                               help="display names or URLs of the address books to read "
                                    "(default: every one of the login)"),
        **RETRY_OPTIONS,
    }
    requires: ClassVar[dict[str, str]] = {"caldav": "caldav", "lxml": "lxml"}

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        self._login()
        self.wanted = [str(n) for n in self.account.options["addressbooks"]]

    def _fetch(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[Batch]:
        """An address book holds no mail and no meetings (never called: no flag says so)."""
        return iter(())

    def _fetch_cards(self, cursor: JSON | None, ctx: FetchContext) -> Iterator[CardBatch]:
        """Why the store converges: every book's copy is brought up to date and saved before
        anything is yielded, and the cursor holds the marker of every object the store has
        the cards of. A crash before the store commits leaves the old cursor: the next read
        finds the saved copies differ from it and reports the difference again."""
        home = cursor.get("home") if isinstance(cursor, dict) else None
        dav = self.dav()
        if isinstance(home, str) and home and not dav.home_known:
            dav.known_home(home)
        books = self._chosen(self.collections())
        copies = [(book, self.copies().update(book)) for book in books]
        self.copies().prune(book.url for book in books)
        texts = {href: (book, text) for book, copy in copies
                 for href, (_, text) in copy.objects.items()}

        def read(href: str) -> cardsync.Unit:
            book, text = texts[href]
            parsed = vcard.parse_text(text, f"carddav:{self.name}/{book.name}/"
                                            f"{href.rstrip('/').rsplit('/', 1)[-1]}")
            return cardsync.Unit(cardsync.numbered(href, parsed.cards), parsed.groups,
                                 parsed.skipped)

        markers = {href: _marker(text) for href, (_, text) in texts.items()}
        what = f"every address book of {self.username} at {dav.shown_url}"
        return cardsync.changes(cursor, markers, read, ctx, self.name, what,
                                {"home": dav.home()})

    def _chosen(self, books: list[Collection]) -> list[Collection]:
        """The address books to read, by display name (case does not matter) or URL."""
        if not self.wanted:
            return sorted(books, key=lambda b: b.url)
        dav = self.dav()

        def matches(book: Collection, wanted: str) -> bool:
            url = dav.absolute(wanted)
            return same_name(book.name, wanted) or book.url == (url if url.endswith("/")
                                                                  else url + "/")

        missing = [w for w in self.wanted if not any(matches(b, w) for b in books)]
        if missing:
            there = ", ".join(sorted(repr(b.name) for b in books)) or "none"
            raise SourceError(
                f"no address book {', '.join(map(repr, missing))} for {self.username} at "
                f"{self.url}; fix accounts[{self.name}].addressbooks (address books there: "
                f"{there})")
        return sorted((b for b in books if any(matches(b, w) for w in self.wanted)),
                      key=lambda b: b.url)


def _marker(text: str) -> str:
    """What changes with an object's content: a hash of its text (an ETag may be weak, or
    missing from a server's answer)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
