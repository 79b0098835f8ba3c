"""The gmail connector's sent mail and sign-in, with the real Google client library against
the fake Google server (tests.servers.google): only ``endpoint`` and ``client_secrets``
point elsewhere. Meetings and reminders are in tests/test_gcal.py."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httplib2
import pytest
from googleapiclient.errors import HttpError

from connectors import gmail, gmailquota
from connectors.gmail import GmailConnector
from connectors.gmailquota import QuotaBudget
from daemon import sync
from daemon.config import Config, parse
from daemon.errors import AuthError, TransientError
from daemon.model import AccountConfig, Batch, FetchContext, Mail, Meeting, Skipped
from daemon.store import Store
from tests.servers import faultplan, google
from tests.servers.google import User

REPO = Path(__file__).resolve().parent.parent
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime.now(UTC).replace(microsecond=0)
CTX = FetchContext(now=NOW, tz=BERLIN, window_start=NOW - timedelta(days=1095),
                   window_end=NOW + timedelta(days=14),
                   thread_window_start=NOW - timedelta(days=60))
AUTH = "https://www.googleapis.com/auth/"


def mail(n: int, minutes_ago: int | None = None, days_ago: int | None = None) -> bytes:
    when = NOW - timedelta(minutes=n if minutes_ago is None else minutes_ago,
                           days=days_ago or 0)
    return (f"From: Me <me@example.com>\nTo: Person {n} <p{n}@example.org>\n"
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
            f"Message-ID: <m{n}@example.com>\nSubject: hello {n}\n\nbody\n").encode()


def connector(account: AccountConfig, **tuning: int) -> GmailConnector:
    """The account's connector, retrying at once (0.01 s): the faults here are the server's
    own, the test need not wait for them. ``tuning``: smaller pages and batches."""
    return GmailConnector(account, backoff=0.01, **tuning)


def run(account: AccountConfig, cursor: Any = None, ctx: FetchContext = CTX, **tuning: int
        ) -> tuple[list[Batch], Any]:
    conn = connector(account, **tuning)
    batches = list(conn.fetch(cursor, ctx))
    return batches, json.loads(json.dumps(batches[-1].cursor))


def sent(batches: list[Batch]) -> list[Mail]:
    return [o for b in batches for o in b.observations if isinstance(o, Mail)]


def config(tmp_path: Path, user: User, expired: bool = False, **options: Any) -> Config:
    user.account(tmp_path, expired=expired, **options)  # client secrets and token file
    account = {"name": "google", "type": "gmail", "client_secrets": "google.client.json",
               "endpoint": user.server.url, "retries": 2, "timeout": 5,
               "quota_units_per_minute": 10**9, **options}
    return parse({"identity": {"addresses": ["me@example.com"], "timezone": "Europe/Berlin"},
                  "store": {"path": str(tmp_path / "kw.sqlite"), "state_dir": str(tmp_path)},
                  "accounts": [account]}, tmp_path / "config.toml")


# -- backfill ---------------------------------------------------------------------------
def test_backfill_is_newest_first_in_batches_never_one_request_per_message(
        google_user: User, tmp_path: Path) -> None:
    for n in range(130):
        google_user.add_mail(mail(n))
    batches, cursor = run(google_user.account(tmp_path, calendar=False, received=False),
                          page=40)
    assert [m.message_id for m in sent(batches)] == [f"m{n}@example.com" for n in range(130)]
    assert max(len(b.observations) for b in batches) <= 50
    assert google_user.count("messages.get") == 0
    assert google_user.count("batch:messages.get") == 130
    assert (google_user.count("batch"), google_user.count("messages.list")) == (4, 4)
    assert cursor["mail"]["phase"] == "incremental"
    # each batch says how much is left, for the progress bar's time remaining
    left = [b.remaining for b in batches if sent([b])]
    assert left == [90, 50, 10, 0]
    (m,) = [m for m in sent(batches) if m.message_id == "m3@example.com"]
    assert m.location.startswith("gmail:") and m.to[0].email == "p3@example.org"


def test_resuming_from_any_batch_reads_each_message_once(
        google_user: User, tmp_path: Path) -> None:
    for n in range(70):
        google_user.add_mail(mail(n))
    account = google_user.account(tmp_path, calendar=False)
    batches, _ = run(account, page=30, batch=15)
    for i, batch in enumerate(batches):
        before = {m.message_id for m in sent(batches[: i + 1])}
        reads = google_user.count("batch:messages.get")
        after, _ = run(account, batch.cursor, page=30, batch=15)
        assert before | {m.message_id for m in sent(after)} == {
            f"m{n}@example.com" for n in range(70)}
        assert google_user.count("batch:messages.get") - reads == 70 - len(before)


def test_a_page_token_gmail_no_longer_takes_costs_lists_not_rereads(
        google_user: User, tmp_path: Path) -> None:
    for n in range(70):
        google_user.add_mail(mail(n))
    account = google_user.account(tmp_path, calendar=False)
    batches, _ = run(account, page=30, batch=15)
    mid = next(i for i, b in enumerate(batches) if b.cursor["mail"].get("done") == 45)
    cursor = json.loads(json.dumps(batches[mid].cursor))
    assert cursor["mail"]["page_token"]  # in the second page
    cursor["mail"]["page_token"] = "expired"
    reads = google_user.count("batch:messages.get")
    rest, _ = run(account, cursor, page=30, batch=15)
    assert [m.message_id for m in sent(rest)] == [f"m{n}@example.com" for n in range(45, 70)]
    assert google_user.count("batch:messages.get") - reads == 25


def test_backfill_stops_at_the_window(google_user: User, tmp_path: Path) -> None:
    for n in range(200):
        google_user.add_mail(mail(n, minutes_ago=0, days_ago=n))
    ctx = FetchContext(now=NOW, tz=BERLIN, window_start=NOW - timedelta(days=30),
                       window_end=NOW + timedelta(days=14))
    batches, _ = run(google_user.account(tmp_path, calendar=False), ctx=ctx)
    assert google_user.count("batch:messages.get") == 100  # 50 in, then 50 wholly older
    assert len(sent(batches)) == 100


def test_malformed_and_vanished_messages_are_skipped_not_dropped(
        google_user: User, tmp_path: Path) -> None:
    gone = google_user.add_mail(mail(1))
    google_user.add_mail(mail(2))
    bad = google_user.add_mail(b"\x00\x01 no headers at all\n\n", NOW - timedelta(days=9))
    google_user.fault("messages.get", status=404, reason="notFound")  # the newest: m1
    batches, _ = run(google_user.account(tmp_path, calendar=False))
    assert [m.message_id for m in sent(batches)] == ["m2@example.com"]
    assert sorted((s.location, s.reason) for b in batches for s in b.observations
                  if isinstance(s, Skipped)) == sorted([
        (f"gmail:{gone}", "deleted before its headers were read"),
        (f"gmail:{bad}", "no header block")])


# -- incremental ------------------------------------------------------------------------
def test_incremental_reads_only_new_mail_and_an_idle_cycle_costs_two_requests(
        google_user: User, tmp_path: Path) -> None:
    for n in range(5):
        google_user.add_mail(mail(n))
    account = google_user.account(tmp_path)
    _, cursor = run(account)
    for n in range(5, 8):
        google_user.add_mail(mail(n))
    batches, cursor = run(account, cursor)
    assert [m.message_id for m in sent(batches)] == [f"m{n}@example.com" for n in (5, 6, 7)]
    before = list(google_user.calls)
    batches, _ = run(account, cursor)
    assert sent(batches) == []
    assert google_user.calls[len(before):] == ["events.list", "history.list"]


def test_expired_history_id_relists_without_duplicates_or_loops(
        google_user: User, tmp_path: Path) -> None:
    for n in range(30):
        google_user.add_mail(mail(n, minutes_ago=0, days_ago=n))
    cfg = config(tmp_path, google_user, calendar=False)
    store = Store(cfg.store_path)

    def pull() -> sync.AccountReport:
        account = cfg.accounts[0]
        return sync.pull(store, account, cfg.settings, NOW, conn=connector(account, batch=5))

    first = pull()
    assert (first.messages, first.touchpoints) == (30, 30)
    google_user.expire_history()
    google_user.add_mail(mail(30, minutes_ago=-5))
    reads = google_user.count("batch:messages.get")
    second = pull()
    assert (second.messages, second.touchpoints) == (1, 1)  # nothing counted twice
    # down to two days before the newest read before: two batches of 5, not all 31
    assert google_user.count("batch:messages.get") - reads == 10
    assert store.counts()["touchpoints"] == 31
    lists = google_user.count("messages.list")
    third = pull()
    assert third.messages == 0 and google_user.count("messages.list") == lists


# -- faults -------------------------------------------------------------------------------
FAULTS = {
    "429 Retry-After": {"status": 429, "retry_after": 0.05},
    "429": {"status": 429},
    "403 rateLimitExceeded": {"status": 403, "reason": "rateLimitExceeded"},
    "403 userRateLimitExceeded": {"status": 403, "reason": "userRateLimitExceeded"},
    "500": {"status": 500},
    "503": {"status": 503, "retry_after": 0.02},
    "slow": {"delay": 0.6},
    "dropped": {"drop": True, "times": 2},
}
CASES = ([("batch", f) for f in FAULTS] + [("messages.list", f) for f in FAULTS]
         + [("messages.get", f) for f in ("429", "403 rateLimitExceeded", "503", "slow")]
         + [(k, f) for k in ("history.list", "events.list", "profile")
            for f in ("429 Retry-After", "403 userRateLimitExceeded", "500", "slow", "dropped")])


def scenario(user: User, tmp_path: Path) -> list[Any]:
    """The same mail and meetings for every run; everything the connector read, by content."""
    for n in range(60):
        user.add_mail(mail(n))
    start = NOW.replace(minute=0, second=0) - timedelta(days=2)
    user.calendar().put({"iCalUID": "m1@example.com", "summary": "Review",
                         "start": {"dateTime": start.isoformat()},
                         "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
                         "attendees": [{"email": "x@example.org", "responseStatus": "accepted"}]})
    account = user.account(tmp_path, timeout=0.3)
    batches, cursor = run(account)
    user.add_mail(mail(60, minutes_ago=-1))
    more, cursor = run(account, cursor)
    got = [(m.message_id, m.date, m.to) for m in sent(batches + more)]
    meetings = [(m.meeting_id, m.start, m.attendees) for b in batches + more
                for m in b.observations if isinstance(m, Meeting)]
    return [sorted(got), meetings, cursor["mail"]["phase"], len(got)]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    return scenario(google.shared().add_user(), tmp_path_factory.mktemp("clean"))


@pytest.mark.parametrize(("kind", "fault"), CASES, ids=[f"{k}-{f}" for k, f in CASES])
def test_every_fault_ends_in_the_fault_free_state(
        google_user: User, tmp_path: Path, kind: str, fault: str, clean_run: list[Any]) -> None:
    google_user.fault(kind, **FAULTS[fault])
    assert scenario(google_user, tmp_path) == clean_run
    assert all(f.times == 0 for f in google_user.faults), "the fault was hit"
    assert google_user.answered_429 == 0


def test_batch_items_refused_are_sent_again_and_only_they(
        google_user: User, tmp_path: Path) -> None:
    for n in range(40):
        google_user.add_mail(mail(n))
    google_user.fault("messages.get", status=429, times=3)
    batches, _ = run(google_user.account(tmp_path, calendar=False, received=False))
    assert len(sent(batches)) == 40
    assert google_user.count("batch:messages.get") == 43
    assert google_user.count("batch") == 2


def test_retry_after_in_seconds_or_as_an_http_date_is_honoured(
        google_user: User, tmp_path: Path) -> None:
    """Google's Retry-After goes through the one parser (connectors.retry): both forms."""
    session = connector(google_user.account(tmp_path)).session

    def told(value: str) -> float | None:
        answer = httplib2.Response({"status": "429", "retry-after": value})
        error = session.translate(HttpError(answer, b"{}"), "reading mail")
        assert isinstance(error, TransientError)
        return error.retry_after

    assert told("7") == 7.0
    assert 28 <= (told(format_datetime(datetime.now(UTC) + timedelta(seconds=30),
                                       usegmt=True)) or 0) <= 30
    assert told(format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)) == 0
    assert told("soon") is None


