"""`keepwarm export` (every contact as CSV, JSON or vCard: ``daemon.export``) and `keepwarm
import` (the steering of a JSON export restored: ``daemon.exportread``).

An export is a file for another program, so it is written as UTF-8 bytes whatever the
locale, to stdout or, with ``--out``, replaced whole (0600: it names everyone the user
writes to). Without ``--format`` the format is read from ``--out``'s suffix (``.json``,
``.vcf``), else CSV, what a mail merge takes.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from connectors.atomic import write_atomic
from daemon import export, exportread, ingest, shellaids, steering, sync
from daemon.cmdbase import Add, open_all
from daemon.errors import UsageError
from daemon.terminal import say
from daemon.words import plural

SUFFIXES = {".csv": "csv", ".json": "json", ".vcf": "vcf", ".vcard": "vcf"}


def chosen_format(fmt: str | None, out: str | None) -> str:
    """--format, else the suffix of --out, else csv."""
    if fmt:
        return fmt
    return SUFFIXES.get(Path(out).suffix.lower(), "csv") if out and out != "-" else "csv"


def cmd_export(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    now = datetime.now(cfg.settings.tz)
    current = store.steering()
    rows = export.rows(sync.compute(store, cfg.settings, now), current.notes, args.tracked)
    fmt = chosen_format(args.format, args.out)
    if fmt == "csv":
        text = export.to_csv(rows)
    elif fmt == "vcf":
        text = export.to_vcard(rows)
    else:
        text = export.to_json(export.document(rows, steering.as_json(current), now))
    data = text.encode("utf-8")
    if not args.out or args.out == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    path = Path(args.out).expanduser().absolute()
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        write_atomic(path, data, mode=0o600)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}; "
                         "choose another place with --out FILE") from None
    held = export.people(rows) if fmt != "json" else rows
    say(f"Wrote {plural(len(held), 'contact')} to {path} ({fmt}).")
    return 0


def _read(name: str) -> tuple[str, str]:
    """(the text, how to name it) of FILE, or of stdin for '-'."""
    if name == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="replace"), "stdin"
    path = Path(name).expanduser()
    try:
        return path.read_bytes().decode("utf-8", errors="replace"), str(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}; give the file "
                         "`keepwarm export --format json` wrote") from None


def cmd_import(args: argparse.Namespace) -> int:
    text, where = _read(args.file)
    new = exportread.read(text, where)  # refused before the store is opened
    _, store = open_all(args)
    here = store.steering()
    store.apply_steering(exportread.merge(here, new))
    ingest.regroup(store)
    steering.save(store)
    what = exportread.summary(new)
    if not what:
        say(f"{where} holds no steering; nothing changed.")
        return 0
    say(f"Restored {what} from {where}. Takes effect at the next `keepwarm sync`.", wrap=True)
    gone = exportread.replaced(here, new)
    if gone:
        say(f"The file's settings replaced what was here for "
            f"{plural(len(gone), 'contact')}: {', '.join(gone)}.", wrap=True)
    return 0


def register(add: Add) -> None:
    s = add("export", "write every contact as CSV (a mail merge, a spreadsheet), JSON "
                      "(scripts, `keepwarm import`) or vCard (an address book)", cmd_export)
    s.add_argument("--format", choices=export.FORMATS,
                   help="csv, json or vcf (default: from the suffix of --out, else csv)")
    s.add_argument("--tracked", action="store_true",
                   help="only the contacts keepwarm keeps reminding you of")
    s.add_argument("--out", metavar=shellaids.FILE_METAVAR,
                   help="write to this file, replaced whole and readable by you alone "
                        "(default: stdout)")
    s = add("import", "restore the steering (cadences, tags, snoozes, ignores, merges, "
                      "notes, referrals...) of a `keepwarm export --format json` file",
            cmd_import)
    s.add_argument("file", metavar=shellaids.FILE_METAVAR,
                   help="the JSON export to read; - reads stdin")
