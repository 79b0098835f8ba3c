"""`keepwarm export` and `keepwarm import` (issue 17), through ``daemon.cli.main`` with a
temp config (in-memory mail, a real ``.vcf`` address book), and the pure parts directly:
CSV that Python's csv module reads back, vCard that keepwarm's own reader reads back, the
JSON's keys, an export -> import round trip on a fresh store, and every refusal in one line;
postal addresses read from vCard 3.0 and 4.0 ADRs."""

from __future__ import annotations

import csv
import io
import itertools
import json
import stat
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors import gpeople, outlookcontacts, vcard
from connectors.memory import MemoryConnector, MemoryData
from daemon import export, exportread, steering, sync
from daemon.cli import main
from daemon.config import load
from daemon.model import (
    Address,
    ContactFacts,
    Mail,
    Note,
    PartialDate,
    Referral,
    Status,
    Steering,
)
from tests import test_gpeople as gpeople_tests
from tests import test_outlook_contacts as outlook_tests
from tests.servers.google import User
from tests.servers.microsoft import MicrosoftServer

ME = "me@work.example"
NOW = datetime.combine(datetime.now(UTC).date(), time(12), tzinfo=UTC)
_keys = itertools.count()
JANE = Address("jane@acme.example", 'Doe, Jane "JD" Müller')
BOB = Address("bob@acme.example", "Bob Baker")
ZOE = Address("zoe@acme.example", "Zoë Zhang")
SPAM = Address("pest@acme.example", "Pest")
CARDS = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Doe\\, Jane \"JD\" Müller\r\nEMAIL:jane@acme.example\r\n"
    "CATEGORIES:Clients\r\nBDAY:1986-04-12\r\n"
    "ADR;TYPE=work:;;1 Work Road;Worktown;;111;\r\n"
    "ADR;TYPE=home:;;12 Elm Street\\, Rear;Springfield;IL;62704;USA\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Zoë Zhang\r\nEMAIL:zoe@acme.example\r\n"
    "BDAY:--0229\r\nEND:VCARD\r\n")


