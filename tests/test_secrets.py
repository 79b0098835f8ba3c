"""No password ever reaches a log: a whole `keepwarm --log-level debug sync` over real IMAP and
CalDAV servers, its output searched for the secrets it used. And a password that cannot be
had says what to check (password_command, the keyring), never to sign in."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from connectors import passwords
from daemon.errors import AuthError, MissingDependency
from daemon.model import AccountConfig
from tests.servers.dovecot import Dovecot
from tests.servers.radicale import User

ROOT = Path(__file__).resolve().parent.parent


def test_a_debug_run_logs_no_secret(dovecot: Dovecot, radicale_user: User,
                                    tmp_path: Path) -> None:
    user = dovecot.add_user()
    when = datetime.now(UTC) - timedelta(days=100)
    dovecot.append(user, [(f"From: {user}@example.com\nTo: ann@example.org\n"
                           f"Date: {format_datetime(when)}\nMessage-ID: <s{n}@example.com>\n"
                           f"Subject: hi\n\nbody\n").encode() for n in range(3)])
    imap = dovecot.account(user).options
    dav = radicale_user.options()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\npath = "kw.db"\nstate_dir = "state"\n[reminders]\ncalendar = "cal"\n'
        f'[[accounts]]\nname = "mail"\ntype = "imap"\nhost = "{imap["host"]}"\n'
        f'port = {imap["port"]}\ntls = "none"\nusername = "{user}"\n'
        f"password_command = '{imap['password_command']}'\n"
        f'[[accounts]]\nname = "cal"\ntype = "caldav"\nurl = "{dav["url"]}"\n'
        f'username = "{dav["username"]}"\n'
        f"password_command = '{dav['password_command']}'\n")
    config.chmod(0o600)
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(config),
                           "--log-level", "debug", "sync"],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ mail: 3 new messages" in done.stdout and "reminders: 1 created" in done.stdout
    output = done.stdout + done.stderr
    assert len(done.stderr.splitlines()) > 10  # debug logging really ran
    for secret in (dovecot.password, radicale_user.password):
        assert len(secret) >= 6 and secret not in output
    assert "Authorization" not in output and "AUTHENTICATE" not in output


def test_a_password_that_cannot_be_had_says_what_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    def account(**options: Any) -> AccountConfig:
        return AccountConfig("work", "imap", options={"password_command": "", "keyring": False,
                                                      **options})

    for command, said in (("exit 3", "failed with exit status 3"), ("true", "printed nothing")):
        with pytest.raises(AuthError) as exc:
            passwords.password(account(password_command=command))
        text = str(exc.value)
        assert said in text and "password_command of account 'work'" in text
        assert f"run it yourself to check: {command}" in text and "keepwarm auth" not in text
    monkeypatch.setitem(sys.modules, "keyring", None)  # the optional package not installed
    with pytest.raises(MissingDependency, match=r"^account 'work' \(imap\) needs the Python "
                                                r"package keyring: \S+ -m pip install "
                                                r"'keyring>=24'$"):
        passwords.password(account(keyring=True))
    assert passwords.what_to_check(account(keyring=True)) == (
        "check the password in the keyring (store it again with: keyring set keepwarm work)")
    assert passwords.what_to_check(account(password_command="pass show mail")) == (
        "check the password that password_command prints (pass show mail)")