def test_an_item_that_keeps_failing_fails_the_sync_and_is_read_next_time(
        google_user: User, tmp_path: Path) -> None:
    ids = [google_user.add_mail(mail(n)) for n in range(25)]
    account = google_user.account(tmp_path, calendar=False, retries=2)
    conn = connector(account, batch=10)
    got: list[Batch] = []
    with pytest.raises(TransientError, match=f"message {ids[12]} 3 times in a row"):
        for batch in conn.fetch(None, CTX):
            got.append(batch)
            if len(sent(got)) == 10:
                google_user.fault("messages.get", status=500, times=9, match=ids[12])
    assert len(sent(got)) == 10  # the batch holding the failing message was not stored
    google_user.faults.clear()
    rest, _ = run(account, got[-1].cursor)
    assert {m.message_id for m in sent(got + rest)} == {f"m{n}@example.com" for n in range(25)}


def test_the_batch_and_each_part_have_their_own_retries(google_user: User,
                                                       tmp_path: Path) -> None:
    """Every API call and every batch part fails twice, then works: no request fails more
    than ``retries`` (2) times in a row, so all is read, though a batch was refused many
    more times than that in all."""
    for n in range(30):
        google_user.add_mail(mail(n))
    google_user.plan = faultplan.FaultPlan(faultplan.GOOGLE, rate=1.0)
    batches, cursor = run(google_user.account(tmp_path, retries=2, received=False), batch=10)
    assert [m.message_id for m in sent(batches)] == [f"m{n}@example.com" for n in range(30)]
    assert cursor["mail"]["phase"] == "incremental"
    assert google_user.count("batch") == 3 * 3 * 3  # each POST twice refused; parts likewise
    for asked, waited, alone in google_user.plan.waits():  # a fault between may add its wait
        assert asked <= waited and (waited < asked + 0.5 or not alone), google_user.plan.waits()


