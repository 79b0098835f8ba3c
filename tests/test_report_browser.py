"""The report in a real browser: headless Chromium (Debian's `chromium`, which tests/run.sh
installs) loads the page built from the demo's store, logs nothing to its console (no
script error, no fetch the page's Content-Security-Policy had to block), and draws it: the
screenshot, decoded here with zlib, is not one colour. Dark mode paints a dark page.

Chromium's console reaches its stderr as ``INFO:CONSOLE`` lines with --enable-logging;
the page has no script, so any such line is a fault (a control page shows the check
catches one).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from daemon.demo import run_demo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH, HEIGHT = 1280, 1600


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    with open(folder / "out.txt", "w", encoding="utf-8") as f:
        assert run_demo(Console(file=f, width=200), folder=folder) == 0
    return folder / "report.html"


def chromium(page: Path, shot: Path, *flags: str) -> list[str]:
    """Load ``page`` and screenshot it; the console's lines."""
    assert CHROMIUM, "no chromium: tests/run.sh installs Debian's chromium package"
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--enable-logging=stderr", "--v=0", f"--user-data-dir={shot}.prof",
         f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={shot}", *flags, page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert shot.exists(), done.stderr
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def pixels(png: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the rows of an 8-bit RGB or RGBA PNG, unfiltered (RFC 2083)."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw, stride, rows = zlib.decompress(idat), width * bpp, []
    prev = bytearray(stride)
    for y in range(height):
        at = y * (stride + 1)
        kind, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + (0, a, b, (a + b) // 2, paeth(a, b, c))[kind]) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[i:i + 3]) for r in rows for i in range(0, stride, bpp)]


def paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def test_chromium_draws_the_demo_report_with_a_silent_console(page: Path,
                                                              tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    assert chromium(page, shot) == []
    width, height, colours = pixels(shot)
    assert (width, height) == (WIDTH, HEIGHT)
    counts = Counter(colours)
    background, most = counts.most_common(1)[0]
    assert background == b"\xff\xff\xff"  # light by default
    assert len(counts) > 50  # text, heat levels, bars: far from one colour
    assert most < 0.95 * len(colours)  # and a good part of the page is drawn on


def test_dark_mode_paints_the_page_dark(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "dark.png"
    assert chromium(page, shot, "--force-dark-mode",
                    "--blink-settings=preferredColorScheme=0") == []
    _, _, colours = pixels(shot)
    background = Counter(colours).most_common(1)[0][0]
    assert max(background) < 64, background


def test_the_console_check_catches_a_blocked_fetch(page: Path, tmp_path: Path) -> None:
    """The control: the same page with an image from the network, which its policy blocks
    (and the browser says so on the console)."""
    doctored = tmp_path / "doctored.html"
    doctored.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", '<img src="https://example.invalid/pixel.png" alt=""></body>'),
        encoding="utf-8")
    lines = chromium(doctored, tmp_path / "doctored.png")
    assert any("Content Security Policy" in line for line in lines), lines


def test_the_page_prints(page: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    done = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
         f"--user-data-dir={tmp_path / 'prof'}", f"--print-to-pdf={pdf}", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000


def test_the_committed_screenshot_is_a_drawn_page() -> None:
    """docs/report-demo.png, which the README shows: made by Chromium from the demo's page
    (`chromium --headless --window-size=1200,2480 --screenshot=docs/report-demo.png
    file://DEMO/report.html`), not an empty frame."""
    shot = Path(__file__).resolve().parent.parent / "docs" / "report-demo.png"
    width, _, colours = pixels(shot)
    counts = Counter(colours)
    assert width == 1200 and len(counts) > 50
    assert counts.most_common(1)[0][1] < 0.95 * len(colours)
