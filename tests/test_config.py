"""Config loading: defaults, every problem reported at once, the example config is valid."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import time, timedelta
from pathlib import Path

import pytest

from daemon.config import load, parse, permission_warnings
from daemon.errors import ConfigError
from daemon.tomllines import key_lines

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_example_config_is_valid_and_documents_every_key(tmp_path: Path) -> None:
    cfg = load(ROOT / "config.example.toml")
    s = cfg.settings
    assert (s.default_days, s.new_relationship_days, s.min_touchpoints, s.forget_after_days) == (
        90, (14, 30), 2, 1095)
    assert (s.reminder_time, s.reminder_duration, s.max_per_day, s.horizon_days) == (
        time(9, 30), timedelta(minutes=15), 5, 14)
    assert s.working_days == frozenset(range(5))
    text = (ROOT / "config.example.toml").read_text()
    for key in ("addresses", "timezone", "path", "state_dir", "ignore", "max_recipients",
                "max_meeting_attendees", "default", "new_relationship", "min_touchpoints",
                "forget_after", "[[cadence.rules]]", "match", "every", "calendar", "time",
                "duration", "max_per_day", "working_days", "horizon", "poll_interval",
                'hours = "09:00-17:00"', 'style = "each"'):
        assert key in text, key


def test_defaults_with_an_empty_file(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, ""))
    assert cfg.accounts == () and cfg.settings.max_recipients == 15
    assert cfg.store_path.name == "keepwarm.db"


def test_every_problem_is_listed_with_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, """
[identity]
timezone = "Mars/Olympus"
colour = "blue"
[filters]
max_recipients = "many"
[cadence]
default = "ninety days"
[[cadence.rules]]
match = "*@x.com"
[reminders]
calendar = "nope"
time = "25:99"
working_days = ["monday", "funday"]
[[accounts]]
name = "a"
type = "carrier-pigeon"
[[accounts]]
name = "a"
type = "maildir"
pth = "~/Mail"
""")
    with pytest.raises(ConfigError) as info:
        load(path)
    lines = info.value.problems
    expected = [
        "identity.colour: unknown key; known: addresses, timezone",
        "identity.timezone: 'Mars/Olympus' is not a known time zone",
        "filters.max_recipients: must be an integer, not a string 'many'",
        "cadence.default: 'ninety days' is not a duration",
        "cadence.rules[0]: needs both 'match' and 'every'",
        "reminders.time: '25:99' is not a time of day",
        "reminders.working_days: 'funday' is not a day; days are mon, tue",
        "accounts[0].type: unknown account type 'carrier-pigeon'",
        "accounts[1].name: 'a' is used by another account",
        "accounts[1].pth: unknown key for type 'maildir'; did you mean 'path'?",
        "accounts[1].path: missing: required for type 'maildir'",
        "reminders.calendar: no account is named 'nope'",
    ]
    located = {"identity.colour": 4, "accounts[1].pth": 21}  # unknown keys have their line
    for want in expected:
        key = want.split(":")[0]
        where = f"{path}:{located[key]}: " if key in located else f"{path}: "
        assert any(line.startswith(where) and want in line for line in lines), want
    assert len(lines) == len(expected)


def test_a_bad_connector_option_is_found_when_the_config_loads(tmp_path: Path) -> None:
    path = write(tmp_path, IMAP + 'tls = "yes"\n')
    with pytest.raises(ConfigError) as info:
        load(path)
    assert info.value.problems == [
        f"{path}: accounts[0].tls: must be one of 'ssl', 'starttls', 'none', not 'yes'"]


IMAP = """
[[accounts]]
name = "mail"
type = "imap"
host = "imap.example.com"
username = "me"
password_command = "pass show mail"
"""


def test_every_bad_connector_option_of_every_account_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, IMAP + """port = 70000
tls = "yes"
folders = "Sent"
timeout = 0
[[accounts]]
name = "google"
type = "gmail"
client_secrets = "client.json"
quota_units_per_minute = 0
calendars = []
endpoint = "http://www.googleapis.example/"
colour = "blue"
[[accounts]]
name = "cal"
type = "caldav"
url = "https://dav.example.com/"
username = "me"
password_command = "pass show dav"
keyring = true
[[accounts]]
name = "plain"
type = "imap"
host = "imap.example.com"
username = "me"
port = 0
tls = "none"
""")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert [line.removeprefix(f"{path}: ").removeprefix(f"{path}:19: ")
            for line in info.value.problems] == [
        "accounts[0].port: must be a TCP port (1 to 65535), not 70000",
        "accounts[0].tls: must be one of 'ssl', 'starttls', 'none', not 'yes'",
        "accounts[0].folders: must be an array, not a string 'Sent'",
        "accounts[0].timeout: must be at least 1, not 0",
        "accounts[1].colour: unknown key for type 'gmail'; known: address, calendar, calendars, "
        "client_secrets, contacts, endpoint, mail, name, poll_interval, promises, "
        "quota_get_units, quota_units_per_minute, received, reminders_calendar, retries, "
        "timeout, token_file, type",
        "accounts[1].calendars: must name at least one calendar; to read none, set "
        "calendar = false",
        "accounts[1].endpoint: plain http sends credentials in clear; use https:// (http is "
        "allowed only to this machine)",
        "accounts[1].quota_units_per_minute: must be at least 1, not 0",
        "accounts[2].keyring: set either password_command or keyring = true, not both",
        "accounts[3].port: must be a TCP port (1 to 65535), not 0",
        "accounts[3].password_command: missing: set password_command (e.g. \"pass show mail\") "
        "or keyring = true",
        "accounts[3].tls: 'none' would send the password in plain text to 'imap.example.com'; "
        "it is allowed only for a loopback host (127.0.0.1, ::1, localhost). Use tls = 'ssl' "
        "(port 993) or 'starttls' (port 143)",
    ]


def test_keepwarm_sync_on_a_bad_config_exits_2_listing_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, IMAP + 'tls = "yes"\nport = 0\n')
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(path), "sync"],
                          env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{path}: accounts[0].port: must be a TCP port (1 to 65535), not 0",
        f"{path}: accounts[0].tls: must be one of 'ssl', 'starttls', 'none', not 'yes'"]
    assert done.stdout == ""


def test_reminders_calendar_must_be_able_to_hold_reminders(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot hold reminders"):
        parse({"reminders": {"calendar": "m"},
               "accounts": [{"name": "m", "type": "maildir", "path": "x"}]}, tmp_path / "c.toml")


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    cfg = parse({"store": {"path": "db/k.db"},
                 "accounts": [{"name": "m", "type": "maildir", "path": "Sent"}]},
                tmp_path / "c.toml")
    assert cfg.store_path == tmp_path / "db" / "k.db"
    assert cfg.accounts[0].options["path"] == str(tmp_path / "Sent")


def test_own_addresses_include_account_addresses(tmp_path: Path) -> None:
    cfg = parse({"identity": {"addresses": ["Me@X.com"]},
                 "accounts": [{"name": "m", "type": "maildir", "path": "S",
                               "address": "work@y.com"}]}, tmp_path / "c.toml")
    assert cfg.settings.own_addresses == {"me@x.com", "work@y.com"}


@pytest.mark.parametrize("text, problem", [
    ("[store\n", "not valid TOML"),
])
def test_unreadable_files(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load(write(tmp_path, text))
    with pytest.raises(ConfigError, match="keepwarm init"):
        load(tmp_path / "missing.toml")


def test_secrets_readable_by_others_are_warned_about(tmp_path: Path) -> None:
    secrets = tmp_path / "client.json"
    secrets.write_text("{}")
    secrets.chmod(0o644)
    path = write(tmp_path, '[[accounts]]\nname = "g"\ntype = "gmail"\n'
                           'client_secrets = "client.json"\n'
                           '[[accounts]]\nname = "i"\ntype = "imap"\nhost = "h.example"\n'
                           'username = "u"\npassword_command = "echo hunter2"\n')
    path.chmod(0o644)
    warnings = permission_warnings(load(path))
    assert len(warnings) == 2
    assert f"chmod 600 {secrets}" in warnings[0] and "accounts[g].client_secrets" in warnings[0]
    assert "accounts[i]" in warnings[1] and "hunter2" not in warnings[1]
    secrets.chmod(0o600)
    path.chmod(0o600)
    assert permission_warnings(load(path)) == []


def test_key_lines_follow_every_form_of_toml_that_places_a_key() -> None:
    text = ('# comment\r\n[identity]\r\naddresses = ["a@x.example", # c\r\n  "b@x.example"]\r\n'
            "s = '''\r\nnot = 1\r\n'''\r\n"
            't = """q\\"""\r\nfake = 2\r\n""""\r\n'
            "when = 1979-05-27 07:32:00\r\n"
            '[[accounts]]\r\nname = "a"\r\n[[accounts]]\r\n"name" = "b"\r\n'
            "opts.deep = { x = 1, y = [{ z = 2 }] }\r\n"
            "[[accounts.sub]]\r\nk = 3\r\n")
    lines = key_lines(text)
    assert {k: lines[k] for k in ("identity", "identity.addresses", "identity.addresses[1]",
                                  "identity.s", "identity.t", "identity.when", "accounts",
                                  "accounts[0].name", "accounts[1]", "accounts[1].name",
                                  "accounts[1].opts.deep.y[0].z", "accounts[1].sub[0].k")} == {
        "identity": 2, "identity.addresses": 3, "identity.addresses[1]": 4, "identity.s": 5,
        "identity.t": 8, "identity.when": 11, "accounts": 12, "accounts[0].name": 13,
        "accounts[1]": 14, "accounts[1].name": 15, "accounts[1].opts.deep.y[0].z": 16,
        "accounts[1].sub[0].k": 18}
    assert "identity.not" not in lines and "identity.fake" not in lines
    assert key_lines("[store\n") == {}  # not TOML: no lines at all
