"""Passwords for network accounts: from a command (``pass show mail``) or the system keyring,
never from the config file, never logged."""

from __future__ import annotations

import subprocess

from connectors.base import Option
from daemon.errors import AuthError, ConfigError
from daemon.model import AccountConfig

KEYRING_SERVICE = "keepwarm"

PASSWORD_OPTIONS: dict[str, Option] = {
    "password_command": Option(str, default="", help="prints the password, e.g. 'pass show mail'"),
    "keyring": Option(bool, default=False,
                      help="read the password from the system keyring (service 'keepwarm', "
                           "user = the account name)"),
}


def check(account: AccountConfig) -> None:
    """Exactly one way to get the password must be configured."""
    command, keyring = account.options.get("password_command"), account.options.get("keyring")
    if bool(command) == bool(keyring):
        raise ConfigError([f"accounts[{account.name}]: set either password_command "
                           "(e.g. \"pass show mail\") or keyring = true"])


def password(account: AccountConfig) -> str:
    """The account's password; AuthError with the command that fixes it when there is none."""
    check(account)
    command = account.options.get("password_command")
    if command:
        return _from_command(account.name, command)
    return _from_keyring(account.name)


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


def _from_keyring(name: str) -> str:
    try:
        import keyring  # optional: pip install 'keepwarm[keyring]'
        import keyring.errors
    except ImportError:
        raise AuthError("keyring = true needs the keyring package: "
                        "pip install 'keepwarm[keyring]'") from None
    try:
        secret = keyring.get_password(KEYRING_SERVICE, name)
    except keyring.errors.KeyringError as exc:
        raise AuthError(f"the system keyring refused: {exc}") from None
    if not secret:
        raise AuthError(f"no password for account {name!r} in the keyring; store it with: "
                        f"keyring set {KEYRING_SERVICE} {name}")
    return str(secret)
