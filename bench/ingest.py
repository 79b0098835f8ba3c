"""Measure keepwarm's real ingest pipeline on a Maildir, its cadence recompute, and notmuch.

What is timed (each on a fresh temporary store, with the code the daemon runs):

1. ``daemon.sync.pull`` of a ``maildir`` account (list, read headers, parse, infer, store);
2. ``ingest.rejudge`` (re-inference after a rules change: the first sync always does it);
3. ``Store.contact_facts`` and ``cadence.statuses`` over every contact the Maildir produced;
4. a pure ``cadence.statuses`` + ``cadence.lapsed`` over N synthetic ContactFacts, and
   ``Store.contact_facts`` + ``cadence.statuses`` over a store holding N contacts (what every
   sync pays in ``sync.compute``);
5. with ``--notmuch``: ``notmuch new`` into a throw-away database, then
   ``notmuch address --output=recipients --output=count from:ME``, the nearest thing
   notmuch has to "who do I write to, and how often".

"cold" runs drop the page cache first (``sync; echo 3 > /proc/sys/vm/drop_caches``, needs
root); when that is not permitted the run is reported as warm. Peak RSS is this process's
``ru_maxrss`` (notmuch's is measured by GNU time). Benchmarks measure; they assert nothing.

``--received INBOX`` adds a Maildir of received mail (``gen_maildir.py --received``) as the
account's ``received`` folder: messages/s then counts both folders' files.

``--promises`` turns ``promises = true`` on for the account: the sent folder's bodies are
read too, cut to their new text and searched for promises (bench/bodyscan.py measures that
scan on its own, on typical replies).

Usage: python bench/ingest.py MAILDIR [--received INBOX] [--promises] [--contacts 10000]
       [--notmuch] [--cache both] [--json FILE] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import platform
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from daemon import cadence, ingest
from daemon.config import Config, parse
from daemon.model import Address, Batch, ContactFacts, Mail, Settings
from daemon.store import Store
from daemon.sync import pull

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_maildir import ME_EMAIL, ME_NAME

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TARGET_MSG_S = 5000
TARGET_SPEEDUP = 2.0
TARGET_RSS_MB = 200
TARGET_CADENCE_S = 1.0

T = TypeVar("T")


def rss_mb() -> float:
    """Peak RSS of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def drop_caches() -> bool:
    """Empty the page cache so the next read comes from disk; False if not permitted."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        return False
    return True


def prewarm(maildir: Path) -> None:
    """Read every message file once so a warm run really finds them in the page cache (some
    VMs page out cache that sat idle for ~30 s, e.g. a DAMON pageout scheme)."""
    for sub in ("cur", "new"):
        with os.scandir(maildir / sub) as it:
            for entry in it:
                with open(entry.path, "rb", buffering=0) as f:
                    while f.read(1 << 20):
                        pass


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_config(maildir: Path, store_path: Path, received: Sequence[Path] = (),
                 promises: bool = False) -> Config:
    """A config as a user would write it, checked by the real parser (default filters on)."""
    data: dict[str, Any] = {
        "identity": {"addresses": [ME_EMAIL], "timezone": "Europe/Berlin"},
        "store": {"path": str(store_path)},
        "cadence": {"rules": [
            {"match": "*@example.com", "every": "30d"},
            {"match": "gmail.com", "every": "60d"},
            {"match": "tag:family", "every": "14d"},
            {"match": "*.example", "every": "45d"},
            {"match": "ceo@*", "every": "7d"},
        ]},
        "accounts": [{"name": "sent", "type": "maildir", "path": str(maildir),
                      "received": [str(r) for r in received], "promises": promises}],
    }
    return parse(data, store_path.parent / "config.toml")


def count_files(maildir: Path) -> int:
    n = 0
    for sub in ("cur", "new"):
        with os.scandir(maildir / sub) as it:
            n += sum(1 for e in it if not e.name.startswith("."))
    return n


@dataclass
class KeepwarmRun:
    cache: str  # cold | warm
    files: int
    pull_s: float
    refresh_s: float
    facts_s: float
    statuses_s: float
    messages: int
    duplicates: int
    skipped: int
    touchpoints: int
    contacts: int
    tracked: int
    lapsed: int
    db_mb: float
    rss_after_pull_mb: float  # ru_maxrss is a high-water mark: meaningful in the first run
    peak_rss_mb: float
    idle_pull_s: float  # the next pull() on the same store, nothing new (every poll pays it)

    @property
    def total_s(self) -> float:
        return self.pull_s + self.refresh_s + self.facts_s + self.statuses_s

    @property
    def msg_per_s(self) -> float:
        return self.files / self.pull_s


def run_keepwarm(maildir: Path, cold: bool, profile: cProfile.Profile | None = None,
                 received: Sequence[Path] = (), promises: bool = False) -> KeepwarmRun:
    """The daemon's first sync of a Maildir account, phase by phase, on a fresh store."""
    files = sum(count_files(m) for m in (maildir, *received))
    with tempfile.TemporaryDirectory(prefix="kwbench-") as tmp:
        cfg = bench_config(maildir, Path(tmp) / "keepwarm.db", received, promises)
        settings, account = cfg.settings, cfg.accounts[0]
        store = Store(cfg.store_path)
        if cold and not drop_caches():
            cold = False
        if not cold:
            for folder in (maildir, *received):
                prewarm(folder)
        if profile:
            profile.enable()
        report, pull_s = timed(lambda: pull(store, account, settings, NOW))
        rss_after_pull = rss_mb()
        _, refresh_s = timed(lambda: ingest.rejudge(store, settings, NOW))
        facts, facts_s = timed(lambda: store.contact_facts(until=NOW))
        as_of = NOW.astimezone(settings.tz).date()
        statuses, statuses_s = timed(lambda: cadence.statuses(facts, settings, as_of))
        if profile:
            profile.disable()
        if report.error:
            raise SystemExit(f"pull failed: {report.error}")
        _, idle_pull_s = timed(lambda: pull(store, account, settings, NOW))
        store.close()
        db_bytes = sum(p.stat().st_size for p in Path(tmp).glob("keepwarm.db*"))
        return KeepwarmRun(
            cache="cold" if cold else "warm", files=files, pull_s=pull_s, refresh_s=refresh_s,
            facts_s=facts_s, statuses_s=statuses_s, messages=report.messages,
            duplicates=report.duplicates, skipped=report.skipped,
            touchpoints=report.touchpoints, contacts=len(facts),
            tracked=sum(s.tracked for s in statuses),
            lapsed=len(cadence.lapsed(statuses)), db_mb=db_bytes / 1e6,
            rss_after_pull_mb=rss_after_pull, peak_rss_mb=rss_mb(), idle_pull_s=idle_pull_s)