class Home:
    """A config with in-memory mail and a ``.vcf`` address book; its own store."""

    def __init__(self, root: Path, cards: str = CARDS) -> None:
        root.mkdir(parents=True, exist_ok=True)
        n = next(_keys)
        self.mail = MemoryConnector.DATA.setdefault(f"e17-mail-{n}", MemoryData())
        (root / "cards.vcf").write_text(cards, encoding="utf-8")
        self.root, self.config = root, root / "config.toml"
        self.config.write_text(f"""
[identity]
addresses = ["{ME}"]
timezone = "UTC"
[store]
path = "{root / 'kw.db'}"
[[accounts]]
name = "mail"
type = "memory"
key = "e17-mail-{n}"
[[accounts]]
name = "book"
type = "vcf"
path = "{root / 'cards.vcf'}"
""")

    def send(self, mid: str, days: float, *to: Address) -> None:
        self.mail.mail.append(Mail(mid, NOW - timedelta(days=days), Address(ME, "Me"), to=to,
                                   subject="Hello"))

    def run(self, capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
        capsys.readouterr()
        assert main(["--config", str(self.config), *args]) == code
        got = capsys.readouterr()
        return got.out if code == 0 else got.err

    def sync(self) -> None:
        cfg = load(self.config)
        store = steering.open_store(cfg.store_path)
        try:
            assert sync.sync(cfg, store, NOW).ok
        finally:
            store.close()

    def steering(self) -> Steering:
        store = steering.open_store(load(self.config).store_path)
        try:
            return store.steering()
        finally:
            store.close()

    def set_steering(self, wanted: Steering) -> None:
        store = steering.open_store(load(self.config).store_path)
        try:
            store.apply_steering(wanted)
            steering.save(store)
        finally:
            store.close()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    h = Home(tmp_path / "home")
    for i in range(3):
        h.send(f"j{i}", 30 + i, JANE)
        h.send(f"z{i}", 10 + i, ZOE)
        h.send(f"p{i}", 5 + i, SPAM)
    h.send("b0", 3, BOB)  # one touchpoint: not tracked
    h.sync()
    return h


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# -- CSV -----------------------------------------------------------------------------------------
def test_csv_has_a_header_and_reads_back_with_commas_quotes_and_non_ascii_intact(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    assert home.run(capsys, "ignore", "pest@acme.example").startswith("pest@acme.example")
    text = home.run(capsys, "export")  # csv by default
    assert text.startswith(",".join(export.COLUMNS) + "\r\n")
    assert text.endswith("\r\n")
    rows = {r["email"]: r for r in csv_rows(text)}
    assert set(rows) == {JANE.email, ZOE.email, BOB.email}  # the ignored one is left out
    jane = rows[JANE.email]
    assert jane["name"] == 'Doe, Jane "JD" Müller'
    assert jane["postal"] == "12 Elm Street, Rear\nSpringfield IL 62704\nUSA"
    assert (jane["birthday"], jane["tags"], jane["touchpoints"]) == (
        "1986-04-12", "group:Clients", "3")
    assert rows[ZOE.email]["birthday"] == "--02-29" and rows[ZOE.email]["name"] == "Zoë Zhang"
    assert rows[BOB.email]["postal"] == ""


@given(st.lists(st.text(min_size=1), min_size=1, max_size=5))
def test_any_name_survives_csv(names: list[str]) -> None:
    rows = [replace(ROW, name=n, email=f"p{i}@x.example", postal=n)
            for i, n in enumerate(names)]
    back = csv_rows(export.to_csv(rows))
    # the csv module reads a lone CR inside a quoted field as it was written
    assert [(r["name"], r["postal"]) for r in back] == [(n, n) for n in names]


def test_tracked_leaves_out_the_contacts_keepwarm_does_not_follow(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    everyone = {r["email"] for r in csv_rows(home.run(capsys, "export"))}
    tracked = {r["email"] for r in csv_rows(home.run(capsys, "export", "--tracked"))}
    assert BOB.email in everyone and tracked == everyone - {BOB.email}


# -- vCard ---------------------------------------------------------------------------------------
def test_vcard_is_read_back_by_keepwarms_own_reader(
        home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.run(capsys, "tag", "zoe@acme.example", "golf,club", "vip")
    home.run(capsys, "merge", "zoe@acme.example", "zoe@home.example", "--force")
    home.sync()
    text = home.run(capsys, "export", "--format", "vcf")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    cards = {c.emails[0]: c for c in vcard.parse(text.encode(), "export.vcf").cards}
    assert set(cards) == {JANE.email, ZOE.email, BOB.email, SPAM.email}
    jane, zoe = cards[JANE.email], cards[ZOE.email]
    assert (jane.name, jane.birthday, jane.groups) == (
        'Doe, Jane "JD" Müller', PartialDate(4, 12, 1986), ("Clients",))
    assert jane.postal == "12 Elm Street, Rear\nSpringfield IL 62704\nUSA"
    assert (zoe.name, zoe.birthday, set(zoe.groups)) == (
        "Zoë Zhang", PartialDate(2, 29), {"golf,club", "vip"})
    assert zoe.emails == (ZOE.email, "zoe@home.example")


def test_a_long_line_folds_between_characters() -> None:
    line = "FN:" + "é" * 60
    folded = export.fold(line)
    assert all(len(p.encode()) <= 75 for p in folded.split("\r\n"))
    assert folded.replace("\r\n ", "").removesuffix("\r\n") == line


# -- JSON ----------------------------------------------------------------------------------------
def test_json_keys(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.run(capsys, "ignore", "pest@acme.example")
    doc = json.loads(home.run(capsys, "export", "--format", "json"))
    assert set(doc) == {"format", "format_version", "exported", "contacts", "steering"}
    assert (doc["format"], doc["format_version"]) == ("keepwarm-export", 1)
    assert datetime.fromisoformat(doc["exported"]).tzinfo is not None
    assert set(doc["steering"]) >= {"contacts", "dismissed", "done", "promised", "notes",
                                    "referrals"}
    people = {c["email"]: c for c in doc["contacts"]}
    assert set(people[JANE.email]) == {*export.COLUMNS, "tracked", "ignored"}
    assert people[SPAM.email]["ignored"] is True  # JSON keeps everyone
    assert people[BOB.email]["postal"] is None and people[BOB.email]["birthday"] is None
    assert people[JANE.email]["interval_source"] in {"set", "rule", "new_relationship",
                                                     "default", "learned"}


def test_the_format_follows_the_suffix_of_out_and_the_file_is_private(
        home: Home, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "all.json"
    said = home.run(capsys, "export", "--out", str(out))
    assert said.startswith("Wrote 4 contacts to ") and "(json)" in said
    assert json.loads(out.read_text(encoding="utf-8"))["format"] == "keepwarm-export"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    err = home.run(capsys, "export", "--out", str(tmp_path / "no" / "x.csv"), code=2)
    assert err.count("\n") == 1 and "does not exist" in err


# -- import --------------------------------------------------------------------------------------
def steer(h: Home, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (("cadence", "jane@acme.example", "21d"), ("tag", "zoe@acme.example", "vip"),
                 ("snooze", "bob@acme.example", "2w"), ("ignore", "pest@acme.example"),
                 ("merge", "zoe@acme.example", "zoe@home.example", "--force"),
                 ("remind", "bob@acme.example", "3d", "send", "the", "deck")):
        h.run(capsys, *args)


def test_export_then_import_on_a_fresh_store_gives_the_same_steering(
        home: Home, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    steer(home, capsys)
    before = home.steering()
    assert before.contacts and before.promises
    out = tmp_path / "backup.json"
    home.run(capsys, "export", "--format", "json", "--out", str(out))
    fresh = Home(tmp_path / "fresh")
    said = fresh.run(capsys, "import", str(out))
    assert said.startswith("Restored 1 cadence, 1 tag, 1 snooze, 1 ignore, 1 merge, "
                           "1 promise from ")
    assert fresh.steering() == before
    # the steering file has it too: a store lost after the import loses none of it
    (tmp_path / "fresh" / "kw.db").unlink()
    assert fresh.steering() == before


NOTES = (Note("jane@acme.example", datetime(2026, 3, 1, 9, 30, tzinfo=UTC), "two kids, golf"),
         Note("jane@acme.example", datetime(2026, 3, 2, 8, 0, tzinfo=UTC), "moved to Lyon"))
REFERRALS = (Referral("bob@acme.example", "zoe@acme.example", date(2026, 2, 20)),
             Referral("bob@acme.example", "jane@acme.example", date(2026, 2, 21), thank=False))


def test_notes_and_referrals_survive_an_export_and_an_import(
        home: Home, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Needs the store to keep notes and referrals (``apply_steering``/``steering``, part of
    another change of issue 17)."""
    home.set_steering(replace(home.steering(), notes=NOTES, referrals=REFERRALS))
    out = tmp_path / "backup.json"
    home.run(capsys, "export", "--out", str(out))
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert {c["email"]: c["notes"] for c in doc["contacts"]}[JANE.email] == 2
    fresh = Home(tmp_path / "fresh")
    fresh.run(capsys, "import", str(out))
    got = fresh.steering()
    assert (got.notes, got.referrals) == (NOTES, REFERRALS)


def test_import_merges_into_what_is_there_and_says_whose_settings_it_replaced(
        home: Home, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home.run(capsys, "cadence", "jane@acme.example", "21d")
    out = tmp_path / "backup.json"
    home.run(capsys, "export", "--out", str(out))
    home.run(capsys, "cadence", "jane@acme.example", "60d")
    home.run(capsys, "tag", "bob@acme.example", "golf")
    said = home.run(capsys, "import", str(out))
    assert "replaced what was here for 1 contact: jane@acme.example" in said
    got = home.steering().contacts
    assert (got["jane@acme.example"].cadence_days, got["bob@acme.example"].tags) == (
        21, frozenset({"golf"}))


def test_import_reads_stdin(home: Home, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {"format": "keepwarm-export", "format_version": 1, "steering": {"contacts": [
        {"contact": "Ann@Example.org", "cadence_days": 10, "tags": ["Golf"]}]}}
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(json.dumps(doc).encode())))
    assert "Restored 1 cadence, 1 tag from stdin" in home.run(capsys, "import", "-")
    ann = home.steering().contacts["ann@example.org"]
    assert (ann.cadence_days, ann.tags) == (10, frozenset({"golf"}))


@pytest.mark.parametrize(("content", "says"), [
    ("{not json", "is not JSON (Expecting property name"),
    ('{"format": "vdirsyncer"}', "is not a keepwarm export"),
    ("[1, 2]", "is not a keepwarm export"),
    ('{"format": "keepwarm-export", "format_version": 2}', "of format_version 2; this "
     "keepwarm reads version 1"),
    ('{"format": "keepwarm-export", "format_version": "1"}', 'format_version "1"'),
    ('{"format": "keepwarm-export", "format_version": 1, "steering": {"contacts": '
     '[{"contact": "a@b.example", "cadence_days": "30d"}]}}',
     'steering.contacts[0].cadence_days: must be a whole number of days above 0, or null, '
     'not "30d"'),
    ('{"format": "keepwarm-export", "format_version": 1, "steering": {"notes": '
     '[{"email": "a@b.example", "text": "hi"}]}}', "steering.notes[0].made: missing"),
    ('{"format": "keepwarm-export", "format_version": 1, "steering": {"contacts": '
     '[{"contact": " ", "ignored": true}]}}', "steering.contacts[0].contact: must be an "
     "address"),
    ('{"format": "keepwarm-export", "format_version": 1, "steering": {"referrals": '
     '{"source": "a@b.example"}}}', "steering.referrals: must be a list"),
])
def test_a_file_that_is_no_export_is_refused_in_one_line(
        home: Home, capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str,
        says: str) -> None:
    before = home.steering()
    path = tmp_path / "in.json"
    path.write_text(content, encoding="utf-8")
    err = home.run(capsys, "import", str(path), code=2)
    assert err.count("\n") == 1 and says in err and str(path) in err
    assert home.steering() == before


def test_a_missing_file_is_refused_in_one_line(home: Home, capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    err = home.run(capsys, "import", str(tmp_path / "nope.json"), code=2)
    assert err.count("\n") == 1 and "cannot read" in err and "No such file" in err


def test_merge_keeps_both_and_the_import_wins() -> None:
    here = Steering(notes=NOTES[:1], referrals=REFERRALS[:1])
    new = Steering(notes=NOTES[1:], referrals=(replace(REFERRALS[0], thank=False),))
    got = exportread.merge(here, new)
    assert got.notes == NOTES and got.referrals == new.referrals
    assert exportread.summary(new) == "1 note, 1 referral"


# -- postal addresses from vCards ------------------------------------------------------------
def postal(card: str) -> str:
    [c] = vcard.parse(f"BEGIN:VCARD\r\n{card}FN:X\r\nEND:VCARD\r\n".encode(), "t").cards
    return c.postal


@pytest.mark.parametrize(("card", "want"), [
    ("VERSION:3.0\r\nADR:;;1 Main St;Town;;12345;\r\n", "1 Main St\nTown 12345"),
    ("VERSION:3.0\r\nADR;TYPE=work:;;1 Work;A;;;\r\nADR;TYPE=HOME:;;2 Home;B;;;\r\n",
     "2 Home\nB"),
    ("VERSION:3.0\r\nADR;TYPE=home:;;2 Home;B;;;\r\nADR;TYPE=work,pref:;;1 Work;A;;;\r\n",
     "1 Work\nA"),
    ("VERSION:2.1\r\nADR;HOME:;;2 Home;B;;;\r\n", "2 Home\nB"),
    ("VERSION:4.0\r\nADR;TYPE=home:;;2 Home;B;;;\r\nADR;PREF=1:;;1 Pref;A;;;\r\n",
     "1 Pref\nA"),
    ("VERSION:4.0\r\nADR;PREF=2:;;2 Two;B;;;\r\nADR;PREF=1:;;1 One;A;;;\r\n", "1 One\nA"),
    ('VERSION:4.0\r\nADR;LABEL="Flat 2^n10 Rue de la Paix, Paris^nFrance":;;10 Rue de la '
     "Paix;Paris;;75002;France\r\n", "Flat 2\n10 Rue de la Paix, Paris\nFrance"),
    ("VERSION:4.0\r\nADR:PO Box 7;Suite 3;Line one\\nLine two,Line three;Town;CA;9;US\r\n",
     "PO Box 7\nSuite 3\nLine one\nLine two\nLine three\nTown CA 9\nUS"),
    ("VERSION:3.0\r\nADR:;;;;;;\r\n", ""),
    ("VERSION:3.0\r\n", ""),
])
def test_adr_becomes_the_postal_lines(card: str, want: str) -> None:
    assert postal(card) == want


ROW = export.Row("Ann", "ann@x.example", ("ann@x.example",), (), 30, "default",
                 date(2026, 1, 1), date(2026, 2, 1), 3, 0, 40, None, "", True, False)


def test_rows_count_a_contacts_notes_over_its_addresses() -> None:
    facts = ContactFacts("ann@x.example", ("ann@x.example", "ann@y.example"), "Ann", 3, 0,
                         NOW, "email")
    status = Status(facts, False, "too few", 30, "default", NOW.date(), NOW.date(), -3)
    notes = [Note("ann@y.example", NOW, "a"), Note("ann@x.example", NOW, "b"),
             Note("bob@x.example", NOW, "c")]
    [row] = export.rows([status], notes)
    assert row.notes == 2 and export.rows([status], notes, tracked_only=True) == []


def test_vcard_escapes_and_labels_the_address() -> None:
    text = export.to_vcard([replace(ROW, name="A, B; C", postal='1 "Q" St\nTown')])
    assert "FN:A\\, B\\; C\r\n" in text
    assert 'ADR;LABEL="1 ^\'Q^\' St^nTown":;;1 "Q" St\\nTown;;;;\r\n' in text.replace(
        "\r\n ", "")


# -- postal addresses from Google and Outlook -------------------------------------------------
def test_google_gives_the_primary_else_the_home_address_and_an_old_cursor_lists_again(
        google_user: User, tmp_path: Path) -> None:
    work = {"type": "work", "formattedValue": "1 Work St\nWorktown"}
    home = {"type": "home", "formattedValue": "2 Home Rd\nVillage\nUK"}
    with google_user.server.lock:
        ann = google_user.contacts.put({"names": [{"displayName": "Ann"}],
                                        "addresses": [work, home]})
        cy = google_user.contacts.put({"names": [{"displayName": "Cy"}], "addresses": [
            work, {**home, "metadata": {"primary": False}},
            {"streetAddress": "3 Pref Way", "city": "Town", "postalCode": "9",
             "metadata": {"primary": True}}]})
    acc = gpeople_tests.account(google_user, tmp_path)
    batches, cursor = gpeople_tests.read(acc)
    got = gpeople_tests.cards(batches)
    assert (got[ann].postal, got[cy].postal) == ("2 Home Rd\nVillage\nUK", "3 Pref Way\nTown 9")
    assert cursor["fields"] == gpeople.FIELDS and "addresses" in gpeople.FIELDS
    assert gpeople_tests.read(acc, cursor)[0][-1].full is False
    # a cursor from a release that asked for fewer fields: one full listing
    again, _ = gpeople_tests.read(acc, {k: v for k, v in cursor.items() if k != "fields"})
    assert again[-1].full and gpeople_tests.cards(again)[ann].postal


def test_outlook_gives_the_home_else_the_business_address(
        microsoft: MicrosoftServer, tmp_path: Path) -> None:
    business = {"street": "1 Work St\nFloor 3", "city": "Bonn", "postalCode": "53111",
                "countryOrRegion": "Germany"}
    assert outlookcontacts.postal({"businessAddress": business, "homeAddress": {}}) == (
        "1 Work St\nFloor 3\nBonn 53111\nGermany")
    assert outlookcontacts.postal({"homeAddress": {"city": "Paris"},
                                   "businessAddress": business}) == "Paris"
    assert outlookcontacts.postal({"otherAddress": None}) == ""
    acct = outlook_tests.account(microsoft, tmp_path)
    microsoft.book.add(**outlook_tests.person("Jane", "jane@x.org", businessAddress=business))
    batches, cursor = outlook_tests.fetch(acct)
    assert [c.postal for b in batches for c in b.cards] == [
        "1 Work St\nFloor 3\nBonn 53111\nGermany"]
    # a cursor whose delta links were made for fewer fields: one full listing
    again, _ = outlook_tests.fetch(acct, {k: v for k, v in cursor.items() if k != "select"})
    assert again[-1].full and [c.postal for b in again for c in b.cards] == [
        "1 Work St\nFloor 3\nBonn 53111\nGermany"]
