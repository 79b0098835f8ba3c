"""SIGKILL `keepwarm run` at 30 random moments while it backfills a few thousand messages from
a real Dovecot and writes reminders into a real Radicale, restarting it each time: once it has
finished, the store and the calendar must equal those of one uninterrupted `keepwarm sync`.

Why the fixed-offset time zone: "today" decides every due date and every reminder's day, so a
local midnight between the reference run and the crashed one would rightly change them. The
test's zone is one where it is about noon when the test starts.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import icalendar

from connectors.base import KEEPWARM_PROPERTY
from daemon import planner, reminders, sync
from daemon.config import load
from daemon.model import ReminderId
from daemon.store import Store
from tests.servers.dovecot import Dovecot
from tests.servers.radicale import User, shared

ROOT = Path(__file__).resolve().parent.parent
ENV = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM")}
ENV["PYTHONPATH"] = str(ROOT)
PEOPLE = 300
KILLS = 30
WAVE_GAP = 3  # runs between two waves of late mail
# the first late mail arrives by this run even if the reminders are unwritten: late enough for
# the reminders to be written first on a loaded machine (22 runs), early enough for all three
# waves to arrive before the last run (22, 25, 28)
LAST_WAVE = KILLS - 2 * WAVE_GAP - 2
REMINDERS = "keepwarm"  # the caldav connector's default reminders calendar name
# What the store holds, table by table: no column that records when keepwarm did something,
# no cursor (it names server-specific UIDVALIDITYs and URLs).
TABLES = {
    "messages": "SELECT * FROM messages",
    "meetings": "SELECT * FROM meetings",
    "participants": "SELECT * FROM participants",
    "aliases": "SELECT email FROM aliases",
    "addresses": "SELECT * FROM addresses",
    "contacts": "SELECT * FROM contacts",
    "skipped": "SELECT account, location, reason FROM skipped",
    "dismissals": "SELECT * FROM dismissals",
}


def zone_at_noon(now: datetime) -> str:
    """A fixed-offset zone (Etc/GMT-5 is UTC+5) where it is 12:00-12:59 at ``now``."""
    offset = 12 - now.astimezone(UTC).hour
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


ARCHIVES = tuple(f"Archive {n}" for n in range(1, 8))  # one per 90 days beyond Sent's


@dataclass
class Mail:
    """folder -> raw messages, oldest first, plus three waves of late mail for Sent."""

    folders: dict[str, list[bytes]]
    waves: list[list[bytes]]

    def unique(self, waves: int) -> int:
        """Distinct Message-IDs: what the store holds once it has read the folders and the
        first ``waves`` waves."""
        raws = [r for f in self.folders.values() for r in f]
        raws += [r for wave in self.waves[:waves] for r in wave]
        return len({r.split(b"Message-ID: ")[1].split(b"\r\n")[0] for r in raws})


def letters(now: datetime) -> Mail:
    """Two years of mail to PEOPLE people, each of whom went quiet some time ago (most long
    enough to be due), plus mailing-list posts and mass mailings (stored with the rule that
    drops them) and copies filed in two folders. The late mail answers some due contacts
    (their reminders go), brings others' due dates closer (theirs move) and starts new
    relationships (new reminders); the freed and taken days shift many others."""
    rng = random.Random(7)
    dated: list[tuple[datetime, bytes]] = []
    quiet = [rng.randint(1, 170) for _ in range(PEOPLE)]  # days since the last message

    def name(p: int) -> str:
        return f"=?utf-8?q?J=C3=BCrgen_{p}?=" if p % 10 == 0 else f"Person {p}"

    def message(days: float, to: str, extra: str = "") -> tuple[datetime, bytes]:
        when = now - timedelta(days=days, minutes=rng.randrange(1440))
        n = len(dated)
        dated.append((when, (
            f"From: Me <me@example.com>\r\nTo: {to}\r\nDate: {format_datetime(when)}\r\n"
            f"Message-ID: <m{n}@example.com>\r\nSubject: note {n}\r\n{extra}\r\nhi\r\n"
        ).encode()))
        return dated[-1]

    for p in range(PEOPLE):
        first = quiet[p] + rng.randint(0, 560)
        for k in range(rng.randint(1, 25)):
            to = f"{name(p)} <p{p}@example.org>"
            if rng.random() < 0.15:
                other = rng.randrange(PEOPLE)
                to += f", {name(other)} <p{other}@example.org>"
            message(quiet[p] if k == 0 else rng.randint(quiet[p], first), to)
    for _ in range(150):
        message(rng.randint(1, 700), "dev@lists.example.org",
                "List-Id: <dev.lists.example.org>\r\n")
    for _ in range(40):
        message(rng.randint(1, 700),
                ", ".join(f"p{p}@example.org" for p in rng.sample(range(PEOPLE), 20)))
    dated.sort(key=lambda d: d[0])
    folders: dict[str, list[bytes]] = {name: [] for name in ("Sent", *ARCHIVES)}
    for when, raw in dated:
        band = min((now - when).days // 90, len(ARCHIVES))
        folders["Sent" if band == 0 else ARCHIVES[band - 1]].append(raw)
    folders[ARCHIVES[0]] += rng.sample(folders["Sent"], 40)  # filed twice: one message each

    due = [p for p in range(PEOPLE) if quiet[p] > 100]
    waves: list[list[tuple[datetime, bytes]]] = [[], [], []]
    for k, p in enumerate(rng.sample(due, 60)):
        days = rng.randint(1, 6) if k < 30 else rng.randint(70, 85)
        waves[k % 3].append(message(days, f"{name(p)} <p{p}@example.org>"))
    for p in range(PEOPLE, PEOPLE + 12):
        waves[p % 3] += [message(rng.randint(35, 50), f"New {p} <p{p}@example.org>")
                         for _ in "ab"]
    waves[2].append(waves[0][0])  # the same message again
    return Mail(folders, [[raw for _, raw in sorted(w, key=lambda d: d[0])] for w in waves])


def meetings(now: datetime) -> dict[str, bytes]:
    """name -> iCalendar object of the user's Work calendar: past meetings with a few people
    each, a cancelled one, and a weekly one-to-one that ended a month ago."""
    rng = random.Random(8)

    def event(uid: str, start: datetime, people: list[int], extra: str = "") -> bytes:
        attendees = "".join(f"ATTENDEE;CN=Person {p};PARTSTAT=ACCEPTED:mailto:p{p}@example.org\r\n"
                            for p in people)
        return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//test//EN\r\nBEGIN:VEVENT\r\n"
                f"UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\n"
                f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
                f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\nSUMMARY:Meeting {uid}\r\n"
                "ORGANIZER:mailto:me@example.com\r\n"
                f"{attendees}{extra}END:VEVENT\r\nEND:VCALENDAR\r\n").encode()

    base = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out = {f"meet-{i}": event(f"meet-{i}", base - timedelta(days=rng.randint(2, 400)),
                              rng.sample(range(60), rng.randint(1, 4))) for i in range(40)}
    out["cancelled"] = event("cancelled", base - timedelta(days=20), [61], "STATUS:CANCELLED\r\n")
    out["one-to-one"] = event("one-to-one", base - timedelta(days=30 + 7 * 19), [62],
                              "RRULE:FREQ=WEEKLY;COUNT=20\r\n")
    return out


def toml(table: Mapping[str, Any]) -> str:
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items())


@dataclass
class Home:
    """One user's world: a Dovecot mailbox, a Radicale login and a keepwarm config."""

    root: Path
    config: Path
    imap: Dovecot
    user: str
    cal: User

    def deliver(self, folder: str, raws: list[bytes]) -> None:
        client = self.imap.client(self.user)
        try:
            client.multiappend(folder, raws)
        finally:
            client.logout()

    def keepwarm(self, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
        with open(log or os.devnull, "ab") as err:
            return subprocess.Popen(
                [sys.executable, "-m", "daemon.cli", "--config", str(self.config),
                 "--log-level", "info", *args],
                env=ENV, stdout=subprocess.DEVNULL, stderr=err)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.root / 'kw.db'}?mode=ro", uri=True)

    def count(self, query: str) -> int:
        """One number from the store (0 while it does not exist yet)."""
        if not (self.root / "kw.db").exists():
            return 0
        with contextlib.closing(self.db()) as db:
            try:
                return int(db.execute(query).fetchone()[0] or 0)
            except sqlite3.OperationalError:  # killed before the schema was made
                return 0

    def store(self) -> dict[str, Counter[tuple[Any, ...]]]:
        with contextlib.closing(self.db()) as db:
            return {name: Counter(db.execute(query)) for name, query in TABLES.items()}

    def records(self) -> set[tuple[str, str, str, int]]:
        with contextlib.closing(self.db()) as db:
            return {(c, u, datetime.fromisoformat(s).astimezone(UTC).isoformat(), k)
                    for c, u, s, k in db.execute(
                        "SELECT contact, uid, start, confirmed FROM reminders")}

    def calendar_url(self) -> str | None:
        urls = self.cal.calendars().get(REMINDERS, [])
        assert len(urls) <= 1, f"{len(urls)} reminders calendars: {urls}"
        return urls[0] if urls else None

    def etags(self) -> dict[str, str]:
        """href -> ETag of the reminders calendar's objects: one PROPFIND."""
        url = self.calendar_url()
        if url is None:
            return {}
        body = b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>'
        status, _, answer = self.cal.request("PROPFIND", url, body, {"Depth": "1"})
        assert status == 207, status
        return {r.findtext("{DAV:}href") or "": r.findtext(".//{DAV:}getetag") or ""
                for r in ET.fromstring(answer).iter("{DAV:}response")
                if not (r.findtext("{DAV:}href") or "/").endswith("/")}

    def events(self) -> list[tuple[str, str, str, str, str, str, str]]:
        """(href, uid, contact, start, title, description, marker) of every event in the
        reminders calendar, read with plain HTTP, not keepwarm's CalDAV code (the marker,
        kind:contact:key, tells a cadence reminder from a thank-you after a meeting)."""
        url = self.calendar_url()
        out = []
        for href, data in (self.cal.objects(url) if url else {}).items():
            for event in icalendar.Calendar.from_ical(data).walk("VEVENT"):
                marker = str(event.get(KEEPWARM_PROPERTY, ""))
                out.append((href, str(event["UID"]), ReminderId.parse(marker).contact,
                            event.decoded("DTSTART").astimezone(UTC).isoformat(),
                            str(event["SUMMARY"]), str(event.get("DESCRIPTION", "")), marker))
        return out