# -- the quota ------------------------------------------------------------------------------
@pytest.mark.parametrize(("quota", "get_units"), [(6000, 20), (15000, 5)])
def test_budget_never_overspends_a_rolling_minute_and_keeps_near_the_ceiling(
        quota: int, get_units: int) -> None:
    """A simulated backfill: a list call per 500 messages, batches of gets in between."""
    clock = [0.0]
    budget = QuotaBudget(quota, clock=lambda: clock[0],
                         sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    size = gmailquota.batch_size(quota, get_units)
    assert (size, quota % (size * get_units)) == {6000: (49, 120), 15000: (49, 55)}[quota]
    spent: list[tuple[float, int]] = []
    messages = 0
    while clock[0] < 900:
        units = size * get_units
        if messages % 500 < size:
            with budget.spend(5):
                clock[0] += 0.2
            spent.append((clock[0], 5))
        with budget.spend(units):
            clock[0] += 0.4  # the request takes a while
        spent.append((clock[0], units))
        messages += size
    for t, _ in spent:
        assert sum(u for s, u in spent if t - 60 < s <= t) <= quota
    ceiling = quota / 60 / get_units
    assert messages / clock[0] >= 0.95 * ceiling


def test_a_quota_enforcing_server_never_answers_429(google_user: User, tmp_path: Path) -> None:
    google_user.quota, google_user.get_units = 120_000, 20  # 100 messages/s
    for n in range(120):
        google_user.add_mail(mail(n))
    account = google_user.account(tmp_path, calendar=False, quota_units_per_minute=120_000)
    batches, _ = run(account)
    assert len(sent(batches)) == 120 and google_user.answered_429 == 0


# -- sign-in --------------------------------------------------------------------------------
def test_an_expired_access_token_is_refreshed_silently_and_kept(
        google_user: User, tmp_path: Path) -> None:
    google_user.add_mail(mail(1))
    account = google_user.account(tmp_path, expired=True)
    token_file = tmp_path / "google.google-token.json"
    old = json.loads(token_file.read_text())["token"]
    batches, cursor = run(account)
    assert len(sent(batches)) == 1 and google_user.refreshes == 1
    saved = json.loads(token_file.read_text())
    assert saved["token"] != old and saved["refresh_token"]
    assert saved["token_uri"] == google_user.server.url + "token"  # client_secrets' own
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    google_user.server.access.pop(saved["token"])  # revoked server-side: a 401, then refresh
    run(account, cursor)
    assert google_user.refreshes == 2


def test_a_revoked_sign_in_needs_sign_in_and_other_accounts_go_on(
        google_user: User, tmp_path: Path) -> None:
    cfg = config(tmp_path, google_user, expired=True)
    info = json.loads((tmp_path / "google.google-token.json").read_text())
    google_user.revoked.add(info["refresh_token"])
    with pytest.raises(AuthError) as caught:
        run(cfg.accounts[0])
    message = str(caught.value)
    assert message == "Google refused the saved sign-in of google; run `keepwarm auth google`"
    assert info["refresh_token"] not in message and info["client_secret"] not in message
    (tmp_path / "Sent" / "cur").mkdir(parents=True)
    (tmp_path / "Sent" / "cur" / "1.m").write_bytes(mail(9))
    both = parse({"store": {"path": str(tmp_path / "kw.sqlite"), "state_dir": str(tmp_path)},
                  "accounts": [{"name": "google", "type": "gmail",
                                "client_secrets": "google.client.json",
                                "endpoint": google_user.server.url},
                               {"name": "disk", "type": "maildir", "path": "Sent"}]},
                 tmp_path / "config.toml")
    reports = sync.pull_all(both, Store(both.store_path), NOW)
    assert [(r.name, r.needs_signin, r.messages) for r in reports] == [
        ("google", True, 0), ("disk", False, 1)]


def test_missing_sign_in_or_missing_permission_says_what_to_run(
        google_user: User, tmp_path: Path) -> None:
    account = google_user.account(tmp_path, scopes=[AUTH + "gmail.metadata"])
    with pytest.raises(AuthError, match=r"now needs more permissions \(calendar.events.readonly"):
        run(account)
    (tmp_path / "google.google-token.json").unlink()
    with pytest.raises(AuthError, match="has not signed in to Google yet; run `keepwarm auth"):
        run(account)


def test_scopes_are_the_least_the_config_needs() -> None:
    def scopes(holds: bool = False, **options: Any) -> list[str]:
        full = GmailConnector.with_defaults(options)
        return [s.removeprefix(AUTH) for s in gmail.scopes_for(full, holds)]

    assert scopes(calendar=False) == ["gmail.metadata"]
    assert scopes() == ["calendar.events.readonly", "gmail.metadata"]
    assert scopes(True) == ["calendar.app.created", "calendar.calendarlist.readonly",
                            "calendar.events.readonly", "gmail.metadata"]
    assert scopes(True, mail=False, calendar=False, reminders_calendar="primary") == [
        "calendar.events"]
    assert scopes(True, calendars=["Team"], reminders_calendar="Work") == [
        "calendar.calendarlist.readonly", "calendar.events", "gmail.metadata"]


def _auth_config(user: User, tmp_path: Path) -> Path:
    user.client_secrets(tmp_path / "client.json")
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "kw.sqlite"\nstate_dir = "state"\n'
                    f'[reminders]\ncalendar = "g"\n'
                    f'[[accounts]]\nname = "g"\ntype = "gmail"\nclient_secrets = "client.json"\n'
                    f'endpoint = "{user.server.url}"\n')
    return path


