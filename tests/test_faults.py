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
