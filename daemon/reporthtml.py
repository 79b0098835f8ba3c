"""The report as one self-contained HTML page: inline CSS and SVG, no script, no font and
no image fetched, and a Content-Security-Policy that forbids the browser to fetch anything,
so the file can be mailed, archived or opened offline and shows the same.

Every chart carries its numbers as text (a table, or labels on the bars) and no meaning
rides on colour alone: a lapsed relationship says "lapsed", a heatmap cell its count.
Dark mode follows the system (prefers-color-scheme); printing drops the colours' backgrounds
to borders and keeps the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape
from urllib.parse import quote

from daemon.birthdays import BIRTHDAY, Occurrence
from daemon.model import Awaiting
from daemon.reportdata import DUE_WITHIN, Due, Report, Row
from daemon.words import plural

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
SAFE_SCHEMES = ("https:", "http:", "mailto:")
HEAT_LEVELS = 5

CSS = """
:root { color-scheme: light dark; --bg: #fff; --fg: #1b1b1b; --muted: #5a5a5a;
  --line: #d0d0d0; --mail: #2f6db5; --meet: #b5562f; --lapsed: #b00020;
  --h0: #f3f3f3; --h1: #cfe3f7; --h2: #8dbbe8; --h3: #3f84cc; --h4: #174f8c;
  --h3fg: #fff; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #161616; --fg: #e8e8e8; --muted: #a8a8a8; --line: #3a3a3a;
    --mail: #7fb0ea; --meet: #ee9a72; --lapsed: #ff7b8a;
    --h0: #222; --h1: #1d3650; --h2: #245486; --h3: #3f84cc; --h4: #8dbbe8;
    --h3fg: #fff; }
  .heat td.l4 { color: #111; }
}
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: var(--bg); color: var(--fg); margin: 0 auto; padding: 1.5rem; max-width: 78rem; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .4rem; border-bottom: 1px solid var(--line); }
p.note, caption, .muted { color: var(--muted); }
caption { text-align: left; caption-side: top; padding: .2rem 0; }
a { color: var(--mail); }
table { border-collapse: collapse; }
th, td { padding: .2rem .45rem; text-align: left; vertical-align: top; }
tbody tr + tr th, tbody tr + tr td { border-top: 1px solid var(--line); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
.heat th, .heat td { font-size: .8rem; white-space: nowrap; }
.heat td.m { width: 1.7rem; min-width: 1.7rem; text-align: center; padding: .15rem 0;
  border: 1px solid var(--bg); }
.heat thead th.m { writing-mode: vertical-rl; transform: rotate(180deg); padding: .2rem 0;
  font-weight: normal; color: var(--muted); }
.l0 { background: var(--h0); color: transparent; } .l1 { background: var(--h1); }
.l2 { background: var(--h2); } .l3 { background: var(--h3); color: var(--h3fg); }
.l4 { background: var(--h4); color: var(--h3fg); }
.badge { display: inline-block; font-size: .72rem; font-weight: bold; padding: 0 .35rem;
  border: 1.5px solid var(--lapsed); color: var(--lapsed); border-radius: .3rem;
  margin-left: .3rem; }
tr.lapsed th { border-left: 4px solid var(--lapsed); }
svg { max-width: 100%; height: auto; display: block; }
svg text { fill: var(--fg); font: 11px system-ui, sans-serif; }
svg .axis { stroke: var(--line); }
svg .mail { fill: var(--mail); } svg .meet { fill: url(#hatch); }
svg .hatchbg { fill: var(--meet); } svg .hatchline { stroke: var(--bg); stroke-width: 1.6; }
svg .bar { fill: var(--mail); }
.legend span { margin-right: 1.2rem; }
.key { display: inline-block; width: .9rem; height: .9rem; vertical-align: -.1rem;
  margin-right: .3rem; border: 1px solid var(--line); }
.key.mail { background: var(--mail); }
.key.meet { background: repeating-linear-gradient(45deg, var(--meet) 0 3px, var(--bg) 3px 5px); }
details { margin: .4rem 0; } summary { cursor: pointer; color: var(--muted); }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .8rem; }
@media print {
  :root { --bg: #fff; --fg: #000; --muted: #333; --line: #999; }
  body { padding: 0; max-width: none; font-size: 10pt; }
  section { break-inside: avoid-page; } tr { break-inside: avoid; }
  .heat td.m { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  details:not([open]) > :not(summary) { display: none; } summary { display: none; }
  a { color: inherit; text-decoration: none; }
}
"""


def page(report: Report, version: str = "") -> str:
    """The whole page."""
    r = report
    title = f"keepwarm: your relationships as of {r.today}"
    body = "\n".join([
        f"<header><h1>Your relationships</h1><p class=\"note\">as of {r.today}: "
        f"{plural(r.contacts, 'contact')}, {r.tracked} tracked, {r.lapsed} lapsed</p></header>",
        heatmap(r), due_list(r), weekly_chart(r), intervals_chart(r), awaiting_list(r.awaiting),
        birthday_list(r.birthdays),
        f"<footer>Written by keepwarm {escape(version)} from your own store; this page "
        "fetches nothing and runs no script.</footer>"])
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta name=\"color-scheme\" content=\"light dark\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")


def link(url: str, text: str) -> str:
    """An anchor to ``url``, or the text alone when it is no web or mail link."""
    if not url.lower().startswith(SAFE_SCHEMES):
        return escape(text)
    return f"<a href=\"{escape(url)}\">{escape(text)}</a>"


def mailto(email: str) -> str:
    return "mailto:" + quote(email, safe="@")


def svg_tag(width: int, height: int, label: str) -> str:
    """An SVG drawn at its own size (shrunk to fit a narrow window, never blown up)."""
    return (f"<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" "
            f"role=\"img\" {label}>")


def level(count: int, top: int) -> int:
    """A count's heat, 0 for none to ``HEAT_LEVELS - 1`` for the busiest month."""
    if count <= 0 or top <= 0:
        return 0
    return max(1, -(-count * (HEAT_LEVELS - 1) // top))


def heatmap(r: Report) -> str:
    top = max((c for row in r.rows for c in row.months), default=0)
    heads = "".join(f"<th class=\"m\" scope=\"col\">{m:%b %Y}</th>" for m in r.months)
    rows = "\n".join(heat_row(row, r.months, top) for row in r.rows)
    return (f"<section id=\"strongest\"><h2>The {len(r.rows)} strongest relationships</h2>"
            "<p class=\"note\">Messages and meetings per month over the last "
            f"{len(r.months)} months, each cell showing its count; the deeper the colour, "
            "the more. "
            "Strength (0-100), as <code>keepwarm lapsed</code> has it: days in touch, the recent "
            "ones more, a meeting more than a message, two-way more than one-way. "
            "<span class=\"badge\">lapsed</span> marks someone past due.</p>"
            "<div class=\"scroll\"><table class=\"heat\"><caption>Touches per month, "
            "strongest first</caption><thead><tr><th scope=\"col\">Person</th>"
            f"<th scope=\"col\" class=\"num\">Strength</th>{heads}</tr></thead>"
            f"<tbody>\n{rows}\n</tbody></table></div></section>")


def heat_row(row: Row, months: Sequence[date], top: int) -> str:
    badge = (f" <span class=\"badge\">lapsed {plural(row.overdue_days, 'day')}</span>"
             if row.lapsed else "")
    cells = "".join(
        f"<td class=\"m l{level(c, top)}\" title=\"{escape(row.name)}, {m:%B %Y}: "
        f"{plural(c, 'touch', 'touches')}\">{c}</td>" for c, m in zip(row.months, months,
                                                                          strict=True))
    marked = " class=\"lapsed\"" if row.lapsed else ""
    return (f"<tr{marked}><th scope=\"row\">"
            f"{escape(row.name)}{badge}</th><td class=\"num\">{row.strength}</td>{cells}</tr>")


def due_list(r: Report) -> str:
    rows = "\n".join(due_row(d, r.today) for d in r.due)
    more = (f"<p class=\"note\">and {plural(r.due_more, 'more person', 'more people')}: "
            "<code>keepwarm lapsed</code> lists every one.</p>" if r.due_more else "")
    if not r.due:
        return (f"<section id=\"due\"><h2>Due in the next {DUE_WITHIN} days</h2>"
                "<p>Nobody is due.</p></section>")
    return (f"<section id=\"due\"><h2>Due in the next {DUE_WITHIN} days</h2>"
            "<table><caption>Overdue first, then by the day they fall due</caption><thead><tr>"
            "<th scope=\"col\">Person</th><th scope=\"col\">Due</th><th scope=\"col\">When"
            "</th><th scope=\"col\" class=\"num\">Every</th><th scope=\"col\">Get in touch"
            f"</th></tr></thead><tbody>\n{rows}\n</tbody></table>{more}</section>")


def due_row(d: Due, today: date) -> str:
    if d.overdue_days > 0:
        when = f"<span class=\"badge\">overdue {plural(d.overdue_days, 'day')}</span>"
    else:
        when = "today" if d.due == today else f"in {plural((d.due - today).days, 'day')}"
    links = link(mailto(d.email), f"write to {d.email}")
    if d.thread_link:
        links += " · " + link(d.thread_link, "open the waiting thread")
    return (f"<tr><th scope=\"row\">{escape(d.name)}</th><td>{d.due}</td><td>{when}</td>"
            f"<td class=\"num\">{plural(d.interval_days, 'day')}</td><td>{links}</td></tr>")


def weekly_chart(r: Report) -> str:
    """Stacked bars, mail below meetings (hatched, so the two differ without colour)."""
    n = len(r.weeks)
    top = max((a + b for a, b in zip(r.weekly_mail, r.weekly_meetings, strict=True)),
              default=0) or 1
    width, height, left, bar = 16 + 7 * n + 40, 190, 40, 7
    scale = (height - 40) / top
    parts = [f"<line class=\"axis\" x1=\"{left}\" y1=\"{height - 25}\" x2=\"{left + n * bar}\" "
             f"y2=\"{height - 25}\"/>",
             f"<text x=\"{left - 4}\" y=\"19\" text-anchor=\"end\">{top}</text>",
             f"<text x=\"{left - 4}\" y=\"{height - 25}\" text-anchor=\"end\">0</text>"]
    for i, (week, mail, meet) in enumerate(zip(r.weeks, r.weekly_mail, r.weekly_meetings,
                                                strict=True)):
        x, base = left + i * bar, height - 25
        if mail:
            parts.append(f"<rect class=\"mail\" x=\"{x}\" y=\"{base - mail * scale:.1f}\" "
                         f"width=\"{bar - 1}\" height=\"{mail * scale:.1f}\"/>")
        if meet:
            parts.append(f"<rect class=\"meet\" x=\"{x}\" y=\"{base - (mail + meet) * scale:.1f}"
                         f"\" width=\"{bar - 1}\" height=\"{meet * scale:.1f}\"/>")
        if week.day <= 7 and week.month in (1, 7):
            parts.append(f"<text x=\"{x}\" y=\"{height - 8}\">{week:%b %Y}</text>")
    total_mail, total_meet = sum(r.weekly_mail), sum(r.weekly_meetings)
    desc = (f"{plural(total_mail, 'message')} and {plural(total_meet, 'meeting')} over "
            f"{n} weeks from {r.weeks[0]}; the busiest week had {top}")
    svg = (svg_tag(width, height, "aria-labelledby=\"wk-d\"")
           + f"<desc id=\"wk-d\">{desc}</desc><defs><pattern id=\"hatch\" width=\"4\" "
           "height=\"4\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
           "<rect class=\"hatchbg\" width=\"4\" height=\"4\"/><line class=\"hatchline\" "
           f"x1=\"0\" y1=\"0\" x2=\"0\" y2=\"4\"/></pattern></defs>{''.join(parts)}</svg>")
    rows = "".join(f"<tr><td>{w}</td><td class=\"num\">{a}</td><td class=\"num\">{b}</td></tr>"
                   for w, a, b in zip(r.weeks, r.weekly_mail, r.weekly_meetings, strict=True)
                   if a or b)
    return ("<section id=\"weekly\"><h2>Touches per week</h2>"
            f"<p class=\"note\">{escape(desc)}.</p><p class=\"legend\"><span><i class=\"key "
            "mail\"></i>mail</span><span><i class=\"key meet\"></i>meetings (hatched)</span>"
            f"</p>{svg}<details><summary>The weeks as a table</summary><table><thead><tr>"
            "<th scope=\"col\">Week of</th><th scope=\"col\" class=\"num\">Mail</th>"
            "<th scope=\"col\" class=\"num\">Meetings</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></details></section>")


def intervals_chart(r: Report) -> str:
    """Horizontal bars, each labelled with its bucket and its count."""
    top = max((c for _, c in r.intervals), default=0) or 1
    bars = []
    for i, (label, count) in enumerate(r.intervals):
        y, w = 6 + i * 24, 400 * count / top
        bars.append(f"<text x=\"110\" y=\"{y + 13}\" text-anchor=\"end\">{label}</text>"
                    f"<rect class=\"bar\" x=\"118\" y=\"{y}\" width=\"{w:.1f}\" height=\"18\"/>"
                    f"<text x=\"{124 + w:.1f}\" y=\"{y + 13}\">{count}</text>")
    height = 12 + 24 * len(r.intervals)
    return ("<section id=\"intervals\"><h2>How often you mean to be in touch</h2>"
            f"<p class=\"note\">The interval in use for each of the {r.tracked} tracked "
            "contacts, the count on each bar.</p>"
            + svg_tag(580, height, "aria-label=\"Tracked contacts by interval: "
                      f"{escape(', '.join(f'{lb}: {c}' for lb, c in r.intervals))}\"")
            + f"{''.join(bars)}</svg></section>")


def awaiting_list(items: Sequence[Awaiting]) -> str:
    if not items:
        return ("<section id=\"awaiting\"><h2>Waiting for a reply</h2>"
                "<p>None of your messages is waiting for a reply.</p></section>")
    rows = "\n".join(
        f"<tr><th scope=\"row\">{escape(a.name or a.email)}</th><td>{escape(a.subject)}</td>"
        f"<td>{a.sent[-1].date() if a.sent else ''}</td><td class=\"num\">{a.attempt}</td>"
        f"<td>{a.next_followup or ''}</td><td>{link(a.link, 'open')}</td></tr>"
        for a in items)
    return ("<section id=\"awaiting\"><h2>Waiting for a reply</h2><table><thead><tr>"
            "<th scope=\"col\">Person</th><th scope=\"col\">Subject</th><th scope=\"col\">"
            "Last sent</th><th scope=\"col\" class=\"num\">Messages</th><th scope=\"col\">"
            "Follow up on</th><th scope=\"col\">Link</th></tr></thead>"
            f"<tbody>\n{rows}\n</tbody></table></section>")


def birthday_list(items: Sequence[Occurrence]) -> str:
    if not items:
        return (f"<section id=\"birthdays\"><h2>Birthdays in the next {DUE_WITHIN} days</h2>"
                "<p>No birthday or anniversary is coming.</p></section>")
    rows = "\n".join(
        f"<tr><td>{o.day}</td><th scope=\"row\">{escape(o.name)}</th><td>{occasion(o)}</td>"
        f"<td>{link(mailto(o.person.emails[0]), 'write') if o.person.emails else ''}</td></tr>"
        for o in items)
    return (f"<section id=\"birthdays\"><h2>Birthdays in the next {DUE_WITHIN} days</h2>"
            "<table><thead><tr><th scope=\"col\">Day</th><th scope=\"col\">Person</th>"
            "<th scope=\"col\">What</th><th scope=\"col\">Link</th></tr></thead>"
            f"<tbody>\n{rows}\n</tbody></table></section>")


def occasion(o: Occurrence) -> str:
    if o.kind == BIRTHDAY:
        return "birthday" + (f", turns {o.years}" if o.years else "")
    return "anniversary" + (f", {plural(o.years, 'year')}" if o.years else "")