# -- cadence at N contacts -------------------------------------------------------------------
DOMAINS = ("example.com", "gmail.com", "acme.example", "uni.example.edu", "outlook.com",
           "startup.io", "bigcorp.example")


def synthetic_people(n: int, rng: random.Random) -> list[tuple[str, str]]:
    """n distinct (email, name) pairs spread over a few domains."""
    return [(f"person{i}@{DOMAINS[i % len(DOMAINS)]}", f"Person {i}") for i in
            rng.sample(range(n * 10), n)]


def synthetic_facts(n: int, seed: int = 7) -> list[ContactFacts]:
    """n contacts as Store.contact_facts returns them, with the mix a real book has: mostly
    defaults, some tags, per-contact cadences, snoozes, ignores and multi-address people."""
    rng = random.Random(seed)
    out = []
    for email, name in synthetic_people(n, rng):
        touch = max(1, int(rng.paretovariate(1.1)))
        emails = (email,) if rng.random() > 0.1 else (email, "alt." + email)
        out.append(ContactFacts(
            key=email, emails=emails, name=name, touchpoints=touch,
            meetings=rng.randint(0, 3) if rng.random() < 0.3 else 0,
            last_touch=NOW - timedelta(seconds=rng.randint(0, 4 * 365 * 86400)),
            last_channel=rng.choice(("email", "meeting")),
            tags=frozenset({"family"}) if rng.random() < 0.02 else frozenset(),
            cadence_days=rng.choice((7, 30, 90)) if rng.random() < 0.05 else None,
            snooze_until=date(2026, 12, 24) if rng.random() < 0.02 else None,
            ignored=rng.random() < 0.01))
    return out


