"""What address books cost the store: storing cards and working out who is one person.

Measures, on a fresh temporary store holding ``--messages`` sent messages to ``--people``
people: the first read of ``--cards`` cards through ``daemon.sync.pull`` of the in-memory
reference connector (so no source's own cost is in it: the store's, ingest's and the
grouping's only), an idle read, a read after one card changed, ``contact_facts`` and
``card_people``. Each card holds two addresses, the first one a person of the mail, so every
card joins an address of the mail to one never seen.

    python bench/cards.py --cards 5000 --people 20000 --messages 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors import registry
from connectors.memory import MemoryConnector, MemoryData
from daemon import sync
from daemon.config import parse
from daemon.model import Card, Mail, PartialDate, Verdict
from daemon.store import Store

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def fill(store: Store, messages: int, people: int) -> None:
    rows = [(Mail(f"m{i}", NOW - timedelta(hours=i), None),
             [Verdict(f"p{i % people}@x.example", f"Person {i % people}", "to", "", None)])
            for i in range(messages)]
    store.add_mail("mail", rows)


def timed(label: str, func: object) -> object:
    start = time.perf_counter()
    result = func()  # type: ignore[operator]
    print(f"{label:<34} {time.perf_counter() - start:7.3f} s")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cards", type=int, default=5000, help="cards in the address book")
    ap.add_argument("--people", type=int, default=20000, help="people the mail went to")
    ap.add_argument("--messages", type=int, default=100000, help="sent messages stored")
    ap.add_argument("--batch", type=int, default=1000, help="cards per batch")
    args = ap.parse_args()
    registry.register("memory", "connectors.memory:MemoryConnector")
    root = Path(tempfile.mkdtemp(prefix="kwcards-"))
    data = MemoryConnector.DATA.setdefault("bench-book", MemoryData())
    for i in range(args.cards):
        data.put_card(Card(f"c{i}", name=f"Card {i}",
                           emails=(f"p{i}@x.example", f"other{i}@y.example"),
                           groups=("Clients",) if i % 7 == 0 else (),
                           birthday=PartialDate(1 + i % 12, 1 + i % 28)))
    config = parse({"store": {"path": str(root / "kw.db")},
                    "accounts": [{"name": "book", "type": "memory", "key": "bench-book",
                                  "batch_size": args.batch}]}, root / "config.toml")
    store = Store(config.store_path)
    timed(f"store {args.messages:,} messages", lambda: fill(store, args.messages, args.people))
    account, settings = config.accounts[0], config.settings
    report = timed(f"first read of {args.cards:,} cards",
                   lambda: sync.pull(store, account, settings, NOW))
    assert isinstance(report, sync.AccountReport) and report.cards == args.cards
    timed("idle read", lambda: sync.pull(store, account, settings, NOW))
    data.put_card(replace(data.cards["c1"], emails=("p1@x.example", "p2@x.example")))
    timed("one card joins two contacts", lambda: sync.pull(store, account, settings, NOW))
    facts = timed("contact_facts", store.contact_facts)
    people = timed("card_people", store.card_people)
    assert isinstance(facts, list) and isinstance(people, list)
    print(f"{len(facts):,} contacts ({sum(f.carded for f in facts):,} carded), "
          f"{len(people):,} card people")


if __name__ == "__main__":
    main()
