"""Gmail's reach-back (issue 13): with [cadence] two_way on, the threads of sent mail older
than [followup] window are read too, back to forget_after, newest first, after everything
else and resumable, so that an old reply makes a contact two-way. The connector learns both
bounds from FetchContext (daemon.sync.fetch_context), never from an option of its own.

Against the fake Google server (tests.servers.google), counting its requests.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from daemon import sync
from daemon.config import Config, parse
from daemon.store import Store
from tests.servers.google import User
from tests.test_gmail import CTX, NOW, connector, mail, run
from tests.test_gmail_received import INBOX, received, reply

REACH = dataclasses.replace(CTX, reach_back_start=CTX.window_start)


def answered(user: User, days: list[int]) -> list[str]:
    """My message n sent ``days[n]`` days ago, each answered a minute later in its thread."""
    ids = []
    for n, age in enumerate(days):
        ids.append(user.add_mail(mail(n, minutes_ago=0, days_ago=age)))
        user.add_mail(reply(n, n, minutes_ago=-1, days_ago=age), labels=INBOX, thread=ids[-1])
    return ids


def config(tmp_path: Path, user: User, **tables: Any) -> Config:
    """A one-account config (mail only) with the given settings tables."""
    user.account(tmp_path, calendar=False)  # client secrets and token file
    account = {"name": "google", "type": "gmail", "client_secrets": "google.client.json",
               "endpoint": user.server.url, "calendar": False, "retries": 2, "timeout": 5,
               "quota_units_per_minute": 10**9}
    return parse({"identity": {"addresses": ["me@example.com"], "timezone": "Europe/Berlin"},
                  "store": {"path": str(tmp_path / "kw.sqlite"), "state_dir": str(tmp_path)},
                  "accounts": [account], **tables}, tmp_path / "config.toml")


def wrote_back(cfg: Config, store: Store) -> dict[str, int]:
    """Synced once more into ``store``: contact key -> messages they wrote to me."""
    report = sync.pull(store, cfg.accounts[0], cfg.settings, NOW,
                       conn=connector(cfg.accounts[0], batch=5))
    assert report.error is None
    return {f.key: f.received for f in store.contact_facts()}


def test_the_threads_window_is_followup_window(google_user: User, tmp_path: Path) -> None:
    answered(google_user, [10, 50])
    cfg = config(tmp_path, google_user, followup={"window": "30d"})
    assert wrote_back(cfg, Store(cfg.store_path)) == {"p0@example.org": 1, "p1@example.org": 0}
    assert google_user.count("batch:threads.get") == 1


def test_two_way_reads_old_replies_and_off_reads_none(google_user: User, tmp_path: Path
                                                      ) -> None:
    answered(google_user, [10, 100, 400])
    off = config(tmp_path, google_user)
    store = Store(off.store_path)
    assert wrote_back(off, store) == {"p0@example.org": 1, "p1@example.org": 0,
                                      "p2@example.org": 0}
    assert (google_user.count("batch:threads.get"), google_user.count("messages.list")) == (1, 1)
    on = config(tmp_path, google_user, cadence={"two_way": True})
    assert wrote_back(on, store) == {"p0@example.org": 1, "p1@example.org": 1,
                                     "p2@example.org": 1}
    assert google_user.count("batch:threads.get") == 3  # the two old ones, once each
    assert google_user.count("batch:messages.get") == 3  # no sent mail read again
    lists = google_user.count("messages.list")
    assert wrote_back(on, store)["p2@example.org"] == 1  # done: no third look
    assert (google_user.count("batch:threads.get"), google_user.count("messages.list")) == (
        3, lists)


def test_old_threads_come_after_the_window_newest_first_and_resume(
        google_user: User, tmp_path: Path) -> None:
    answered(google_user, [1, 70, 80, 90, 100, 110, 120, 130])
    account = google_user.account(tmp_path, calendar=False)
    batches, cursor = run(account, ctx=REACH, batch=2, page=4)
    order = [m.message_id for m in received(batches)]
    assert order == [f"r{n}@example.org" for n in range(8)]
    assert google_user.count("batch:threads.get") == 8 and cursor["mail"]["reach"] == {
        "done": True}
    reaching = [b for b in batches if b.cursor["mail"].get("reach", {}).get("read")]
    assert len(reaching) >= 3
    for batch in reaching:
        before = {m.message_id for m in received(batches[:batches.index(batch) + 1])}
        reads = google_user.count("batch:threads.get")
        rest, _ = run(account, json.loads(json.dumps(batch.cursor)), ctx=REACH, batch=2, page=4)
        assert before | {m.message_id for m in received(rest)} == set(order)
        assert google_user.count("batch:threads.get") - reads == 8 - len(before)


def test_a_refused_page_token_costs_lists_not_second_reads(
        google_user: User, tmp_path: Path) -> None:
    answered(google_user, [70, 80, 90, 100, 110, 120])
    account = google_user.account(tmp_path, calendar=False)
    batches, _ = run(account, ctx=REACH, batch=2, page=4)
    later = next(b for b in batches if b.cursor["mail"].get("reach", {}).get("token"))
    cursor = json.loads(json.dumps(later.cursor))
    cursor["mail"]["reach"]["token"] = "expired"
    read = len(cursor["mail"]["reach"]["read"])
    reads = google_user.count("batch:threads.get")
    rest, cursor = run(account, cursor, ctx=REACH, batch=2, page=4)
    assert len(received(rest)) == 6 - read
    assert google_user.count("batch:threads.get") - reads == 6 - read
    assert cursor["mail"]["reach"] == {"done": True}


def test_reach_back_stops_at_forget_after(google_user: User, tmp_path: Path) -> None:
    answered(google_user, [70, 80, 90, 110, 120, 130, 140])
    account = google_user.account(tmp_path, calendar=False)
    ctx = dataclasses.replace(CTX, reach_back_start=NOW - timedelta(days=100))
    batches, cursor = run(account, ctx=ctx, batch=2)
    # [70, 80], [90, 110], then [120, 130] wholly older: the end; 140 is never read
    assert google_user.count("batch:threads.get") == 6
    assert "r6@example.org" not in {m.message_id for m in received(batches)}
    assert cursor["mail"]["reach"] == {"done": True}