@dataclass
class CadenceRun:
    contacts: int
    pure_s: float  # cadence.statuses + cadence.lapsed over ContactFacts (median of 5)
    store_facts_s: float  # Store.contact_facts over a store of that many contacts (median of 5)
    store_statuses_s: float
    store_messages: int

    @property
    def store_total_s(self) -> float:
        return self.store_facts_s + self.store_statuses_s


def median_time(fn: Callable[[], object], repeat: int = 5) -> float:
    return statistics.median(timed(fn)[1] for _ in range(repeat))


def run_cadence(n: int, settings: Settings) -> CadenceRun:
    as_of = NOW.astimezone(settings.tz).date()
    facts = synthetic_facts(n)
    pure = median_time(lambda: cadence.lapsed(cadence.statuses(facts, settings, as_of)))
    rng = random.Random(11)
    people = synthetic_people(n, rng)
    me = Address(ME_EMAIL, ME_NAME)
    with tempfile.TemporaryDirectory(prefix="kwbench-") as tmp:
        store = Store(Path(tmp) / "keepwarm.db")
        mails: list[Mail] = []
        # every person gets 1-6 messages (about 3.5 n messages in all), some with a Cc
        for i, (email, name) in enumerate(people):
            for k in range(rng.randint(1, 6)):
                cc = (Address(*rng.choice(people)),) if rng.random() < 0.15 else ()
                mails.append(Mail(
                    f"m{i}.{k}@bench.invalid",
                    NOW - timedelta(seconds=rng.randint(0, 3 * 365 * 86400)),
                    me, to=(Address(email, name),), cc=cc, subject="hello"))
        for start in range(0, len(mails), 1000):
            ingest.store_batch(store, "synthetic", Batch(mails[start:start + 1000],
                                                         {"n": start}), settings, NOW)
        facts_s = median_time(lambda: store.contact_facts(until=NOW))
        stored = store.contact_facts(until=NOW)
        statuses_s = median_time(lambda: cadence.statuses(stored, settings, as_of))
        store.close()
    return CadenceRun(n, pure, facts_s, statuses_s, len(mails))


# -- notmuch ---------------------------------------------------------------------------------
@dataclass
class NotmuchRun:
    cache: str
    version: str
    new_s: float
    address_s: float
    indexed: int
    addresses: int
    db_mb: float
    peak_rss_mb: float  # the larger of notmuch new's and notmuch address's

    @property
    def total_s(self) -> float:
        return self.new_s + self.address_s


def _run_child(cmd: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    """(stdout, seconds, peak RSS MB) of one command; raises if it fails.

    The RSS comes from GNU time: a child's own ru_maxrss is useless here, because Linux
    carries the parent's high-water mark over a vfork+exec (it would read as our peak).
    """
    gnu_time = shutil.which("time") or ""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = Path(tmp) / "rss"
        full = [gnu_time, "-f", "%M", "-o", str(rss_file), *cmd] if gnu_time else cmd
        t0 = time.perf_counter()
        proc = subprocess.run(full, env=env, capture_output=True, check=False)
        dt = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): "
                             f"{proc.stderr.decode(errors='replace')[-2000:]}")
        rss = int(rss_file.read_text().split()[-1]) / 1024 if gnu_time else float("nan")
        return proc.stdout.decode(errors="replace"), dt, rss


