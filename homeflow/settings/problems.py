"""Located, one-line complaints about settings files, and the error that carries them."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from homeflow import jsontext
from homeflow.errors import HomeflowError

_SPECIAL = frozenset('.[]"')


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong at a place in a file, shown as `FILE:LINE:COL: key.path: message` (1-based)."""

    file: str
    line: int
    column: int
    key_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.key_path}: {self.message}" if self.key_path else f"{where}: {self.message}"


class SettingsError(HomeflowError):
    """Settings that could not be loaded; `problems` lists every reason, one per line of the message."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def child(path: str, key: str) -> str:
    """The key path of `key` inside `path`, quoting keys that would make it ambiguous or multi-line."""
    if not key or not key.isprintable() or key.strip() != key or _SPECIAL.intersection(key):
        key = jsontext.dumps(key, ascii_only=False)
    return f"{path}.{key}" if path else key


def index(path: str, position: int) -> str:
    """The key path of item `position` (0-based) of the list at `path`."""
    return f"{path}[{position}]"


def quote(text: str, limit: int = 60) -> str:
    """Text in double quotes on one line, shortened when long."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return jsontext.dumps(text, ascii_only=False)


def hint(word: str, known: Iterable[str], form: Callable[[str], str] = quote) -> str:
    """A "; did you mean …?" suffix when a known word is close to `word`, else the known words."""
    choices = list(known)
    close = difflib.get_close_matches(word, choices, n=1)
    if close:
        return f"; did you mean {form(close[0])}?"
    if choices:
        return "; known: " + ", ".join(form(choice) for choice in choices)
    return ""
