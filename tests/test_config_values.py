"""Config values are checked for what they mean, not only for their type, through the
``keepwarm`` command: each wrong value is one line naming the file, the key and the fix; an
unknown key also its line and what it was probably meant to be; all problems at once, exit 2,
the same for every command that reads the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import registry
from daemon.cli import main
from daemon.config import load

# the accounts every case shares; a case's own TOML comes first, so its line numbers are
# the same in the file as in the test
ACCOUNTS = """
[store]
path = "kw.db"
[[accounts]]
name = "sent"
type = "maildir"
path = "Mail/Sent"
[[accounts]]
name = "followups"
type = "ics"
path = "followups.ics"
"""


def keepwarm(tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str,
             *command: str) -> tuple[int, list[str]]:
    """Run ``keepwarm --config FILE COMMAND`` on ``toml`` + ACCOUNTS: the exit code and the
    lines on stderr, each with the file's path (and the colon after it) taken off."""
    path = tmp_path / "config.toml"
    path.write_text(toml + ACCOUNTS)
    capsys.readouterr()
    code = main(["--config", str(path), *(command or ["status"])])
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert all(line.startswith(f"{path}:") for line in lines), lines
    return code, [line.removeprefix(f"{path}:") for line in lines]


@pytest.mark.parametrize("toml, problem", [
    ('[identity]\nadresses = ["me@example.com"]\n',
     "2: identity.adresses: unknown key; did you mean 'addresses'?"),
    ('[reminder]\ntime = "09:00"\n', "1: reminder: unknown section; did you mean 'reminders'?"),
    ('[daemon]\n\n# retries\nmax_backof = "1h"\n',
     "4: daemon.max_backof: unknown key; did you mean 'max_backoff'?"),
    ("[filters]\nmax_recipient = 3\n",
     "2: filters.max_recipient: unknown key; did you mean 'max_recipients'?"),
    ('[identity]\ncolour = "blue"\n', "2: identity.colour: unknown key; known: addresses, "
                                     "timezone"),
])
def test_an_unknown_key_is_named_with_its_line_and_what_was_meant(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, problem: str) -> None:
    assert keepwarm(tmp_path, capsys, toml) == (2, [problem])


@pytest.mark.parametrize("toml, problem", [
    # the key of the second [[accounts]] element, not the first's
    ('[[accounts]]\nname = "a"\ntype = "mbox"\npath = "a"\n'
     '[[accounts]]\nname = "b"\ntype = "mbox"\npth = "b"\n# pth = "c"\n',
     ["8: accounts[1].pth: unknown key for type 'mbox'; did you mean 'path'?",
      " accounts[1].path: missing: required for type 'mbox'; the mbox file, e.g. "
      "Thunderbird's \"Sent\""]),
    ('[cadence]\ndefault = "30d"\n\n[[cadence.rules]]\nmatch = "*@x.example"\nevry = "7d"\n',
     ["6: cadence.rules[0].evry: unknown key; did you mean 'every'?",
      " cadence.rules[0]: needs both 'match' and 'every'"]),
    # a dotted key, an inline table, an array of inline tables
    ('identity.adresses = []\n', ["1: identity.adresses: unknown key; did you mean "
                                  "'addresses'?"]),
    ('reminders = { time = "09:00", max_per_dy = 3 }\n',
     ["1: reminders.max_per_dy: unknown key; did you mean 'max_per_day'?"]),
    ('[cadence]\nrules = [\n  { match = "a", every = "1d" },\n'
     '  { match = "b", evrey = "2d" },\n]\n',
     ["4: cadence.rules[1].evrey: unknown key; did you mean 'every'?",
      " cadence.rules[1]: needs both 'match' and 'every'"]),
    # a quoted key with a dot would read as another path: no line rather than a wrong one
    ('[identity]\n"time.zone" = "UTC"\n',
     [" identity.time.zone: unknown key; did you mean 'timezone'?"]),
    # text that looks like a key inside a multi-line string is not taken for one
    ('[identity]\naddresses = ["me@example.com"]\ntimezone = "UTC"\n'
     '[filters]\nignore = ["""a\ncolour = 1\n"""]\ncolour = 2\n',
     ["8: filters.colour: unknown key; known: ignore, max_meeting_attendees, max_recipients"]),
])
def test_the_line_is_found_in_arrays_of_tables_dotted_keys_and_inline_tables(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str,
        problem: list[str]) -> None:
    assert keepwarm(tmp_path, capsys, toml) == (2, problem)