def run_notmuch(maildir: Path, cold: bool) -> NotmuchRun:
    """notmuch new + notmuch address on a throw-away database next to nothing of the user's.

    ``database.mail_root`` is the Maildir itself and ``database.path`` a temp folder, so the
    Maildir is only read; no tags on new mail, no maildir flag syncing, no hooks.
    """
    exe = shutil.which("notmuch")
    if exe is None:
        raise SystemExit("notmuch is not installed (apt-get install notmuch)")
    with tempfile.TemporaryDirectory(prefix="kwbench-notmuch-") as tmp:
        db = Path(tmp) / "db"
        db.mkdir()
        conf = Path(tmp) / "notmuch-config"
        conf.write_text(
            f"[database]\npath={db}\nmail_root={maildir.resolve()}\nhook_dir={tmp}/hooks\n\n"
            f"[user]\nname={ME_NAME}\nprimary_email={ME_EMAIL}\n\n"
            "[new]\ntags=\nignore=\n\n[search]\nexclude_tags=\n\n"
            "[maildir]\nsynced_flags=false\n", encoding="utf-8")
        env = {**os.environ, "NOTMUCH_CONFIG": str(conf), "NOTMUCH_PROFILE": "",
               "XDG_CONFIG_HOME": tmp, "XDG_DATA_HOME": tmp, "HOME": tmp}
        version = _run_child([exe, "--version"], env)[0].strip()
        if cold and not drop_caches():
            cold = False
        if not cold:
            prewarm(maildir)
        _, new_s, new_rss = _run_child([exe, "new", "--quiet"], env)
        out, address_s, addr_rss = _run_child(
            [exe, "address", "--output=recipients", "--output=count", f"from:{ME_EMAIL}"], env)
        indexed = int(_run_child([exe, "count", "*"], env)[0].strip() or 0)
        db_bytes = sum(p.stat().st_size for p in db.rglob("*") if p.is_file())
        return NotmuchRun("cold" if cold else "warm", version, new_s, address_s, indexed,
                          len(out.splitlines()), db_bytes / 1e6, max(new_rss, addr_rss))


# -- report ----------------------------------------------------------------------------------
@dataclass
class Results:
    maildir: str
    date: str
    machine: dict[str, str]
    code: dict[str, str]  # sha256 (12 hex) of the modules on the measured path
    repeat: int
    keepwarm: list[KeepwarmRun] = field(default_factory=list)  # the median run per cache mode
    keepwarm_all: list[KeepwarmRun] = field(default_factory=list)
    cadence: CadenceRun | None = None
    notmuch: list[NotmuchRun] = field(default_factory=list)
    notmuch_all: list[NotmuchRun] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    rss_after_maildir_mb: float = 0.0
    load_before: str = ""


MEASURED = ("connectors/maildir.py", "connectors/mailparse.py", "daemon/store.py",
            "daemon/inference.py", "daemon/sync.py", "daemon/ingest.py", "daemon/cadence.py",
            "daemon/schema.py")


def code_fingerprint() -> dict[str, str]:
    """Which code the figures belong to (the tree may be uncommitted)."""
    root = Path(__file__).resolve().parent.parent
    out = {}
    for rel in MEASURED:
        try:
            out[rel] = hashlib.sha256((root / rel).read_bytes()).hexdigest()[:12]
        except OSError:
            out[rel] = "missing"
    return out


R = TypeVar("R", KeepwarmRun, NotmuchRun)


