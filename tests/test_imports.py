"""What loading the config imports, and what a missing library costs: one account's error,
never the others'. Each check runs in a fresh interpreter, since ``sys.modules`` is global."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("googleapiclient", "google.auth", "msal", "msal_extensions", "requests", "caldav",
         "lxml", "imapclient", "icalendar", "recurring_ical_events")


def hiding(*packages: str) -> str:
    """A sitecustomize.py making ``packages`` unimportable, as if they were not installed."""
    return f'''
import sys


class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {set(packages)!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, Hide())
'''


def python(code: str, *args: str, path: str = str(ROOT)) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "300"}  # no wrapped lines
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_loading_the_config_imports_no_connector_library(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[reminders]\ncalendar = "cal"\n'
        '[[accounts]]\nname = "md"\ntype = "maildir"\npath = "Sent"\n'
        '[[accounts]]\nname = "mb"\ntype = "mbox"\npath = "Sent.mbox"\n'
        '[[accounts]]\nname = "cal"\ntype = "ics"\npath = "cal.ics"\n'
        '[[accounts]]\nname = "im"\ntype = "imap"\nhost = "imap.example.com"\n'
        'username = "me"\npassword_command = "pass show mail"\n'
        '[[accounts]]\nname = "dav"\ntype = "caldav"\nurl = "https://dav.example.com/"\n'
        'username = "me"\nkeyring = true\n'
        '[[accounts]]\nname = "g"\ntype = "gmail"\nclient_secrets = "client.json"\n'
        '[[accounts]]\nname = "o"\ntype = "outlook"\nclient_id = "abc"\n'
        '[[accounts]]\nname = "book"\ntype = "carddav"\nurl = "https://dav.example.com/"\n'
        'username = "me"\nkeyring = true\n'
        '[[accounts]]\nname = "vcards"\ntype = "vcf"\npath = "contacts"\n')
    done = python("import json, sys\nfrom pathlib import Path\nfrom daemon.config import load\n"
                  "from daemon.config import permission_warnings\n"
                  "cfg = load(Path(sys.argv[1]))\npermission_warnings(cfg)\n"
                  "print(json.dumps([a.type for a in cfg.accounts]))\n"
                  f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))",
                  str(config))
    assert done.returncode == 0, done.stderr
    types, imported = (json.loads(line) for line in done.stdout.splitlines())
    assert sorted(types) == ["caldav", "carddav", "gmail", "ics", "imap", "maildir", "mbox",
                             "outlook", "vcf"]
    assert imported == []


def test_a_missing_library_is_that_accounts_error_alone(tmp_path: Path) -> None:
    """A package of the base install gone missing (a broken venv) stops its account only.
    (A missing optional extra, gmail or outlook, is refused when the config loads instead:
    tests/test_cli_install.py.)"""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(hiding("caldav"))
    (tmp_path / "Sent" / "cur").mkdir(parents=True)
    (tmp_path / "Sent" / "cur" / "1.m").write_bytes(
        b"From: me@example.com\nTo: ann@example.org\nDate: Mon, 2 Nov 2026 09:05:00 +0000\n"
        b"Message-ID: <1@example.com>\nSubject: hi\n\nbody\n")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\npath = "kw.db"\nstate_dir = "{tmp_path}"\n'
        '[[accounts]]\nname = "disk"\ntype = "maildir"\npath = "Sent"\n'
        '[[accounts]]\nname = "dav"\ntype = "caldav"\nurl = "https://dav.invalid/"\n'
        'username = "me"\npassword_command = "echo secret"\n')
    done = python("import sys\nfrom daemon.cli import main\nsys.exit(main(sys.argv[1:]))",
                  "--config", str(config), "sync", path=f"{site}{os.pathsep}{ROOT}")
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    assert "✓ disk: 1 new message," in done.stdout
    (line,) = [x for x in done.stdout.splitlines() if "dav" in x]
    assert line == ("✗ dav: account 'dav' (caldav) needs the Python package caldav: "
                    f"{sys.executable} -m pip install caldav")
    # as the reminders calendar: the reminders fail alike, the mail is still read
    config.write_text(config.read_text().replace("[[accounts]]", '[reminders]\ncalendar = '
                                                 '"dav"\n[[accounts]]', 1))
    done = python("import sys\nfrom daemon.cli import main\nsys.exit(main(sys.argv[1:]))",
                  "--config", str(config), "sync", path=f"{site}{os.pathsep}{ROOT}")
    assert done.returncode != 0 and "Traceback" not in done.stdout + done.stderr
    assert "✓ disk: 0 new messages" in done.stdout
    assert ("✗ reminders: account 'dav' (caldav) needs the Python package caldav") in done.stdout


def test_the_in_memory_test_connector_is_not_a_product_type() -> None:
    done = python("from connectors import registry\nprint(' '.join(registry.types()))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["caldav", "carddav", "gmail", "ics", "imap", "maildir", "mbox",
                                   "outlook", "vcf"]
