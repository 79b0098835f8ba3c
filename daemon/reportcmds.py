"""`keepwarm report`: a picture of the user's relationships as one HTML page (see
``daemon.reportdata`` for what it shows, ``daemon.reporthtml`` for how).

A look, like `lapsed`: it reads the store, never waits for a sync, never writes to a
calendar. The page goes to the state folder unless ``--out`` says where; the path alone is
printed, so ``xdg-open "$(keepwarm report)"`` works, and ``--out -`` writes the page itself
to stdout.
"""

from __future__ import annotations

import argparse
import sys
import webbrowser
from datetime import datetime, timedelta
from pathlib import Path

from connectors.atomic import write_atomic
from daemon import birthdays, reportdata, reporthtml, shellaids, sync
from daemon.cmdbase import Add, as_of, open_all
from daemon.config import Config
from daemon.errors import UsageError
from daemon.store import Store
from daemon.terminal import complain, say
from daemon.viewcmds import AS_OF_HELP

REPORT_NAME = "report.html"


def build(cfg: Config, store: Store, now: datetime) -> str:
    """The page as of ``now``, from the store and the config's settings."""
    settings = cfg.settings
    today = now.astimezone(settings.tz).date()
    statuses = sync.compute(store, settings, now)
    touches = store.touches(reportdata.since(now), now)
    people = store.card_people(settings.own_addresses)
    coming = birthdays.upcoming(people, today, today + timedelta(days=reportdata.DUE_WITHIN))
    report = reportdata.build(statuses, touches, sync.awaiting(cfg, store, now), coming,
                              now, settings.tz)
    return reporthtml.page(report, shellaids.keepwarm_version())


def write(path: Path, page: str) -> None:
    """The page, replaced whole (a browser showing it never reads half a file); readable by
    the user alone, as the store is: it names everyone they write to."""
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        write_atomic(path, page.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}; "
                         "choose another place with --out FILE") from None


def cmd_report(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    page = build(cfg, store, as_of(args, cfg))
    if args.out == "-":
        if args.open:
            raise UsageError("--open needs a file: drop --out - or name a file")
        sys.stdout.flush()
        sys.stdout.buffer.write(page.encode("utf-8"))
        sys.stdout.buffer.flush()
        return 0
    if args.out:
        path = Path(args.out).expanduser()
    else:
        cfg.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = cfg.state_dir / REPORT_NAME
    path = path.absolute()
    write(path, page)
    say(str(path))
    if args.open and not opened(path):
        complain(f"keepwarm: no web browser could open the report; open {path} yourself, "
                 "or set $BROWSER to one")
        return 1
    return 0


def opened(path: Path) -> bool:
    """Open the page in the user's browser ($BROWSER, else the desktop's)."""
    try:
        return webbrowser.open(path.as_uri())
    except webbrowser.Error:
        return False


def register(add: Add) -> None:
    s = add("report", "write a picture of your relationships as one HTML page", cmd_report)
    s.add_argument("--out", metavar=shellaids.FILE_METAVAR,
                   help="where to write the page (default: report.html in the state folder); "
                        "- writes it to stdout")
    s.add_argument("--open", action="store_true",
                   help="open the page in your web browser once written ($BROWSER, else the "
                        "desktop's)")
    s.add_argument("--as-of", metavar="YYYY-MM-DD", help=AS_OF_HELP)

