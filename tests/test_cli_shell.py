"""What the shell sees of keepwarm: --version, help on every option, and the completion
scripts and man page made from the one parser, each checked by the real shell or groff."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from daemon.cli import main, parser
from daemon.shellaids import SHELLS, actions


def printed(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def subcommands() -> list[str]:
    (sub,) = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return list(sub.choices)


def shell(name: str) -> str:
    """The shell's path; the suite installs bash, zsh and fish (tests/run.sh): never skipped."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; tests/run.sh installs it")
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"keepwarm {version('keepwarm')}\n"
    assert version("keepwarm") == "0.1.0"  # pyproject.toml's, not a copy


def test_every_option_and_argument_has_help_without_markup() -> None:
    missing, markup = [], []
    for prog, action in actions(parser()):
        if isinstance(action, argparse._HelpAction):
            continue
        where = f"{prog} {'/'.join(action.option_strings) or action.dest}"
        if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
            missing.append(where)
        if "``" in (action.help or ""):
            markup.append(where)
        if isinstance(action, argparse._SubParsersAction):  # each command's one-line help
            missing += [f"{prog} {c.dest}" for c in action._choices_actions
                        if not (c.help or "").strip()]
    assert missing == [] and markup == []
    assert len(list(actions(parser()))) > 40  # the walk reaches every subcommand's options


@pytest.mark.parametrize("argv", [[], *[[name] for name in subcommands()]])
def test_no_help_page_has_rest_markup(argv: list[str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    text = capsys.readouterr().out
    assert text.startswith("usage: keepwarm")
    assert "``" not in text


def test_the_completion_command_offers_exactly_the_shells() -> None:
    assert SHELLS == ("bash", "zsh", "fish")
    with pytest.raises(SystemExit) as done:
        main(["completion", "tcsh"])
    assert done.value.code == 2


def test_bash_completion_parses_registers_and_completes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "keepwarm.bash"
    script.write_text(printed(capsys, "completion", "bash"))
    bash = shell("bash")
    checked = run(bash, "-n", str(script))
    assert checked.returncode == 0, checked.stderr
    registered = run(bash, "-c", f"source {script} && complete -p keepwarm")
    assert registered.returncode == 0, registered.stderr
    match = re.search(r"-F (\S+) keepwarm$", registered.stdout.strip())
    assert match, registered.stdout

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        done = run(bash, "-c", f'source {script}; COMP_WORDS=({line}); '
                   f'COMP_CWORD={len(words) - 1}; COMP_LINE="{line}"; '
                   f'COMP_POINT={len(line)}; {match.group(1)}; printf "%s\\n" "${{COMPREPLY[@]}}"')
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("keepwarm sy") == ["sync"]
    assert set(complete("keepwarm ")) == set(subcommands())
    assert complete("keepwarm completion ") == ["bash", "zsh", "fish"]
    assert "--accept-shrink" in complete("keepwarm sync --")
    assert complete("keepwarm --log-level d") == ["debug"]


def test_zsh_completion_parses_and_names_every_command(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "_keepwarm"
    text = printed(capsys, "completion", "zsh")
    script.write_text(text)
    checked = run(shell("zsh"), "-n", str(script))
    assert checked.returncode == 0, checked.stderr
    assert text.startswith("#compdef keepwarm")
    for name in subcommands():
        assert re.search(rf"^\s*{name}:'", text, re.MULTILINE), name  # offered, described
        assert re.search(rf"^\s*{name}\) _arguments", text, re.MULTILINE), name  # its options
    assert "_files" in text  # --config FILE completes a path


def test_fish_completion_parses_and_completes(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    script = tmp_path / "keepwarm.fish"
    script.write_text(printed(capsys, "completion", "fish"))
    fish = shell("fish")
    checked = run(fish, "-n", str(script))
    assert checked.returncode == 0, checked.stderr

    def complete(line: str) -> list[str]:
        done = run(fish, "--no-config", "-c", f"source {script}; complete -C '{line}'")
        assert done.returncode == 0, done.stderr
        return [row.split("\t")[0] for row in done.stdout.splitlines()]

    assert complete("keepwarm sy") == ["sync"]
    assert set(complete("keepwarm ")) >= set(subcommands())
    assert "--no-browser" in complete("keepwarm auth --")


def test_the_man_page_is_clean_roff_naming_every_command(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = tmp_path / "keepwarm.1"
    text = printed(capsys, "manpage")
    page.write_text(text)
    assert text.startswith('.TH KEEPWARM "1"')
    assert f"keepwarm {version('keepwarm')}" in text
    checked = run(shell("groff"), "-man", "-z", "-ww", str(page))
    assert checked.returncode == 0 and checked.stderr == ""
    rendered = run(shell("groff"), "-man", "-Tutf8", "-P-cbou", str(page))
    assert rendered.returncode == 0 and rendered.stderr == ""
    for name in subcommands():
        assert f"keepwarm {name}" in rendered.stdout, name
    for option in ("--version", "--config", "--accept-shrink", "--no-browser"):
        assert option in rendered.stdout.replace("\u2010", "-"), option
    assert "``" not in rendered.stdout
    assert re.search(r"^ENVIRONMENT\n\s+KEEPWARM_CONFIG$", rendered.stdout, re.MULTILINE)
    assert re.search(r"^FILES$", rendered.stdout, re.MULTILINE)


@pytest.mark.parametrize(("argv", "meant"), [
    (["shw", "x"], "'show'"), (["--log-level", "warn", "status"], "'warning'"),
    (["completion", "bsh"], "'bash'")])
def test_a_mistyped_command_or_choice_names_the_closest(
        argv: list[str], meant: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert f"did you mean {meant}?" in capsys.readouterr().err
