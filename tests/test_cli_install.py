"""Installing keepwarm: the base install serves Maildir, mbox, .ics, IMAP and CalDAV without
the Google or Microsoft libraries; an account that needs one of those extras is one line at
config load naming the command for this installation; the README's quick start is what CI
runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from connectors import registry
from daemon import extras
from tests.test_imports import ROOT, hiding

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
GOOGLE_MODULES = ("googleapiclient", "google_auth_oauthlib", "google_auth_httplib2")
MICROSOFT_MODULES = ("msal", "msal_extensions")
# the modules of the two optional connectors, which alone may import their extras
OPTIONAL = re.compile(r"connectors\.(gmail|gcal|google|gpeople|outlook|msauth|graph)")


def keepwarm(tmp_path: Path, hidden: tuple[str, ...], *argv: str,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`keepwarm ARGV` in a Python that cannot import ``hidden``, as a base install."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(hiding(*hidden))
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}", "COLUMNS": "300",
           "TMPDIR": str(tmp_path)}  # the demo's folder
    return subprocess.run([sys.executable, "-m", "daemon.cli", *argv], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_base_install_has_no_google_or_microsoft_library() -> None:
    base = " ".join(PYPROJECT["dependencies"]).lower()
    assert "google" not in base and "msal" not in base
    extra = PYPROJECT["optional-dependencies"]
    assert [r.split(">")[0] for r in extra["google"]] == [
        "google-api-python-client", "google-auth", "google-auth-oauthlib"]
    assert [r.split(">")[0] for r in extra["microsoft"]] == ["msal", "msal-extensions"]
    assert extra["all"] == ["keepwarm[google,microsoft,keyring]"]
    # the tests run with everything, so no missing extra hides behind a skipped test
    assert "-e '.[all,test]'" in (ROOT / "tests" / "run.sh").read_text(encoding="utf-8")


def test_the_extras_requirements_are_read_from_the_installed_metadata() -> None:
    extra = PYPROJECT["optional-dependencies"]
    for name in ("google", "microsoft", "keyring"):
        assert extras.requirements(name, ["fallback"]) == extra[name]
    assert extras.requirements("nosuchextra", ["fallback"]) == ["fallback"]


@pytest.mark.parametrize(("kind", "hidden", "extra"), [
    ("gmail", GOOGLE_MODULES, "google"), ("outlook", MICROSOFT_MODULES, "microsoft")])
def test_an_account_without_its_extra_is_one_line_naming_the_command(
        tmp_path: Path, kind: str, hidden: tuple[str, ...], extra: str) -> None:
    config = tmp_path / "config.toml"
    options = 'client_secrets = "client.json"' if kind == "gmail" else 'client_id = "abc"'
    config.write_text(f'[store]\npath = "kw.db"\nstate_dir = "{tmp_path}"\n'
                      '[[accounts]]\nname = "disk"\ntype = "maildir"\npath = "Sent"\n'
                      f'[[accounts]]\nname = "work"\ntype = "{kind}"\n{options}\n')
    for command in ("status", "sync", "lapsed"):
        done = keepwarm(tmp_path, hidden, "--config", str(config), command)
        assert done.returncode == 2, done.stderr
        assert done.stdout == "" and "Traceback" not in done.stderr
        packages = " ".join(f"'{req}'" for req in PYPROJECT["optional-dependencies"][extra])
        assert done.stderr.splitlines() == [
            f"{config}: accounts[1].type: type {kind!r} needs keepwarm's {extra} extra; add it "
            f"with: {sys.executable} -m pip install {packages}"]
    assert not (tmp_path / "kw.db").exists()  # refused before any work


def test_with_its_extra_the_same_config_loads(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "kw.db"\nstate_dir = "{tmp_path}"\n'
                      '[[accounts]]\nname = "work"\ntype = "outlook"\nclient_id = "abc"\n')
    done = keepwarm(tmp_path, GOOGLE_MODULES, "--config", str(config), "status")
    assert "extra" not in done.stderr and "Traceback" not in done.stderr
    assert "work" in done.stdout


def test_a_pipx_installation_is_told_to_inject(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.delenv("PIPX_HOME", raising=False)
    for home in (tmp_path / ".local/share/pipx", tmp_path / ".local/pipx"):
        monkeypatch.setattr(sys, "prefix", str(home / "venvs" / "keepwarm"))
        assert extras.install_command(["msal>=1.28", "msal-extensions>=1.1"]) == (
            "pipx inject keepwarm 'msal>=1.28' 'msal-extensions>=1.1'")
    monkeypatch.setenv("PIPX_HOME", str(tmp_path / "apps"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "apps" / "venvs" / "keepwarm"))
    assert extras.install_command(["keyring>=24"]) == "pipx inject keepwarm 'keyring>=24'"
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "elsewhere" / "venvs" / "keepwarm"))
    assert extras.install_command(["keyring"]) == f"{sys.executable} -m pip install keyring"


def test_the_base_install_serves_maildir_mbox_ics_imap_and_caldav(tmp_path: Path) -> None:
    """Every module but the Google and Microsoft connectors' imports without their libraries,
    and the demo (Maildir and .ics, the real pipeline) runs to the end."""
    hidden = (*GOOGLE_MODULES, *MICROSOFT_MODULES, "google", "keyring")
    modules = [f"{p.parent.name}.{p.stem}" for p in sorted(ROOT.glob("*/*.py"))
               if p.parent.name in ("daemon", "connectors") and p.stem != "__init__"]
    base = [m for m in modules if not OPTIONAL.match(m)]
    assert {"connectors.imap", "connectors.caldav", "connectors.dav"} <= set(base)
    code = f"import importlib\nfor m in {base!r}:\n    importlib.import_module(m)\n"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(hiding(*hidden))
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    for kind in ("maildir", "mbox", "ics", "imap", "caldav"):
        assert registry.connector_class(kind).extra is None
    demo = keepwarm(tmp_path, hidden, "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "Lapsed as of 2026-03-02" in demo.stdout
    # the quick start's promise: no warning
    assert "warn" not in (demo.stdout + demo.stderr).lower()


def test_ci_runs_the_readmes_first_command_literally() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- quickstart: [^\n]*-->\n```sh\n(.*?)```\n<!-- /quickstart -->",
                      readme, re.DOTALL)
    assert block, "README.md lost its quick-start markers"
    first, second = block.group(1).splitlines()
    done = subprocess.run(["bash", str(ROOT / ".ci" / "quickstart"), "--print"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == first + "\n"
    assert "'.[all]'" in first and first.endswith(" && ~/.local/bin/keepwarm demo")
    assert second.startswith("bash tests/run.sh")
    assert "bash .ci/quickstart" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
