"""Network faults between keepwarm and its servers: the final state equals a fault-free run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from daemon import sync
from tests.servers.faultproxy import FaultProxy
from tests.servers.radicale import User, shared
from tests.test_caldav import NOW, World


def scenario(world: World, retry_until_ok: bool) -> dict[str, object]:
    """Two weeks of mail, a sync each day; a failed sync is retried, as the daemon does."""
    for day in range(14):
        now = NOW + timedelta(days=day)
        for n in range(day % 4):
            k = day * 3 + n
            world.send(f"d{day}-{n}", 200 - 4 * k, f"p{k % 11}@x.org")  # relative to NOW
        for _attempt in range(40):
            report = sync.sync(world.config, world.store, now)
            if report.ok or not retry_until_ok:
                break
        else:
            raise AssertionError("never converged")
    return dict(sorted(world.starts().items()))


def test_caldav_through_resets_stalls_and_drops(tmp_path: Path) -> None:
    clean = World(tmp_path / "clean", shared().add_user())
    want = scenario(clean, retry_until_ok=False)
    assert len(want) >= 5

    server = shared()
    user = server.add_user()
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    with FaultProxy(port, fault_rate=0.2, seed=3) as proxy:
        proxied = User(user.name, user.password, f"http://127.0.0.1:{proxy.port}/", server)
        faulty = World(tmp_path / "faulty", proxied, timeout=1, retries=1)
        faulty.user = user  # inspect the server directly, not through the faults
        got = scenario(faulty, retry_until_ok=True)
    assert sum(n for kind, n in proxy.faults.items() if kind != "none") >= 5, proxy.faults
    assert got == want


def test_imap_through_resets_stalls_and_drops(tmp_path: Path) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime
    from email.utils import format_datetime

    from daemon.config import parse
    from daemon.store import Store
    from tests.servers.dovecot import shared as dovecot

    server = dovecot()

    def run(user: str, port: int, folder: Path, retry: bool) -> set[tuple[str, ...]]:
        account = server.account(user, port=port, retries=1, timeout=1)
        config = parse({"identity": {"addresses": [f"{user}@example.com"]},
                        "store": {"path": str(folder / "kw.db")}}, folder / "c.toml")
        config = replace(config, accounts=(account,))
        store = Store(config.store_path)
        for day in range(20):  # new mail every day, a sync each day, retried until it works
            when = datetime.now(UTC) - timedelta(days=60 - day)
            server.append(user, [(f"From: {user}@example.com\nTo: p{(day * 7 + n) % 13}"
                                  f"@example.org\nDate: {format_datetime(when)}\n"
                                  f"Message-ID: <f{day}-{n}@example.com>\n\nhi\n").encode()
                                 for n in range(60)])
            for _attempt in range(60):
                report = sync.sync(config, store, datetime.now(UTC), write=False)
                if report.ok or not retry:
                    break
            else:
                raise AssertionError("never converged")
        rows = {tuple(map(str, r)) for r in store.db.execute(
            "SELECT source_id, email, coalesce(rule, '') FROM participants")}
        store.close()
        return rows

    want = run(server.add_user(), server.port, tmp_path / "clean", retry=False)
    assert len(want) == 20 * 60
    with FaultProxy(server.port, fault_rate=0.2, seed=5) as proxy:
        got = run(server.add_user(), proxy.port, tmp_path / "faulty", retry=True)
    assert sum(n for kind, n in proxy.faults.items() if kind != "none") >= 3, proxy.faults
    assert got == want
