"""The labelled promise sentences (tests/data/promises/) and how the detector scores on
them: shared by tests/test_promisetext.py (the quality floors) and bench/promises.py (the
figures in docs/PERFORMANCE.md)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon.promisetext import find

DATA = Path(__file__).resolve().parent / "data" / "promises"
TZ = ZoneInfo("Europe/Berlin")
SENT = datetime(2026, 12, 2, 10, 0, tzinfo=TZ)  # the Wednesday every sentence was sent
NO = "no"  # not a promise
UNTIMED = "none"  # a promise with no time: due None


def labelled(name: str) -> Iterator[tuple[str, str]]:
    """(expected, sentence) of one file: train.tsv or heldout.tsv."""
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            expected, sentence = line.split("\t")
            yield expected, sentence


def answer(sentence: str) -> str:
    """What the detector says, in the file's terms."""
    found = find(sentence, SENT, TZ)
    if not found:
        return NO
    due: date | None = found[0].due
    return due.isoformat() if due else UNTIMED


@dataclass
class Score:
    """Confusion counts. A promise found with the wrong day is a false positive and a
    false negative both (``wrong_day``): a reminder on the wrong day helps nobody."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    wrong_day: int = 0
    misses: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, expected: str, got: str, sentence: str) -> None:
        if expected == got:
            self.tp, self.tn = self.tp + (got != NO), self.tn + (got == NO)
            return
        self.misses.append((expected, got, sentence))
        self.fp += got != NO
        self.fn += expected != NO
        self.wrong_day += NO not in (expected, got)

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)


def score(name: str) -> Score:
    result = Score()
    for expected, sentence in labelled(name):
        result.add(expected, answer(sentence), sentence)
    return result
