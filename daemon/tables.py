"""Tables that fit where they go. On a terminal: a rich table sized to its width that drops
secondary columns, then folds names and subjects, before it would cut an address or a date.
Piped: tab-separated lines under a header row and no box drawing, for cut and awk."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

# rich's SIMPLE_HEAD in ASCII, for a terminal that cannot show box drawing
ASCII_HEAD = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
FOLD_MIN = 12  # a free-text column is never narrowed below this while a column can go
GAP = 2  # between two columns: one space of padding, one of rule


@dataclass(frozen=True)
class Column:
    header: str
    drop: int = 0  # 0: always shown; otherwise dropped on a narrow terminal, 1 first
    fold: bool = False  # free text (names, subjects, reasons) may fold onto more lines
    right: bool = False
    key: str = ""  # the header when piped; by default the header in snake_case

    @property
    def name(self) -> str:
        return self.key or self.header.lower().replace(" ", "_")


@dataclass
class Grid:
    """Rows of plain text under columns; a row's style colours it on a terminal only."""

    title: str
    columns: Sequence[Column]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)

    def add(self, *cells: str, style: str = "") -> None:
        self.rows.append(cells)
        self.styles.append(style)


def _widest(texts: Sequence[str], words: bool) -> int:
    parts = [p for t in texts for p in (t.split() if words else t.splitlines())]
    return max((cell_len(p) for p in parts), default=1)


def widths(grid: Grid, width: int) -> dict[int, int]:
    """Column index → content width for a terminal ``width`` columns wide. Dropped columns
    are missing. Addresses and dates get their whole width before free text gets more."""
    cells = [[c.header, *(row[i] for row in grid.rows)] for i, c in enumerate(grid.columns)]
    full = [_widest(texts, words=False) for texts in cells]
    least = [min(FOLD_MIN, f) if c.fold else _widest(texts, words=True)
             for c, f, texts in zip(grid.columns, full, cells, strict=True)]
    keep = list(range(len(grid.columns)))
    while sum(least[i] for i in keep) + GAP * (len(keep) - 1) > width:
        droppable = [i for i in keep if grid.columns[i].drop]
        if not droppable:
            break
        keep.remove(min(droppable, key=lambda i: grid.columns[i].drop))
    given = {i: least[i] for i in keep}
    spare = width - sum(given.values()) - GAP * (len(keep) - 1)
    for i in keep:  # addresses and dates on one line first
        if not grid.columns[i].fold and spare > 0:
            more = min(spare, full[i] - given[i])
            given[i], spare = given[i] + more, spare - more
    wanting = [i for i in keep if given[i] < full[i]]
    while spare > 0 and wanting:  # then free text, a character each in turn
        for i in list(wanting):
            if spare > 0:
                given[i], spare = given[i] + 1, spare - 1
            if given[i] >= full[i]:
                wanting.remove(i)
    return given


def table(grid: Grid, width: int, ascii: bool) -> Table:
    """The rich table for a terminal ``width`` columns wide."""
    sizes = widths(grid, width)
    t = Table(title=grid.title or None, box=ASCII_HEAD if ascii else box.SIMPLE_HEAD,
              show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for i, w in sizes.items():
        c = grid.columns[i]
        t.add_column(c.header, width=w, overflow="fold", justify="right" if c.right else "left")
    for row, style in zip(grid.rows, grid.styles, strict=True):
        t.add_row(*(Text(row[i]) for i in sizes), style=style or None)
    return t


def clean(value: str) -> str:
    """A value for one tab-separated field: its tabs and line breaks become spaces."""
    return " ".join(value.replace("\t", " ").splitlines())


def tsv(grid: Grid) -> Iterator[str]:
    """The header row, then one line per row; tabs and newlines in values become spaces."""
    yield "\t".join(c.name for c in grid.columns)
    for row in grid.rows:
        yield "\t".join(clean(v) for v in row)
