"""Where each key of a TOML file is written. tomllib gives values without positions, and a
config problem is fixed faster when the editor can jump to its line (``FILE:LINE:``).

The scanner reads only text that tomllib has already accepted, and follows the parts of
TOML that place a key: table headers, ``[[array]]`` elements, dotted keys, inline tables
and arrays of them. Anything it does not follow makes it give up: no line beats a wrong one.
"""

from __future__ import annotations

import re
import tomllib

KeyPath = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
# a number, a boolean, a date or time; a date and a time may be separated by one space
_SCALAR = re.compile(r"[^\s,\]}#]+(?: \d\d:[^\s,\]}#]*)?")


class _Unsure(Exception):
    """The text takes a form the scanner does not follow."""


def key_lines(text: str) -> dict[str, int]:
    """``"accounts[1].pth"`` -> the 1-based line it is written on, for every table, key and
    array element of a TOML document; {} when the text is not understood."""
    try:
        tomllib.loads(text)
        return _Scanner(text).scan()
    except (_Unsure, tomllib.TOMLDecodeError, IndexError):
        return {}


def dotted(path: KeyPath) -> str:
    """A key path as the config's messages name it: ``accounts[1].pth``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.lines: dict[str, int] = {}
        self.arrays: dict[KeyPath, int] = {}  # [[array]] path -> index of its last element

    def scan(self) -> dict[str, int]:
        table: KeyPath = ()
        while self._skip(newlines=True) < len(self.text):
            if self.text.startswith("[", self.i):
                table = self._header()
            else:
                self._pair(table)
            self._skip(newlines=False)
            if self.i < len(self.text) and self.text[self.i] not in "\r\n":
                raise _Unsure
        return self.lines

    def _note(self, path: KeyPath, at: int) -> None:
        """The line of ``path``: the first place it is written (a table, before its keys).
        A quoted key holding ``.`` or ``[`` would read as another path: it gets no line."""
        if not any(isinstance(p, str) and ("." in p or "[" in p) for p in path):
            self.lines.setdefault(dotted(path), self.text.count("\n", 0, at) + 1)

    def _skip(self, newlines: bool) -> int:
        """Past blanks and comments (and line ends, when ``newlines``)."""
        blanks = " \t\r\n" if newlines else " \t"
        while self.i < len(self.text):
            if self.text[self.i] in blanks:
                self.i += 1
            elif self.text[self.i] == "#":
                end = self.text.find("\n", self.i)
                self.i = len(self.text) if end < 0 else end
            else:
                break
        return self.i

    def _resolve(self, parts: list[str], at: int) -> KeyPath:
        """A header's key path, with the last element of every [[array]] on the way."""
        path: KeyPath = ()
        for part in parts:
            path += (part,)
            self._note(path, at)
            if path in self.arrays:
                path += (self.arrays[path],)
        return path

    def _header(self) -> KeyPath:
        at = self.i
        double = self.text.startswith("[[", at)
        self.i += 2 if double else 1
        parts = self._key()
        close = "]]" if double else "]"
        if not self.text.startswith(close, self.i):
            raise _Unsure
        self.i += len(close)
        if not double:
            return self._resolve(parts, at)
        array = (*self._resolve(parts[:-1], at), parts[-1])
        self._note(array, at)
        self.arrays[array] = self.arrays.get(array, -1) + 1
        element = (*array, self.arrays[array])
        self._note(element, at)
        return element

    def _pair(self, table: KeyPath) -> None:
        """``key = value``, noting the key and, inside the value, every key it holds."""
        at = self.i
        path = table
        for part in self._key():
            path += (part,)
            self._note(path, at)
        if not self.text.startswith("=", self.i):
            raise _Unsure
        self.i += 1
        self._skip(newlines=False)
        self._value(path)

    def _key(self) -> list[str]:
        parts = []
        while True:
            self._skip(newlines=False)
            start = self.i
            if self.text[start] in "\"'":
                self._string()
                parts.append(str(tomllib.loads(f"k = {self.text[start:self.i]}")["k"]))
            else:
                bare = _BARE.match(self.text, start)
                if not bare:
                    raise _Unsure
                parts.append(bare.group())
                self.i = bare.end()
            self._skip(newlines=False)
            if not self.text.startswith(".", self.i):
                return parts
            self.i += 1

    def _value(self, path: KeyPath) -> None:
        char = self.text[self.i]
        if char in "\"'":
            self._string()
        elif char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        else:
            scalar = _SCALAR.match(self.text, self.i)
            if not scalar:
                raise _Unsure
            self.i = scalar.end()

    def _array(self, path: KeyPath) -> None:
        self.i += 1
        index = 0
        while self._skip(newlines=True) < len(self.text) and self.text[self.i] != "]":
            self._note((*path, index), self.i)
            self._value((*path, index))
            index += 1
            self._skip(newlines=True)
            if self.text[self.i] == ",":
                self.i += 1
            elif self.text[self.i] != "]":
                raise _Unsure
        self.i += 1

    def _inline_table(self, path: KeyPath) -> None:
        self.i += 1
        while self._skip(newlines=True) < len(self.text) and self.text[self.i] != "}":
            self._pair(path)
            self._skip(newlines=True)
            if self.text[self.i] == ",":
                self.i += 1
            elif self.text[self.i] != "}":
                raise _Unsure
        self.i += 1

    def _string(self) -> None:
        """Past one string of any of TOML's four kinds."""
        text, start = self.text, self.i
        quote = text[start]
        triple = text.startswith(quote * 3, start)
        i = start + (3 if triple else 1)
        while True:
            if text[i] == "\\" and quote == '"':
                i += 2
            elif triple and text.startswith(quote * 3, i):
                while i < len(text) and text[i] == quote:  # up to two quotes end the text
                    i += 1
                break
            elif not triple and text[i] == quote:
                i += 1
                break
            else:
                i += 1
        self.i = i