def make_home(root: Path, imap: Dovecot, cal: User, zone: str, mail: dict[str, list[bytes]],
              work: dict[str, bytes]) -> Home:
    """A fresh mailbox holding ``mail``, a Radicale user whose Work calendar holds ``work``,
    and a config that polls both every second and writes reminders into the latter."""
    root.mkdir()
    home = Home(root, root / "config.toml", imap, imap.add_user(), cal)
    for folder, raws in mail.items():
        home.deliver(folder, raws)
    work_url = cal.make_calendar("Work")
    for name, body in work.items():
        cal.put(f"{work_url}{name}.ics", body)
    imap_options = imap.account(home.user, folders=list(mail), retries=2).options
    home.config.write_text(
        "[identity]\n" + toml({"addresses": ["me@example.com"], "timezone": zone})
        + '[store]\npath = "kw.db"\nstate_dir = "state"\n'
        + '[reminders]\ncalendar = "cal"\nmax_per_day = 15\nhorizon = "30d"\n'
        + '[daemon]\nmax_backoff = "2s"\n'
        + '[[accounts]]\nname = "mail"\ntype = "imap"\npoll_interval = "1s"\n'
        + toml(imap_options)
        + '[[accounts]]\nname = "cal"\ntype = "caldav"\npoll_interval = "1s"\n'
        + toml(cal.options(retries=2)))
    home.config.chmod(0o600)
    return home


