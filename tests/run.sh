#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, then lint, types, tests.
# Usage: bash tests/run.sh [pytest args...]
#        KEEPWARM_PYTHON=python3.13 bash tests/run.sh [pytest args...]   (another Python)
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests run for real (never skipped): systemd-analyze checks the unit,
# Dovecot serves the IMAP tests (tests/servers/dovecot.py starts its own, no system service),
# zsh and fish check their completion scripts, groff the man page (tests/test_cli_shell.py),
# Chromium draws `keepwarm report`'s page headless (tests/test_report_browser.py).
need_apt=()
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
[ -x /usr/sbin/dovecot ] || need_apt+=(dovecot-imapd)
command -v zsh >/dev/null || need_apt+=(zsh)
command -v fish >/dev/null || need_apt+=(fish)
command -v groff >/dev/null || need_apt+=(groff-base)
command -v chromium >/dev/null || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

# The Python to test on: python3 in .venv/, or KEEPWARM_PYTHON (a command or a path, e.g.
# python3.13) in its own .venv-X.Y/, so one checkout keeps a venv per Python side by side.
PYTHON="${KEEPWARM_PYTHON:-python3}"
if [ -n "${KEEPWARM_PYTHON:-}" ]; then
    version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    VENV="${KEEPWARM_VENV:-.venv-$version}"
else
    VENV="${KEEPWARM_VENV:-.venv}"
fi
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
echo "== $("$VENV/bin/python" -VV | head -1) in $VENV"
# every extra: a test must never pass because a library it needs was skipped
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[all,test]'

echo "== ruff"
"$VENV/bin/ruff" check daemon connectors tests bench
echo "== mypy"
"$VENV/bin/mypy"
echo "== pytest"
"$VENV/bin/python" -m pytest "$@"
