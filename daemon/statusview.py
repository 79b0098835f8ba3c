"""`keepwarm status`: what the accounts, the daemon and the reminders calendar are doing.
One dictionary holds it all; the lines for a person and the JSON for a program (--json,
whose keys the README lists) are both read from it, so they never disagree."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from daemon import promisestate, promiseview
from daemon.cmdbase import open_all
from daemon.config import Config
from daemon.lock import InstanceLock
from daemon.model import AccountConfig
from daemon.store import Store
from daemon.sync import followups_off
from daemon.tables import clean
from daemon.terminal import emit_json, say
from daemon.words import moment, plural


def _daemon(cfg: Config, store: Store) -> dict[str, Any] | None:
    """The running daemon's published view, or None when no daemon runs."""
    pid = InstanceLock(cfg.state_dir).holder()
    state = store.daemon_state()
    if pid is None or state is None:
        return None
    return state if state.get("pid") == pid else None


def _account(acc: AccountConfig, st: Mapping[str, Any] | None, live: Mapping[str, Any],
             skipped: int, stored: tuple[int, int] | None) -> dict[str, Any]:
    """One account as `status --json` has it; ``state`` sums it up in one word."""
    st = st or {}
    needs_signin = bool(live.get("needs_signin"))
    state = ("needs_signin" if needs_signin else "failing" if st.get("last_error") else
             "ok" if st else "first_sync_unfinished" if stored else "never_synced")
    return {"name": acc.name, "type": acc.type, "state": state,
            "last_success": st.get("last_success"), "last_error": st.get("last_error"),
            "last_error_at": st.get("last_error_at"), "skipped": skipped,
            "next_poll": live.get("next_poll"), "backlog": bool(live.get("backlog")),
            "remaining": live.get("remaining"), "needs_signin": needs_signin,
            "stored": {"messages": stored[0], "meetings": stored[1]} if stored else None}


def gather(cfg: Config, store: Store) -> dict[str, Any]:
    """Everything `keepwarm status` says, as data."""
    daemon = _daemon(cfg, store)
    live = daemon["accounts"] if daemon else {}
    states = store.account_states()
    skipped = Counter(account for account, *_ in store.skipped())
    stored = store.stored_by_account()
    reminders = store.reminders_state()
    return {
        "config": str(cfg.path), "store": str(cfg.store_path),
        "daemon": {k: daemon.get(k) for k in ("pid", "started", "waiting")} if daemon else None,
        "accounts": [_account(acc, states.get(acc.name), live.get(acc.name, {}),
                              skipped[acc.name], stored.get(acc.name)) for acc in cfg.accounts],
        "reminders": None if reminders is None else {
            k: reminders.get(k) for k in ("calendar", "last_success", "last_attempt",
                                          "last_error")},
        "followups": {"enabled": (off := followups_off(cfg, store)) is None, "reason": off},
        "promises": _promises(cfg, store),
        "counts": store.counts(),
        "written_today": store.written_on(datetime.now(cfg.settings.tz).date()),
    }


def _promises(cfg: Config, store: Store) -> dict[str, int]:
    """How many promises are open (overdue among them), and the notes on the ones that
    name no day (never dropped silently: `status` says how many)."""
    judged = promisestate.judged(store, cfg.settings, datetime.now(cfg.settings.tz), ())
    now_open = [s for s in judged.statuses if s.state == "open"]
    return {"open": len(now_open), "overdue": sum(s.overdue for s in now_open),
            "notes": len(judged.notes)}


def failing(data: Mapping[str, Any]) -> bool:
    """An account failing or parked for sign-in, or a reminders write that failed."""
    return (any(a["state"] in ("failing", "needs_signin") for a in data["accounts"])
            or bool(data["reminders"] and data["reminders"]["last_error"]))


def _account_lines(a: Mapping[str, Any], when: Callable[[str | None], str]) -> None:
    head = f"  {a['name']} ({a['type']})"
    if a["state"] == "first_sync_unfinished":  # a first sync stopped early: what it has is kept
        say(f"{head}: first sync not finished, {plural(a['stored']['messages'], 'message')} "
            f"and {plural(a['stored']['meetings'], 'meeting')} stored; the next "
            "`keepwarm sync` resumes")
        return
    if a["state"] == "never_synced":
        say(f"{head}: never synced — run `keepwarm sync`")
        return
    line = f"{head}: last success {when(a['last_success'])}"
    if a["skipped"]:
        line += f", {plural(a['skipped'], 'item')} skipped (`keepwarm status --skipped` lists them)"
    if a["next_poll"]:
        line += f", next poll {when(a['next_poll'])}"
    if a["backlog"]:
        left = a["remaining"]
        line += ", still catching up" + (f" (about {left:,} left)" if left else "")
    say(line)
    if a["needs_signin"]:
        say(f"    needs sign-in: run `keepwarm auth {a['name']}`", style="red")
    elif a["last_error"]:
        say(f"    last sync failed {when(a['last_error_at'])}: {a['last_error']}", style="red")


def _lines(data: Mapping[str, Any], tz: tzinfo) -> None:
    now = datetime.now(tz)

    def when(stamp: str | None) -> str:
        return moment(stamp, tz, now)

    say(f"config {data['config']}\nstore  {data['store']}")
    daemon = data["daemon"]
    if daemon:
        say(f"keepwarm run: process {daemon['pid']}, up since {when(daemon['started'])}")
        if daemon.get("waiting"):
            say(f"  {daemon['waiting']}")
    else:
        say("keepwarm run: not running (start it with `keepwarm run` or the systemd service)")
    for a in data["accounts"]:
        _account_lines(a, when)
    r = data["reminders"]
    if r is not None:
        say(f"  reminders into {r['calendar']}: last written {when(r['last_success'])}")
        if r["last_error"]:
            say(f"    last write failed {when(r['last_attempt'])}: {r['last_error']}", style="red")
    f = data["followups"]
    say(f"follow-ups: {f['reason'] or 'on (`keepwarm awaiting` lists the open threads)'}")
    p = data["promises"]
    if p["open"]:
        say(f"promises: {p['open']:,} open" + (f", {p['overdue']:,} overdue" if p["overdue"]
                                               else "") + " (`keepwarm promises`)")
    if line := promiseview.notes_summary(p["notes"]):
        say(line, style="yellow")
    # a plural key names its noun ("messages"); another is said as it is ("received")
    say(", ".join(plural(n, k[:-1]) if k.endswith("s") else f"{n:,} {k}"
                  for k, n in data["counts"].items()))
    say(f"reminders written today: {data['written_today']}")


def skipped_rows(store: Store) -> list[dict[str, str]]:
    return [{"account": a, "location": loc, "reason": why, "skipped_at": when}
            for a, loc, why, when in store.skipped()]


def cmd_status(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    if args.skipped:
        return _skipped(store, args.json)
    data = gather(cfg, store)
    if args.json:
        emit_json(data)
    else:
        _lines(data, cfg.settings.tz)
    return 1 if failing(data) else 0


def _skipped(store: Store, as_json: bool) -> int:
    """`keepwarm status --skipped`: every item a source could not use, with the reason."""
    rows = skipped_rows(store)
    if as_json:
        emit_json(rows)
    elif not rows:
        say("Nothing was skipped.")
    else:  # tab-separated for cut and awk (rich would expand the tabs)
        print("account\tlocation\treason\tskipped at")
        for r in rows:
            print("\t".join(map(clean, r.values())))
    return 0
