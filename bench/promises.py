"""Measure promise detection (``daemon.promisetext.find``): its quality on the labelled set
in tests/data/promises/ (confusion counts, precision and recall, the tuned part and the
held-out part apart), and its speed on typical messages (1-3 KB of new text each, made of
ordinary business prose with a promise in about one message in four). Only the parsing and
matching are timed: no network, no file. Benchmarks measure; they assert nothing.

Usage: python bench/promises.py [--messages 20000] [--repeat 3] [--misses] [--german]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.promisetext import find
from tests.promiselabels import SENT, TZ, Score, score

PROSE = [
    "Thanks for your message and for the quick turnaround on the numbers.",
    "I had a look at the draft and the structure works well for us.",
    "The second section still needs a few figures from finance, which I asked for on Monday.",
    "We discussed the timeline with the team yesterday and nobody saw a blocker.",
    "Could you check whether the delivery address in the order is still correct?",
    "The invoice from October is attached, together with the signed delivery note.",
    "As mentioned on the phone, the budget for next year is not final yet.",
    "Our legal team reviewed clause 7 and suggested a shorter notice period.",
    "Please note that the office is closed between 24 December and 6 January.",
    "It was great to meet you at the conference in Lisbon last month.",
    "I'm copying Mark, who runs the implementation on our side.",
    "The pilot went well: 40 users, two minor bugs, both fixed in the meantime.",
    "Let me know if anything in the proposal is unclear or missing.",
    "We would like to start in the first quarter if the contract is signed in time.",
    "The slides from Tuesday are in the shared folder under 2026/Q4.",
    "Danke für die schnelle Rückmeldung und die Unterlagen.",
    "Wir haben das Angebot intern besprochen und sind grundsätzlich einverstanden.",
    "Die Rechnung vom Oktober finden Sie im Anhang.",
    "Hope you had a good weekend and the move went smoothly.",
    "The kids loved the museum, thanks again for the tip!",
]
GERMAN = [
    "Danke für die schnelle Rückmeldung und die Unterlagen.",
    "Wir haben das Angebot intern besprochen und sind grundsätzlich einverstanden.",
    "Die Rechnung vom Oktober finden Sie im Anhang.",
    "Ich habe gestern mit dem Team über den Zeitplan gesprochen.",
    "Uns fehlen noch zwei Zahlen aus der Buchhaltung, die wir am Montag angefragt haben.",
    "Könnten Sie mir bitte die neue Lieferadresse schicken?",
    "Wir würden gerne im ersten Quartal beginnen, wenn der Vertrag rechtzeitig kommt.",
    "Mir ist aufgefallen, dass im zweiten Abschnitt noch eine Tabelle fehlt.",
]
PROMISES = [
    "I'll call you on Tuesday to go through the open points.",
    "I will send the revised offer by Friday.",
    "Let's talk next week once the numbers are in.",
    "Ich melde mich Anfang nächster Woche bei Ihnen.",
    "I'll get back to you in January with the final plan.",
]


def message(rnd: random.Random, prose: list[str] = PROSE) -> str:
    """One message's new text: a greeting, 1-3 KB of paragraphs, maybe a promise, a close."""
    size = rnd.randint(1000, 3000)
    paragraphs, length = ["Hi Jane,"], 0
    while length < size:
        paragraph = " ".join(rnd.choice(prose) for _ in range(rnd.randint(2, 5)))
        paragraphs.append(paragraph)
        length += len(paragraph)
    if rnd.random() < 0.25:
        paragraphs.insert(rnd.randint(1, len(paragraphs)), rnd.choice(PROMISES))
    paragraphs.append("Best regards,\nAlex")
    return "\n\n".join(paragraphs)


def quality(show_misses: bool) -> None:
    total = Score()
    for name in ("train.tsv", "heldout.tsv"):
        s = score(name)
        print(f"{name:12} TP {s.tp:3}  FP {s.fp:3}  FN {s.fn:3}  TN {s.tn:3}  "
              f"(wrong day {s.wrong_day})  precision {s.precision:.3f}  recall {s.recall:.3f}")
        for field in ("tp", "fp", "fn", "tn", "wrong_day"):
            setattr(total, field, getattr(total, field) + getattr(s, field))
        total.misses += s.misses
    print(f"{'both':12} TP {total.tp:3}  FP {total.fp:3}  FN {total.fn:3}  TN {total.tn:3}  "
          f"(wrong day {total.wrong_day})  precision {total.precision:.3f}  "
          f"recall {total.recall:.3f}")
    for expected, got, sentence in total.misses if show_misses else ():
        print(f"  expected {expected}, got {got}: {sentence}")


def speed(count: int, repeat: int, prose: list[str]) -> None:
    rnd = random.Random(1)
    texts = [message(rnd, prose) for _ in range(count)]
    kb = sum(len(t.encode()) for t in texts) / count / 1024
    rates, found = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        found = sum(len(find(text, SENT, TZ)) for text in texts)
        rates.append(count / (time.perf_counter() - start))
    print(f"{count:,} messages of {kb:.1f} KB on average, {found:,} promises found: "
          f"median {statistics.median(rates):,.0f} messages/s "
          f"(range {min(rates):,.0f}-{max(rates):,.0f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20000, help="messages to scan per run")
    ap.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    ap.add_argument("--misses", action="store_true", help="print every sentence scored wrong")
    ap.add_argument("--german", action="store_true",
                    help="messages of German prose only (the slower pattern runs on most)")
    args = ap.parse_args()
    quality(args.misses)
    speed(args.messages, args.repeat, GERMAN if args.german else PROSE)


if __name__ == "__main__":
    main()
