"""The [followup] table and the follow-up steps of cadence rules: defaults, values checked
like every other duration, one line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon import sync
from daemon.config import load
from daemon.errors import ConfigError
from daemon.model import CadenceRule

ROOT = Path(__file__).resolve().parent.parent


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load(path)
    return [p.removeprefix(f"{path}: ").removeprefix(f"{path}:6: ")
            for p in exc.value.problems]


def test_defaults_and_the_starter_say_the_same(tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    for cfg in (load(tmp_path / "empty.toml"), load(ROOT / "config.example.toml")):
        s = cfg.settings
        assert (s.followup_after, s.followup_window_days, s.followup_max_recipients,
                s.followup_replies) == ((3, 7, 14), 60, 3, True)
    text = (ROOT / "config.example.toml").read_text()
    assert "[followup]" in text and 'after = ["3d", "7d", "14d"]' in text


def test_values_and_rules(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("""
[followup]
after = ["2d", "1w"]
window = "30d"
max_recipients = 5
replies = false
[[cadence.rules]]
match = "tag:prospect"
followup = ["2d", "5d", "10d", "20d"]
[[cadence.rules]]
match = "vendor.example"
every = "180d"
followup = []
[[cadence.rules]]
match = "*@bigclient.example"
every = "30d"
""")
    s = load(path).settings
    assert (s.followup_after, s.followup_window_days, s.followup_max_recipients,
            s.followup_replies) == ((2, 7), 30, 5, False)
    assert s.rules == (CadenceRule("tag:prospect", None, (2, 5, 10, 20)),
                       CadenceRule("vendor.example", 180, ()),
                       CadenceRule("*@bigclient.example", 30, None))


def test_every_wrong_value_is_one_line(tmp_path: Path) -> None:
    assert problems(tmp_path, """
[followup]
after = ["3d", "soon"]
window = "0d"
max_recipients = 0
colour = "red"
[[cadence.rules]]
match = "x.example"
followup = "3d"
[[cadence.rules]]
followup = ["2d"]
""") == [
        "followup.colour: unknown key; known: after, max_recipients, replies, window",
        "cadence.rules[0].followup: must be an array, not a string '3d'",
        "cadence.rules[1]: needs 'match'",
        "followup.after: 'soon' is not a duration like '30d', '2w', '15min' (units: s min h d "
        "w y)",
        "followup.window: must be longer than zero, like '30d', not '0d'",
        "followup.max_recipients: must be at least 1, not 0",
    ]


@pytest.mark.parametrize(("account", "reads"), [
    ('type = "maildir"\npath = "Sent"', False),
    ('type = "maildir"\npath = "Sent"\nreceived = ["Inbox"]', True),
    ('type = "mbox"\npath = "Sent"\nreceived = []', False),
    ('type = "imap"\nhost = "h"\nusername = "u"\npassword_command = "pass x"', True),
    ('type = "imap"\nhost = "h"\nusername = "u"\npassword_command = "pass x"\n'
     'received_folders = []', False),
    ('type = "gmail"\nclient_secrets = "c.json"', True),
    ('type = "gmail"\nclient_secrets = "c.json"\nreceived = false', False),
    ('type = "outlook"\nclient_id = "c"\nmail = false', False),
])
def test_which_accounts_read_received_mail(tmp_path: Path, account: str, reads: bool) -> None:
    """Follow-ups are off without a reader of received mail: each type says whether its
    options (defaults included: an imap account reads INBOX unless told not to) read it."""
    path = tmp_path / "config.toml"
    path.write_text(f'[[accounts]]\nname = "a"\n{account}\n')
    (acc,) = load(path).accounts
    assert sync.reads_received(acc) is reads