def test_sign_in_end_to_end_through_the_browser(google_user: User, tmp_path: Path) -> None:
    path = _auth_config(google_user, tmp_path)
    browser = tmp_path / "browser"
    script = REPO / "tests" / "servers" / "google_browser.py"
    browser.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser), "OAUTHLIB_INSECURE_TRANSPORT": "1"}
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(path), "auth",
                           "g"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Signed in to g." in done.stdout and "code_challenge=" in done.stdout
    token = tmp_path / "state" / "g.google-token.json"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert sorted(s.removeprefix(AUTH) for s in json.loads(token.read_text())["scopes"]) == [
        "calendar.app.created", "calendar.calendarlist.readonly", "calendar.events.readonly",
        "gmail.metadata"]
    google_user.add_mail(mail(1))
    account = parse({"store": {"state_dir": str(tmp_path / "state")}, "reminders": {
        "calendar": "g"}, "accounts": [{"name": "g", "type": "gmail", "client_secrets":
                                        "client.json", "endpoint": google_user.server.url}]},
        path).accounts[0]
    assert [m.message_id for m in sent(run(account)[0])] == ["m1@example.com"]


def test_sign_in_without_a_browser_prints_the_address(google_user: User,
                                                      tmp_path: Path) -> None:
    path = _auth_config(google_user, tmp_path)
    env = {**os.environ, "OAUTHLIB_INSECURE_TRANSPORT": "1"}
    env.pop("BROWSER", None)
    proc = subprocess.Popen([sys.executable, "-m", "daemon.cli", "--config", str(path), "auth",
                             "g", "--no-browser"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(google_user.server.url + "o/oauth2/auth"):
            with urllib.request.urlopen(line.strip(), timeout=30) as answer:
                assert b"keepwarm is signed in" in answer.read()
            break
    assert proc.wait(timeout=30) == 0
    assert (tmp_path / "state" / "g.google-token.json").exists()
    assert google_user.count("consent") == 1
