"""The commands that look: lapsed, contacts, show, plan, status. They never wait for a
running sync and never write to a calendar."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from daemon import (
    book,
    cadence,
    noteview,
    promisestate,
    promiseview,
    render,
    replytimes,
    sparkline,
    sync,
)
from daemon.cardstore import card_tags
from daemon.cmdbase import Add, as_of, open_all
from daemon.config import Config
from daemon.errors import UsageError
from daemon.model import Card, Status, TimelineEntry
from daemon.statusview import cmd_status
from daemon.store import Store
from daemon.terminal import complain, emit_json, fancy, out, say, show
from daemon.words import plural

REPLY_TIMES_OVER = timedelta(days=365)
JSON_HELP = "print JSON instead (its keys are listed in the README and stay stable)"


def _statuses(cfg: Config, store: Store, now: datetime) -> list[Status]:
    return sync.compute(store, cfg.settings, now)


def cmd_lapsed(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    now = as_of(args, cfg)
    items = cadence.lapsed(_statuses(cfg, store, now), args.sort)
    if args.json:
        emit_json(render.statuses_json(items, cfg.settings.tz))
    elif not items and not store.account_states() and not store.stored_by_account():
        say("Nothing has been synced yet: run `keepwarm sync` first.")
    elif items:
        show(render.lapsed_grid(items, f"Lapsed as of {now.date()}"))
    else:
        say(f"Nobody has lapsed as of {now.date()}.")
    return 0


def cmd_contacts(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    now = as_of(args, cfg)
    items = sorted(_statuses(cfg, store, now),
                   key=lambda s: (not s.tracked, s.due, s.facts.name.lower()))
    if args.json:
        emit_json(render.statuses_json(items, cfg.settings.tz))
    else:
        show(render.contacts_grid(items, now.date()))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    email = book.resolve(store, args.address)
    now = as_of(args, cfg)
    if email in cfg.settings.own_addresses or email in store.aliases():
        (complain if args.json else say)(  # stdout is the JSON's alone
            f"{email} is one of your own addresses (configured, or seen as From in your "
            "sent mail); keepwarm never tracks it.")
    elif not store.knows(email):  # with --json, on stderr: the JSON's timeline is empty
        (complain if args.json else say)(book.never_seen(store, email))
        if not args.json:
            return 0
    # what the header counts is what happened up to `now`: later rows say so, not "yes"
    entries = [dataclasses.replace(e, rule=f"after {now:%Y-%m-%d %H:%M}, not counted yet")
               if e.rule is None and e.at > now else e for e in store.timeline(email)]
    cards = store.cards_of(store.contact_of(email) or email)
    if not entries and not args.json:  # JSON says so with an empty timeline
        for line in _card_only(cards):
            say(line, wrap=True)
        say(f"keepwarm has seen no message or meeting with {email}.")
        return 0
    match = [s for s in _statuses(cfg, store, now) if email in s.facts.emails]
    status = match[0] if match else None
    counts = sparkline.monthly_counts(_touch_days(entries, now, cfg.settings.tz), now.date())
    threads = [a for a in sync.awaiting(cfg, store, now) if email in a.recipients
               or (status is not None and a.contact == status.facts.key)]
    times = _reply_times(cfg, store, now, status.facts.emails if status else (email,))
    promised = promisestate.judged(store, cfg.settings, now,
                                   [status.facts] if status else ()).of(
        status.facts.emails if status else (email,))
    noted, noted_json = _notes_and_referrals(store, email, cfg.settings.tz)
    if args.json:
        emit_json(render.show_json(email, status, entries, counts, now.date(), cfg.settings.tz)
                  | {"awaiting": [render.awaiting_json(a, now.date(), cfg.settings.tz)
                                  for a in threads]} | render.reply_times_json(times)
                  | {"promises": [promiseview.as_json(p) for p in promised.statuses]}
                  | {"cards": render.cards_json(cards)} | noted_json)
        return 0
    if status is not None:
        say(f"{status.facts.name} <{', '.join(status.facts.emails)}>", style="bold", wrap=True)
        for line in _about(status, now.date(), cfg.settings.tz, cards):
            say(f"  {line}", wrap=True)
    else:
        say(f"{email}: no touchpoint counted; see why below.")
    for line in noted:
        say(f"  {line}", wrap=True)
    say(f"  touches per month {sparkline.labelled(counts, now.date(), ascii=not fancy())}")
    if line := render.reply_times_line(times):
        say(f"  {line}", wrap=True)
    for a in threads:  # the follow-ups open with them (`keepwarm awaiting` lists all)
        say(f"  {render.awaiting_line(a, now.date(), cfg.settings.tz)}", wrap=True)
    for line in promiseview.person_lines(promised, cfg.settings.tz):
        say(f"  {line}", wrap=True)
    if not out.is_terminal:
        say("")  # the timeline's tab-separated lines follow, after this blank line
    show(render.timeline_grid(entries, cfg.settings.tz))
    return 0


def _notes_and_referrals(store: Store, email: str, tz: tzinfo
                         ) -> tuple[list[str], dict[str, Any]]:
    """What `show` says of a person's notes and referrals, by any of their addresses: its
    lines, and its JSON keys ``notes``, ``referred_by`` and ``referred``."""
    emails = book.addresses(store, email)
    notes = store.notes(emails)
    about = noteview.of_person(emails, store.referrals(), book.who(store))
    return ([*noteview.note_lines(notes, tz), *noteview.referral_lines(about)],
            {"notes": noteview.notes_json(notes, tz), **about})


def _reply_times(cfg: Config, store: Store, now: datetime,
                 people: Sequence[str]) -> replytimes.ReplyTimes:
    """Over the last year's mail: answers older than that say little about today."""
    mails = [m for m in store.thread_mail(now - REPLY_TIMES_OVER) if m.date <= now]
    own = cfg.settings.own_addresses | store.aliases()
    return replytimes.reply_times(mails, set(people), own, cfg.settings)


