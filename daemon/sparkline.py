"""A contact's rhythm at a glance: touches per month as one line of block characters, so a
relationship that went quiet shows as blanks on the right before any date is read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

BLOCKS = "▁▂▃▄▅▆▇█"
ASCII_BLOCKS = ".:-=+*#@"  # the same eight steps for a terminal that cannot show blocks
MONTHS = 24


def months(end: date, n: int = MONTHS) -> list[date]:
    """The first days of the ``n`` months up to and including ``end``'s, oldest first."""
    index = end.year * 12 + end.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - n + 1, index + 1)]


def monthly_counts(days: Iterable[date], end: date, n: int = MONTHS) -> list[int]:
    """How many of ``days`` fall in each of the ``n`` months up to ``end``'s."""
    firsts = months(end, n)
    slot = {(m.year, m.month): i for i, m in enumerate(firsts)}
    counts = [0] * n
    for day in days:
        i = slot.get((day.year, day.month))
        if i is not None:
            counts[i] += 1
    return counts


def sparkline(counts: Sequence[int], ascii: bool = False) -> str:
    """One character per count: a blank for none, the full block for the busiest month, and
    more never drawn lower than less."""
    steps = ASCII_BLOCKS if ascii else BLOCKS
    top = max(counts, default=0)
    return "".join(" " if c <= 0 else steps[-(-c * len(steps) // top) - 1] for c in counts)


def labelled(counts: Sequence[int], end: date, ascii: bool = False) -> str:
    """The sparkline between the first and the last month it spans: "2024-12 ▁ ▃█ 2026-11"."""
    first = months(end, len(counts))[0]
    return f"{first:%Y-%m} {sparkline(counts, ascii)} {end:%Y-%m}"
