"""Passwords for network accounts (IMAP, CalDAV): from a command (``pass show mail``) or the
system keyring, never from the config file, never logged.

Every refusal here is an AuthError that names what to check, password_command or the
keyring entry: a password account has no sign-in, so ``keepwarm auth`` cannot fix it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import Any

from connectors.base import Option, Problem
from daemon import extras
from daemon.errors import AuthError, MissingDependency
from daemon.model import AccountConfig

KEYRING_SERVICE = "keepwarm"

PASSWORD_OPTIONS: dict[str, Option] = {
    "password_command": Option(str, default="", help="prints the password, e.g. 'pass show mail'"),
    "keyring": Option(bool, default=False,
                      help="read the password from the system keyring (service 'keepwarm', "
                           "user = the account name)"),
}


def problems(options: Mapping[str, Any]) -> list[Problem]:
    """Exactly one way to get the password must be configured (``Connector.check_options``:
    a key missing here had a wrong value, said already)."""
    if "password_command" not in options or "keyring" not in options:
        return []
    command, keyring = options["password_command"], options["keyring"]
    if command and keyring:
        return [("keyring", "set either password_command or keyring = true, not both")]
    if not command and not keyring:
        return [("password_command", "missing: set password_command (e.g. \"pass show mail\") "
                                     "or keyring = true")]
    return []


def password(account: AccountConfig) -> str:
    """The account's password; AuthError with the command that fixes it when there is none."""
    command = account.options["password_command"]
    if command:
        return _from_command(account.name, command)
    return _from_keyring(account)


def what_to_check(account: AccountConfig) -> str:
    """Where the password a server refused came from, for the refusal's message."""
    command = account.options["password_command"]
    if command:
        return f"check the password that password_command prints ({command})"
    return (f"check the password in the keyring (store it again with: keyring set "
            f"{KEYRING_SERVICE} {account.name})")


def _from_command(name: str, command: str) -> str:
    try:
        done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, timeout=60,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise AuthError(f"password_command of account {name!r} did not finish within 60 s; "
                        f"run it yourself to check: {command}") from None
    if done.returncode != 0:
        raise AuthError(f"password_command of account {name!r} failed with exit status "
                        f"{done.returncode}; run it yourself to check: {command}")
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0]:
        raise AuthError(f"password_command of account {name!r} printed nothing; "
                        f"run it yourself to check: {command}")
    return lines[0]


def _from_keyring(account: AccountConfig) -> str:
    name = account.name
    try:
        import keyring  # optional: the keyring extra
        import keyring.errors
    except ImportError:
        raise MissingDependency(name, account.type, ["keyring"], extras.install_command(
            extras.requirements("keyring", ["keyring"]))) from None
    try:
        secret = keyring.get_password(KEYRING_SERVICE, name)
    except keyring.errors.KeyringError as exc:
        raise AuthError(f"the system keyring refused the password of account {name!r} ({exc}); "
                        "unlock the keyring, or set password_command instead of keyring = true"
                        ) from None
    if not secret:
        raise AuthError(f"no password for account {name!r} in the keyring; store it with: "
                        f"keyring set {KEYRING_SERVICE} {name}")
    return str(secret)