def _touch_days(entries: Sequence[TimelineEntry], now: datetime, tz: tzinfo) -> list[date]:
    """The day of each counted message or meeting up to ``now``, once each (a message to two
    of a merged contact's addresses is one touch, as in the header)."""
    touches = {(e.channel, e.location, e.at) for e in entries if e.rule is None and e.at <= now}
    return [at.astimezone(tz).date() for _, _, at in touches]


def _card_only(cards: Sequence[tuple[str, Card]]) -> list[str]:
    """What `show` says of someone only the address book knows."""
    if not cards:
        return []
    name = next((c.name for _, c in cards if c.name), "")
    emails = list(dict.fromkeys(e for _, c in cards for e in c.emails))
    return [f"{name} <{', '.join(emails)}>" if emails else name,
            *(f"  {line}" for line in render.card_lines(cards))]


def _about(s: Status, today: date, tz: tzinfo,
           cards: Sequence[tuple[str, Card]] = ()) -> list[str]:
    """The lines under a contact's name: counts, cadence, why it is (not) due, what the
    user steered, and what the address book says (its groups are tags, shown there)."""
    f = s.facts
    lines = [f"{plural(f.touchpoints, 'touchpoint')} ({plural(f.meetings, 'meeting')}), "
             f"last {s.last_date} by {f.last_channel}",
             f"cadence every {plural(s.interval_days, 'day')}: {s.interval_source}"]
    if s.learned_days is not None:
        lines.insert(1, f"you usually write every {plural(s.learned_days, 'day')}, from "
                        f"{plural(s.gaps, 'gap')}; due after {plural(s.interval_days, 'day')}"
                        f" of quiet; strength {s.strength}/100")
    else:
        lines.insert(1, f"strength {s.strength}/100")
    if f.last_received is not None:  # received mail: never a touchpoint, shown apart
        lines.insert(1, f"wrote to you {plural(f.received, 'time')}, last "
                        f"{f.last_received.astimezone(tz).date()}")
    if s.lapsed:
        lines.append(f"LAPSED: {plural(s.overdue_days, 'day')} overdue, due {s.due}; "
                     f"tracked: {s.why}")
    elif s.tracked:
        lines.append(f"due {s.due}; tracked: {s.why}")
    else:
        lines.append(f"not tracked: {s.why}")
    if f.snooze_until and f.snooze_until > today:
        lines.append(f"snoozed until {f.snooze_until}: no reminder before then")
    if len(f.emails) > 1:
        lines.append(f"merged: one person with {plural(len(f.emails), 'address', 'addresses')}"
                     f" ({', '.join(f.emails)})")
    own_tags = f.tags - {t for _, c in cards for t in card_tags(c)}
    if own_tags:
        lines.append("tagged: " + ", ".join(sorted(own_tags)))
    return lines + render.card_lines(cards)


def cmd_plan(args: argparse.Namespace) -> int:
    cfg, store = open_all(args)
    account = sync.reminders_account(cfg)
    if account is None:
        raise UsageError(f"no reminders calendar: set [reminders] calendar in {cfg.path}")
    now = as_of(args, cfg)
    statuses = sync.compute(store, cfg.settings, now)
    writer = sync.connector(account)
    try:
        p = sync.make_plan(cfg, store, statuses, now, writer)
    finally:
        writer.close()
    if args.json:
        emit_json(render.plan_json(p, cfg.settings.tz))
    elif not p.changes:
        n = len(p.reminders)
        say(f"Nothing to change: {plural(n, 'reminder')} "
            + ("is as it should be." if n == 1 else "are as they should be."))
    else:
        show(render.plan_grid(p, cfg.settings.tz))
    return 0


AS_OF_HELP = "the day to look from, as if it were today (default: today)"


def register(add: Add) -> None:
    for name, text, func in (("lapsed", "who is overdue, the closest and most overdue first",
                              cmd_lapsed),
                             ("contacts", "every contact and its cadence", cmd_contacts)):
        sp = add(name, text, func)
        sp.add_argument("--as-of", metavar="YYYY-MM-DD", help=AS_OF_HELP)
        sp.add_argument("--json", action="store_true", help=JSON_HELP)
        if name == "lapsed":
            sp.add_argument("--sort", choices=("priority", "overdue"), default="priority",
                            help="priority (default): intervals overdue times strength, so a "
                                 "close contact comes before a faint one; overdue: most days "
                                 "overdue first")
    s = add("show", "one contact's timeline, and why it is (not) due", cmd_show)
    s.add_argument("address", help="any of the contact's addresses, as pasted "
                                   "(Name <addr>, <addr>, mailto:addr)")
    s.add_argument("--as-of", metavar="YYYY-MM-DD", help=AS_OF_HELP)
    s.add_argument("--json", action="store_true", help=JSON_HELP)
    s = add("plan", "what sync would change in the reminders calendar", cmd_plan)
    s.add_argument("--as-of", metavar="YYYY-MM-DD", help=AS_OF_HELP)
    s.add_argument("--json", action="store_true", help=JSON_HELP)
    s = add("status", "accounts, last syncs, errors", cmd_status)
    s.add_argument("--skipped", action="store_true",
                   help="list every item a source could not read, with the reason")
    s.add_argument("--json", action="store_true", help=JSON_HELP)