def until(check: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path,
          timeout: float = 60) -> None:
    """Wait for ``check`` while the daemon lives."""
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None, f"keepwarm run exited {proc.returncode}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"timed out; log:\n{log.read_text()}"
        time.sleep(0.01)


def started(log: Path) -> bool:
    """The daemon has loaded its accounts and begins polling."""
    return "keepwarm: started: " in log.read_text()


def writes_began(home: Home, before: dict[str, str], proc: subprocess.Popen[bytes],
                 timeout: float) -> None:
    """Wait until the reminders calendar differs from ``before``, the daemon exits, or
    ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline and home.etags() == before:
        time.sleep(0.005)


def stored_more(home: Home, than: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until the store holds more than ``than`` messages (a batch of the backfill
    committed), the daemon exits, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while (proc.poll() is None and time.monotonic() < deadline
           and home.count("SELECT count(*) FROM messages") <= than):
        time.sleep(0.005)


def wait_to_kill(home: Home, proc: subprocess.Popen[bytes], log: Path, rng: random.Random,
                 before: dict[str, str], first: int, cuts: int, late: bool) -> None:
    """Let the run go on until a random moment worth cutting: a few kills come at any moment
    of the start; while the first backfill (``first`` messages) is unfinished, a few kills
    (``cuts`` so far) come just after one of its batches committed (so they cut it between
    batches, whatever the machine's speed); most runs soon after late mail (``late``) wait
    for the calendar to change and kill right after (so they cut the writes); the rest come
    at a random delay."""
    if rng.random() < 0.15:
        time.sleep(rng.uniform(0.05, 0.5))
        return
    until(functools.partial(started, log), proc, log)
    stored = home.count("SELECT count(*) FROM messages")
    if stored < first and cuts < 3:
        stored_more(home, stored, proc, timeout=6)
        time.sleep(rng.uniform(0, 0.02))
    elif stored >= first and rng.random() < (0.9 if late else 0.5):
        writes_began(home, before, proc, timeout=6)
        time.sleep(rng.uniform(0, 0.02))
    else:
        time.sleep(rng.uniform(0, 1.5))


def all_written(home: Home) -> bool:
    """Whether keepwarm has reminders and knows each of them to be in the calendar."""
    return home.count("SELECT count(*) FROM reminders") > 0 and not home.count(
        "SELECT count(*) FROM reminders WHERE confirmed=0")


def crash_repeatedly(home: Home, mail: Mail) -> tuple[list[str], dict[str, str]]:
    """Start `keepwarm run` and SIGKILL it at a random moment (``wait_to_kill``), KILLS
    times. A wave of late mail arrives whenever the reminders are all written, three times
    (from run LAST_WAVE on, every WAVE_GAP runs; at LAST_WAVE a sync nobody kills first writes
    what the kills kept cutting, on a machine too loaded to do it in time). Returns what each
    kill cut, as the store and the calendar show it afterwards, and the calendar's objects
    (href -> ETag) when the first late mail arrived ({} if the first reminders were not all
    written by then)."""
    rng = random.Random(11)
    phases: list[str] = []
    delivered, next_wave = 0, WAVE_GAP
    at_first_wave: dict[str, str] = {}
    before = home.etags()
    for i in range(KILLS):
        written = all_written(home)
        if delivered == 0 and i >= LAST_WAVE and not written:
            # a machine so loaded that the kills kept cutting the first writes: one sync left
            # alone finishes them, so the late mail still meets a calendar with its reminders
            sync_log = home.root / f"catch-up-{i}.log"
            assert home.keepwarm("sync", log=sync_log).wait(timeout=300) == 0, (
                sync_log.read_text())
            written, before = all_written(home), home.etags()
        if delivered < len(mail.waves) and i >= next_wave and (written or i >= LAST_WAVE):
            home.deliver("Sent", mail.waves[delivered])
            at_first_wave = at_first_wave or (before if written else {})
            delivered, next_wave = delivered + 1, i + WAVE_GAP
        want = mail.unique(delivered)
        late = delivered > 0 and i < next_wave  # the runs after a wave until the next one
        log = home.root / f"run-{i}.log"
        proc = home.keepwarm("run", log=log)
        try:
            wait_to_kill(home, proc, log, rng, before, mail.unique(0),
                         sum(p.startswith("backfill") for p in phases), late)
        finally:
            proc.kill()
            proc.wait(10)
        after = home.etags()
        if not started(log):
            phase = "startup"
        elif home.count("SELECT count(*) FROM messages") < want:
            phase = "backfill"
        elif home.count("SELECT count(*) FROM reminders WHERE confirmed=0"):
            phase = "writing" if after != before else "planned"
        else:
            phase = "idle"
        phases.append(phase + f" (wave {delivered})" * bool(delivered))
        before = after
    assert delivered == len(mail.waves), phases
    return phases, at_first_wave


def daemon_idle(home: Home, pid: int) -> bool:
    """The daemon ``pid`` has finished a cycle with every account read and no reminder left
    unwritten."""
    with contextlib.closing(home.db()) as db:
        row = db.execute("SELECT value FROM meta WHERE key='daemon'").fetchone()
        pending = db.execute("SELECT count(*) FROM reminders WHERE confirmed=0").fetchone()[0]
    state = json.loads(row[0]) if row else {}
    accounts = state.get("accounts", {}).values()
    return state.get("pid") == pid and not pending and len(accounts) == 2 and all(
        a["last_success"] and not a["last_error"] and not a["backlog"] for a in accounts)


def finish(home: Home) -> None:
    """One more `keepwarm run`, until it is idle; then SIGTERM, which it obeys at once."""
    log = home.root / "final.log"
    proc = home.keepwarm("run", log=log)
    try:
        until(lambda: daemon_idle(home, proc.pid), proc, log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def diff(a: Counter[Any], b: Counter[Any]) -> list[Any]:
    """A few of what ``a`` has more of than ``b``, for a readable failure."""
    return sorted((a - b).elements(), key=str)[:5]


def due_contacts(home: Home) -> set[str]:
    """The contacts that should have a reminder, as keepwarm's own cadence and planner say
    (placement is canonical, so planning onto an empty calendar names the same contacts)."""
    config = load(home.config)
    store = Store(config.store_path)
    try:
        now = datetime.now(config.settings.tz)
        statuses = sync.compute(store, config.settings, now)
        return {r.contact for r in planner.plan(reminders.cadence(statuses), [], {}, {},
                                                 config.settings, now, True).reminders}
    finally:
        store.close()


def test_sigkill_daemon_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    began = time.monotonic()
    now = datetime.now(UTC)
    zone = zone_at_noon(now)
    mail, work = letters(now), meetings(now)
    radicale = shared()
    with Dovecot(folders=ARCHIVES) as imap:
        late = [raw for wave in mail.waves for raw in wave]
        everything = {**mail.folders, "Sent": mail.folders["Sent"] + late}
        clean = make_home(tmp_path / "clean", imap, radicale.add_user(), zone, everything, work)
        log = clean.root / "sync.log"
        assert clean.keepwarm("sync", log=log).wait(timeout=120) == 0, log.read_text()
        crashy = make_home(tmp_path / "crashy", imap, radicale.add_user(), zone, mail.folders,
                           work)
        phases, at_first_wave = crash_repeatedly(crashy, mail)
        finish(crashy)
    print(f"{time.monotonic() - began:.1f} s; kills: {Counter(phases)}")
    logs = "".join(p.read_text() for p in crashy.root.glob("*.log"))
    assert "Traceback" not in logs and "ERROR" not in logs, logs

    # the store: the same rows as one uninterrupted run, nothing lost, nothing twice
    got, want = crashy.store(), clean.store()
    assert sum(want["messages"].values()) == mail.unique(waves=3) > 3000
    assert len(want["meetings"]) > 50
    for table in TABLES:
        assert got[table] == want[table], (table, "extra:", diff(got[table], want[table]),
                                           "missing:", diff(want[table], got[table]))

    # the calendar: one reminder per due contact (and a thank-you per recent first meeting),
    # where the uninterrupted run put it
    events, reference = crashy.events(), clean.events()
    assert len(reference) > 80  # many writes to cut: up to 15 a day over 30 days
    hrefs, uids, markers = zip(*((e[0], e[1], e[6]) for e in events), strict=True)
    assert len(set(hrefs)) == len(set(uids)) == len(set(markers)) == len(events)
    cadence = {e[2] for e in events if e[6].startswith("cadence:")}
    assert len(cadence) == sum(e[6].startswith("cadence:") for e in events)
    assert cadence == due_contacts(crashy) == due_contacts(clean)
    placed, wanted = Counter(e[2:4] for e in events), Counter(e[2:4] for e in reference)
    assert placed == wanted, ("extra:", diff(placed, wanted), "missing:", diff(wanted, placed))
    assert sorted(e[2:] for e in events) == sorted(e[2:] for e in reference)  # same texts
    # and keepwarm's records say exactly what the calendar holds, all of it confirmed
    assert crashy.records() == {(e[2], e[1], e[3], 1) for e in events}

    # the kills cut the backfill and the reminder writes, before and after late mail
    assert sum(p.startswith("backfill") for p in phases) >= 2, phases
    assert sum(p.startswith("writing") for p in phases) >= 5, phases
    assert sum(p.startswith("writing (wave") for p in phases) >= 3, phases
    assert at_first_wave, f"the first reminders were not all written in {LAST_WAVE} runs"
    final = crashy.etags()  # the late mail removed, moved and added reminders
    assert at_first_wave.keys() - final.keys(), "none removed"
    assert {h for h in at_first_wave.keys() & final.keys() if at_first_wave[h] != final[h]}, \
        "none moved"
    assert final.keys() - at_first_wave.keys(), "none added"