def median_run(runs: list[R]) -> R:
    """The run with the median total time, so one run's figures are reported together."""
    ordered = sorted(runs, key=lambda r: r.total_s)
    return ordered[(len(ordered) - 1) // 2]


def machine() -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": str(os.cpu_count()), "cpu_model": model or platform.processor(),
            "python": platform.python_version(), "platform": platform.platform()}


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _spread(runs: list[KeepwarmRun], cache: str) -> str:
    rates = [k.msg_per_s for k in runs if k.cache == cache]
    return f" [{min(rates):,.0f}-{max(rates):,.0f}]" if len(rates) > 1 else ""


def render(r: Results) -> str:
    rows: list[tuple[str, str, str]] = []
    for k in r.keepwarm:
        c = f", {k.cache}"
        rows += [
            ("keepwarm pull()" + c,
             f"{k.pull_s:.2f} s = {k.msg_per_s:,.0f} msg/s{_spread(r.keepwarm_all, k.cache)}",
             f"> {TARGET_MSG_S:,} msg/s: {verdict(k.msg_per_s > TARGET_MSG_S)}"),
            ("  ingest.rejudge()", f"{k.refresh_s:.2f} s", ""),
            (f"  Store.contact_facts(), {k.contacts:,} contacts", f"{k.facts_s * 1e3:.0f} ms", ""),
            ("  cadence.statuses()", f"{k.statuses_s * 1e3:.0f} ms", ""),
            ("  pull..statuses", f"{k.total_s:.2f} s = {k.files / k.total_s:,.0f} msg/s", ""),
            ("  next pull(), nothing new", f"{k.idle_pull_s * 1e3:.0f} ms", ""),
        ]
    first = r.keepwarm_all[0]
    rows.append(("peak RSS after Maildir runs",
                 f"{r.rss_after_maildir_mb:.0f} MB ({first.rss_after_pull_mb:.0f} after pull)",
                 f"< {TARGET_RSS_MB} MB: {verdict(r.rss_after_maildir_mb < TARGET_RSS_MB)}"))
    if r.cadence:
        cad = r.cadence
        rows += [
            (f"cadence, {cad.contacts:,} ContactFacts", f"{cad.pure_s * 1e3:.0f} ms",
             f"< {TARGET_CADENCE_S:.0f} s: {verdict(cad.pure_s < TARGET_CADENCE_S)}"),
            (f"facts+cadence, {cad.contacts:,}-contact store",
             f"{cad.store_total_s * 1e3:.0f} ms (facts {cad.store_facts_s * 1e3:.0f})",
             f"< {TARGET_CADENCE_S:.0f} s: {verdict(cad.store_total_s < TARGET_CADENCE_S)}"),
        ]
    for n in r.notmuch:
        k = next((k for k in r.keepwarm if k.cache == n.cache), r.keepwarm[0])
        ratio = k.total_s / n.total_s
        rows += [
            (f"notmuch new, {n.cache}", f"{n.new_s:.2f} s = {n.indexed / n.new_s:,.0f} msg/s",
             ""),
            ("  notmuch address", f"{n.address_s:.2f} s ({n.addresses:,} addresses)", ""),
            ("  keepwarm/notmuch time",
             f"{k.total_s:.2f}/{n.total_s:.2f} s = {ratio:.2f} ({1 / ratio:.1f}x faster)",
             f">= {TARGET_SPEEDUP:.0f}x faster: {verdict(1 / ratio >= TARGET_SPEEDUP)}"),
            ("  notmuch peak RSS, db size", f"{n.peak_rss_mb:.0f} MB, {n.db_mb:.0f} MB", ""),
        ]
    rows.append(("peak RSS of this process", f"{r.peak_rss_mb:.0f} MB", ""))
    w0 = max(len(a) for a, _, _ in rows)
    w1 = max(len(b) for _, b, _ in rows)
    k0 = r.keepwarm[0]
    lines = [
        f"{r.maildir}: {k0.files:,} files; {r.machine['cpus']} x {r.machine['cpu_model']}, "
        f"Python {r.machine['python']}, {r.date}, load before: {r.load_before}",
        f"stored: {k0.messages:,} messages, {k0.touchpoints:,} touchpoints, {k0.contacts:,} "
        f"contacts ({k0.tracked:,} tracked, {k0.lapsed:,} lapsed), {k0.skipped} skipped, "
        f"db {k0.db_mb:.0f} MB; median of {r.repeat} run(s) per cache mode",
        "",
        f"{'measure':<{w0}}  {'result':<{w1}}  target",
        "-" * (w0 + w1 + 30),
    ]
    lines += [f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)