@pytest.mark.parametrize("toml, problem", [
    ('addresses = ["me@example.com"]\n', "1: addresses: unknown section; it belongs in [identity]"),
    ('[identity]\ntime = "09:00"\n', "2: identity.time: unknown key; it belongs in [reminders]"),
    # below an [[accounts]] header every key is that account's: the usual slip
    ('[[accounts]]\nname = "m"\ntype = "mbox"\npath = "m"\nmax_per_day = 3\n',
     "5: accounts[0].max_per_day: unknown key for type 'mbox'; it belongs in [reminders]"),
    # a key some account type takes is not sent to a table: it is a mistake of another kind
    ('[[accounts]]\nname = "m"\ntype = "imap"\nhost = "h.example"\nusername = "u"\n'
     'keyring = true\npath = "INBOX"\n',
     "7: accounts[0].path: unknown key for type 'imap'; known: address, folders, host, "
     "keyring, name, password_command, poll_interval, port, promises, received_folders, "
     "retries, timeout, tls, type, username"),
])
def test_a_key_written_under_the_wrong_table_is_told_where_it_belongs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, problem: str) -> None:
    assert keepwarm(tmp_path, capsys, toml) == (2, [problem])


def test_a_misspelt_account_type_gets_a_guess_and_the_known_types(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = keepwarm(tmp_path, capsys, '[[accounts]]\nname = "m"\ntype = "imaps"\n')
    assert (code, lines) == (2, [f" accounts[0].type: unknown account type 'imaps'; did you "
                                 f"mean 'imap'? known: {', '.join(registry.types())}"])


def test_a_toml_syntax_error_is_one_line_with_its_line_and_column(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = keepwarm(tmp_path, capsys, '[identity]\naddresses = ["me@example.com"\n')
    assert code == 2
    assert lines == ["4:1: not valid TOML: Unclosed array"]  # found where [store] begins


DURATION_KEYS = [  # the TOML, its key, the longest it may be
    ('[cadence]\ndefault = "{}"\n', "cadence.default", "10y"),
    ('[cadence]\nforget_after = "{}"\n', "cadence.forget_after", "10y"),
    ('[cadence]\nnew_relationship = ["14d", "{}"]\n', "cadence.new_relationship", "10y"),
    ('[[cadence.rules]]\nmatch = "*@x.example"\nevery = "{}"\n', "cadence.rules[0].every",
     "10y"),
    ('[reminders]\nduration = "{}"\n', "reminders.duration", "1d"),
    ('[reminders]\nhorizon = "{}"\n', "reminders.horizon", "10y"),
    ('[daemon]\nmax_backoff = "{}"\n', "daemon.max_backoff", "10y"),
    ('[[accounts]]\nname = "m"\ntype = "mbox"\npath = "m"\npoll_interval = "{}"\n',
     "accounts[0].poll_interval", "10y"),
]


@pytest.mark.parametrize("toml, key, longest", DURATION_KEYS)
@pytest.mark.parametrize("value, problem", [
    ("0d", "must be longer than zero, like {example}, not '0d'"),
    ("-3d", "must be longer than zero, like {example}, not '-3d'"),
    ("0", "must be longer than zero, like {example}, not '0'"),
    ("11y", "must be at most {longest}, not '11y'"),
    ("99999999999999999999y", "must be at most {longest}, not '99999999999999999999y'"),
    ("3 days", "'3 days' is not a duration like '30d', '2w', '15min' (units: s min h d w y)"),
])
def test_every_duration_must_be_longer_than_zero_and_not_absurdly_long(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, key: str, longest: str,
        value: str, problem: str) -> None:
    example = "'15min'" if longest == "1d" else "'30d'"  # an example this key would take
    assert keepwarm(tmp_path, capsys, toml.format(value)) == (
        2, [f" {key}: {problem.format(longest=longest, example=example)}"])


@pytest.mark.parametrize("toml, problem", [
    ('[reminders]\ntime = "25:00"\n',
     "reminders.time: '25:00' is not a time of day like '09:30' (00:00 to 23:59)"),
    ('[reminders]\nduration = "15d"\n', "reminders.duration: must be at most 1d, not '15d'"),
    ('[reminders]\ntime = "09:60"\n',
     "reminders.time: '09:60' is not a time of day like '09:30' (00:00 to 23:59)"),
    ('[reminders]\ntime = "09:30+02:00"\n',
     "reminders.time: '09:30+02:00' is not a time of day like '09:30' (00:00 to 23:59)"),
    ("[reminders]\nmax_per_day = 0\n", "reminders.max_per_day: must be at least 1, not 0"),
    ("[reminders]\nmax_per_day = -2\n", "reminders.max_per_day: must be at least 1, not -2"),
    ('[reminders]\nworking_days = ["mondy"]\n',
     "reminders.working_days: 'mondy' is not a day; days are mon, tue, wed, thu, fri, sat, "
     "sun (or in full: monday, ...)"),
    ('[reminders]\nworking_days = ["mo", 1]\n',
     "reminders.working_days: 'mo', 1 are not days; days are mon, tue, wed, thu, fri, sat, "
     "sun (or in full: monday, ...)"),
    ("[reminders]\nworking_days = []\n",
     "reminders.working_days: must name at least one day: mon, tue, wed, thu, fri, sat, sun "
     "(or in full: monday, ...)"),
    ('[identity]\naddresses = ["me@example.com", "Me <me@example.org>", "me"]\n',
     "identity.addresses: 'Me <me@example.org>' is not an e-mail address like "
     "'me@example.com'"),
    ('[[accounts]]\nname = "m"\ntype = "mbox"\npath = "m"\naddress = "me at example.com"\n',
     "accounts[0].address: 'me at example.com' is not an e-mail address like "
     "'me@example.com'"),
    ('identity = "me@example.com"\n',
     "identity: must be a table ([identity]), not a string 'me@example.com'"),
    ('[reminders]\ncalendar = "folowups"\n',
     "reminders.calendar: no account is named 'folowups'; did you mean 'followups'?"),
])
def test_a_value_out_of_range_is_one_line_naming_what_is_allowed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, problem: str) -> None:
    assert keepwarm(tmp_path, capsys, toml) == (2, [f" {problem}"])


def test_the_reminders_calendar_must_be_an_account_that_can_hold_reminders(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    writers = [t for t in registry.types() if registry.connector_class(t).writes_reminders]
    assert {"ics", "caldav", "gmail", "outlook"} <= set(writers)
    assert {"maildir", "mbox", "imap"}.isdisjoint(writers)
    assert keepwarm(tmp_path, capsys, '[reminders]\ncalendar = "sent"\n') == (2, [
        " reminders.calendar: account 'sent' is of type 'maildir', which cannot hold "
        f"reminders; name an account of type {', '.join(writers)}, or set calendar = \"\" "
        "for none"])


def test_an_account_with_problems_of_its_own_is_not_also_called_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = keepwarm(tmp_path, capsys, '[reminders]\ncalendar = "cal"\n'
                                             '[[accounts]]\nname = "cal"\ntype = "ics"\n')
    assert (code, lines) == (2, [" accounts[0].path: missing: required for type 'ics'; the "
                                 ".ics file ('~' is expanded)"])


def test_day_names_are_accepted_short_or_in_full_in_any_case(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[reminders]\nworking_days = ["Monday", "TUE", "friday"]\ntime = "7:05"\n'
                    + ACCOUNTS)
    settings = load(path).settings
    assert settings.working_days == {0, 1, 4}
    assert (settings.reminder_time.hour, settings.reminder_time.minute) == (7, 5)


ALL_AT_ONCE = """[identity]
adresses = ["me@example.com"]
[cadence]
default = "-30d"
forget_after = "0y"
[[cadence.rules]]
match = "*@x.example"
every = "11y"
[reminders]
calendar = "sent"
time = "25:00"
max_per_day = 0
working_days = ["monday", "someday"]
horizon = "0d"
[daemon]
max_backoff = "-1h"
[[accounts]]
name = "m"
type = "mbox"
path = "m"
poll_interval = "0min"
"""


def test_one_config_with_every_wrong_value_lists_them_all(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = keepwarm(tmp_path, capsys, ALL_AT_ONCE)
    assert code == 2
    assert lines[:-1] == [
        "2: identity.adresses: unknown key; did you mean 'addresses'?",
        " daemon.max_backoff: must be longer than zero, like '30d', not '-1h'",
        " accounts[0].poll_interval: must be longer than zero, like '30d', not '0min'",
        " cadence.default: must be longer than zero, like '30d', not '-30d'",
        " cadence.forget_after: must be longer than zero, like '30d', not '0y'",
        " cadence.rules[0].every: must be at most 10y, not '11y'",
        " reminders.time: '25:00' is not a time of day like '09:30' (00:00 to 23:59)",
        " reminders.max_per_day: must be at least 1, not 0",
        " reminders.working_days: 'someday' is not a day; days are mon, tue, wed, thu, fri, "
        "sat, sun (or in full: monday, ...)",
        " reminders.horizon: must be longer than zero, like '30d', not '0d'",
    ]
    assert lines[-1].startswith(" reminders.calendar: account 'sent' is of type 'maildir', "
                                "which cannot hold reminders; ")


BROKEN = '[reminders]\ntime = "25:00"\n[identity]\nadresses = []\n'


@pytest.mark.parametrize("command", [
    ["status"], ["lapsed"], ["contacts"], ["plan"], ["show", "bob@beta.example"], ["sync"],
    ["run"], ["service", "install"], ["auth", "sent"], ["cadence", "bob@beta.example", "7d"],
    ["snooze", "bob@beta.example", "2w"], ["lapsed", "--json"],
])
def test_every_command_that_reads_the_config_reports_it_the_same_way(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    assert keepwarm(tmp_path, capsys, BROKEN, *command) == (2, [
        "4: identity.adresses: unknown key; did you mean 'addresses'?",
        " reminders.time: '25:00' is not a time of day like '09:30' (00:00 to 23:59)"])
    assert not (tmp_path / "kw.db").exists()  # nothing was touched


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'[reminders]\nmax_per_day = 3\n' + ACCOUNTS.encode())
    assert load(path).settings.max_per_day == 3
