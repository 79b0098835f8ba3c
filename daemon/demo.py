"""`keepwarm demo`: the real pipeline on the sample Maildir and calendar shipped in the package.

The sample is fixed in time, so the demo runs as of its own "today", 2026-03-02 08:00 in
Europe/Berlin, into a throw-away folder; nothing of the user's is read or written.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from importlib.resources import as_file, files
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from daemon import cadence, render, steering, sync
from daemon.config import load
from daemon.terminal import show

DEMO_TZ = ZoneInfo("Europe/Berlin")
DEMO_NOW = datetime(2026, 3, 2, 8, 0, tzinfo=DEMO_TZ)

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

[[cadence.rules]]
match = "*@bigclient.example"
every = "30d"

[reminders]
calendar = "followups"

[[accounts]]
name = "sent"
type = "maildir"
path = "Sent"

[[accounts]]
name = "calendar"
type = "ics"
path = "calendar.ics"

[[accounts]]
name = "followups"
type = "ics"
path = "followups.ics"
"""


def prepare(folder: Path) -> Path:
    """Copy the sample data into ``folder`` with a config; returns the config path."""
    with as_file(files("daemon.demo_data")) as data:
        shutil.copytree(Path(data) / "Sent", folder / "Sent")
        shutil.copy(Path(data) / "calendar.ics", folder / "calendar.ics")
    for sub in ("cur", "new", "tmp"):
        (folder / "Sent" / sub).mkdir(exist_ok=True)
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
        console.print(f"Reminders written to {folder / 'followups.ics'} — open it in any "
                      "calendar app. The demo folder stays for you to explore.")
        console.print(f"Try: keepwarm --config {folder / 'config.toml'} show "
                      "<address>   (add --as-of 2026-03-02)")
    finally:
        store.close()
    return 0 if report.ok else 1