def to_json(r: Results) -> dict[str, Any]:
    data = asdict(r)
    for key in ("keepwarm", "keepwarm_all"):
        for run, raw in zip(getattr(r, key), data[key], strict=True):
            raw.update(total_s=run.total_s, msg_per_s=run.msg_per_s)
    for key in ("notmuch", "notmuch_all"):
        for nrun, raw in zip(getattr(r, key), data[key], strict=True):
            raw["total_s"] = nrun.total_s
    if r.cadence:
        data["cadence"]["store_total_s"] = r.cadence.store_total_s
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("maildir", type=Path, help="a Maildir made by bench/gen_maildir.py")
    ap.add_argument("--received", type=Path, action="append", default=[],
                    help="a Maildir of received mail read as the account's received folder")
    ap.add_argument("--promises", action="store_true",
                    help="read the sent folder's bodies for promises (promises = true)")
    ap.add_argument("--contacts", type=int, default=10_000,
                    help="contacts for the cadence recompute (default 10000)")
    ap.add_argument("--cache", choices=("cold", "warm", "both"), default="both",
                    help="cold drops the page cache before each ingest (root only)")
    ap.add_argument("--notmuch", action="store_true", help="also time notmuch new + address")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here ('-': stdout)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per cache mode; the run with the median total is reported")
    ap.add_argument("--profile", action="store_true",
                    help="profile one warm keepwarm run (cProfile, top 30 by cumulative time)")
    args = ap.parse_args(argv)
    maildir = args.maildir.resolve()
    received = [r.resolve() for r in args.received]
    if not (maildir / "cur").is_dir():
        raise SystemExit(f"{maildir} is not a Maildir (no cur/); make one with gen_maildir.py")

    if args.profile:
        prof = cProfile.Profile()
        run = run_keepwarm(maildir, cold=False, profile=prof, received=received,
                           promises=args.promises)
        print(f"profiled warm run: pull {run.pull_s:.2f} s ({run.msg_per_s:,.0f} msg/s, "
              "slower under the profiler)", file=sys.stderr)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(20)
        return 0

    caches = ["cold", "warm"] if args.cache == "both" else [args.cache]
    res = Results(str(maildir), datetime.now(UTC).date().isoformat(), machine(),
                  code_fingerprint(), args.repeat,
                  load_before=Path("/proc/loadavg").read_text().strip())
    for cache in caches:
        runs = [run_keepwarm(maildir, cold=cache == "cold", received=received,
                             promises=args.promises) for _ in range(args.repeat)]
        if cache == "cold" and runs[0].cache == "warm":
            print("note: cannot drop the page cache (not root?): the cold run is warm",
                  file=sys.stderr)
        res.keepwarm_all += runs
        res.keepwarm.append(median_run(runs))
    res.rss_after_maildir_mb = rss_mb()
    cfg_settings = bench_config(maildir, Path(tempfile.gettempdir()) / "unused.db").settings
    res.cadence = run_cadence(args.contacts, cfg_settings)
    if args.notmuch:
        for cache in caches:
            nruns = [run_notmuch(maildir, cold=cache == "cold") for _ in range(args.repeat)]
            res.notmuch_all += nruns
            res.notmuch.append(median_run(nruns))
    res.peak_rss_mb = rss_mb()
    print(render(res))
    if args.json:
        text = json.dumps(to_json(res), indent=2)
        if str(args.json) == "-":
            print(text)
        else:
            args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
