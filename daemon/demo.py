"""`keepwarm demo`: the real pipeline on the sample shipped in the package: two Maildirs (the
mail sent, and the mail received that answers some of it), a calendar and an address book
(a vdir of .vcf files, as vdirsyncer keeps it).

The sample is fixed in time, so the demo runs as of its own "today", 2026-03-02 08:00 in
Europe/Berlin, into a throw-away folder; nothing of the user's is read or written.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from importlib.resources import as_file, files
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from daemon import birthdaycmds, birthdays, cadence, render, reportcmds, steering, sync
from daemon.config import Config, load
from daemon.store import Store
from daemon.terminal import show

DEMO_TZ = ZoneInfo("Europe/Berlin")
DEMO_NOW = datetime(2026, 3, 2, 8, 0, tzinfo=DEMO_TZ)

MAILDIRS = ("Sent", "INBOX")  # the sent mail, and the received mail that answers it
CONTACTS = "Contacts"  # the address book: one card per .vcf file

DEMO_CONFIG = """\
[identity]
addresses = ["alex@morgan-consulting.example"]
timezone = "Europe/Berlin"

[store]
path = "keepwarm.db"
state_dir = "state"

[cadence]
default = "90d"
new_relationship = ["14d", "30d"]
two_way = true

[[cadence.rules]]
match = "*@bigclient.example"
every = "30d"

[[cadence.rules]]
match = "tag:group:Clients"
every = "60d"

[reminders]
calendar = "followups"

[[accounts]]
name = "mail"
type = "maildir"
path = "Sent"
received = ["INBOX"]

[[accounts]]
name = "calendar"
type = "ics"
path = "calendar.ics"

[[accounts]]
name = "contacts"
type = "vcf"
path = "Contacts"

[[accounts]]
name = "followups"
type = "ics"
path = "followups.ics"
"""


def prepare(folder: Path) -> Path:
    """Copy the sample data into ``folder`` with a config; returns the config path."""
    with as_file(files("daemon.demo_data")) as data:
        for maildir in MAILDIRS:
            shutil.copytree(Path(data) / maildir, folder / maildir)
        shutil.copy(Path(data) / "calendar.ics", folder / "calendar.ics")
        shutil.copytree(Path(data) / CONTACTS, folder / CONTACTS)
    for maildir in MAILDIRS:
        for sub in ("cur", "new", "tmp"):
            (folder / maildir / sub).mkdir(exist_ok=True)
    config = folder / "config.toml"
    config.write_text(DEMO_CONFIG, encoding="utf-8")
    return config


def run_demo(console: Console, folder: Path | None = None) -> int:
    folder = folder or Path(tempfile.mkdtemp(prefix="keepwarm-demo-"))
    cfg = load(prepare(folder))
    store = steering.open_store(cfg.store_path)
    try:
        console.print(f"keepwarm demo: sample data in {folder}, as of {DEMO_NOW:%A %Y-%m-%d}")
        report = sync.sync(cfg, store, DEMO_NOW)
        render.sync_summary(console, report)
        statuses = sync.compute(store, cfg.settings, DEMO_NOW)
        console.print(f"Lapsed as of {DEMO_NOW.date()}:")
        show(render.lapsed_grid(cadence.lapsed(statuses), ""), console)
        show_awaiting(console, cfg, store, folder / "config.toml")
        show_birthdays(console, cfg, store, folder / "config.toml")
        page = folder / reportcmds.REPORT_NAME
        reportcmds.write(page, reportcmds.build(cfg, store, DEMO_NOW))
        console.print(f"A picture of these relationships: {page} (open it in a web browser; "
                      "`keepwarm report` writes yours).")
        console.print(f"Reminders written to {folder / 'followups.ics'} — open it in any "
                      "calendar app. The demo folder stays for you to explore.")
        console.print(f"Try: keepwarm --config {folder / 'config.toml'} show "
                      f"victor@almeida.example --as-of {DEMO_NOW.date()}")
    finally:
        store.close()
    return 0 if report.ok else 1


def show_awaiting(console: Console, cfg: Config, store: Store, config: Path) -> None:
    """The threads waiting for a reply, as `keepwarm awaiting` shows them, and that command."""
    today = DEMO_NOW.date()
    waiting = [a for a in sync.awaiting(cfg, store, DEMO_NOW) if a.state == "waiting"]
    console.print(f"Waiting for a reply as of {today}:")
    # the title is the line above, as for the lapsed table: piped, a table has none
    grid = render.awaiting_grid(waiting, today, cfg.settings.tz, states=False)
    show(replace(grid, title=""), console)
    console.print(f"Listed by: keepwarm --config {config} awaiting --as-of "
                  f"{today}   (--all adds the threads gone quiet)")


def show_birthdays(console: Console, cfg: Config, store: Store, config: Path) -> None:
    """The birthdays and anniversaries the reminders calendar gets (those within the
    reminders' horizon), as `keepwarm birthdays` shows them, and that command."""
    today = DEMO_NOW.date()
    end = today + timedelta(days=cfg.settings.horizon_days)
    items = birthdays.upcoming(store.card_people(cfg.settings.own_addresses), today, end)
    console.print(f"Birthdays and anniversaries from {today} to {end}:")
    show(replace(birthdaycmds.grid(items, today, end), title=""), console)
    console.print(f"Listed by: keepwarm --config {config} birthdays --as-of {today} "
                  f"--days {cfg.settings.horizon_days}")
